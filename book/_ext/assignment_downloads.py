"""Publish the student versions of the assignments with the book.

At the start of a build, each source assignment in ``autograder/source/`` is released with the
instructor CLI's own ``generate`` (nbgrader's ``generate_assignment`` plus a self-test of the
grader), so the notebook a student downloads from the site is exactly what an instructor would
hand out. The released notebooks land in ``_build/assignment_downloads/`` and the assignment
pages link to them with the ``{download}`` role. A notebook is released again only when its
source changed.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)


def release_all(root: Path) -> Path:
    from autograder.commands import generate  # imported late: only the book build needs it
    from autograder.workdir import Workdir

    source_root = root / "autograder" / "source"
    out = root / "_build" / "assignment_downloads"
    out.mkdir(parents=True, exist_ok=True)
    for folder in sorted(p for p in source_root.iterdir() if p.is_dir()):
        name = folder.name
        source_nb = folder / f"{name}.ipynb"
        target = out / f"{name}.ipynb"
        if not source_nb.exists():
            continue
        if target.exists() and target.stat().st_mtime >= source_nb.stat().st_mtime:
            continue
        logger.info(f"[assignment_downloads] releasing {name}")
        with tempfile.TemporaryDirectory() as work:
            release_dir, _ = generate(Workdir(work), name, quiet=True)
            shutil.copyfile(Path(release_dir) / f"{name}.ipynb", target)
    return out


def _on_config(app, config):
    release_all(Path(app.confdir))


def setup(app):
    app.connect("config-inited", _on_config)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
