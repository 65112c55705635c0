"""The annotated source report (issue 13, item 7; ``heron._annotate``): ``HERON_REPORT=out.html``
and ``python -m heron annotate script.py`` write one self-contained page with each candidate
function's source, every line shaded by what happens there.

The page is read as written (its line rows and their notes) and in a real headless Chromium
(Debian's ``chromium``, installed by ``.ci/run``): its script runs, a line named in the address
opens its notes as a click does, and a screenshot shows the lines' colours.
"""

import re
import shutil
import struct
import subprocess
import zlib

import pytest

from test_auto import line_of

SCRIPT = """
    import numpy as np

    # heron: jit
    def smooth(a, out):
        n = a.shape[0]
        for i in range(1, n - 1):
            out[i] = (a[i - 1] + a[i] + a[i + 1]) / 3.0
        print("smoothed", n)
        return np.sum(out)

    # heron: jit
    def labels(values):
        names = {}
        for v in values:
            names[v] = str(v)
        return len(names)

    a = np.linspace(0.0, 1.0, 1000)
    out = np.zeros_like(a)
    for _ in range(3):
        smooth(a, out)
    print(out[:3].round(4).tolist(), labels([1, 2, 3]))
"""


def rows(page):
    """``{(function index, line): (kind, notes text)}`` of the page's source lines."""
    found = {}
    for m in re.finditer(r'<tr class="line (\w+)" id="f(\d+)-L(\d+)".*?</tr>\n'
                         r'<tr class="detail"[^>]*><td></td><td></td><td><ul>(.*?)</ul>',
                         page, re.S):
        found[(int(m.group(2)), int(m.group(3)))] = (m.group(1), m.group(4))
    return found


def write_page(run_script, tmp_path):
    plain = run_script(tmp_path, SCRIPT, env={"HERON_DISABLE": "1"}, native="real")
    run = run_script(tmp_path, SCRIPT, env={"HERON_REPORT": "out.html"}, native="real")
    assert run.returncode == 0, run.stderr
    assert run.stdout == plain.stdout
    return (tmp_path / "out.html").read_text(encoding="utf-8")


@pytest.mark.usefixtures("real_native")
def test_lines_are_shaded_by_what_happens(run_script, tmp_path):
    """Compiled lines are native; the print and the NumPy reduction call back; the function that
    takes a list falls back at its definition, with the reason and a hint; its body runs in the
    interpreter."""
    page = write_page(run_script, tmp_path)
    lines = rows(page)
    native = line_of(SCRIPT, "out[i] = (a[i - 1]")
    printed, summed = line_of(SCRIPT, 'print("smoothed"'), line_of(SCRIPT, "np.sum(out)")
    fallback, body = line_of(SCRIPT, "def labels"), line_of(SCRIPT, "names[v] = str(v)")
    assert lines[(0, native)][0] == "native"
    assert lines[(0, printed)][0] == "callback"
    assert "print() goes through the interpreter" in lines[(0, printed)][1]
    assert lines[(0, summed)][0] == "callback" and "np.sum: run by NumPy" in lines[(0, summed)][1]
    assert lines[(1, fallback)][0] == "fallback"
    assert "arguments of type list are not supported" in lines[(1, fallback)][1]
    assert "Use a NumPy array instead of a list" in lines[(1, fallback)][1]
    assert lines[(1, body)][0] == "python"
    # What the compiler made of the lines: the IR, grouped by line, with its checks.
    assert '<details class="ir"><summary>Cranelift IR for (1-d float64 array, 1-d float64 array)' \
        in lines[(0, native)][1]
    assert "check(s) kept" in lines[(0, native)][1]
    assert "heron_print" in lines[(0, printed)][1]
    loop = line_of(SCRIPT, "for i in range(1, n - 1)")
    assert "polls for Ctrl-C" in lines[(0, loop)][1] or "check" in lines[(0, loop)][1]
    assert "<script>" in page and "http" not in page.replace("http-equiv", "")   # no network


@pytest.mark.usefixtures("real_native")
def test_annotate_command(run_cmd, tmp_path):
    """``python -m heron annotate script.py ARGS`` runs the script (profiling mode on) and
    writes ``script.heron.html``; the hot loop of its main() shows as switched to native."""
    (tmp_path / "work.py").write_text(
        "import sys\n\n"
        "def main(n):\n"
        "    s = 0\n"
        "    for i in range(n):\n"
        "        s += i * i % 7\n"
        "    print(s)\n\n"
        "main(int(sys.argv[1]))\n")
    out = run_cmd(tmp_path, ["-m", "heron", "annotate", "work.py", "3000000"], native="real")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{sum(i * i % 7 for i in range(3_000_000))}\n"
    page = (tmp_path / "work.heron.html").read_text(encoding="utf-8")
    lines = rows(page)
    assert lines[(0, 6)][0] == "native", lines
    assert "switched to native code while it ran" in lines[(0, 5)][1]


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium here (.ci/run installs Debian's chromium)")


def browse(url, *extra):
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-dev-shm-usage", *extra, url],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.usefixtures("real_native")
def test_page_in_chromium(run_script, tmp_path):
    """The page's script runs in Chromium: it counts the lines by kind, and the line named in
    the address has its notes open (the click handler's own code)."""
    write_page(run_script, tmp_path)
    printed = line_of(SCRIPT, 'print("smoothed"')
    url = f"file://{tmp_path / 'out.html'}#f0-L{printed}"
    dom = browse(url, "--dump-dom").stdout
    assert 'data-ready="1"' in dom, dom[-2000:]
    counts = re.search(r'<span id="heron-counts">([^<]*)</span>', dom).group(1)
    assert "native:" in counts and "callback: 2" in counts and "fallback: 1" in counts
    opened = re.search(rf'<tr class="line callback open" id="f0-L{printed}"', dom)
    assert opened, dom[-3000:]
    detail = re.search(rf'<tr class="detail" id="f0-L{printed}-detail"([^>]*)>', dom).group(1)
    assert "hidden" not in detail
    other = re.search(r'<tr class="detail" id="f1-L\d+-detail"([^>]*)>', dom).group(1)
    assert "hidden" in other


@pytest.mark.usefixtures("real_native")
def test_screenshot_shows_the_kinds(run_script, tmp_path):
    """A screenshot in Chromium: the native, call-back and fall-back colours of the legend and
    the lines are on screen."""
    write_page(run_script, tmp_path)
    shot = tmp_path / "shot.png"
    browse(f"file://{tmp_path / 'out.html'}", f"--screenshot={shot}", "--window-size=1200,1800",
           "--hide-scrollbars")
    assert shot.exists() and shot.stat().st_size > 5000
    width, height, pixels = decode_png(shot.read_bytes())
    colours = {}
    for px in pixels:
        colours[px] = colours.get(px, 0) + 1
    from heron import _annotate
    for kind in ("native", "callback", "fallback"):
        rgb = tuple(int(_annotate.KINDS[kind][1][i:i + 2], 16) for i in (1, 3, 5))
        assert colours.get(rgb, 0) > 2000, (kind, rgb, sorted(colours.items(),
                                                              key=lambda kv: -kv[1])[:8])


def decode_png(data):
    """``(width, height, [(r, g, b), ...])`` of an 8-bit RGB or RGBA PNG (what Chromium
    writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour = header[:4]
    assert depth == 8 and colour in (2, 6), header
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * step
    previous = bytearray(stride)
    pixels = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up = previous[i]
            corner = previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 255
        pixels.extend(tuple(line[i:i + 3]) for i in range(0, stride, step))
        previous = line
    return width, height, pixels
