"""The shape of the code (issue 10): the stages of ``src/`` depend on each other one way only,
no source file is over 1,000 lines, and each Rust file opens with a ``//!`` line saying what
it owns. Static checks over the checkout, no build needed.

The stages, lowest first; a module may name (``crate::x``) only the modules before it:

    ir -> frontend -> types -> abi -> builtins -> analysis -> transform -> codegen -> runtime

(``lib.rs``, the pyo3 module, sits on top.) ``abi`` (what native code and the runtime share:
``Env``, error codes, ``FuncInfo``) comes before ``builtins`` because a builtin's lowering names
the error codes it raises.
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
LAYERS = ["ir", "frontend", "types", "abi", "builtins", "analysis", "transform", "codegen", "runtime"]
MAX_LINES = 1000


def rust_files():
    return sorted(SRC.rglob("*.rs"))


def module_of(path):
    """The top-level module a file of ``src/`` belongs to (``None`` for ``lib.rs``)."""
    rel = path.relative_to(SRC)
    if len(rel.parts) == 1:
        return None if rel.stem == "lib" else rel.stem
    return rel.parts[0]


def code_only(text):
    """Rust source without comments (doc comments may point anywhere) and string literals."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def named_modules(path):
    """The top-level modules a Rust file names: ``crate::x``, ``use crate::{x, y}``, and
    ``super::x`` from a module's root file."""
    code = code_only(path.read_text())
    names = set(re.findall(r"\bcrate::(\w+)", code))
    for group in re.findall(r"\bcrate::\{([^}]*)\}", code):
        names.update(re.findall(r"(?:^|,)\s*(\w+)", group))
    rel = path.relative_to(SRC)
    if len(rel.parts) == 2 and rel.name == "mod.rs":
        names.update(re.findall(r"\bsuper::(\w+)", code))
    return {n for n in names if n in LAYERS}


def test_layers_are_the_top_level_modules():
    found = {module_of(p) for p in rust_files()} - {None}
    assert found == set(LAYERS), f"src/ has {sorted(found)}; the layering of this test knows {LAYERS}"


def test_no_module_names_a_later_stage():
    bad = []
    for path in rust_files():
        mod = module_of(path)
        if mod is None:
            continue
        rank = LAYERS.index(mod)
        for other in sorted(named_modules(path)):
            if LAYERS.index(other) > rank:
                bad.append(f"{path.relative_to(REPO)} ({mod}) names {other}")
    assert not bad, "a stage names a later one:\n" + "\n".join(bad)


@pytest.mark.parametrize("root", ["src", "python/heron"])
def test_no_source_file_over_1000_lines(root):
    files = [p for p in (REPO / root).rglob("*") if p.suffix in (".rs", ".py")]
    assert files
    big = [f"{p.relative_to(REPO)}: {len(p.read_text().splitlines())} lines" for p in files if len(p.read_text().splitlines()) > MAX_LINES]
    assert not big, "files over 1,000 lines:\n" + "\n".join(big)


def test_each_rust_file_says_what_it_owns():
    missing = [str(p.relative_to(REPO)) for p in rust_files() if not p.read_text().startswith("//! ")]
    assert not missing, "files without an opening `//!` line:\n" + "\n".join(missing)
