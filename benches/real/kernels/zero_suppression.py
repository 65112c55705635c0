"""Zero suppression of a waveform, a @vectorize kernel (numba-examples waveforms/zero_suppression)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2",
    "path": "examples/waveforms/zero_suppression/impl.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["numba_zero_suppression"],
    "imports": ["import numpy as np"],
    "notes": "Numba makes a ufunc of it with @vectorize; the driver calls the scalar kernel on "
             "each element of an int16, a float32 and a float64 waveform.",
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(0)
    base = rng.normal(loc=0.0, scale=5.0, size=300)
    base += 50 * np.clip(np.cos(np.linspace(0.0, 1.0, num=300) * np.pi * 10), 0, 1.0)
    return base.astype(np.int16), base.astype(np.float32), base, 8.0


def run(w16, w32, w64, threshold):
    return [[numba_zero_suppression(v, threshold) for v in w] for w in (w16, w32, w64)]


def edge():
    vals = [np.float64(np.nan), np.float64(-np.inf), np.float64(-0.0), np.int16(-32768),
            np.int16(7), np.float32(8.0), np.float32(-8.5), 3, -9.5]
    return [numba_zero_suppression(v, 8.0) for v in vals] + [
        numba_zero_suppression(np.int16(-9), np.int16(8))]
