"""2-D convolution filter of an image (numba-examples legacy/blur_image.py)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2", "path": "legacy/blur_image.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["filter2d_core", "filter2d"],
    "imports": ["import numpy"],
}

import numpy as np


def make_inputs():
    image = np.random.RandomState(0).uniform(0.0, 255.0, size=(40, 50))
    gauss = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
    return image, np.ones((7, 7), dtype=image.dtype), gauss, image.astype(np.float32)


def run(image, box, gauss, image32):
    return (filter2d(image, box), filter2d(image, gauss),
            filter2d(image32, gauss.astype(np.float32)))


def edge():
    small = np.arange(12.0).reshape(3, 4)
    return filter2d(small, np.ones((7, 7))), filter2d(small[::-1, ::2], np.ones((1, 1)))
