"""IPython and Jupyter (issue 13, item 8): ``%load_ext heron`` makes ``# heron: jit`` markers and
profiling mode work for code defined in cells (cells are not modules, so Heron's import hook
never sees them), and ``%heron_report`` shows the annotated report inline.

* Markers: before a cell runs, its source is searched for markers (``heron._markers``, the same
  rules as in a module); each marked function defined at the cell's top level gets
  ``heron.jit`` as its innermost decorator (an AST transformer), so the cell's own later lines
  already call the dispatcher.
* Profiling mode: with ``HERON_AUTO=1`` in the kernel's environment, ``# heron: auto`` in a cell,
  or ``%heron_auto``, the functions each later cell defines at its top level are watched
  (``heron._auto.watch_functions``) and compiled once hot, as a module's are.
* ``%heron_report``: the page ``HERON_REPORT=out.html`` writes (``heron._annotate``), for this
  kernel's functions so far.
"""

import ast
import os
import types


class _Cells:
    """The extension's state in one IPython shell: the cell about to run, and auto mode."""

    def __init__(self, shell):
        self.shell = shell
        self.source = ""
        value = os.environ.get("HERON_AUTO", "").strip().lower()
        self.auto = value not in ("", "0", "false", "no", "off")
        self.transformer = _MarkTransformer(self)

    def pre_run_cell(self, info=None):
        raw = getattr(info, "raw_cell", None) or ""
        try:
            self.source = self.shell.transform_cell(raw)
        except Exception:
            self.source = raw
        if "# heron: auto" in self.source:
            self.auto = True

    def post_run_cell(self, result=None):
        """Watch the plain functions the cell defined (profiling mode)."""
        if not self.auto or os.environ.get("HERON_DISABLE"):
            return
        defined = _defined_names(self.source)
        namespace = self.shell.user_ns
        functions = [namespace[n] for n in defined
                     if type(namespace.get(n)) is types.FunctionType and
                     getattr(namespace[n], "__module__", None) == "__main__"]
        if functions:
            from heron import _auto
            _auto.watch_functions(functions, "__main__")


class _MarkTransformer(ast.NodeTransformer):
    """Adds ``heron.jit(...)`` to the marked top-level functions of the cell about to run."""

    def __init__(self, cells):
        super().__init__()
        self.cells = cells

    def visit_Module(self, node):
        source = self.cells.source
        if "heron:" not in source or os.environ.get("HERON_DISABLE"):
            return node
        try:
            from heron import _markers
            markers = {m.lineno: m for m in _markers.find_markers(source, "<cell>")
                       if m.kind == "function"}
        except SyntaxError:
            return node
        for stmt in node.body:
            marker = markers.get(getattr(stmt, "lineno", None))
            if isinstance(stmt, ast.FunctionDef) and marker is not None:
                stmt.decorator_list.append(_jit_call(marker.options, stmt))
        return node


def _jit_call(options, where):
    """``__import__("heron").jit(parallel=..., nogil=...)`` located at ``where``."""
    func = ast.Attribute(value=ast.Call(func=ast.Name(id="__import__", ctx=ast.Load()),
                                        args=[ast.Constant(value="heron")], keywords=[]),
                         attr="jit", ctx=ast.Load())
    keywords = [ast.keyword(arg=name, value=ast.Constant(value=True))
                for name in ("parallel", "nogil") if name in options]
    call = ast.Call(func=func, args=[], keywords=keywords)
    for n in ast.walk(call):
        ast.copy_location(n, where)
    return call


def _defined_names(source):
    """The names of the functions defined at the top level of the cell's source."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [s.name for s in tree.body if isinstance(s, ast.FunctionDef)]


def load(shell):
    """``%load_ext heron``: register the transformer, the cell hooks and the magics."""
    cells = getattr(shell, "_heron_cells", None)
    if cells is not None:
        return
    cells = shell._heron_cells = _Cells(shell)
    shell.ast_transformers.append(cells.transformer)
    shell.events.register("pre_run_cell", cells.pre_run_cell)
    shell.events.register("post_run_cell", cells.post_run_cell)

    def heron_auto(line=""):
        """``%heron_auto``: profiling mode for the functions of the cells run after it."""
        cells.auto = True

    def heron_report(line=""):
        """``%heron_report``: the annotated report of this kernel's functions so far."""
        from IPython.display import HTML
        from heron import _report
        return HTML(_report.html_page(_report.records(), _report.notes()))

    shell.register_magic_function(heron_auto, "line", "heron_auto")
    shell.register_magic_function(heron_report, "line", "heron_report")


def unload(shell):
    """``%unload_ext heron``: markers and profiling mode stop for the cells after it."""
    cells = getattr(shell, "_heron_cells", None)
    if cells is None:
        return
    try:
        shell.ast_transformers.remove(cells.transformer)
        shell.events.unregister("pre_run_cell", cells.pre_run_cell)
        shell.events.unregister("post_run_cell", cells.post_run_cell)
    except ValueError:
        pass
    del shell._heron_cells
