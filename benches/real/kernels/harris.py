"""Harris corner detector on a uint8 grey image (numba-examples legacy/harris/harris_numba.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/harris/harris_numba.py",
    "license": "BSD-2-Clause (Copyright (c) 2017 Intel Corporation; repository: Copyright (c) 2017, Numba)",
    "jit": ["xsten", "ysten", "harris_common", "harris"],
    "imports": ["import numpy as np"],
    "notes": "The author's main() passes a uint8 image (PIL convert('L')); so does the driver, "
             "so the stencils store floats into uint8 arrays as in the original.",
}

import numpy as np


def make_inputs():
    img = np.random.RandomState(0).randint(0, 256, size=(30, 40)).astype(np.uint8)
    return (img,)


def run(img):
    return harris(img)
