"""Checks of the built site (`make test` builds it before running pytest).

The site must be readable with no network: math is typeset by a local MathJax, and no page
loads a script, style sheet or font from another host.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import chromium
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
        assert 'id="rnnlib.' in api and name in api, f"API page does not document {name}"


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
    fonts = list((HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2")
                 .glob("*.woff"))
    assert len(fonts) > 10, "MathJax fonts are missing from the site"
    notation = (HTML / "book" / "notation.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-chtml.js" in notation


@pytest.mark.skipif(chromium.find() is None and os.environ.get("CI") != "true",
                    reason="no headless Chromium here (CI installs it)")
def test_math_renders_in_a_browser_without_network():
    assert chromium.find(), "Chromium is required in CI to check that math renders"
    dom = chromium.dump_dom((HTML / "book" / "notation.html").as_uri())
    rendered = dom.count("<mjx-container")
    assert rendered >= 20, f"MathJax typeset only {rendered} formulas on the notation page"
    assert "\\(" not in re.sub(r"<script.*?</script>", "", dom, flags=re.S), \
        "raw TeX delimiters remain on the page: MathJax did not run"


# ---------------------------------------------------------------------------------------------
# Site polish (book/_ext/site_polish.py, book/_ext/local_mathjax.py)
# ---------------------------------------------------------------------------------------------

def _site_polish():
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        return importlib.import_module("site_polish")
    finally:
        sys.path.pop(0)


@pytest.mark.parametrize("tex", [
    "\\begin{aligned}\n[a^i, a^f] &= x W\\\\ c &= 1\n\\end{aligned}",
    "\\begin{gathered}[x]\\end{gathered}",
    "a &= 1 \\\\\n[b, c] &= 2",
])
def test_math_trap_check_flags_brackets_mathjax_would_swallow(tex):
    assert _site_polish().math_traps(tex), f"not flagged: {tex!r}"


@pytest.mark.parametrize("tex", [
    "\\begin{aligned}\n{[a^i, a^f]} &= x W\\\\ c &= 1\n\\end{aligned}",
    "a &= 1 \\\\[2pt] b &= 2",
    "\\left[ a \\right] = b",
])
def test_math_trap_check_accepts_the_safe_forms(tex):
    assert not _site_polish().math_traps(tex), f"flagged: {tex!r}"


def _fold_plots():
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        return importlib.import_module("fold_plots")
    finally:
        sys.path.pop(0)


PLOT = "fig, ax = plt.subplots()\n" + "".join(f"ax.plot(x, x ** {k})\n" for k in range(14))


@pytest.mark.parametrize("cells, folded", [
    (["x = np.arange(3)", PLOT, "print(x)"], [1]),             # draws only: folded
    (["x = 1", "y = 2\n" + PLOT, "assert y == 2"], []),        # computes what a check reads
    (["x = 1", PLOT + "assert x == 1"], []),                   # a self-check
    (["x = 1", "fig, ax = plt.subplots()\nax.plot(x)"], []),   # short
    (["x = 1", "def f():\n    return 1\n" + PLOT, "f()"], []),  # defines a helper used later
    (["x = 1", "for k in range(2):\n    pass\n" + PLOT, "for k in x:\n    print(k)"], [1]),
    (["x = 1", "%time " + PLOT], []),                          # a magic: not Python, left alone
    (["x = 1", PLOT, "def f(x):\n    return x"], [1]),        # a parameter is not a read of x
])
def test_plotting_only_cells_are_folded_and_nothing_else(cells, folded):
    assert _fold_plots().plotting_only_cells(cells) == folded


def test_fold_notebook_only_adds_a_tag():
    import json

    fold = _fold_plots()
    nb = {"cells": [{"cell_type": "code", "source": ["x = 1"], "metadata": {}},
                    {"cell_type": "code", "source": PLOT.splitlines(True), "metadata": {}}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out = json.loads(fold.fold_notebook(json.dumps(nb)))
    assert out["cells"][1]["metadata"]["tags"] == ["hide-input"]
    assert out["cells"][1]["source"] == nb["cells"][1]["source"]
    assert "tags" not in out["cells"][0]["metadata"]


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").rglob("*.ipynb")),
                         ids=lambda p: p.name)
def test_every_notebook_carries_its_fold_tags(notebook):
    """The tags are in the notebook itself: jupyter-cache hashes cell metadata, so a tag added
    only at build time would make the build execute the notebook again."""
    text = notebook.read_text(encoding="utf-8")
    assert _fold_plots().fold_notebook(text) == text, (
        f"{notebook.relative_to(ROOT)} has plotting-only cells without their fold tag: run "
        "python book/_ext/fold_plots.py")


FIGURE_SCRIPT = """
import io, json, runpy, struct, sys
runpy.run_path(sys.argv[1])
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, axes = plt.subplots(1, 3, figsize=(14, 3))
for ax in axes:
    ax.plot([0, 1], [0, 1])
    ax.set_title("panel", fontsize=7)
fig.tight_layout()
out = io.BytesIO()
fig.canvas.print_figure(out, format="png", dpi=200, bbox_inches="tight")
data = out.getvalue()
key = b"rnn-course-figure\\0"
start = data.index(key) + len(key)
record = json.loads(data[start:data.index(b"}", start) + 1])
print(json.dumps({"png_width": struct.unpack(">I", data[16:20])[0],
                  "fig_width_in": fig.get_figwidth(), **record}))
"""


def test_figure_hook_fits_wide_figures_to_the_column_and_records_their_smallest_font():
    """The build's kernels run book/_ext/figure_hook.py: a 14-inch figure comes out at the
    column's width (at dpi 100 the inline backend shows 1 inch as 100 CSS px), with its 7 pt
    titles recorded in the PNG's own pixels (dpi 200: 7 * 200 / 72)."""
    import json
    import sys

    hook = _site_polish().FIGURE_HOOK
    out = subprocess.run([sys.executable, "-c", FIGURE_SCRIPT, str(hook)], capture_output=True,
                         text=True, check=True, timeout=120)
    record = json.loads(out.stdout)
    assert record["width_px_before_fit"] == 1400
    assert abs(record["fig_width_in"] * 100 - 656) < 1, record
    assert record["min_font_pt"] == 7
    assert abs(record["min_font_px"] - 7 * 200 / 72) < 0.01, record
    # cropped and padded, the PNG fits the column at twice the pixels (it was 2800 wide)
    assert 1200 < record["png_width"] <= 2 * 688, record


def test_compact_png_keeps_the_figure_record_and_shrinks_the_file(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=200)
    ax.plot([0, 1, 0.5], label="a line")
    ax.legend()
    path = tmp_path / "figure.png"
    fig.savefig(path, metadata={"rnn-course-figure": '{"min_font_px": 27.8}'})
    plt.close(fig)
    before = path.stat().st_size
    polish = _site_polish()
    assert polish.compact_png(path)
    from PIL import Image

    with Image.open(path) as image:
        assert image.mode == "P" and image.size == (800, 600)
        assert image.text["rnn-course-figure"] == '{"min_font_px": 27.8}'
    assert path.stat().st_size < before
    assert not polish.compact_png(path), "a palette PNG is left as it is"


def test_no_source_has_a_math_trap():
    """The same check over the sources, so it also holds for pages the build did not reread."""
    polish = _site_polish()
    found = []
    sources = sorted((ROOT / "book").rglob("*.md")) + sorted((ROOT / "notebooks").rglob("*.ipynb"))
    for path in sources:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            import json

            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"]
                             if c["cell_type"] == "markdown")
        for block in re.findall(r"\$\$(.+?)\$\$", text, flags=re.S):
            found += [f"{path.relative_to(ROOT)}: {p}" for p in polish.math_traps(block)]
    assert not found, "\n".join(found)


def test_site_weight_and_scripts():
    total = sum(f.stat().st_size for f in HTML.rglob("*") if f.is_file())
    assert total < 20e6, f"the site is {total / 1e6:.1f} MB (goal: under 20 MB)"
    assert not (HTML / "_static" / "mathjax" / "sre").exists(), "MathJax's speech engine shipped"
    duplicated = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        scripts = re.findall(r"<script\b[^>]*>.*?</script>", text, flags=re.S)
        seen = set()
        for s in scripts:
            if s in seen and 'type="text/x-thebe-config"' not in s:
                duplicated.append(f"{page.relative_to(HTML)}: {s[:80]}")
            seen.add(s)
    assert not duplicated, "scripts included twice:\n" + "\n".join(duplicated[:10])


def test_student_kit_is_published():
    kit = ROOT / "_build" / "student_kit"
    assert (kit / "rnn_course_student-1.0.0-py3-none-any.whl").exists()
    assert (kit / "rnn-course-notebooks.zip").exists()
    page = (HTML / "book" / "how_to_use.html").read_text(encoding="utf-8")
    for name in ("rnn_course_student-1.0.0-py3-none-any.whl", "rnn-course-notebooks.zip"):
        assert name in page, f"'Running the course' does not link {name}"
