"""Checks of the built site (`make test` builds it before running pytest).

The site must be readable with no network: math is typeset by a local MathJax, and no page
loads a script, style sheet or font from another host.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"

pytestmark = pytest.mark.skipif(
    not (HTML / "index.html").exists() and os.environ.get("CI") != "true",
    reason="the book is not built; run `make book` (make test builds it first)",
)

# src= and href= of tags that load something into the page
LOADS = re.compile(r'<(script|link|img|iframe|source)\b[^>]*?\b(?:src|href)="([^"]+)"', re.I)


def pages():
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts)


def test_index_and_api_page_exist():
    assert (HTML / "index.html").exists(), "make book did not produce _build/html/index.html"
    api = (HTML / "book" / "api.html").read_text(encoding="utf-8")
    for name in ["rnn_step_forward", "rnn_backward", "lstm_step_backward", "lstm_backward",
                 "temporal_softmax_loss", "word_embedding_forward", "rel_error"]:
        assert f'id="rnnlib.' in api and name in api, f"API page does not document {name}"


def test_no_page_loads_anything_from_the_network():
    offenders = []
    for page in pages():
        for tag, url in LOADS.findall(page.read_text(encoding="utf-8")):
            if url.startswith(("http:", "https:", "//")):
                offenders.append(f"{page.relative_to(HTML)}: <{tag}> {url}")
    assert not offenders, "pages load remote resources:\n" + "\n".join(offenders[:20])


def test_every_notebook_that_plots_shows_its_figures():
    """A notebook that calls plt.show() must have images on its page (an Agg backend in the
    kernel's environment drops them without an error)."""
    missing = []
    for notebook in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        if "plt.show()" not in notebook.read_text(encoding="utf-8"):
            continue
        page = HTML / notebook.relative_to(ROOT).with_suffix(".html")
        assert page.exists(), f"{page.relative_to(ROOT)} was not built"
        if not re.search(r'<img[^>]+src="[^"]*_images/', page.read_text(encoding="utf-8")):
            missing.append(str(notebook.relative_to(ROOT)))
    assert not missing, "pages without their figures:\n" + "\n".join(missing)


def test_mathjax_is_local_and_complete():
    entry = HTML / "_static" / "mathjax" / "tex-chtml.js"
    assert entry.exists(), "local MathJax was not copied into the site"
    fonts = list((HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert len(fonts) > 10, "MathJax fonts are missing from the site"
    notation = (HTML / "book" / "notation.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-chtml.js" in notation


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None and os.environ.get("CI") != "true",
                    reason="no headless Chromium here (CI installs it)")
def test_math_renders_in_a_browser_without_network():
    chromium = _chromium()
    assert chromium, "Chromium is required in CI to check that math renders"
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
             "--dump-dom", (HTML / "book" / "notation.html").as_uri()],
            capture_output=True, text=True, timeout=120)
    dom = out.stdout
    rendered = dom.count("<mjx-container")
    assert rendered >= 20, f"MathJax typeset only {rendered} formulas on the notation page"
    assert "\\(" not in re.sub(r"<script.*?</script>", "", dom, flags=re.S), \
        "raw TeX delimiters remain on the page: MathJax did not run"
