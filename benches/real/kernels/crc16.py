"""CRC-16-CCITT over a byte array (npbench crc16, adapted by npbench from a gist by oysstu)."""
SOURCE = {
    "repo": "spcl/npbench", "commit": "f2d7f27d87ba4881991e62c18a607aa6ba52b260", "path": "npbench/benchmarks/crc16/crc16_numba_n.py",
    "license": "BSD-3-Clause (Copyright (c) 2021, SPCL)",
    "jit": ["crc16"],
    "notes": "Numba options in npbench: nopython, parallel=False, fastmath=True.",
}

import numpy as np


def make_inputs():
    return (np.random.RandomState(42).randint(0, 256, size=1000).astype(np.uint8),)


def run(data):
    return crc16(data)
