"""Native functions in compiled code (issue 16): what a ctypes or cffi object stands for, in
the words the resolver types with, and ``heron.cfunc`` / ``heron.carray``.

The resolver (``src/runtime/resolve.rs``) asks ``describe(obj)`` about a global (or an
attribute of one) that compiled code uses. The answer is a plain tuple:

``("fn", address, params, result, keeps_gil, name, flavour)``
    A foreign function compiled code may call directly by ``address``. ``params`` and
    ``result`` are type codes (below); ``keeps_gil`` is true for a ``ctypes.PyDLL``
    function (it may use the Python C API, so the caller must hold the GIL); ``name`` is
    what the report shows (``"libm.so.6:j0"``); ``flavour`` is ``"ctypes"`` or ``"cffi"``,
    whose argument conversions differ (ctypes truncates integers to the C type, cffi raises
    ``OverflowError``; both are kept exactly, see ``types::cnative``).
``("no", reason)``
    A foreign function compiled code cannot call; ``reason`` says why in plain words (the
    function then runs as Python, where ctypes or cffi gives its own result or error).
``("lib",)``
    A ``ctypes.CDLL``/``PyDLL`` or a cffi library: its attributes are functions.
``("type", code)``
    A ctypes type (``c_double``, ``POINTER(c_double)``, ``numpy.ctypeslib.ndpointer(...)``).
``("pointer",)``
    ``ctypes.POINTER`` itself (``POINTER(c_double)`` inside ``a.ctypes.data_as(...)``).
``("module", "ctypes")``
    The ctypes module.
``None``
    Nothing of the above.

Type codes: ``void``, ``bool``, ``i8 i16 i32 i64 u8 u16 u32 u64`` (C integer types by width
and sign, so ``c_long`` is ``i64`` on Linux), ``f32 f64``, ``voidp`` (``c_void_p``),
``p:<dtype>`` (``POINTER(c_double)`` is ``p:float64``), ``nd:<dtype|*>:<ndim|*>:<flags>``
(an ``ndpointer``; flags are NumPy's flag bits it requires), and ``?<what>`` for a type
compiled code does not pass (``c_char_p``, structures, callbacks).

Only the standard library is imported at the top; cffi and NumPy are looked at only when the
object is theirs.
"""

import ctypes
import sys

# ctypes' type characters (``_type_``) of the simple types that carry numbers.
_FLOATS = {"d": "f64", "f": "f32"}
_INTS = "bBhHiIlLqQ"


def _int_code(size, signed):
    return ("i" if signed else "u") + str(8 * size)


def ctype_code(t):
    """The type code (see the module's docstring) of the ctypes type ``t`` (or ``None``,
    ctypes' spelling of ``void`` in ``restype``)."""
    if t is None:
        return "void"
    np_dtype = _ndpointer_code(t)
    if np_dtype is not None:
        return np_dtype
    code = getattr(t, "_type_", None)
    if isinstance(code, str):
        if code in _FLOATS:
            return _FLOATS[code]
        if code == "?":
            return "bool"
        if code in _INTS:
            return _int_code(ctypes.sizeof(t), code.islower())
        if code == "P":
            return "voidp"
        return "?" + t.__name__
    if isinstance(t, type) and issubclass(t, ctypes._Pointer):
        item = ctype_code(code)
        dtype = {"f64": "float64", "f32": "float32", "bool": "bool"}.get(item)
        if dtype is None and item[:1] in "iu" and item[1:].isdigit():
            dtype = ("int" if item[0] == "i" else "uint") + item[1:]
        if dtype is not None:
            return "p:" + dtype
        return "?" + t.__name__
    return "?" + getattr(t, "__name__", type(t).__name__)


def _ndpointer_code(t):
    """``nd:...`` for a class made by ``numpy.ctypeslib.ndpointer``, else None."""
    if not (isinstance(t, type) and hasattr(t, "_dtype_") and hasattr(t, "_flags_") and hasattr(t, "_ndim_")):
        return None
    np = sys.modules.get("numpy")
    if np is None or not issubclass(t, np.ctypeslib._ndptr):
        return None
    if t._shape_ is not None:
        return "?an ndpointer with a fixed shape"
    dtype = "*" if t._dtype_ is None else (t._dtype_.name if t._dtype_.isnative and t._dtype_.fields is None else None)
    if dtype is None:
        return "?an ndpointer of a non-native dtype"
    ndim = "*" if t._ndim_ is None else str(t._ndim_)
    return "nd:%s:%s:%d" % (dtype, ndim, t._flags_ or 0)


def _lib_name(path):
    import os
    return os.path.basename(path) if path else "(process)"


def _describe_ctypes_function(f, lib=None):
    flags = f._flags_
    if flags & getattr(ctypes, "_FUNCFLAG_USE_ERRNO", 0x8):
        return ("no", "`%s` is from a library loaded with use_errno=True; calls to it run as Python" % f.__name__)
    if f.argtypes is None:
        return ("no", "`%s` has no argtypes; set them (for example `f.argtypes = [ctypes.c_double]`) so compiled code can call it" % f.__name__)
    if f.errcheck is not None:
        return ("no", "`%s` has an errcheck function; calls to it run as Python" % f.__name__)
    params = [ctype_code(t) for t in f.argtypes]
    restype = f.restype
    if restype is not None and not isinstance(restype, type):
        return ("no", "the restype of `%s` is a Python callable; calls to it run as Python" % f.__name__)
    result = ctype_code(restype)
    for code in params + [result]:
        if code.startswith("?"):
            return ("no", "`%s` takes or returns a %s, which compiled code does not pass yet" % (f.__name__, code[1:]))
    address = ctypes.cast(f, ctypes.c_void_p).value
    keeps_gil = bool(flags & getattr(ctypes, "_FUNCFLAG_PYTHONAPI", 0x4))
    return ("fn", address, params, result, keeps_gil, "%s:%s" % (lib or "ctypes", f.__name__), "ctypes")


def _cffi_code(ffi, ct):
    kind = ct.kind
    if kind == "void":
        return "void"
    if kind == "primitive":
        name = ct.cname
        if name == "double":
            return "f64"
        if name == "float":
            return "f32"
        if name == "_Bool":
            return "bool"
        if name in ("char", "wchar_t", "char16_t", "char32_t") or "double" in name:
            return "?" + name
        try:
            signed = int(ffi.cast(name, -1)) < 0
        except (TypeError, ValueError, OverflowError):
            return "?" + name
        return _int_code(ffi.sizeof(ct), signed)
    if kind == "pointer":
        item = _cffi_code(ffi, ct.item)
        dtype = {"f64": "float64", "f32": "float32"}.get(item)
        if dtype is None and item[:1] in "iu" and item[1:].isdigit():
            dtype = ("int" if item[0] == "i" else "uint") + item[1:]
        if item == "void":
            return "voidp"
        return "p:" + dtype if dtype else "?" + ct.cname
    return "?" + ct.cname


def _describe_cffi_function(obj, name=None):
    if "_cffi_backend" not in sys.modules:
        return None
    ffi = _shared_ffi()
    try:
        ct = ffi.typeof(obj)
    except Exception:  # not a cdata of a type cffi knows
        return None
    if ct.kind != "function":
        return None
    if ct.ellipsis:
        return ("no", "`%s` takes a variable number of arguments (...); calls to it run as Python" % (name or ct.cname))
    params = [_cffi_code(ffi, a) for a in ct.args]
    result = _cffi_code(ffi, ct.result)
    for code in params + [result]:
        if code.startswith("?"):
            return ("no", "`%s` takes or returns a %s, which compiled code does not pass yet" % (name or ct.cname, code[1:]))
    if any(p.startswith("p:") or p == "voidp" for p in params):
        return ("no", "`%s` takes a pointer; pointers to cffi functions are not passed by compiled code yet" % (name or ct.cname))
    address = int(ffi.cast("uintptr_t", obj))
    return ("fn", address, params, result, False, "cffi:%s" % (name or ct.cname), "cffi")


_ffi = None


def _shared_ffi():
    """One FFI of Heron's own (the backend's, which needs no compiler and is there whenever
    a cffi library is): ``typeof`` and ``cast`` work on any library's cdata."""
    global _ffi
    if _ffi is None:
        import _cffi_backend
        _ffi = _cffi_backend.FFI()
    return _ffi


def _is_cffi_lib(obj):
    t = type(obj)
    return (t.__module__ == "cffi.api" and t.__qualname__.endswith("FFILibrary")) or (t.__module__ in ("_cffi_backend", "builtins") and t.__name__ in ("Lib", "_cffi_backend.Lib", "CompiledLib"))


def describe_attr(lib, attr):
    """``describe(getattr(lib, attr))`` for a library object ``lib`` (ctypes or cffi), with the
    library's file named in the report; ``None`` when it has no such attribute."""
    try:
        value = getattr(lib, attr)
    except Exception:
        return None
    if isinstance(value, ctypes._CFuncPtr):
        try:
            return _describe_ctypes_function(value, library_name(lib))
        except Exception as e:
            return ("no", "Heron could not read this foreign function (%s: %s)" % (type(e).__name__, e))
    return describe(value, attr)


def describe(obj, name=None):
    """What ``obj`` stands for in compiled code (see the module's docstring for the answers).

    Args:
        obj: a global's value, or an attribute of a library object.
        name: the attribute's name when ``obj`` was got from a library (for messages).

    Never raises: an object it cannot read is ``None`` (the resolver then says it is not
    supported).
    """
    try:
        return _describe(obj, name)
    except Exception as e:  # an odd object must not break compilation
        return ("no", "Heron could not read this foreign function (%s: %s)" % (type(e).__name__, e))


def _describe(obj, name):
    if obj is ctypes:
        return ("module", "ctypes")
    if obj is ctypes.POINTER:
        return ("pointer",)
    if isinstance(obj, ctypes.CDLL):
        return ("lib",)
    if isinstance(obj, ctypes._CFuncPtr):
        return _describe_ctypes_function(obj)
    if isinstance(obj, type) and (issubclass(obj, (ctypes._SimpleCData, ctypes._Pointer)) or _ndpointer_code(obj)):
        return ("type", ctype_code(obj))
    if "cffi" in sys.modules or "_cffi_backend" in sys.modules:
        if _is_cffi_lib(obj):
            return ("lib",)
        t = type(obj)
        if t.__module__ == "_cffi_backend" or t.__name__ in ("_CDataBase", "__CDataOwn"):
            return _describe_cffi_function(obj, name)
        if t.__name__ == "builtin_function_or_method" and getattr(obj, "__self__", None) is not None and _is_cffi_lib(obj.__self__):
            return _describe_cffi_api_function(obj)
    return None


def _describe_cffi_api_function(fn):
    """A function of a compiled (API-mode, out-of-line) cffi module, ``lib.func``: its address
    is ``ffi.addressof(lib, name)``, with the module's own ``ffi``."""
    lib = fn.__self__
    module = sys.modules.get(getattr(type(lib), "__module__", ""), None)
    ffi = None
    for m in list(sys.modules.values()):
        if getattr(m, "lib", None) is lib and hasattr(m, "ffi"):
            ffi = m.ffi
            break
    if ffi is None:
        del module
        return ("no", "Heron could not find the ffi of the cffi module `%s` belongs to" % fn.__name__)
    return _describe_cffi_function(ffi.addressof(lib, fn.__name__), fn.__name__)


def library_name(lib):
    """The report's name for a ctypes or cffi library object (its file's base name)."""
    name = getattr(lib, "_name", None)
    return _lib_name(name) if isinstance(name, str) or name is None else str(name)


def box_pointer(address, dtype):
    """The ctypes pointer a compiled ``T *`` value is in the interpreter (a deoptimized call
    hands its variables over): ``POINTER(T)`` at ``address`` (an int), ``T`` the ctypes type
    of the NumPy ``dtype`` name, or a ``c_void_p`` for ``"void"``."""
    if dtype == "void":
        return ctypes.c_void_p(address or None)
    np = __import__("numpy")
    item = np.ctypeslib.as_ctypes_type(np.dtype(dtype))
    return ctypes.cast(ctypes.c_void_p(address), ctypes.POINTER(item))
