"""Trampoline code objects: stand-ins for a marked function's code that hand each call to Heron.

A ``def`` statement at module level runs ``LOAD_CONST <code object>; MAKE_FUNCTION``: the
function's code object is a constant of the module's code (``co_consts``), read when the ``def``
runs. Heron puts a *trampoline* there instead of the marked function's code, so that the
function the ``def`` makes hands its calls to Heron, without Heron watching the module run:

* it has the original's parameters exactly (names, positional-only, ``*args``, keyword-only,
  ``**kwargs``), its name, qualified name, file, first line and docstring, but no defaults of
  its own: defaults live on the function object, which ``MAKE_FUNCTION`` fills from the module
  code as usual, so a call binds its arguments exactly as the original would;
* its body passes every parameter on, explicitly, to an object kept in its own constants:
  ``return ENTER()(a, b, *args, k=k, **kw)`` (the *enter* form, used until Heron swapped the
  function in: ``ENTER()`` does the swap and returns what to call), or
  ``return TARGET(a, b, *args, k=k, **kw)`` (the *direct* form, with the dispatcher itself as
  ``TARGET``, for references to the function object that were taken before the swap), or
  ``return ENTER(a, b, *args, k=k, **kw)(a, b, *args, k=k, **kw)`` (the *inspect* form:
  ``ENTER`` sees the call's arguments before it says what to call; profiling mode,
  ``heron._auto``, decides with them whether a hot function compiles).

On Python 3.11 and later the trampoline removes its own frame from the traceback of an
exception passing through it (a bare ``raise`` adds no entry), so tracebacks read as without
Heron; on 3.10 its frame stays, showing the ``def`` line.

This module only builds code objects and puts them in place; ``heron._hook`` decides what the
enter object does. Two ways to put them in place:

* ``substitute(code, replacements)``: a new module code object (``code.replace``), for code
  Heron gets before it runs (imported modules, ``python -m``, the main module of spawn and
  forkserver workers);
* ``substitute_in_place(code, replacements)``: writes into the ``co_consts`` tuple of a code
  object the interpreter compiled itself and is about to run (the script, ``__main__``). A tuple
  cannot be changed from Python: the item pointer is written with ``ctypes``. This is sound
  because ``LOAD_CONST`` reads ``co_consts`` when it runs, on every supported version, and the
  write is done before the module's first instruction; each replaced constant is kept alive
  for ever in ``_KEPT``.
"""

import sys

_ENTER = "__heron_enter__"
_TARGET = "__heron_target__"
_BASE = "__heron_base_exception__"
_DOC = "__heron_docstring__"

CO_VARARGS = 0x04
CO_VARKEYWORDS = 0x08

_KEPT = []          # constants taken out of a running module's co_consts: never freed
_STRIP_OWN_FRAME = sys.version_info >= (3, 11)


def parameters(code):
    """Split a function code object's parameters the way ``def`` writes them.

    Args:
        code: a function's ``__code__``.

    Returns:
        ``(posonly, positional, varargs, kwonly, varkw)``: two tuples of names, a name or None,
        a tuple of names, a name or None.
    """
    names = code.co_varnames
    npos, nposonly, nkw = code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount
    posonly = names[:nposonly]
    positional = names[nposonly:npos]
    kwonly = names[npos:npos + nkw]
    i = npos + nkw
    varargs = varkw = None
    if code.co_flags & CO_VARARGS:
        varargs = names[i]
        i += 1
    if code.co_flags & CO_VARKEYWORDS:
        varkw = names[i]
    return posonly, positional, varargs, kwonly, varkw


def _source(code, form, has_doc):
    """The text of the trampoline's ``def`` for ``code`` (see the module docstring); ``form``
    is ``"enter"``, ``"direct"`` or ``"inspect"``."""
    posonly, positional, varargs, kwonly, varkw = parameters(code)
    head = list(posonly)
    if posonly:
        head.append("/")
    head.extend(positional)
    if varargs:
        head.append("*" + varargs)
    elif kwonly:
        head.append("*")
    head.extend(kwonly)
    if varkw:
        head.append("**" + varkw)
    args = list(posonly) + list(positional)
    if varargs:
        args.append("*" + varargs)
    args.extend(f"{name}={name}" for name in kwonly)
    if varkw:
        args.append("**" + varkw)
    # `("..." if 1 else 0)` compiles to one LOAD_CONST, as the bare string would, but is not
    # a constant to the compiler's check that warns about calling one (a SyntaxWarning).
    if form == "enter":
        callee = f"({_ENTER!r} if 1 else 0)()"
    elif form == "inspect":
        callee = f"({_ENTER!r} if 1 else 0)({', '.join(args)})"
    else:
        callee = f"({_TARGET!r} if 1 else 0)"
    call = f"return {callee}({', '.join(args)})"
    header = f"def {code.co_name}({', '.join(head)}):"
    doc = f"{_DOC!r}; " if has_doc else ""
    if not _STRIP_OWN_FRAME:
        # 3.10: one line, so that the trampoline's frame in a traceback shows the `def` line.
        return f"{header} {doc}{call}\n"
    lines = [header]
    if has_doc:
        lines.append(f"    {_DOC!r}")
    exc = "heron_exception"
    taken = set(code.co_varnames)
    while exc in taken:
        exc += "_"
    lines += ["    try:",
              f"        {call}",
              f"    except {_BASE!r} as {exc}:",
              f"        {exc}.__traceback__ = {exc}.__traceback__.tb_next",
              "        raise"]
    return "\n".join(lines) + "\n"


def _compile(source):
    """Compile the trampoline's text (it makes the compiler issue no warning: the program's
    warning filters and registries are left alone)."""
    try:
        module = compile(source, "<heron trampoline>", "exec", dont_inherit=True)
    except SyntaxError as exc:    # a warning turned into an error would land here
        raise ValueError(f"the trampoline did not compile ({exc})") from None
    for const in module.co_consts:
        if isinstance(const, type(module)):
            return const
    raise RuntimeError("heron: the trampoline did not compile to a function")


def _function_doc(code):
    """The docstring ``MAKE_FUNCTION`` gives a function made from ``code`` (or None)."""
    import types
    return types.FunctionType(code, {}).__doc__


def _line_table(code):
    """A 3.11+ location table putting each of ``code``'s instructions on its first line, with
    no column information (the trampoline's own text is not in the file)."""
    units = len(code.co_code) // 2
    table = bytearray()
    while units > 0:
        n = min(8, units)
        table.append(0x80 | (13 << 3) | (n - 1))   # PY_CODE_LOCATION_INFO_NO_COLUMNS
        table.append(0)                             # line delta 0
        units -= n
    return bytes(table)


def build(code, callee, enter=True, inspect=False):
    """Make the trampoline for the function code object ``code``.

    Args:
        code: the marked function's original ``__code__`` (a module-level function: no free
            variables).
        callee: the object the trampoline calls: an enter object (``callee()`` returns what to
            call with the arguments) when ``enter`` is True, else the callable itself.
        enter: which form to build (see the module docstring).
        inspect: build the inspect form: ``callee(*arguments)`` returns what to call with them
            (``enter`` is then ignored).

    Returns:
        The trampoline code object: same ``co_name``, ``co_qualname`` (3.11+),
        ``co_filename``, ``co_firstlineno`` and docstring as ``code``, every instruction on
        the first line.

    Raises:
        ValueError: if ``code`` has free variables (a closure), which a trampoline cannot have,
            or its text does not compile.
    """
    if code.co_freevars:
        raise ValueError("a function with free variables cannot get a trampoline")
    doc = _function_doc(code)
    form = "inspect" if inspect else "enter" if enter else "direct"
    tramp = _compile(_source(code, form, doc is not None))
    placeholders = {_ENTER: callee, _TARGET: callee, _BASE: BaseException, _DOC: doc}
    consts = tuple(placeholders.get(c, c) if isinstance(c, str) else c for c in tramp.co_consts)
    changes = {"co_consts": consts, "co_filename": code.co_filename,
               "co_firstlineno": code.co_firstlineno, "co_name": code.co_name}
    if sys.version_info >= (3, 11):
        changes["co_qualname"] = code.co_qualname
        changes["co_linetable"] = _line_table(tramp)
    made = tramp.replace(**changes)
    if not _STRIP_OWN_FRAME:
        _TRAMPOLINES.add(made)
        _hide_from_excepthook()
    return made


# 3.10: a bare `raise` cannot drop the trampoline's own traceback entry, so the one place a
# traceback is printed for an uncaught exception, sys.excepthook (the default one only), leaves
# trampoline frames out, as the interpreter's would show none (issue 9, item 11).
_TRAMPOLINES = set()
_hooked = False


def _without_trampolines(tb):
    import types as _types
    entries = []
    while tb is not None:
        if tb.tb_frame.f_code not in _TRAMPOLINES:
            entries.append(tb)
        tb = tb.tb_next
    out = None
    for entry in reversed(entries):
        out = _types.TracebackType(out, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return out


def _excepthook(etype, value, tb):
    seen = set()
    exc = value
    while isinstance(exc, BaseException) and id(exc) not in seen:
        seen.add(id(exc))
        if exc.__traceback__ is not None:
            exc.__traceback__ = _without_trampolines(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__
    if isinstance(value, BaseException):
        tb = value.__traceback__
    sys.__excepthook__(etype, value, tb)


def _hide_from_excepthook():
    global _hooked
    if not _hooked and sys.excepthook is sys.__excepthook__:
        _hooked = True
        sys.excepthook = _excepthook


def find(code, wanted):
    """Find marked functions' code objects among the constants of a module's code.

    Args:
        code: a module's code object.
        wanted: a set of ``(co_name, co_firstlineno)`` pairs.

    Returns:
        A dict ``{(co_name, co_firstlineno): (owner, index, function_code)}``: ``owner`` is the
        code object whose ``co_consts[index]`` is the function's code. Functions defined at
        module level are direct constants of the module's code (also inside ``if``, ``try``,
        ``with``, ``for``); a generic function (``def f[T](...)``, 3.12+) is a constant of its
        ``<generic parameters of f>`` code, itself a constant of the module's.
    """
    found = {}
    code_type = type(code)
    for index, const in enumerate(code.co_consts):
        if type(const) is not code_type:
            continue
        key = (const.co_name, const.co_firstlineno)
        if key in wanted and key not in found:
            found[key] = (code, index, const)
        elif const.co_name.startswith("<generic parameters of "):
            for inner_index, inner in enumerate(const.co_consts):
                if type(inner) is code_type:
                    key = (inner.co_name, inner.co_firstlineno)
                    if key in wanted and key not in found:
                        found[key] = (const, inner_index, inner)
    return found


def substitute(code, replacements):
    """A copy of the module code ``code`` with some function code constants replaced.

    Args:
        code: a module's code object (not changed).
        replacements: ``{id(function_code): new_code}`` for code objects ``find`` returned.

    Returns:
        The new module code object (``code`` itself when nothing was replaced).
    """
    code_type = type(code)
    consts = list(code.co_consts)
    changed = False
    for index, const in enumerate(consts):
        if type(const) is not code_type:
            continue
        new = replacements.get(id(const))
        if new is None and const.co_name.startswith("<generic parameters of "):
            new = substitute(const, replacements)
            if new is const:
                new = None
        if new is not None:
            consts[index] = new
            changed = True
    return code.replace(co_consts=tuple(consts)) if changed else code


def substitute_in_place(owner, index, new):
    """Make ``owner.co_consts[index]`` be ``new``, in place (see the module docstring).

    Args:
        owner: a code object that has not started running yet, or whose ``LOAD_CONST`` of
            that item has not run yet.
        index: the constant's index.
        new: the replacement (kept alive by the tuple; the old item is kept in ``_KEPT``).

    Raises:
        RuntimeError: if the write did not take (an interpreter this was not checked on).
    """
    import ctypes
    consts = owner.co_consts
    old = consts[index]
    if old is new:
        return
    _KEPT.append(old)                     # our own reference: `old` is never freed
    incref = ctypes.pythonapi["Py_IncRef"]
    incref.argtypes = [ctypes.py_object]
    incref.restype = None
    decref = ctypes.pythonapi["Py_DecRef"]
    decref.argtypes = [ctypes.py_object]
    decref.restype = None
    address = id(consts) + tuple.__basicsize__ + tuple.__itemsize__ * index
    incref(new)                           # the tuple's reference to `new`
    ctypes.c_void_p.from_address(address).value = id(new)
    decref(old)                           # the tuple's reference to `old`, now gone
    if consts[index] is not new:
        raise RuntimeError("heron: could not replace a constant of the script's code")


def rebuilt(fn, code):
    """A new function made from ``code`` with everything else of ``fn`` (globals, name,
    qualified name, module, docstring, defaults, keyword defaults, annotations, attributes)."""
    import types
    new = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__,
                             fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__qualname__ = fn.__qualname__
    new.__module__ = fn.__module__
    new.__doc__ = fn.__doc__
    new.__dict__ = fn.__dict__
    if "__annotate__" in dir(fn):                 # 3.14: annotations are made lazily
        new.__annotate__ = fn.__annotate__
    else:
        new.__annotations__ = fn.__annotations__
    if hasattr(fn, "__type_params__"):
        new.__type_params__ = fn.__type_params__
    return new
