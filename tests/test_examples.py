"""The user's acceptance programs, run as real ``python X.py`` subprocesses.

Each example in ``examples/`` must print exactly what it prints with Heron disabled (timing
lines aside), and its marked functions must really have run as native code (checked through
the JSON report). Speed is measured in ``benches/``, not asserted here.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIMING = re.compile(r"\d+\.\d+ s\b")


def _hook_installed():
    """Is Heron installed with its start-up hook in the interpreter running the tests?"""
    out = subprocess.run([sys.executable, "-c", "import sys; print('heron._boot' in sys.modules)"],
                         capture_output=True, text=True)
    return out.stdout.strip() == "True"


pytestmark = pytest.mark.skipif(not _hook_installed(), reason="Heron is not installed with its start-up hook")


def run(name, tmp_path, **env):
    full_env = dict(os.environ, **env)
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                          env=full_env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_prints_what_python_prints(name, tmp_path):
    report = tmp_path / "report.json"
    heron = run(name, tmp_path, HERON_REPORT=str(report))
    plain = run(name, tmp_path, HERON_DISABLE="1")
    assert TIMING.sub("<time>", heron.stdout) == TIMING.sub("<time>", plain.stdout)
    records = json.loads(report.read_text())
    assert records, "no candidate functions in the report"
    for rec in records:
        assert rec["status"] == "replaced", rec
        assert not rec["failures"], rec
    assert any(rec["native_calls"] > 0 for rec in records), records
