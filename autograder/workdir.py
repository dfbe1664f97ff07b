"""The instructor's work folder: nbgrader's course root plus the grader's own records.

```
WORKDIR/
  nbgrader_config.py          copied from autograder/nbgrader_config.py
  gradebook.db                nbgrader's gradebook (the grader is its only writer)
  source/<assignment>/        the source notebook the release was generated from
  release/<assignment>/       the student version (python -m autograder generate)
  submitted/<student>/<assignment>/<notebook>.ipynb     as handed in
  autograded/<student>/<assignment>/<notebook>.ipynb    with the grader's result per part
  feedback/<student>/<assignment>/<notebook>.html       one page per student
  results/<assignment>/<student>.json                   the grader's record of each grade
```
"""

import fcntl
import os
import tempfile
from pathlib import Path

from .record import Record

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
SOURCE_ROOT = PACKAGE_DIR / "source"


def default_workdir():
    """``grading/`` in the repository (git-ignored) or, for an installed package, in the
    current folder."""
    if (REPO_ROOT / ".gitignore").exists() and SOURCE_ROOT.is_dir():
        return REPO_ROOT / "grading"
    return Path.cwd() / "grading"


class Workdir:
    def __init__(self, root):
        self.root = Path(root).resolve()

    @property
    def db_path(self):
        return self.root / "gradebook.db"

    @property
    def db_url(self):
        return f"sqlite:///{self.db_path}"

    def source(self, assignment):
        return self.root / "source" / assignment

    def release(self, assignment):
        return self.root / "release" / assignment

    def submitted(self, student, assignment):
        return self.root / "submitted" / student / assignment

    def autograded(self, student, assignment):
        return self.root / "autograded" / student / assignment

    def feedback(self, student, assignment):
        return self.root / "feedback" / student / assignment

    def results(self, assignment):
        return self.root / "results" / assignment

    def record_path(self, assignment, student):
        return self.results(assignment) / f"{student}.json"

    def read_records(self, assignment):
        """``{student: Record}`` of everything recorded for ``assignment``."""
        records = {}
        folder = self.results(assignment)
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                try:
                    record = Record.from_json(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue  # a half-written record cannot exist (atomic writes); skip junk
                if record.student == path.stem:
                    records[path.stem] = record
        return records

    def lock(self):
        """Exclusive lock of the work folder: one grader (one gradebook writer) at a time."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / ".autograder.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RuntimeError(f"another `python -m autograder` command is using {self.root}; "
                               "wait for it to finish (the gradebook has one writer)") from None
        return handle


def atomic_write(path, data):
    """Write ``data`` (str or bytes) to ``path`` so that readers see the old or the new file,
    never half of one, even if the process is killed midway."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def remove_stale_temporaries(folder):
    """Temporary files left by a killed run (never read, just removed)."""
    folder = Path(folder)
    if folder.is_dir():
        for path in folder.rglob(".*.tmp"):
            try:
                path.unlink()
            except OSError:
                pass
