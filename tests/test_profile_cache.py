"""The profile cache (issue 13, item 5; ``heron._profilecache``): a run in profiling mode remembers
the hot functions it compiled beside the byte-code cache, and the next run compiles them from
their first call; a change of the source (or of Heron) invalidates it; ``HERON_CACHE=0`` turns
it off. Each run's output must be CPython's.
"""

import json

import pytest

from test_auto import both, report

SCRIPT = """
    import math

    def kernel(x, n):
        s = 0.0
        for k in range(n):
            s += math.sin(x + k * 0.001) * 0.5
        return s

    def label(i):
        return "run-%d" % i

    def driver():
        total = 0.0
        for i in range(3000):
            total += kernel(i * 0.01, 300)
        print(f"{total:.9f}", label(7))

    driver()
"""


def cache_files(tmp_path):
    return sorted((tmp_path / "__pycache__").glob("script.*.heron.json"))


@pytest.mark.usefixtures("real_native")
def test_next_run_compiles_from_the_cache(run_script, tmp_path):
    """Run 1 finds ``kernel`` hot and compiles it; run 2 compiles it at its first call (every
    call it makes runs native code); ``label``, never compiled, is not in the cache."""
    first, recs = both(run_script, tmp_path, SCRIPT)
    assert "profile-cache" not in recs["kernel"]["options"]
    files = cache_files(tmp_path)
    assert len(files) == 1
    cached = json.loads(files[0].read_text())
    assert [f["name"] for f in cached["functions"]] == ["kernel"]
    second, recs = both(run_script, tmp_path, SCRIPT)
    kernel = recs["kernel"]
    assert kernel["options"] == ["profile-cache"] and kernel["status"] == "replaced"
    assert kernel["native_calls"] == kernel["calls"] > 0
    assert kernel["fallback_calls"] == 0
    assert second.stdout == first.stdout


@pytest.mark.usefixtures("real_native")
def test_a_changed_source_invalidates_it(run_script, tmp_path):
    both(run_script, tmp_path, SCRIPT)
    changed = SCRIPT.replace("    driver()\n", "    # changed\n    driver()\n")
    _out, recs = both(run_script, tmp_path, changed)
    assert "profile-cache" not in recs["kernel"]["options"]


@pytest.mark.usefixtures("real_native")
def test_heron_cache_off(run_script, tmp_path):
    both(run_script, tmp_path, SCRIPT, env={"HERON_CACHE": "0"})
    assert not cache_files(tmp_path)
    both(run_script, tmp_path, SCRIPT)
    assert cache_files(tmp_path)
    _out, recs = both(run_script, tmp_path, SCRIPT, env={"HERON_CACHE": "0"})
    assert "profile-cache" not in recs["kernel"]["options"]
    assert report(tmp_path)["kernel"]["status"] == "replaced"
