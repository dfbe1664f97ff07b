"""The built site in a real browser: headless Chromium (Playwright), no network but loopback.

``_build/html`` is served on a free loopback port; every request to any other host is aborted
and recorded. Every page is opened once, at phone width (390 px), in one browser per pytest
worker (xdist-safe), and checked for: no console error, no request to another host, no raw TeX
left, every display equation's rows keeping their left-hand side, figures loaded with alt text
that is not a file path, no sideways scroll of the page, and wide display math scrolling inside
its own box. Pages with display math or figures are then laid out again at 1280 px (the same
visit, resized), where no equation may be wider than the text column and no figure's text may be
shown too small: the build's figure hook (``book/_ext/figure_hook.py``) records in each PNG the
smallest font in the PNG's own pixels, and the browser gives the width the figure is shown at.
Phone navigation, search and the download links have their own tests. A page's tests share one
xdist group, so that under ``--dist loadgroup`` (as `make test` runs this file) one worker opens
it, once.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import struct
import threading
import zlib
from pathlib import Path
from urllib.parse import urlparse

import chromium
import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
PHONE = {"width": 390, "height": 844}
#: the smallest text, in CSS pixels, a figure may show at 1280 px
MIN_FIGURE_FONT_PX = 9.0
FIGURE_KEY = b"rnn-course-figure"  # the PNG text chunk figure_hook.py writes
DESKTOP = {"width": 1280, "height": 900}


pytestmark = [
    pytest.mark.skipif(not (HTML / "index.html").exists() and os.environ.get("CI") != "true",
                       reason="the book is not built; run `make book`"),
    pytest.mark.skipif(chromium.find() is None and os.environ.get("CI") != "true",
                       reason="no Chromium here (.ci/run installs it)"),
]

def _is_page(path: Path) -> bool:
    if {"_static", "_sources", "_downloads", "_images"} & set(path.parts):
        return False
    if path.name in ("genindex.html", "search.html", "py-modindex.html"):
        return False
    # the root index.html is only a redirect to the first page
    return 'http-equiv="refresh"' not in path.read_text(encoding="utf-8")[:2000].lower()


PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html") if _is_page(p))
PATH_LIKE = re.compile(r"^\S*\.(png|svg|jpe?g|gif|webp)$|_images/|jupyter_execute", re.I)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    binary = chromium.find()
    assert binary, "Chromium is required in CI"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=binary, args=[
            *chromium.QUIET, "--disable-default-apps", "--disable-domain-reliability"])
        yield b
        b.close()


def _tab(browser, server, viewport):
    """One page at ``viewport``; its console errors and foreign requests are collected."""
    context = browser.new_context(viewport=viewport)
    log = {"errors": [], "foreign": []}
    local = urlparse(server).netloc

    def route(r):
        url = urlparse(r.request.url)
        if url.scheme in ("data", "blob") or url.netloc == local:
            r.continue_()
        else:
            log["foreign"].append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: log["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log["errors"].append(f"page error: {e}"))
    return context, (page, log, server)


@pytest.fixture(scope="module")
def tab(browser, server):
    context, handle = _tab(browser, server, PHONE)
    yield handle
    context.close()


def _open(tab, path):
    page, log, server = tab
    log["errors"].clear()
    log["foreign"].clear()
    page.goto(server + path, wait_until="load")
    page.evaluate("""() => (window.MathJax && MathJax.startup && MathJax.startup.promise)
                            ? MathJax.startup.promise.then(() => true) : true""")
    return page, log


# Rows of every display equation: TeX rows (split at top-level \\) whose left-hand side (text
# before the first &) is not blank must have a non-empty first cell in the rendered table.
MATH_ROWS = r"""() => {
  const out = [];
  if (!(window.MathJax && MathJax.startup && MathJax.startup.document)) return out;
  for (const item of MathJax.startup.document.math) {
    if (!item.display) continue;
    const tex = item.math;
    const body = tex.replace(/\\begin\{(aligned|align\*?|split|gathered|eqnarray)\}/, "")
                    .replace(/\\end\{(aligned|align\*?|split|gathered|eqnarray)\}/, "");
    if (!body.includes("&") || /\\begin\{(b|p|v|B|V)?matrix|array|cases/.test(body)) continue;
    const expected = body.split(/\\\\(?:\[[^\]]*\])?/).filter(r => r.includes("&")
        && r.split("&")[0].replace(/\\(q?quad|,|;|!| )/g, "").trim() !== "").length;
    const root = item.typesetRoot;
    // Sphinx wraps multi-line math in split, so the rows may sit in a nested table
    let rendered = 0;
    for (const table of (root ? root.querySelectorAll("mjx-assistive-mml mtable") : [])) {
      let n = 0;
      for (const row of table.children) {
        const first = row.querySelector("mtd");
        if (first && first.textContent.trim() !== "") n += 1;
      }
      rendered = Math.max(rendered, n);
    }
    if (rendered < expected) {
      out.push(`${expected - rendered} row(s) lost their left-hand side: ${tex.slice(0, 90)}`);
    }
  }
  return out;
}"""

RAW_TEX = r"""() => {
  const main = document.querySelector("main") || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll("pre, code, script, style, mjx-container, .highlight, textarea")
       .forEach(n => n.remove());
  const text = clone.textContent;
  const at = text.search(/\\\(|\\\)|\\\[|\\\]|\\begin\{|\$\$/);
  return at < 0 ? "" : text.slice(Math.max(0, at - 40), at + 60);
}"""

FIGURES = r"""() => Array.from(document.querySelectorAll("main img")).map(img => ({
  src: img.getAttribute("src"), alt: img.getAttribute("alt") || "",
  ok: img.complete && img.naturalWidth > 0}))"""

SIDEWAYS = r"""() => {
  const page = document.documentElement.scrollWidth - window.innerWidth;
  if (page <= 1) return null;
  const culprits = [];
  for (const el of document.querySelectorAll("main *")) {
    const r = el.getBoundingClientRect();
    const allowed = "pre, .highlight, div.math, mjx-container, .output_area, table";
    if (r.right > window.innerWidth + 1 && !el.closest(allowed)) {
      const cls = typeof el.className === "string" && el.className ? "." + el.className : "";
      culprits.push(el.tagName.toLowerCase() + cls.split(" ")[0]);
      if (culprits.length > 4) break;
    }
  }
  return {overflow: page, culprits};
}"""

# Display equations wider than their box. At phone width such a box must scroll by itself (the
# page does not); at desktop width none may exist (a reader should not have to scroll math).
WIDE_MATH = r"""() => Array.from(document.querySelectorAll("main div.math")).flatMap(box => {
  const math = box.querySelector("mjx-container mjx-math") || box;
  const need = Math.ceil(math.getBoundingClientRect().width), have = box.clientWidth;
  if (need <= have + 1) return [];
  const scrolls = ["auto", "scroll"].includes(getComputedStyle(box).overflowX)
                  && box.scrollWidth > box.clientWidth;
  const tex = (window.MathJax && MathJax.startup && MathJax.startup.document
               && Array.from(MathJax.startup.document.math)
                    .find(m => box.contains(m.typesetRoot))) || null;
  return [{need, have, scrolls, tex: tex ? tex.math.trim().slice(0, 80) : box.id}];
})"""
MATH_PAGES = [p for p in PAGES if 'class="math' in (HTML / p).read_text(encoding="utf-8")]


def _pages(paths):
    """``paths`` as parameters grouped by page, so that under ``--dist loadgroup`` one worker
    takes all of a page's tests and its desktop visit is made once (see ``_desktop``)."""
    return [pytest.param(p, marks=pytest.mark.xdist_group(f"page:{p}")) for p in paths]


# Resize handlers (the theme's) run on the next frames; let them run before measuring again.
NEXT_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
_VISITS: dict = {}


def _visit(tab, path):
    """What every test of ``path`` reads, from one visit per page: the checks at phone width,
    then the desktop facts from the same page laid out again at 1280 px (the site's layout
    follows the width through CSS, and MathJax does not break lines, so resizing shows what a
    reader who opens the page at 1280 px sees, without typesetting its math a second time)."""
    if path not in _VISITS:
        page, log = _open(tab, path)
        facts = {"raw": page.evaluate(RAW_TEX), "rows": page.evaluate(MATH_ROWS),
                 "figures": page.evaluate(FIGURES), "sideways": page.evaluate(SIDEWAYS),
                 "wide": page.evaluate(WIDE_MATH)}
        facts.update(errors=list(log["errors"]), foreign=list(log["foreign"]))
        if path in MATH_PAGES or path in FIGURE_PAGES:
            page.set_viewport_size(DESKTOP)
            page.evaluate(NEXT_FRAMES)
            facts["desktop"] = {"width": page.evaluate("() => window.innerWidth"),
                                "wide": page.evaluate(WIDE_MATH),
                                "figures": page.evaluate(NOTEBOOK_FIGURES)}
            page.set_viewport_size(PHONE)
        _VISITS[path] = facts
    return _VISITS[path]


def _desktop(tab, path):
    """What the desktop tests read from ``path`` at 1280 px (see ``_visit``)."""
    desktop = _visit(tab, path)["desktop"]
    assert desktop["width"] == DESKTOP["width"], f"{path}: laid out at {desktop['width']} px"
    return desktop


@pytest.mark.parametrize("path", _pages(PAGES))
def test_page(tab, path):
    facts = _visit(tab, path)
    problems = []
    problems += [f"console: {e}" for e in facts["errors"]]
    problems += [f"request to another host: {u}" for u in facts["foreign"]]
    if facts["raw"]:
        problems.append(f"raw TeX left on the page: ...{facts['raw']}...")
    problems += facts["rows"]
    for fig in facts["figures"]:
        if not fig["ok"]:
            problems.append(f"figure did not load: {fig['src']}")
        alt = fig["alt"].strip()
        if not alt or PATH_LIKE.search(alt) or alt == fig["src"]:
            problems.append(f"figure without real alt text: {fig['src']} alt={alt!r}")
    sideways = facts["sideways"]
    if sideways:
        problems.append(f"page scrolls sideways by {sideways['overflow']} px at 390 px: "
                        f"{sideways['culprits']}")
    problems += [f"wide equation ({m['need']} px in {m['have']} px) does not scroll in its box: "
                 f"{m['tex']}" for m in facts["wide"] if not m["scrolls"]]
    assert not problems, f"{path}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", _pages(MATH_PAGES))
def test_equations_fit_the_column_at_desktop_width(tab, path):
    wide = _desktop(tab, path)["wide"]
    assert not wide, f"{path}: equations wider than the text column at 1280 px:\n" + "\n".join(
        f"{m['need']} px in {m['have']} px: {m['tex']}" for m in wide)


def png_facts(path: Path) -> tuple[int, dict | None]:
    """A PNG's width in pixels and the figure hook's record in it (None if it has none)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, record, at = struct.unpack(">I", data[16:20])[0], None, 8
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + size]
        if kind == b"tEXt" and body.startswith(FIGURE_KEY + b"\0"):
            record = json.loads(body[len(FIGURE_KEY) + 1:].decode("latin-1"))
        elif kind == b"zTXt" and body.startswith(FIGURE_KEY + b"\0"):
            record = json.loads(zlib.decompress(body[len(FIGURE_KEY) + 2:]).decode("latin-1"))
        elif kind == b"IDAT":
            break  # matplotlib writes its text chunks before the image data
        at += 12 + size
    return width, record


NOTEBOOK_FIGURES = r"""() => Array.from(document.querySelectorAll("main .cell_output img"))
  .map(img => ({src: img.getAttribute("src"), shown: img.getBoundingClientRect().width}))"""
FIGURE_PAGES = [p for p in PAGES if "cell_output" in (text := (HTML / p).read_text(
    encoding="utf-8")) and "<img" in text]


@pytest.mark.parametrize("path", _pages(FIGURE_PAGES))
def test_figure_text_is_readable_at_desktop_width(tab, path):
    """No figure's text is shown smaller than MIN_FIGURE_FONT_PX at 1280 px: its smallest font
    in PNG pixels, times the width the page gives the figure over the PNG's width."""
    problems = []
    for fig in _desktop(tab, path)["figures"]:
        width, record = png_facts((HTML / path).parent / fig["src"])
        if record is None:
            problems.append(f"{fig['src']}: no record of its fonts (not drawn by the build's "
                            "figure hook; run `make book` again)")
            continue
        if record["min_font_px"] is None:
            continue  # a figure without text (an image grid)
        shown = record["min_font_px"] * fig["shown"] / width
        if shown < MIN_FIGURE_FONT_PX:
            problems.append(f"{fig['src']}: smallest text ({record['min_font_pt']} pt) shown at "
                            f"{shown:.1f} px, figure {fig['shown']:.0f} px wide")
    assert not problems, f"{path}: figure text below {MIN_FIGURE_FONT_PX} px at 1280 px:\n" + \
        "\n".join(problems)


def test_phone_navigation_opens_the_table_of_contents(tab):
    page, log = _open(tab, "notebooks/ch02_bptt/01_bptt_equations.html")
    toggle = page.locator(".primary-toggle:visible").first
    toggle.click()
    dialog = page.locator("#pst-primary-sidebar-modal")
    dialog.wait_for(state="visible", timeout=5000)
    assert dialog.evaluate("d => d.open"), "the table of contents dialog did not open"
    links = dialog.locator("nav a.reference.internal")
    assert links.count() > 20, f"the table of contents shows {links.count()} links"
    page.keyboard.press("Escape")
    page.locator(".secondary-toggle:visible").first.click()
    secondary = page.locator("#pst-secondary-sidebar-modal")
    secondary.wait_for(state="visible", timeout=5000)
    assert secondary.locator("a").count() > 2, "'On this page' opened empty"
    assert not log["errors"], log["errors"]


def test_search_for_lstm_returns_results(tab):
    page, log = _open(tab, "search.html?q=LSTM")
    page.wait_for_selector("#search-results ul.search li", timeout=30000)
    hits = page.locator("#search-results ul.search li").count()
    assert hits >= 5, f"search for LSTM found {hits} pages"
    assert not log["foreign"], log["foreign"]


def test_every_download_link_resolves(tab):
    page, _, server = tab
    targets = set()
    for path in PAGES:
        text = (HTML / path).read_text(encoding="utf-8")
        for href in re.findall(r'href="([^"#?]+\.(?:ipynb|whl|zip|md|py|csv))"', text):
            if not href.startswith(("http:", "https:")):
                targets.add((Path(path).parent / href).as_posix())
    assert any(t.endswith(".whl") for t in targets), "no page links the student kit wheel"
    assert any(t.endswith(".zip") for t in targets), "no page links the notebooks zip"
    broken = []
    for target in sorted(targets):
        resp = page.request.get(server + os.path.normpath(target))
        if resp.status != 200:
            broken.append(f"{target}: HTTP {resp.status}")
    assert not broken, "broken download links:\n" + "\n".join(broken)
