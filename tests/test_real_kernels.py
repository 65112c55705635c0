"""The corpus of real kernels (benches/real): under Heron every kernel gives CPython's results.

Each kernel, written by others for Numba (numba-examples, numba-benchmark, npbench, the Julia
micro-benchmarks, Numba's site) or as plain Python (pyperformance), runs as ``python NAME.py``
with Heron's start-up hook and with ``HERON_DISABLE=1``; stdout (every returned value and every
input array after the calls, by dtype, shape, strides and the SHA-256 of the bytes), stderr
(warnings, tracebacks) and the exit status must be the same; so must those of the drivers'
edge cases. Whether a kernel compiles natively is measured (``python benches/real/run.py``),
not asserted here.

The kernels' code is taken from their public repositories at pinned commits
(benches/real/_corpus.py); without a checkout of them on this machine the tests skip.
"""

import concurrent.futures
import importlib.util
import os

import pytest

from conftest import REPO

REAL = REPO / "benches" / "real"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


real_run = _load("heron_real_run", REAL / "run.py")
_corpus = real_run._corpus

pytestmark = pytest.mark.usefixtures("real_native")


@pytest.fixture(scope="module")
def corpus_results(heron_python, tmp_path_factory):
    """Every kernel run under Heron and CPython (two at a time): ``(results, missing)``."""
    corpus = tmp_path_factory.mktemp("real-corpus")
    written, missing = _corpus.materialize(str(corpus))
    if not written:
        pytest.skip("no kernel source is on this machine: " + "; ".join(
            sorted(set(missing.values()))))
    work = str(tmp_path_factory.mktemp("real-work"))
    jobs = max(2, os.cpu_count() or 2)
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        results = dict(zip(written, pool.map(
            lambda name: real_run.run_kernel(heron_python, str(corpus), name, work,
                                             edge="inline"), written)))
    return results, missing


def _details(r):
    out = []
    for label in ("heron", "cpython", "edge_heron", "edge_cpython"):
        if label in r:
            rc, stdout, stderr, _ = r[label]
            out.append(f"--- {label} (rc {rc}):\n{stdout[-2000:]}{stderr[-3000:]}")
    return "\n".join(out)


@pytest.mark.parametrize("name", _corpus.names())
def test_kernel_gives_cpython_results(corpus_results, name):
    results, missing = corpus_results
    if name in missing:
        pytest.skip(missing[name])
    r = results[name]
    assert r["cpython"][0] == 0, f"{name} fails under CPython (the corpus is broken)\n" + \
        _details(r)
    assert r["same"], f"{name}: {r['verdict']}: {r['diff']}\n" + _details(r)
