"""Front-end support: find the ``ast.FunctionDef`` of a Python function.

Heron parses with the running interpreter's own ``ast`` module (exact grammar parity on every
supported CPython); the Rust front end walks the node this module returns.
"""
import ast
import linecache

_trees = {}


def _tree(filename):
    """Parse ``filename`` once per content (cached); raises ``OSError`` when unreadable."""
    lines = linecache.getlines(filename)
    if not lines:
        raise OSError(f"no source for {filename}")
    source = "".join(lines)
    cached = _trees.get(filename)
    if cached is not None and cached[0] == source:
        return cached[1]
    from heron._markers import _parse_quietly  # no second SyntaxWarning (3.12+)
    tree = _parse_quietly(source, filename)
    _trees[filename] = (source, tree)
    return tree


_made = {}    # id(code) -> (code, node, filename): functions Heron synthesized (heron._lift)


def register(func, node, filename):
    """Record the ``ast.FunctionDef`` of a function Heron synthesized from another's source
    (a lifted loop, ``heron._lift``): ``function_ast`` returns it for ``func``."""
    _made[id(func.__code__)] = (func.__code__, node, filename)


def function_ast(func):
    """Return ``(node, filename, qualname)`` for the plain Python function ``func``.

    ``node`` is the ``ast.FunctionDef`` whose ``def`` (or first decorator) is on the line where
    ``func.__code__`` starts. Raises ``LookupError`` when the definition cannot be found (code
    made by ``exec`` or typed at a prompt), ``OSError`` when the file cannot be read.
    """
    code = func.__code__
    made = _made.get(id(code))
    if made is not None and made[0] is code:
        return made[1], made[2], getattr(func, "__qualname__", func.__name__)
    filename = code.co_filename
    first = code.co_firstlineno
    name = func.__name__
    for node in ast.walk(_tree(filename)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if first in (node.lineno, start):
                return node, filename, getattr(func, "__qualname__", name)
    raise LookupError(f"the definition of {name} was not found in {filename}:{first}")


def code_ast(code):
    """Return the ``ast.Module`` of module code, or the ``ast.FunctionDef`` whose ``def`` (or
    first decorator) is on the line where the function code ``code`` starts. Raises
    ``LookupError`` or ``OSError`` as ``function_ast`` does."""
    made = _made.get(id(code))
    if made is not None and made[0] is code:
        return made[1]
    tree = _tree(code.co_filename)
    if code.co_name == "<module>":
        return tree
    first = code.co_firstlineno
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                node.name == code.co_name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if first in (node.lineno, start):
                return node
    raise LookupError(f"the definition of {code.co_name} was not found in "
                      f"{code.co_filename}:{first}")
