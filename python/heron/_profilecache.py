"""The profile cache of profiling mode (issue 13, item 5): the hot functions a run compiled are
remembered beside the byte-code cache, so that the next run compiles them from their first call,
as if they were marked, without waiting to find them hot.

One JSON file per module and interpreter, ``__pycache__/<module>.<cache tag>.heron.json``
(``<cache tag>`` is ``sys.implementation.cache_tag``, as in the byte-code file's name), holding
the CRC-32 and length of the module's source (``zlib``, built in: nothing is imported for a
module without a cache file), Heron's own stamp (its version and the size and time of its
native extension) and the functions (name, qualified name, first line). A file whose source or
Heron changed since is ignored and written again. ``HERON_CACHE=0`` turns the cache off (nothing
is read or written). A directory that cannot be written is skipped silently: the cache only
saves time, it never changes what a program does.
"""

import os
import sys
import zlib

_digests = {}       # source file -> digest of the source the run saw (``note``, ``load``)
_loaded = {}        # source file -> the entries read from its cache


def enabled():
    """The cache is on unless ``HERON_CACHE`` is ``0`` (or ``false``, ``no``, ``off``)."""
    value = os.environ.get("HERON_CACHE", "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def path_for(filename):
    """The cache file of the module ``filename``."""
    folder = os.path.join(os.path.dirname(os.path.abspath(filename)), "__pycache__")
    stem = os.path.splitext(os.path.basename(filename))[0]
    tag = sys.implementation.cache_tag or "python"
    return os.path.join(folder, f"{stem}.{tag}.heron.json")


def _stamp():
    """Heron's version and its native extension's size and modification time."""
    __version__ = getattr(sys.modules.get("heron"), "__version__", "?")
    native = os.path.join(os.path.dirname(__file__), "_native.abi3.so")
    try:
        info = os.stat(native)
        return f"{__version__}:{info.st_size}:{int(info.st_mtime)}"
    except OSError:
        return f"{__version__}:no-native"


def note(filename, source):
    """Remember the digest of the source (bytes or str) the module ``filename`` runs, for
    ``save``."""
    data = source.encode("utf-8") if isinstance(source, str) else bytes(source)
    _digests[filename] = digest = f"{zlib.crc32(data):08x}:{len(data)}"
    return digest


def exists(filename):
    """Whether the module ``filename`` has a cache file (valid or not)."""
    return os.path.exists(path_for(filename))


def load(filename, source):
    """The functions the last run compiled in the module ``filename`` whose source is
    ``source`` (bytes or str): a list of ``{"name", "qualname", "line"}``, empty when there is
    no valid cache. Remembers the source's digest for ``save``. Never raises."""
    try:
        digest = note(filename, source)
        path = path_for(filename)
        if not os.path.exists(path):
            return []
        import json
        with open(path, encoding="utf-8") as file:
            cached = json.load(file)
        if cached.get("source") != digest or cached.get("heron") != _stamp():
            return []
        entries = [e for e in cached.get("functions", ())
                   if isinstance(e.get("name"), str) and isinstance(e.get("line"), int)]
        _loaded[filename] = entries
        return entries
    except Exception:
        return []


def save(compiled):
    """Write the caches of the modules whose source ``load`` saw.

    Args:
        compiled: ``[(source file, {"name", "qualname", "line"})]``: the hot functions this run
            compiled; those read from a module's cache are kept.
    """
    by_file = {}
    for filename, entry in compiled:
        by_file.setdefault(filename, []).append(entry)
    for filename, digest in list(_digests.items()):
        entries = list(_loaded.get(filename, ()))
        for entry in by_file.get(filename, ()):
            if all(e["line"] != entry["line"] for e in entries):
                entries.append(entry)
        if not entries and filename not in _loaded:
            continue
        import json
        path = path_for(filename)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            temporary = f"{path}.{os.getpid()}.tmp"
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump({"source": digest, "heron": _stamp(),
                           "functions": sorted(entries, key=lambda e: e["line"])}, file,
                          indent=1)
            os.replace(temporary, path)
        except OSError:
            pass


def save_compiled(watched):
    """``save`` the hot functions of ``watched`` (``heron._auto.Watched``) that were compiled
    and are still bound to their dispatcher. Never raises."""
    try:
        save([(os.path.abspath(w.filename),
               {"name": w.code.co_name, "qualname": w.qualname, "line": w.code.co_firstlineno})
              for w in watched
              if w.state == "compiled" and w.kind == "function" and not w.reason])
    except Exception:
        pass
