"""Serve MathJax 3 from the built site so that math renders with no network.

The MathJax files come from a registry package installed at build time
(``sphinx-mathjax-offline``, which ships MathJax 3.2.2); nothing third-party is
committed to this repository. At the end of a successful build the files are
copied to ``_build/html/_static/mathjax`` and every page loads
``_static/mathjax/tex-chtml.js`` instead of a CDN address.

Only what ``tex-chtml.js`` can load is copied (:data:`SHIPPED`): the combined file itself, the
TeX extensions its autoloader fetches on demand (``\\boldsymbol``, ``\\cancel``, ...), the CHTML
fonts, and the accessibility and menu components. The package's other combined builds
(SVG, MathML, ``-full``) and the 4 MB speech-rule engine are never requested by a page.
"""
from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util.fileutil import copy_asset

DISTRIBUTION = "sphinx-mathjax-offline"
ENTRY = "tex-chtml.js"
#: Paths inside the MathJax folder that pages can request (files or folders).
SHIPPED = (ENTRY, "input/tex/extensions", "output/chtml", "a11y", "ui")


def mathjax_source_dir() -> Path:
    """Return the folder holding MathJax's ``tex-chtml.js`` inside the installed package."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ExtensionError(
            f"{DISTRIBUTION} is not installed; it provides the offline MathJax copy "
            "(run `make venv`)") from exc
    for f in dist.files or ():
        if f.name == ENTRY and "static/mathjax" in str(f):
            return Path(dist.locate_file(f)).parent
    raise ExtensionError(f"{DISTRIBUTION} is installed but has no static/mathjax/{ENTRY}")


def _copy(app, exc):
    if exc is None and app.builder.format == "html":
        source = mathjax_source_dir()
        target = Path(app.outdir) / "_static" / "mathjax"
        shutil.rmtree(target, ignore_errors=True)  # no files left over from a fuller copy
        for part in SHIPPED:
            if not (source / part).exists():
                raise ExtensionError(f"{DISTRIBUTION}: MathJax has no {part}; expected {SHIPPED}")
            if (source / part).is_dir():
                copy_asset(str(source / part), str(target / part))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / part, target / part)


def _use_local(app, config):
    mathjax_source_dir()  # fail early, with the message above, when the package is missing
    config.mathjax_path = "mathjax/" + ENTRY


def setup(app):
    app.connect("config-inited", _use_local, priority=900)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
