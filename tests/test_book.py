"""Browser check of the built book (`_build/html`).

Serves `_build/html` on 127.0.0.1 from a thread and opens every page listed in `_toc.yml` in
headless Chromium (Debian's `chromium`, or the executable named by $CHROMIUM). For each page:

* the page is served and Chromium renders it (`--dump-dom`);
* its <title> starts with the page's first heading in the source (`.md` or `.ipynb`);
* math is typeset: as many `<mjx-container>` elements as math elements in the HTML, none in error;
* widgets with saved state are rendered (the `jupyter-widgets` elements exist);
* figures are present and non-empty: every `<img>` is served with a non-empty body, and a notebook
  page shows at least as many images as its executed notebook has image outputs;
* nothing the page asked the server for was missing (no 404 while rendering);
* no broken internal links: every relative href/src in every built HTML page points to an existing
  file, and every #fragment to an existing id.

Screenshots of the landing page and of the first notebook chapter are written to `screenshots/`
(git-ignored). Build the book first (`bash scripts/install_and_build.sh`). Without `_build/html` or
Chromium the tests are skipped, except under CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = ROOT / "_build" / "html"
EXEC_DIR = ROOT / "_build" / "jupyter_execute"
SHOT_DIR = ROOT / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PAGE_TIMEOUT = 120  # seconds of wall time per Chromium run

# Requests that may 404 without harm: the browser's favicon probe, and the Font Awesome files that
# the ipywidgets HTML manager looks for next to the page (icons on buttons; the vendored widget
# bundle resolves them relative to the page, not to _static/).
HARMLESS_404 = (re.compile(r"^/favicon\.ico$"), re.compile(r"/@jupyter-widgets/html-manager/dist/[^/]+\.(woff2?|ttf|eot|svg)$"))


# ----------------------------------------------------------------------------------------------
# what the book contains


def _toc_files() -> list[str]:
    """Every `file:` in _toc.yml, root first, in reading order."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("chapters", "sections", "parts"):
                walk(entry.get(key))

    walk(toc.get("chapters"))
    walk(toc.get("parts"))
    return files


def _source(page: str) -> Path:
    for suffix in (".ipynb", ".md"):
        path = ROOT / f"{page}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"_toc.yml lists {page!r} but neither {page}.ipynb nor {page}.md exists")


def _plain(text: str) -> str:
    """A heading without markup, for comparison with the rendered title."""
    text = re.sub(r"\{[a-z:]+\}`([^`]*)`", r"\1", text)  # {role}`content`
    text = re.sub(r"[`*_$\\]", "", text)
    return " ".join(html.unescape(text).split()).lower()


def _source_title(page: str) -> str:
    path = _source(page)
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        lines = [ln for c in cells if c["cell_type"] == "markdown" for ln in "".join(c["source"]).splitlines()]
    else:
        lines = path.read_text().splitlines()
    for line in lines:
        if line.startswith("# "):
            return line[2:].strip()
    raise AssertionError(f"{path.relative_to(ROOT)} has no level-1 heading ('# Title')")


PAGES = _toc_files()


# ----------------------------------------------------------------------------------------------
# fixtures: the built site, a local server, Chromium


def _missing(reason: str):
    if IN_CI:
        pytest.fail(reason + " (CI=true: the browser check must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site() -> Path:
    if not (HTML_DIR / "index.html").is_file():
        _missing(f"{HTML_DIR.relative_to(ROOT)}/index.html not found: build the book first "
                 "(bash scripts/install_and_build.sh, or jupyter-book build . -W -n --keep-going)")
    return HTML_DIR


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in filter(None, (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome")):
        exe = shutil.which(name)
        if exe:
            return exe
    _missing("Chromium not found (Debian: apt-get install -y chromium; or set $CHROMIUM)")


class _Handler(http.server.SimpleHTTPRequestHandler):
    served: list[tuple[str, int]]

    def log_message(self, *args):  # keep pytest output clean
        pass

    def log_request(self, code="-", size="-"):
        self.served.append((urlsplit(self.path).path, int(code) if str(code).isdigit() else 0))


@pytest.fixture(scope="module")
def server(site):
    """(base URL, list of (path, status) of every request served)."""
    served: list[tuple[str, int]] = []
    handler = type("Handler", (_Handler,), {"served": served})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", served
    finally:
        httpd.shutdown()
        httpd.server_close()


def _chromium(exe: str, url: str, *, screenshot: Path | None = None, height: int = 2000) -> str:
    with tempfile.TemporaryDirectory(prefix="r3d-chromium-") as profile:
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
            f"--window-size=1280,{height}", "--virtual-time-budget=20000",
        ]
        cmd += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
        proc = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=PAGE_TIMEOUT)
    if proc.returncode != 0:
        raise AssertionError(f"chromium exited with {proc.returncode} on {url}:\n{proc.stderr[-2000:]}")
    return proc.stdout


@pytest.fixture(scope="module")
def render(chromium, server):
    """render(page) -> (DOM after scripts ran, requests served while rendering); cached per page."""
    base, served = server
    cache: dict[str, tuple[str, list[tuple[str, int]]]] = {}

    def _render(page: str):
        if page not in cache:
            start = len(served)
            dom = _chromium(chromium, urljoin(base, f"{page}.html"))
            cache[page] = (dom, list(served[start:]))
        return cache[page]

    return _render


# ----------------------------------------------------------------------------------------------
# HTML parsing helpers


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()
        self.imgs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag in {"a", "span", "div", "section", "dl", "dt", "figure", "table",
                                             "p", "li", "main", "nav", "h1", "h2", "h3", "h4", "h5", "h6",
                                             "img", "math", "details", "aside", "article", "ul", "ol",
                                             "pre", "code", "blockquote", "button", "form", "input",
                                             "label", "header", "footer", "body", "html", "tr", "td",
                                             "th", "dd", "em", "strong", "svg", "script"} else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key):
                self.urls.append((tag, attrs[key]))
        if tag == "img" and attrs.get("src"):
            self.imgs.append(attrs["src"])


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def _is_external(url: str) -> bool:
    scheme = urlsplit(url).scheme
    return bool(scheme) or url.startswith("//")


def _count_math(static_html: str) -> int:
    return len(re.findall(r'<(?:span|div)[^>]*class="[^"]*\bmath\b', static_html))


def _fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, b"", ""


# ----------------------------------------------------------------------------------------------
# the tests


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(page, site, server, render):
    path = site / f"{page}.html"
    assert path.is_file(), f"{page}.html was not built (is it in _toc.yml? did the build fail?)"
    static = path.read_text(encoding="utf-8")
    base, _ = server
    status, body, _ = _fetch(urljoin(base, f"{page}.html"))
    assert status == 200 and body, f"{page}.html: HTTP {status}"

    dom, served = render(page)
    assert "<body" in dom and len(dom) > 2000, f"{page}: Chromium returned an empty page"

    # title
    want = _plain(_source_title(page))
    m = re.search(r"<title>(.*?)</title>", dom, re.S)
    got = _plain(m.group(1)) if m else ""
    assert got.startswith(want), f"{page}: <title> is {got!r}, expected it to start with {want!r}"
    assert re.search(r"<h1[^>]*>", dom), f"{page}: no <h1> in the rendered page"

    # math
    n_math = _count_math(static)
    n_typeset = dom.count("<mjx-container")
    if n_math:
        hint = ("" if (site / "_static" / "mathjax" / "tex-mml-chtml.js").is_file() else
                " (book/_vendor was missing at build time, so MathJax comes from a CDN the browser "
                "cannot reach: run bash scripts/vendor_js.sh and rebuild)")
        assert n_typeset >= n_math, f"{page}: {n_math} math elements but {n_typeset} typeset by MathJax{hint}"
    assert "<mjx-merror" not in dom, f"{page}: MathJax reported a TeX error (look for red math on the page)"

    # widgets
    if "application/vnd.jupyter.widget-state+json" in static:
        assert re.search(r'class="[^"]*\bjupyter-widgets\b', dom), f"{page}: saved widget state but no widget rendered"

    # figures
    imgs = [src for src in _parse(path).imgs if not src.startswith("data:")]
    for src in imgs:
        url = urljoin(urljoin(base, f"{page}.html"), src)
        if _is_external(src):
            pytest.fail(f"{page}: image {src} is loaded from outside the site")
        status, body, ctype = _fetch(url)
        assert status == 200 and len(body) > 100, f"{page}: image {src}: HTTP {status}, {len(body)} bytes"
        assert ctype.startswith("image/"), f"{page}: image {src} served as {ctype!r}"
    executed = EXEC_DIR / f"{page}.ipynb"
    if _source(page).suffix == ".ipynb" and executed.is_file():
        cells = json.loads(executed.read_text())["cells"]
        n_fig = sum(1 for c in cells for o in c.get("outputs", [])
                    if any(k.startswith("image/") for k in o.get("data", {})))
        n_img = len([s for s in imgs if "_images/" in s])
        assert n_img >= n_fig, f"{page}: the notebook made {n_fig} figures but the page shows {n_img}"

    # everything the page loaded from the site existed
    missing = sorted({p for p, code in served if code == 404 and not any(r.search(p) for r in HARMLESS_404)})
    assert not missing, f"{page}: the browser asked for files that are not in the site: {missing}"


def test_notebooks_committed_without_outputs():
    """Chapters are stored without outputs; the build executes them (no site needed).  The one
    exception: cells tagged ``nbval-check-output`` keep a short text output, which nbval compares
    (the strict checks); they must hold plain stream text only."""
    dirty = []
    n_strict = 0
    for page in PAGES:
        path = _source(page)
        if path.suffix != ".ipynb":
            continue
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] != "code" or not (cell.get("outputs") or cell.get("execution_count")):
                continue
            strict = "nbval-check-output" in cell.get("metadata", {}).get("tags", [])
            text_only = all(o.get("output_type") == "stream" for o in cell.get("outputs", []))
            if strict and text_only and cell.get("outputs"):
                n_strict += 1
            else:
                dirty.append(f"{path.relative_to(ROOT)} cell {i}")
    assert n_strict >= 2, "the strict nbval checks (cells tagged nbval-check-output) lost their stored outputs"
    assert not dirty, ("notebooks must be committed without outputs (jupyter nbconvert --clear-output "
                       "--inplace, or nbstripout): " + ", ".join(dirty))


def test_no_temporary_paths_or_kernel_files_in_pages(site):
    """Executed outputs show no temporary paths (a warning's origin in a notebook is a file of the
    kernel under /tmp): a reader sees the course, not the machine that built it."""
    bad = re.compile(r"/tmp/|ipykernel_\d+/")
    hits = [f"{path.relative_to(site)}: {m.group(0)!r}" for path in sorted((site / "book").glob("*.html"))
            for m in [bad.search(path.read_text(errors="replace"))] if m]
    assert not hits, "temporary paths in the built pages: " + "; ".join(hits)


def test_no_broken_internal_links(site):
    # every page of the site; _static/ holds theme template fragments, not pages
    pages = sorted(p for p in site.rglob("*.html") if p.relative_to(site).parts[0] not in {"_static", "_sources"})
    assert pages
    broken = []
    for path in pages:
        for tag, url in _parse(path).urls:
            if _is_external(url) or url.startswith(("mailto:", "javascript:", "data:")) or url == "#":
                continue
            parts = urlsplit(url)
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(site)}: <{tag}> {url}"
            if not target.exists():
                broken.append(f"{where} -> missing file")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target).ids:
                broken.append(f"{where} -> no id {parts.fragment!r}")
    assert not broken, f"{len(broken)} broken internal link(s):\n" + "\n".join(broken[:50])


def test_landing_page_and_screenshots(site, chromium, server, render):
    base, _ = server
    index = (site / "index.html").read_text()
    root_page = PAGES[0]
    assert re.search(rf'http-equiv="Refresh"[^>]*url={re.escape(root_page)}\.html', index, re.I), (
        f"_build/html/index.html does not redirect to {root_page}.html:\n{index[:500]}")
    dom, _ = render("index")  # follows the redirect
    assert _plain(_source_title(root_page)) in _plain(dom), "the landing page does not show the introduction"

    SHOT_DIR.mkdir(exist_ok=True)
    chapter = next((p for p in PAGES[1:] if _source(p).suffix == ".ipynb"), PAGES[-1])
    shots = {SHOT_DIR / "landing.png": ("index", 2400), SHOT_DIR / f"{Path(chapter).name}.png": (chapter, 6000)}
    for shot, (page, height) in shots.items():
        shot.unlink(missing_ok=True)
        _chromium(chromium, urljoin(base, f"{page}.html"), screenshot=shot, height=height)
        assert shot.is_file() and shot.stat().st_size > 10_000, f"screenshot {shot} missing or tiny"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{shot} is not a PNG"
        import matplotlib.image

        pixels = matplotlib.image.imread(str(shot))
        assert pixels.std() > 0.01, f"{shot} is blank"
