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
    A ``ctypes.CDLL``/``PyDLL`` or a cffi library (its attributes are functions), or a cffi
    ``FFI`` (its attributes are ``("ffi", name)``: ``cast``, ``from_buffer``, ``NULL``).
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
``charp`` (``c_char_p``), ``p:<dtype>`` (``POINTER(c_double)`` is ``p:float64``), ``nd:<dtype|*>:<ndim|*>:<flags>``
(an ``ndpointer``; flags are NumPy's flag bits it requires), ``cp:<cname>`` (a cffi
function's ``T *`` parameter, by cffi's spelling of ``T``: ``cp:double``, ``cp:void``), and ``?<what>`` for a type
compiled code does not pass (structures, callbacks, ``c_wchar_p``).

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
        if code == "z":
            return "charp"
        return "?" + t.__name__
    if isinstance(t, type) and issubclass(t, ctypes._Pointer):
        item = ctype_code(code)
        dtype = _pointee_dtype(item, with_bool=True)
        if dtype is not None:
            return "p:" + dtype
        return "?" + t.__name__
    return "?" + getattr(t, "__name__", type(t).__name__)


def _pointee_dtype(item, with_bool):
    """The NumPy dtype name of a pointer's element type code (``f64`` is ``float64``, ``i32``
    ``int32``), or None; ``_Bool`` only when ``with_bool``."""
    named = {"f64": "float64", "f32": "float32", "bool": "bool"} if with_bool else {"f64": "float64", "f32": "float32"}
    if item in named:
        return named[item]
    if item[:1] in "iu" and item[1:].isdigit():
        return ("int" if item[0] == "i" else "uint") + item[1:]
    return None


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
        # cffi passes a pointer only to the same C type by its spelling (`int *` is not
        # `int32_t *`): the code keeps the spelling.
        return _pointer_code(ct) or "?" + ct.cname
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


def _is_ffi(obj):
    """Is ``obj`` a cffi ``FFI`` (``cffi.FFI()``, or a compiled module's ``ffi``)?"""
    t = type(obj)
    return t.__name__ == "FFI" and t.__module__ in ("cffi.api", "_cffi_backend")


# The members of an FFI compiled code uses (``("ffi", name)``): ``ffi.cast("T *", x)``,
# ``ffi.from_buffer([cdecl,] a)`` and ``ffi.NULL``.
_FFI_MEMBERS = ("cast", "from_buffer", "NULL")


def _describe_ffi_member(ffi, attr):
    if attr not in _FFI_MEMBERS:
        return ("no", "`ffi.%s` is not supported in compiled code (ffi.cast, ffi.from_buffer and ffi.NULL are)" % attr)
    if attr in getattr(ffi, "__dict__", {}):
        return ("no", "`ffi.%s` was replaced on this FFI object" % attr)
    if attr == "NULL":
        null = ffi.NULL
        if ffi.typeof(null).cname != "void *" or int(ffi.cast("uintptr_t", null)) != 0:
            return ("no", "this FFI's NULL is not a `void *` 0")
    return ("ffi", attr)


# The cffi pointer types met, by type code (``cp:double``, ``cs:struct vec``): a struct is
# known only to the FFI that declared it, and a deoptimization boxes pointers to it.
_POINTER_CTYPES = {}


def _pointer_code(ct):
    """The type code of the cffi pointer type ``ct`` (``cp:<primitive>`` or ``cs:<struct or
    union>``, by cffi's spelling), remembered for ``box_cdata``; None for other pointers."""
    kind = ct.item.kind
    if kind in ("primitive", "void"):
        code = "cp:" + ct.item.cname
    elif kind in ("struct", "union"):
        code = "cs:" + ct.item.cname
    else:
        return None
    _POINTER_CTYPES.setdefault(code, ct)
    return code


def cdecl_pointer(ffi, text):
    """What the C type ``text`` (``"double *"``, ``"real[]"``, ``"struct vec *"``) is to the
    cffi ``ffi``: ``(code, is_array)`` for a pointer or open array (``T[]``) of a primitive,
    ``void`` or a struct (``code`` as ``_pointer_code`` gives it, typedefs resolved), else a
    string saying why not."""
    try:
        ct = ffi.typeof(text)
    except Exception as e:
        return "cffi does not know the C type %r (%s)" % (text, e)
    if ct.kind == "pointer":
        array = False
    elif ct.kind == "array" and ct.length is None:
        array = True
        ct = ffi.typeof(ffi.getctype(ct.item, "*"))
    else:
        return "`%s` is not a pointer or open-array (T[]) type" % ct.cname
    code = _pointer_code(ct)
    if code is None:
        return "`%s` points to a %s; compiled code passes pointers to numbers and structs only" % (ct.cname, ct.item.kind)
    return (code, array)


def cdata_arg(obj):
    """``(code, address)`` of a cffi pointer passed to a compiled function (``code`` as
    ``_pointer_code`` gives it), or None for any other cdata (an array, a number, a pointer
    to a pointer: the function then runs as Python)."""
    ffi = _shared_ffi()
    ct = ffi.typeof(obj)
    if ct.kind != "pointer":
        return None
    code = _pointer_code(ct)
    if code is None:
        return None
    return (code, int(ffi.cast("uintptr_t", obj)))


def box_cdata(address, code):
    """The cffi pointer a compiled ``T *`` is in the interpreter (a deoptimized call hands its
    variables over): ``ffi.cast("T *", address)`` for the type code ``code``; cffi's pointer
    types are shared by every FFI, so the result passes wherever the program's own would."""
    ct = _POINTER_CTYPES.get(code) or code[3:] + " *"
    return _shared_ffi().cast(ct, address)


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
    if _is_ffi(lib):
        return _describe_ffi_member(lib, attr)
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
        if _is_cffi_lib(obj) or _is_ffi(obj):
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


def c_result_bits(obj, code):
    """The bits (an int, little-endian) of the C value ctypes makes of a callback's Python
    result ``obj`` for the result type ``code`` (``restype(obj)``: ctypes' own conversion
    and its ``TypeError``)."""
    restype = ctype_of_code(code)
    if restype is None:
        return 0
    return int.from_bytes(bytes(restype(obj)), "little")


_BY_CODE = {"f64": ctypes.c_double, "f32": ctypes.c_float, "bool": ctypes.c_bool,
            "i8": ctypes.c_int8, "i16": ctypes.c_int16, "i32": ctypes.c_int32, "i64": ctypes.c_int64,
            "u8": ctypes.c_uint8, "u16": ctypes.c_uint16, "u32": ctypes.c_uint32, "u64": ctypes.c_uint64,
            "voidp": ctypes.c_void_p}


def ctype_of_code(code):
    """The ctypes type of a type code (``None`` for ``void``)."""
    if code == "void":
        return None
    if code.startswith("p:"):
        np = __import__("numpy")
        return ctypes.POINTER(np.ctypeslib.as_ctypes_type(np.dtype(code[2:])))
    return _BY_CODE[code]


# Numba's names for the types of a signature string (``"float64(CPointer(float64), intc)"``).
_NAMED = {"float64": ctypes.c_double, "double": ctypes.c_double, "f8": ctypes.c_double,
          "float32": ctypes.c_float, "float": ctypes.c_float, "f4": ctypes.c_float,
          "int8": ctypes.c_int8, "int16": ctypes.c_int16, "int32": ctypes.c_int32, "int64": ctypes.c_int64,
          "uint8": ctypes.c_uint8, "uint16": ctypes.c_uint16, "uint32": ctypes.c_uint32, "uint64": ctypes.c_uint64,
          "i1": ctypes.c_int8, "i2": ctypes.c_int16, "i4": ctypes.c_int32, "i8": ctypes.c_int64,
          "u1": ctypes.c_uint8, "u2": ctypes.c_uint16, "u4": ctypes.c_uint32, "u8": ctypes.c_uint64,
          "intc": ctypes.c_int, "uintc": ctypes.c_uint, "int": ctypes.c_int, "long": ctypes.c_long,
          "intp": ctypes.c_ssize_t, "uintp": ctypes.c_size_t, "size_t": ctypes.c_size_t,
          "boolean": ctypes.c_bool, "bool_": ctypes.c_bool, "bool": ctypes.c_bool,
          "voidptr": ctypes.c_void_p}


def _parse_type(text):
    text = text.strip()
    if text.endswith("*"):
        return ctypes.POINTER(_parse_type(text[:-1]))
    if text.startswith("CPointer(") and text.endswith(")"):
        return ctypes.POINTER(_parse_type(text[len("CPointer("):-1]))
    if text in ("void", "none", "None"):
        return None
    try:
        return _NAMED[text]
    except KeyError:
        raise TypeError("heron.cfunc: unknown type %r in the signature" % text) from None


def _split_args(text):
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:])
    return parts


def parse_signature(signature, argtypes=()):
    """``(restype, [argtypes])`` as ctypes types, from what ``heron.cfunc`` was given: a string
    in Numba's spelling (``"float64(float64, CPointer(float64))"``, ``"intc(voidptr,
    voidptr)"``), a ``ctypes.CFUNCTYPE(...)`` prototype, or a ctypes result type followed by
    the argument types (as ``CFUNCTYPE`` takes them).

    Raises:
        TypeError: for a signature it cannot read.
    """
    if isinstance(signature, str):
        text = signature.strip()
        open_at = text.find("(")
        if open_at < 0 or not text.endswith(")"):
            raise TypeError("heron.cfunc: a signature reads like 'float64(float64, int32)', not %r" % signature)
        restype = _parse_type(text[:open_at])
        return restype, [_parse_type(a) for a in _split_args(text[open_at + 1:-1])]
    if isinstance(signature, type) and issubclass(signature, ctypes._CFuncPtr):
        return signature._restype_, list(signature._argtypes_)
    if signature is None or isinstance(signature, type):
        return signature, list(argtypes)
    raise TypeError("heron.cfunc expects a signature string, a ctypes.CFUNCTYPE prototype or "
                    "ctypes types, got %r" % (signature,))


class CFunc:
    """A function compiled to a C-callable address (``heron.cfunc``, issue 16).

    Attributes:
        address: the C function pointer (an int), to hand to a C library.
        ctypes: a ctypes function pointer of the same (``CFUNCTYPE(restype, *argtypes)``), for
            ctypes calls and ``scipy.LowLevelCallable``.
        native: whether the address runs Heron's native code (otherwise it is ctypes'
            callback of the Python function: with ``HERON_DISABLE=1``, or when the function
            cannot be compiled, ``reason`` says why).
        reason: why it is not native, or None.
        restype, argtypes: the C signature, as ctypes types.

    Calling the object from Python calls the function (compiled, through its dispatcher).
    The C arguments reach the function as ctypes gives them to a Python callback: a C
    ``double`` as a float, a C integer as an int, a ``T *`` as a pointer (``p[i]``), a
    ``void *`` as an int. Keep the object alive while C code may call its address.
    """

    def __init__(self, fn, restype, argtypes):
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", "cfunc")
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__module__ = getattr(fn, "__module__", None)
        self.restype, self.argtypes = restype, list(argtypes)
        self._proto = ctypes.CFUNCTYPE(restype, *argtypes)
        self._callback = self._proto(fn)  # also what native code falls back to
        self._dispatcher = fn
        self._native = None
        self.native, self.reason = False, None
        from heron import _env
        if _env.disabled():
            self.reason = "HERON_DISABLE is set"
        else:
            self._compile(fn)
        if self._native is not None:
            self.address = self._native.address
            self.ctypes = self._proto(self.address)
        else:
            self.address = ctypes.cast(self._callback, ctypes.c_void_p).value
            self.ctypes = self._callback

    def _compile(self, fn):
        from heron import _hook
        codes = [ctype_code(t) for t in self.argtypes]
        res = ctype_code(self.restype)
        try:
            dispatcher = _hook.jit_function(fn, {"parallel": False, "nogil": False})
        except TypeError as e:
            self.reason = str(e)
            return
        if not _hook.is_dispatcher(dispatcher):
            self.reason = "it cannot be compiled (see heron.report())"
            return
        self._dispatcher = dispatcher
        fallback = ctypes.cast(self._callback, ctypes.c_void_p).value
        native, reason = dispatcher.make_cfunc(codes, res, fallback)
        self._native, self.reason = native, reason
        self.native = native is not None

    def __call__(self, *args):
        return self._dispatcher(*args)

    def __repr__(self):
        how = "native" if self.native else "Python through ctypes"
        return "<heron.cfunc %s at %#x (%s)>" % (self.__qualname__, self.address, how)


def cfunc(signature, *argtypes):
    """The decorator ``heron.cfunc(signature)``; see ``CFunc`` and ``parse_signature``."""
    restype, args = parse_signature(signature, argtypes)

    def decorate(fn):
        return CFunc(fn, restype, args)
    return decorate


def carray(ptr, shape, dtype=None):
    """A NumPy array over the memory at ``ptr`` (Numba's ``carray``), as ``heron.carray``.

    Args:
        ptr: a ctypes pointer (``POINTER(c_double)``, as a ``heron.cfunc`` receives a
            ``CPointer(float64)``), or an address (an int, as a ``voidptr`` arrives).
        shape: an int or a tuple of ints.
        dtype: the element type; needed for an address, and for a pointer it must be the
            pointer's own.

    Returns:
        A C-contiguous, writable array that views the memory (it does not own it: keep the
        memory alive while the array is used).

    Raises:
        TypeError: no dtype for an address, or a dtype other than the pointer's.
        ValueError: a negative dimension.
    """
    np = __import__("numpy")
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise ValueError("negative dimensions are not allowed")
    if isinstance(ptr, ctypes._Pointer):
        own = np.dtype(ptr._type_)
        if dtype is not None and np.dtype(dtype) != own:
            raise TypeError("carray(): the dtype %s differs from the pointer's (%s)" % (np.dtype(dtype), own))
        dtype, address = own, ctypes.cast(ptr, ctypes.c_void_p).value or 0
    elif isinstance(ptr, int) or ptr is None:
        if dtype is None:
            raise TypeError("carray() of a void pointer needs a dtype")
        dtype, address = np.dtype(dtype), ptr or 0
    else:
        raise TypeError("carray() takes a ctypes pointer or an address, not %s" % type(ptr).__name__)
    count = 1
    for n in shape:
        count *= n
    if count == 0:
        return np.empty(shape, dtype)
    buf = (ctypes.c_char * (count * dtype.itemsize)).from_address(address)
    return np.frombuffer(buf, dtype).reshape(shape)
