"""The corpus of real kernels: reading the specs in ``kernels/``, taking each kernel's code out of
its public source, and writing the runnable files (``corpus/NAME.py``).

Each ``kernels/NAME.py`` holds a ``SOURCE`` dict (where the kernel comes from, which functions
to take, and every change made to them) followed by the driver: ``make_inputs()`` and
``run(*inputs)``, written for this corpus. The kernels themselves are not copied into this
repository: ``materialize`` takes them, at run time, from a git checkout of the public
repository at the pinned commit (``git show COMMIT:PATH``), and writes for each kernel one
file: a header naming the source, URL and license; the source's own import lines that the
code needs; the module-level constants and the functions, exactly as written (decorators
removed; functions in ``jit`` get ``# heron: jit`` above their ``def``); the declared
adaptations (each a literal substitution that must apply); then the driver.

``SOURCE`` keys:

* ``repo``, ``commit``, ``path``: the public file (``path`` inside ``repo`` at ``commit``);
* ``license``: the source's license, as its repository states it;
* ``jit``: functions to take and mark; ``"name:parallel"`` or ``"name:nogil"`` for the
  options the author gave Numba (``parallel=True``, ``nogil=True``);
* ``helpers``: functions to take unmarked (the author did not jit them either);
* ``globals``: module-level names whose assignments are taken as written;
* ``imports``: import lines of the source the code needs (each must occur in it verbatim);
* ``added_imports``: lines the source does not have (each says why in ``adapt_notes``);
* ``adapt``: ``[old, new, why]`` literal substitutions on the taken code, each applied once
  or more (an adaptation that no longer applies is an error);
* ``snippet``: ``[start, end]`` for a source that is not a Python file (an HTML page): the
  code is the text from ``start`` up to ``end``, HTML entities decoded;
* ``notes``: anything else a reader should know (how a ``vectorize`` kernel is applied, ...).

Sources are found in ``HERON_REAL_SOURCES`` (``:``-separated directories), then in
``/work/.mirror``: for ``owner/name``, a git directory at ``DIR/owner+name/repo``,
``DIR/owner+name``, ``DIR/owner/name`` or ``DIR/name`` (bare, or a checkout with ``.git``).
``git clone https://github.com/owner/name DIR/owner+name`` makes one.
"""

import ast
import html
import os
import shutil
import subprocess
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
SPECS = os.path.join(HERE, "kernels")
HARNESS = os.path.join(HERE, "_harness.py")
DEFAULT_OUT = os.path.join(HERE, "corpus")
DEFAULT_SOURCE_DIRS = ("/work/.mirror",)

KEYS = {"repo", "commit", "path", "license", "jit", "helpers", "globals", "imports",
        "added_imports", "adapt", "snippet", "notes", "title"}


class SourceMissing(Exception):
    """A kernel's public source is not available on this machine."""


def names():
    """The kernels of the corpus, sorted."""
    return sorted(f[:-3] for f in os.listdir(SPECS)
                  if f.endswith(".py") and not f.startswith("_"))


def load_spec(name):
    """``(SOURCE dict, driver text, title)`` of ``kernels/NAME.py``."""
    path = os.path.join(SPECS, name + ".py")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    tree = ast.parse(text, path)
    title = ast.get_docstring(tree) or name
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "SOURCE"):
            spec = ast.literal_eval(node.value)
            unknown = set(spec) - KEYS
            if unknown:
                raise ValueError(f"{path}: unknown SOURCE keys {sorted(unknown)}")
            driver = "".join(text.splitlines(keepends=True)[node.end_lineno:])
            return spec, driver.strip("\n") + "\n", title.strip().splitlines()[0]
    raise ValueError(f"{path}: no SOURCE")


def source_dirs():
    dirs = [d for d in os.environ.get("HERON_REAL_SOURCES", "").split(os.pathsep) if d]
    return dirs + list(DEFAULT_SOURCE_DIRS)


def _git_dir(repo):
    owner, name = repo.split("/")
    for base in source_dirs():
        for cand in (os.path.join(base, f"{owner}+{name}", "repo"),
                     os.path.join(base, f"{owner}+{name}"),
                     os.path.join(base, owner, name), os.path.join(base, name)):
            for git_dir in (os.path.join(cand, ".git"), cand):
                if os.path.isfile(os.path.join(git_dir, "HEAD")):
                    return git_dir
    return None


_file_cache = {}


def read_source(repo, commit, path):
    """The text of ``path`` in ``repo`` at ``commit``.

    Raises:
        SourceMissing: no git directory of ``repo`` is found, or it lacks that commit.
    """
    key = (repo, commit, path)
    if key not in _file_cache:
        if shutil.which("git") is None:
            raise SourceMissing("git is not installed")
        git_dir = _git_dir(repo)
        if git_dir is None:
            raise SourceMissing(f"no checkout of {repo} (see benches/real/README.md)")
        out = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SourceMissing(f"{repo}@{commit[:10]}:{path}: {out.stderr.strip()}")
        _file_cache[key] = out.stdout
    return _file_cache[key]


def url(spec):
    return f"https://github.com/{spec['repo']}/blob/{spec['commit']}/{spec['path']}"


def _funcs_and_globals(tree):
    """Every function definition (at any depth, first one of each name) and every
    module-level assignment, by name."""
    funcs, assigns = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name not in funcs:
            funcs[node.name] = node
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        assigns.setdefault(n.id, node)
    return funcs, assigns


def _segment(lines, first, last):
    return textwrap.dedent("".join(lines[first - 1:last]))


def build(name):
    """The text of the runnable file of kernel ``name``.

    Raises:
        SourceMissing: the source is not on this machine.
        ValueError: the spec does not fit the source (a function, name, import or
            adaptation not found).
    """
    spec, driver, title = load_spec(name)
    text = read_source(spec["repo"], spec["commit"], spec["path"])
    if "snippet" in spec:
        start, end = spec["snippet"]
        i = text.index(start)
        j = text.index(end, i)
        text = html.unescape(text[i:j]) + "\n"
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    funcs, assigns = _funcs_and_globals(tree)

    pieces = []      # (line, text)
    marks = {}
    for entry in spec.get("jit", []):
        fname, _, opts = entry.partition(":")
        marks[fname] = opts
    for fname in list(marks) + list(spec.get("helpers", [])):
        if fname not in funcs:
            raise ValueError(f"{name}: no function {fname!r} in {spec['path']}")
        node = funcs[fname]
        code = _segment(lines, node.lineno, node.end_lineno)
        if fname in marks:
            marker = "# heron: jit" + (", " + marks[fname].replace("+", ", ")
                                       if marks[fname] else "")
            code = marker + "\n" + code
        pieces.append((node.lineno, code))
    seen = set()
    for gname in spec.get("globals", []):
        if gname not in assigns:
            raise ValueError(f"{name}: no module-level {gname!r} in {spec['path']}")
        node = assigns[gname]
        if id(node) in seen:
            continue
        seen.add(id(node))
        pieces.append((node.lineno, _segment(lines, node.lineno, node.end_lineno)))
    pieces.sort(key=lambda p: p[0])
    body = ""
    for _, code in pieces:
        sep = "\n\n" if code.lstrip().startswith(("def ", "# heron")) else ""
        body += sep + code
    for old, new, why in spec.get("adapt", []):
        if old not in body:
            raise ValueError(f"{name}: adaptation {old!r} does not apply")
        body = body.replace(old, new)

    imports = []
    for line in spec.get("imports", []):
        if not any(src.strip() == line for src in lines):
            raise ValueError(f"{name}: import line {line!r} is not in {spec['path']}")
        imports.append(line)
    imports += list(spec.get("added_imports", []))

    header = [f"# Kernel {name}: {title}",
              f"# Source: {url(spec)}",
              f"# License: {spec['license']}",
              "# Taken as written: " + ", ".join(
                  [f for f in marks] + list(spec.get("helpers", []))
                  + list(spec.get("globals", []))),
              "# Numba decorators removed; '# heron: jit' marks: " + ", ".join(marks)]
    for old, new, why in spec.get("adapt", []):
        header.append(f"# Adapted: {old!r} -> {new!r}: {why}")
    if spec.get("notes"):
        for line in textwrap.wrap("Notes: " + spec["notes"], 94):
            header.append("# " + line)
    header.append("# Generated by benches/real/_corpus.py from the source above; the driver "
                  "(after the kernel) is Heron's.")
    out = "\n".join(header) + "\n"
    out += "\n".join(imports) + ("\n" if imports else "")
    out += body.rstrip("\n") + "\n"
    out += "\n\n# ---- driver (benches/real/kernels/%s.py) " % name + "-" * 30 + "\n\n"
    out += driver
    out += ('\n\nif __name__ == "__main__":\n'
            '    import os, sys\n'
            '    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n'
            '    import _harness\n'
            '    _harness.main(globals())\n')
    compile(out, name + ".py", "exec")
    return out


def materialize(out_dir=DEFAULT_OUT, only=None):
    """Write ``out_dir/NAME.py`` for every kernel (or those in ``only``) and the harness.

    Returns:
        ``(written, missing)``: the names written, and ``{name: why}`` for kernels whose
        source is not on this machine.
    """
    os.makedirs(out_dir, exist_ok=True)
    shutil.copyfile(HARNESS, os.path.join(out_dir, "_harness.py"))
    written, missing = [], {}
    for name in (only or names()):
        try:
            text = build(name)
        except SourceMissing as e:
            missing[name] = str(e)
            continue
        with open(os.path.join(out_dir, name + ".py"), "w", encoding="utf-8") as f:
            f.write(text)
        written.append(name)
    return written, missing


if __name__ == "__main__":
    import sys
    done, absent = materialize(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
    print(f"{len(done)} kernels written" + (f", {len(absent)} missing" if absent else ""))
    for k, why in absent.items():
        print(f"  {k}: {why}")


def sources_markdown():
    """A Markdown table of every kernel's source (for the README)."""
    rows = ["| kernel | source (repository, file at the pinned commit) | functions marked | "
            "license | changes |", "| --- | --- | --- | --- | --- |"]
    for name in names():
        spec, _, title = load_spec(name)
        funcs = ", ".join(f.split(":")[0] + (f" ({f.split(':')[1]})" if ":" in f else "")
                          for f in spec["jit"])
        changes = "; ".join(f"`{old.strip()}` → `{new.strip()}`"
                            for old, new, _ in spec.get("adapt", []))
        if spec.get("added_imports"):
            changes = "; ".join(filter(None, [changes, "added: " + ", ".join(
                f"`{x}`" for x in spec["added_imports"])]))
        rows.append(f"| {name} | [{spec['repo']}: {spec['path']}]({url(spec)}) | {funcs} | "
                    f"{spec['license']} | {changes or '-'} |")
    return "\n".join(rows) + "\n"
