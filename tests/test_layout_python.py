"""The shape of ``python/heron/`` (issue 10): no import circles, files under 1,000 lines, each
opening with a line saying what it owns, and a start-up hook that imports nothing of Heron's."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "heron"
MODULES = sorted(PACKAGE.glob("*.py"))


def _name(path):
    return "heron" if path.stem == "__init__" else f"heron.{path.stem}"


def imports(path):
    """Heron modules that ``path`` imports anywhere (also inside functions), as
    ``{module: [line, ...]}``; ``from heron import _x`` counts as importing ``heron._x``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = {p.stem for p in MODULES}
    found = {}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = "heron" + ("." + base if base else "")
            if base == "heron":
                names = [f"heron.{a.name}" if a.name in own else "heron" for a in node.names]
            else:
                names = [base]
        for name in names:
            if name == "heron" or name.startswith("heron."):
                found.setdefault(name, []).append(node.lineno)
    found.pop(_name(path), None)
    return found


def graph():
    return {_name(p): set(imports(p)) for p in MODULES}


def test_no_import_circles():
    edges = graph()
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_the_layers_run_one_way():
    """The start-up hook is imported by nothing but the command line; it imports nothing of
    Heron's at its top; the report and the leaves import nothing above them."""
    edges = graph()
    importers_of_boot = sorted(m for m, deps in edges.items() if "heron._boot" in deps)
    assert importers_of_boot == ["heron.__main__"]
    tree = ast.parse((PACKAGE / "_boot.py").read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(not (getattr(n, "module", "") or "").startswith("heron") and
               not any(a.name.startswith("heron") for a in n.names) for n in top)
    for leaf in ("heron._env", "heron._markers", "heron._trampoline", "heron._annotate"):
        assert edges[leaf] == set(), (leaf, edges[leaf])
    assert edges["heron._report"] <= {"heron._markers", "heron._annotate"}
    assert edges["heron._runs"] == {"heron._report"}
    assert "heron" not in set().union(*(d for m, d in edges.items() if m != "heron"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_file_size_and_opening_line(path):
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= 1000, f"{path.name} has more than 1,000 lines"
    doc = ast.get_docstring(ast.parse(text))
    assert doc and doc.splitlines()[0].strip(), f"{path.name} has no opening docstring line"
