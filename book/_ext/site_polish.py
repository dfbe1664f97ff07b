"""What the site needs beyond the theme: checked math, readable figures, phones, one setting.

- **Math traps** (a build error under ``-W``): MathJax reads ``[`` right after
  ``\\begin{aligned}`` (and the other environments with an optional position argument) as that
  argument, and ``[`` right after a ``\\\\`` line break as a spacing such as ``\\\\[2pt]``; in
  both cases the bracketed text silently disappears from the page. :func:`math_traps` names them.
- **Figure alt text**: notebooks caption a figure with a paragraph that starts with
  ``**Figure: ...**`` after the cell. An output image without alt text (Sphinx then writes the
  file path) gets that caption as its alt text.
- **Figures for reading**: the notebook kernels read an IPython profile made for the build
  (``_build/ipython``, written by :func:`write_profile`; ``make book`` writes it before it
  executes the notebooks) whose inline backend draws retina PNGs (twice the pixels, shown at
  the same size) and whose start-up file, ``figure_hook.py``, fits every figure to the text
  column and records its smallest font in the PNG. ``make book`` executes every notebook
  again when that file changes.
- **Page furniture**: a style sheet and a script from ``book/_ext/static`` (phone navigation,
  wide math and tables scroll inside their box instead of the page), a default light theme
  mode, no second copy of a script on a page, and no source maps or translation catalogues in
  the output.
- **The repository URL** is ``repository.url`` in ``_config.yml``. Pages use it as the
  substitution ``{{ repository_url }}``; the repository, issue and launch buttons read the same
  setting.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

#: Environments whose optional first argument is a vertical position ([t], [b], [c]).
POSITIONED = ("aligned", "alignedat", "gathered", "split", "array", "subarray", "eqnarray")
TRAPS = [
    (re.compile(r"\\begin\{(" + "|".join(POSITIONED) + r")\}\s*\["),
     "'[' right after \\begin{{{0}}} is read as the environment's position option and vanishes; "
     "write {{[...]}} (braces) to start a line with a bracket"),
    (re.compile(r"\\\\\s*\[(?![-+]?\s*[\d.]+\s*(pt|em|ex|mm|cm|in|mu|bp|pc)\s*\])"),
     "'[' right after a \\\\ line break is read as a spacing like \\\\[2pt] and vanishes; "
     "write {{[...]}} (braces) to start a line with a bracket"),
    (re.compile(r"\$\$"),
     "a '$$' inside a display equation ends it early; leave one blank line around $$ blocks"),
]


def math_traps(tex: str) -> list[str]:
    """Return one message per construct in ``tex`` that MathJax would render differently."""
    problems = []
    for pattern, message in TRAPS:
        for match in pattern.finditer(tex):
            env = match.group(1) if pattern.groups else ""
            snippet = tex[match.start():match.end() + 30].replace("\n", " ")
            problems.append(message.format(env) + f": {snippet!r}")
    return problems


def _check_math(app, doctree):
    for node in doctree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block))):
        for problem in math_traps(node.astext()):
            logger.warning(f"math trap: {problem}", location=node, type="site", subtype="math")


def _speakable(tex: str) -> str:
    """TeX made readable as plain text: commands lose their backslash, groups their braces."""
    text = re.sub(r"\\(left|right|big|Big|bigl|bigr|mathrm|text|operatorname)\b", "", tex)
    text = re.sub(r"\\([a-zA-Z]+)", r" \1 ", text.replace("\\|", "|"))
    text = re.sub(r"\\[,;!: ]", " ", text).replace("{", "").replace("}", "")
    return " ".join(text.split())


def caption_text(paragraph: nodes.paragraph) -> str:
    parts = [_speakable(n.astext()) if isinstance(n, nodes.math) else n.astext()
             for n in paragraph.findall(lambda n: isinstance(n, (nodes.Text, nodes.math))
                                        and not isinstance(n.parent, nodes.math))]
    text = " ".join("".join(parts).split())
    return text[len("Figure:"):].strip() if text.startswith("Figure:") else text


def _is_caption(node) -> bool:
    return isinstance(node, nodes.paragraph) and node.astext().lstrip().startswith("Figure:")


def _alt_text(app, doctree, docname):
    title = next(iter(doctree.findall(nodes.title)), None)
    page = title.astext() if title is not None else docname
    ordered = [n for n in doctree.findall(lambda n: isinstance(n, nodes.image) or _is_caption(n))]
    pending = []
    for node in ordered:
        if isinstance(node, nodes.image):
            alt = node.get("alt", "")
            if not alt or alt == node.get("uri") or "/" in alt or alt.endswith(".png"):
                pending.append(node)
            continue
        for i, image in enumerate(pending):
            part = f" (part {i + 1} of {len(pending)})" if len(pending) > 1 else ""
            image["alt"] = caption_text(node) + part
        pending = []
    for image in pending:  # a figure with no caption after it
        image["alt"] = f"Figure produced by the code cell above, on the page '{page}'"


IPYTHON_CONFIG = """\
# Written by book/_ext/site_polish.py for the book build: retina figures on high-DPI screens.
c.InlineBackend.figure_formats = {"retina"}
"""


FIGURE_HOOK = Path(__file__).parent / "figure_hook.py"


def write_profile(ipython_dir: Path) -> Path:
    """Write the build's IPython profile under ``ipython_dir``; return its directory.

    The start-up file runs ``figure_hook.py`` in a namespace of its own, so no helper name of
    the hook lands in a notebook's namespace."""
    profile = Path(ipython_dir) / "profile_default"
    (profile / "startup").mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text(IPYTHON_CONFIG, encoding="utf-8")
    (profile / "startup" / "00-figure-hook.py").write_text(
        "# Written by book/_ext/site_polish.py: fit figures to the column (see figure_hook.py).\n"
        f"__import__('runpy').run_path({str(FIGURE_HOOK.resolve())!r})\n", encoding="utf-8")
    return profile


def _ipython_profile(app, config):
    ipython_dir = Path(app.confdir) / "_build" / "ipython"
    write_profile(ipython_dir)
    os.environ["IPYTHONDIR"] = str(ipython_dir)


def _config(app, config):
    options = config.html_theme_options
    # pydata-sphinx-theme reads the default colour mode from html_context, not theme options
    config.html_context = {**(config.html_context or {}), "default_mode": "light"}
    url = options.get("repository_url") or "https://example.org/your-course-repository"
    subs = dict(getattr(config, "myst_substitutions", {}) or {})
    subs.setdefault("repository_url", url)
    config.myst_substitutions = subs
    _ipython_profile(app, config)


def _assets(app):
    app.config.html_static_path.append(str(STATIC))
    app.add_css_file("site_polish.css")
    app.add_js_file("site_polish.js", defer="defer")


def _script_key(js):
    if isinstance(js, (tuple, list)):  # the registry stores (filename, attributes)
        filename, attributes = js[0], js[-1] if isinstance(js[-1], dict) else {}
    else:
        filename, attributes = getattr(js, "filename", str(js)), getattr(js, "attributes", {})
    return filename or "", (attributes or {}).get("body", "")


def _dedupe(scripts):
    seen, unique = set(), []
    for js in scripts:
        key = _script_key(js)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def _one_copy_per_script_everywhere(app, env):
    """sphinx-thebe adds its configuration script at every env-before-read-docs, and the book
    build reads twice, so the script (a `const` declaration) ran twice and threw on every page."""
    _dedupe(app.registry.js_files)
    for name in ("_js_files", "_orig_js_files"):
        if isinstance(getattr(app.builder, name, None), list):
            _dedupe(getattr(app.builder, name))


def _one_copy_per_script(app, pagename, templatename, context, doctree):
    if isinstance(context.get("script_files"), list):
        _dedupe(context["script_files"])


def compact_png(path: Path) -> bool:
    """Rewrite the PNG at ``path`` with a palette of at most 256 colours, keeping its text
    chunks (the figure hook's record); return whether it was rewritten.

    Retina figures carry four times the pixels; as full-colour PNGs they tripled the images'
    weight (12 MB). A plot has few colours, so a palette costs nothing a reader can see and
    cuts them to about a quarter. A file already in palette form, or one the palette would not
    make smaller, is left as it is."""
    import io

    from PIL import Image, PngImagePlugin

    with Image.open(path) as image:
        if image.format != "PNG" or image.mode == "P":
            return False
        info = PngImagePlugin.PngInfo()
        for key, value in (getattr(image, "text", None) or {}).items():
            info.add_text(key, value)
        palette = image.convert("RGBA").quantize(256, method=Image.Quantize.FASTOCTREE)
        out = io.BytesIO()
        palette.save(out, "PNG", optimize=True, pnginfo=info)
    if out.tell() >= path.stat().st_size:
        return False
    path.write_bytes(out.getvalue())
    return True


def _trim(app, exc):
    """Drop what no page requests: the themes' source maps (read only by a browser's developer
    tools, 3.4 MB) and the theme's translation catalogues (used by Sphinx at build time); give
    the figures a palette (:func:`compact_png`)."""
    if exc is not None or app.builder.format != "html":
        return
    for path in sorted((Path(app.outdir) / "_images").glob("*.png")):
        compact_png(path)
    static = Path(app.outdir) / "_static"
    for path in list(static.rglob("*.map")):
        path.unlink()
    locales = static / "locales"
    if locales.is_dir() and not any(locales.rglob("*.js")):
        shutil.rmtree(locales)


def setup(app):
    app.connect("config-inited", _config)
    app.connect("builder-inited", _assets)
    app.connect("doctree-read", _check_math)
    app.connect("doctree-resolved", _alt_text)
    app.connect("env-updated", _one_copy_per_script_everywhere)
    app.connect("build-finished", _trim)
    # html-page-context stops at the first handler that returns a template: run first
    app.connect("html-page-context", _one_copy_per_script, priority=1)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":  # `make book`, before it executes the notebooks
    import sys

    write_profile(Path(sys.argv[1]))
