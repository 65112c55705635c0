"""Dask's ``distributed`` (issue 14, item 3): a ``LocalCluster`` of worker processes runs the
marked functions of the script (which its workers never run: cloudpickle copies them by value)
and of a module the script imports (pickled by reference) natively, compiling once per worker;
``client.map``, ``client.submit`` and ``dask.delayed`` give CPython's results; each worker's
Heron threads are its share of the cores (its own thread count), and the one report of the
run counts the workers' calls.
"""

import json
import textwrap

import pytest

from conftest import run_python

pytest.importorskip("distributed")
pytestmark = pytest.mark.usefixtures("real_native")

MODULE = """
    # heron: jit
    def collatz(n):
        steps = 0
        while n != 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            steps += 1
        return steps
"""

SCRIPT = """
    import dask
    import heron
    from dask.distributed import Client, LocalCluster
    from helper_mod import collatz

    # heron: jit, parallel
    def energy(x, n):
        s = 0
        for i in range(n):
            s += (i * x) % 7 - 3
        return s * 2**62

    def threads(_):
        return heron.get_num_threads()

    if __name__ == "__main__":
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            print(client.gather(client.map(energy, [5, 15, 25], [10**5] * 3)))
            print(client.submit(collatz, 27).result(),
                  client.gather(client.map(collatz, range(1, 20))))
            print(dask.compute(*[dask.delayed(energy)(k, 1000) for k in range(4)]))
            print(sorted(set(client.gather(client.map(threads, range(4))))))
"""


def run(heron_python, tmp_path, env):
    (tmp_path / "helper_mod.py").write_text(textwrap.dedent(MODULE))
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    proc = run_python(heron_python, tmp_path, ["script.py"], native="real", env=env,
                      timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_local_cluster_runs_marked_functions_natively_in_its_workers(heron_python, tmp_path):
    plain = run(heron_python, tmp_path, {"HERON_DISABLE": "1"})
    out = run(heron_python, tmp_path, {"HERON_REPORT": "report.json"})
    assert out == plain
    # One thread per worker (two workers of one thread each), not one per core.
    assert out.splitlines()[-1] == "[1]"
    records = {r["qualname"]: r for r in json.loads((tmp_path / "report.json").read_text())
               if r["status"] == "replaced" and r["calls"]}
    # 3 + 4 calls of energy and 20 of collatz, all in the workers, all native.
    assert (records["energy"]["calls"], records["energy"]["native_calls"]) == (7, 7), records
    assert (records["collatz"]["calls"], records["collatz"]["native_calls"]) == (20, 20)
    assert records["energy"]["module"] == "__main__" and records["energy"]["parallel_runs"] == 7
