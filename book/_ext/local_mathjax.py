"""Serve MathJax 3 from the built site so that math renders with no network.

The MathJax files come from a registry package installed at build time
(``sphinx-mathjax-offline``, which ships MathJax 3.2.2); nothing third-party is
committed to this repository. At the end of a successful build the files are
copied to ``_build/html/_static/mathjax`` and every page loads
``_static/mathjax/tex-chtml.js`` instead of a CDN address.
"""
from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util.fileutil import copy_asset

DISTRIBUTION = "sphinx-mathjax-offline"
ENTRY = "tex-chtml.js"


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
        copy_asset(str(mathjax_source_dir()), os.path.join(app.outdir, "_static", "mathjax"))


def _use_local(app, config):
    mathjax_source_dir()  # fail early, with the message above, when the package is missing
    config.mathjax_path = "mathjax/" + ENTRY


def setup(app):
    app.connect("config-inited", _use_local, priority=900)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
