"""Finding the submissions: a folder of ``<student_id>/<anything>.ipynb`` or an LMS zip.

Accepted layouts (``SUBMISSIONS`` is a folder or a ``.zip`` holding one of them):

1. one folder per student: ``<student_id>/<anything>.ipynb``; other files beside the notebook
   are ignored, sub-folders are searched, ``.ipynb_checkpoints`` and ``__MACOSX`` are skipped.
2. flat files named ``<student_id>_<anything>.ipynb`` (the way several LMSs name a bulk
   download): the student id is the part before the first underscore.

Both may be mixed. A zip whose entries all sit in one top folder (``export/...``) is read
from inside that folder.

Student ids keep letters, digits and ``. _ @ + -``; any other character becomes ``_``.
When a student folder holds several notebooks, the one named like the assignment's
notebook is graded; otherwise the grade is 0 with a reason.
"""

import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SKIP_PARTS = {".ipynb_checkpoints", "__MACOSX", ".git"}
MAX_ZIP_MEMBERS = 20_000
MAX_ZIP_TOTAL = 2 << 30          # bytes after extraction
MAX_ZIP_MEMBER = 50 << 20        # one notebook (larger ones are refused when read anyway)
ID_CHARS = re.compile(r"[^A-Za-z0-9._@+-]")


@dataclass
class Submission:
    """One student's hand-in as found on disk.

    ``student`` is the id the gradebook knows; the other fields say where it came from, and
    are copied into the grading Record so that the summary, the export and the feedback page
    can show them.
    """
    student: str
    notebook: Path = None   # None when there is no usable notebook
    problem: str = ""       # why there is none
    status: str = ""        # "" (decided by grading), "no notebook", "unreadable", ...
    display_name: str = ""  # the name the LMS shows, when the layout carries one
    lms_id: str = ""        # the LMS's own user id (Canvas user id, Moodle participant id)
    late: bool = False      # the LMS marked the hand-in late
    submitted_at: str = ""  # ISO 8601 with offset, when known (LMS name, timestamp.txt)
    original_name: str = "" # the notebook's path inside the submission, as handed in
    layout: str = ""        # the layout it was found in: folders, flat, canvas, moodle, ...


def normalize_id(raw):
    student = ID_CHARS.sub("_", raw.strip())
    student = student.strip("._") or "_"
    return student[:100]


def _usable(path):
    return not any(part in SKIP_PARTS or part.startswith("._") for part in path.parts)


def collect(path, notebook_name, extract_to):
    """List of Submission, sorted by student id, plus warnings about what was skipped."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{path} is neither a folder nor a zip file")
        root = safe_extract(path, extract_to)
        entries = [p for p in root.iterdir() if _usable(p.relative_to(root))]
        if len(entries) == 1 and entries[0].is_dir():
            root = entries[0]  # a zip usually wraps everything in one folder
    else:
        root = path
    entries = [p for p in root.iterdir() if _usable(p.relative_to(root))]

    found, warnings = {}, []

    def add(student, notebooks, origin, too_large=()):
        if student in found:
            warnings.append(f"{origin}: a second submission for student {student}; ignored")
            return
        found[student] = choose(student, notebooks, notebook_name, too_large)

    for entry in sorted(entries):
        if entry.is_dir() and not entry.is_symlink():
            notebooks = sorted(p for p in entry.rglob("*.ipynb")
                               if p.is_file() and not p.is_symlink()
                               and _usable(p.relative_to(entry)))
            add(normalize_id(entry.name), notebooks, entry.name,
                list(entry.rglob("*.ipynb.too-large")))
        elif entry.is_file() and entry.name.endswith((".ipynb", ".ipynb.too-large")) \
                and not entry.is_symlink():
            stem = entry.name.split(".ipynb")[0]
            raw = stem.split("_", 1)[0] if "_" in stem else stem
            if entry.suffix == ".ipynb":
                add(normalize_id(raw), [entry], entry.name)
            else:
                add(normalize_id(raw), [], entry.name, [entry])
        else:
            warnings.append(f"{entry.name}: not a student folder or a notebook; ignored")
    return [found[s] for s in sorted(found)], warnings


def choose(student, notebooks, notebook_name, too_large=()):
    if not notebooks:
        if too_large:
            return Submission(student, problem=f"the notebook is larger than "
                                               f"{MAX_ZIP_MEMBER >> 20} MB")
        return Submission(student, problem="no .ipynb file in the submission")
    if len(notebooks) == 1:
        return Submission(student, notebooks[0])
    named = [p for p in notebooks if p.name == f"{notebook_name}.ipynb"]
    if len(named) >= 1:
        return Submission(student, named[0])
    names = ", ".join(p.name for p in notebooks[:5])
    return Submission(student, problem=f"several notebooks ({names}) and none is named "
                                       f"{notebook_name}.ipynb")


def safe_extract(zip_path, target):
    """Extract a zip without trusting it: no absolute paths or ``..``, no links, no special
    files, bounded member count and sizes (counted while reading, not from the header)."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    with zipfile.ZipFile(zip_path) as archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise ValueError(f"{zip_path} has {len(members)} entries (limit {MAX_ZIP_MEMBERS})")
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or not name.parts:
                continue
            kind = stat.S_IFMT(member.external_attr >> 16)
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                continue  # symlinks, devices, fifos
            destination = target.joinpath(*name.parts)
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            if name.suffix != ".ipynb":
                continue  # only notebooks matter; the rest is not even extracted
            destination.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with archive.open(member) as source, open(destination, "wb") as sink:
                while True:
                    chunk = source.read(1 << 20)
                    if not chunk:
                        break
                    written += len(chunk)
                    total += len(chunk)
                    if written > MAX_ZIP_MEMBER:
                        break
                    if total > MAX_ZIP_TOTAL:
                        raise ValueError(f"{zip_path} expands to more than "
                                         f"{MAX_ZIP_TOTAL >> 30} GB")
                    sink.write(chunk)
            if written > MAX_ZIP_MEMBER:
                destination.unlink()
                destination.with_name(destination.name + ".too-large").touch()
    return target


def copy_notebook(source, destination):
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
