"""Grouped sum with indirect indexing by signed and unsigned labels (numba-benchmark bench_misc.py)."""
SOURCE = {
    "repo": "numba/numba-benchmark", "commit": "6d682a7f849d5e92e2f33ec425e83d72dcc9a5ab", "path": "benchmarks/bench_misc.py",
    "license": "BSD-2-Clause (Copyright (c) 2014, Continuum Analytics, Inc.)",
    "jit": ["grouped_sum"],
}

import numpy as np


def make_inputs():
    values = np.random.RandomState(0).randn(2000)
    labels = np.random.RandomState(0).randint(20, size=2000).astype('intp')
    return values, labels, labels.astype('uintp'), np.zeros(20), np.zeros(20)


def run(values, labels, unsigned_labels, t1, t2):
    grouped_sum(values, labels, t1)
    grouped_sum(values, unsigned_labels, t2)
