"""Finding the submissions in every layout instructors have, and who handed each one in.

``SUBMISSIONS`` (the argument of ``grade``) is a folder or a ``.zip`` holding, mixed freely:

1. ``folders``: one folder per student, ``<student_id>/<anything>.ipynb`` (sub-folders are
   searched; ``.ipynb_checkpoints``, ``__MACOSX`` and ``._*`` are skipped).
2. ``flat``: files ``<student_id>_<anything>.ipynb``; the id is the part before the first
   underscore. A file named like the assignment's notebook (``rnn_bptt.ipynb``) carries no
   id and is listed as ignored (it is not student ``rnn``).
3. ``canvas``: a Canvas bulk download, ``<name>[_LATE]_<user id>_<submission id>_<file>``.
4. ``moodle``: a Moodle bulk download, ``<full name>_<participant id>_assignsubmission_file_``
   either as a folder of files or as a prefix of each file.
5. ``nbgrader``: nbgrader's collected hand-ins, ``<student>/<assignment>/<notebook>.ipynb``
   with ``timestamp.txt`` (pass the course's ``submitted/`` folder; when it is the work
   folder's own, it is graded in place).

The naming schemes, and where they were looked up, are in lms_names.py.

Identity. The student id is what the gradebook, the records and the roster's ``id`` use:
the folder or flat-file id as given (letters, digits and ``. _ @ + -`` kept, anything else
becomes ``_``); for Canvas the **Canvas user id** and for Moodle the **participant id**
(both unique and unchanged by a renamed or doubled name; the name is kept as
``display_name``, the id also as ``lms_id``). Moodle's participant id is per assignment, so
a course with several Moodle assignments joins them through the roster. Two different
hand-ins that map to one id (``Jane Doe/`` and ``Jane_Doe/``; one Canvas id under two
names) are an error naming both: never a silent merge.

Several notebooks of one student: those named like the assignment's notebook (a
resubmission suffix ``-1`` or `` (1)`` allowed) are preferred; among them the one graded is
**the latest by submission time, else by name** (a higher resubmission number counts as
later), and the choice is reported. A zip whose entries all sit in one top folder is read
from inside it, unless that folder is itself one student's hand-in (it holds the
assignment's notebook or an ``<assignment>/`` folder).

No student vanishes: every student found gets a Submission; one without a usable notebook
(a PDF only, a notebook too large) has ``status`` "no notebook" and a ``problem`` saying
what was there. Anything else that is ignored is returned as a warning.
"""

import re
import shutil
import stat
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .lms_names import parse_canvas, parse_moodle, read_nbgrader_timestamp, split_resubmission

SKIP_PARTS = {".ipynb_checkpoints", "__MACOSX", ".git"}
MAX_ZIP_MEMBERS = 20_000
MAX_ZIP_TOTAL = 2 << 30          # bytes after extraction
MAX_ZIP_MEMBER = 50 << 20        # one notebook (larger ones are refused when read anyway)
ID_CHARS = re.compile(r"[^A-Za-z0-9._@+-]")
COURSE_ROOT_SIGNS = ("source", "release", "autograded", "nbgrader_config.py", "gradebook.db")
LAYOUT_NAMES = {"folders": "one folder per student", "flat": "flat files",
                "canvas": "Canvas bulk download", "moodle": "Moodle bulk download",
                "nbgrader": "nbgrader submitted/ folder"}


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


@dataclass
class _Found:
    """What was found for one student id while walking the layout."""
    origin: str             # the name that gave the id (folder, file prefix, LMS name + id)
    layout: str
    display_name: str = ""
    lms_id: str = ""
    late: bool = False
    notebooks: list = field(default_factory=list)   # _Notebook
    others: list = field(default_factory=list)      # names of files that are no notebook


@dataclass
class _Notebook:
    path: Path
    original: str           # its path inside the submission, as handed in
    submitted_at: str = ""
    uploaded: str = ""      # the file name the student gave it (an LMS adds a prefix)

    def sort_key(self):
        number = split_resubmission(_stem(self.uploaded))[1]
        return (self.submitted_at, number, self.original)


def _stem(name):
    return PurePosixPath(name).name.split(".ipynb")[0]


def normalize_id(raw):
    student = ID_CHARS.sub("_", raw.strip())
    student = student.strip("._") or "_"
    return student[:100]


def _usable(path):
    return not any(part in SKIP_PARTS or part.startswith("._") for part in path.parts)


def _entries(folder):
    return sorted(p for p in folder.iterdir() if _usable(p.relative_to(folder)))


def refuse_course_root(folder, assignment):
    """An nbgrader course folder passed instead of its ``submitted/`` (else the whole class
    would be one student called ``submitted``): say which path to pass."""
    folder = Path(folder)
    submitted = folder / "submitted"
    if not submitted.is_dir():
        return
    signs = [name for name in COURSE_ROOT_SIGNS if (folder / name).exists()]
    if signs or any((d / assignment).is_dir() for d in submitted.iterdir()):
        raise ValueError(f"{folder} is an nbgrader course folder (it has "
                         f"{', '.join(['submitted/'] + signs)}), not a folder of submissions: "
                         f"pass {submitted} (the hand-ins nbgrader collected) instead")


def _one_students_folder(folder, notebook_name, assignment):
    """Whether ``folder`` is one student's hand-in rather than a wrapper of many."""
    if (folder / assignment).is_dir():
        return True
    return any(p.is_file() and p.suffix == ".ipynb"
               and split_resubmission(p.stem)[0] == notebook_name for p in folder.iterdir())


def collect(path, notebook_name, extract_to, assignment=None):
    """List of Submission, sorted by student id, plus warnings (what was skipped, which
    notebook was chosen). Raise ValueError on a layout that cannot be graded safely."""
    assignment = assignment or notebook_name
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{path} is neither a folder nor a readable zip file (a "
                             "truncated or corrupt zip is not recognised either)")
        root = safe_extract(path, extract_to)
        entries = _entries(root)
        if len(entries) == 1 and entries[0].is_dir() \
                and not _one_students_folder(entries[0], notebook_name, assignment):
            root = entries[0]  # a zip usually wraps everything in one folder
    else:
        root = path
    refuse_course_root(root, assignment)

    found, warnings = {}, []
    entries = _entries(root)
    # nbgrader's layout holds every assignment: a student without this one's folder has
    # not handed it in (a roster gives them their row), and is not graded on another's
    exchange = any(e.is_dir() and (e / assignment).is_dir() for e in entries)
    for entry in entries:
        if entry.is_symlink():
            warnings.append(f"{entry.name}: a symbolic link; ignored")
        elif exchange and entry.is_dir() and not (entry / assignment).is_dir() \
                and parse_moodle(entry.name, folder=True) is None:
            warnings.append(f"{entry.name}: no {assignment}/ folder in it (nbgrader's "
                            "layout): nothing handed in for this assignment")
        elif entry.is_dir():
            _add_folder(found, root, entry, assignment, warnings)
        elif entry.is_file():
            _add_file(found, root, entry, notebook_name, warnings)
    submissions = [choose(student, found[student], notebook_name, warnings)
                   for student in sorted(found)]
    return submissions, warnings


def _add(found, student, origin, layout, **identity):
    """The _Found of ``student``, made on first sight; two origins for one id are an error."""
    entry = found.get(student)
    if entry is None:
        entry = found[student] = _Found(origin=origin, layout=layout, **identity)
    elif entry.origin != origin:
        raise ValueError(f"two different submissions map to the student id {student!r}: "
                         f"{entry.origin!r} and {origin!r}; rename one of them (nothing was "
                         "graded)")
    return entry


def _notebooks_in(folder, root):
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()
            and _usable(p.relative_to(root))]


def _add_folder(found, root, entry, assignment, warnings):
    lms = parse_moodle(entry.name, folder=True)
    if lms is not None:
        record = _add(found, lms.lms_id, f"{lms.display_name} ({lms.lms_id})", "moodle",
                      display_name=lms.display_name, lms_id=lms.lms_id)
        files, submitted_at = _notebooks_in(entry, root), ""
    elif (entry / assignment).is_dir():
        record = _add(found, normalize_id(entry.name), entry.name, "nbgrader")
        folder = entry / assignment
        files, submitted_at = _notebooks_in(folder, root), ""
        stamp = folder / "timestamp.txt"
        if stamp.is_file():
            try:
                submitted_at = read_nbgrader_timestamp(stamp)
            except ValueError as exc:
                warnings.append(f"{exc}; submission time unknown")
        files = [p for p in files if p != stamp]
    else:
        record = _add(found, normalize_id(entry.name), entry.name, "folders")
        files, submitted_at = _notebooks_in(entry, root), ""
    for path in files:
        original = path.relative_to(root).as_posix()
        if path.name.endswith(".ipynb"):
            record.notebooks.append(_Notebook(path, original, submitted_at, path.name))
        else:
            record.others.append(original)


def _add_file(found, root, entry, notebook_name, warnings):
    name = entry.name
    lms = parse_canvas(name) or parse_moodle(name)
    if lms is not None:
        record = _add(found, lms.lms_id, f"{lms.display_name} ({lms.lms_id})", lms.layout,
                      display_name=lms.display_name, lms_id=lms.lms_id)
        record.late = record.late or lms.late
        is_notebook = lms.file.endswith(".ipynb")
    elif name.endswith((".ipynb", ".ipynb.too-large")):
        stem = name.split(".ipynb")[0]
        if split_resubmission(stem)[0] == notebook_name:
            warnings.append(f"{name}: no student id in the name (expected "
                            f"<student_id>_{name} or a folder <student_id>/{name}); ignored")
            return
        raw = stem.split("_", 1)[0]
        record = _add(found, normalize_id(raw), raw, "flat")
        is_notebook = name.endswith(".ipynb")
    else:
        warnings.append(f"{name}: not a student folder or a notebook; ignored")
        return
    if is_notebook:
        record.notebooks.append(_Notebook(entry, name, "", lms.file if lms else name))
    else:
        record.others.append(name)


def choose(student, found, notebook_name, warnings):
    """The Submission of one student: the rule for several notebooks is in the module
    docstring, and each time it decides, a line in ``warnings`` says what it chose."""
    identity = dict(display_name=found.display_name, lms_id=found.lms_id, late=found.late,
                    layout=found.layout)
    too_large = [o for o in found.others if o.endswith(".ipynb.too-large")]
    if not found.notebooks:
        if too_large:
            problem = f"the notebook is larger than {MAX_ZIP_MEMBER >> 20} MB"
        elif found.others:
            shown = ", ".join(PurePosixPath(o).name for o in found.others[:5])
            problem = f"no .ipynb file in the submission (only {shown})"
        else:
            problem = "no .ipynb file in the submission"
        return Submission(student, problem=problem, status="no notebook", **identity)
    named = [n for n in found.notebooks
             if split_resubmission(_stem(n.uploaded))[0] == notebook_name]
    candidates = sorted(named or found.notebooks, key=_Notebook.sort_key)
    chosen = candidates[-1]
    if len(found.notebooks) > 1:
        by = "submission time" if len({n.submitted_at for n in candidates}) > 1 else "name"
        rest = [n.original for n in found.notebooks if n is not chosen]
        warnings.append(f"{student}: {len(found.notebooks)} notebooks; graded "
                        f"{chosen.original} (the latest by {by}"
                        f"{', named like the assignment' if named else ''}), not "
                        f"{', '.join(rest[:4])}")
    return Submission(student, chosen.path, submitted_at=chosen.submitted_at,
                      original_name=chosen.original, **identity)


def describe(submissions):
    """The one line ``grade`` prints about what it found, e.g. "Found 13 students (Canvas
    bulk download, 2 late, 1 resubmission, 1 without a notebook)"."""
    layouts = Counter(s.layout for s in submissions)
    details = [" + ".join(LAYOUT_NAMES.get(name, name) for name, _ in layouts.most_common())
               or "nothing"]
    late = sum(s.late for s in submissions)
    again = sum(split_resubmission(_stem(s.original_name))[1] > 0
                for s in submissions if s.original_name)
    missing = sum(s.notebook is None for s in submissions)
    for count, word in ((late, "late"), (again, "resubmission"),
                        (missing, "without a notebook")):
        if count:
            plural = "s" if word == "resubmission" and count > 1 else ""
            details.append(f"{count} {word}{plural}")
    noun = "student" if len(submissions) == 1 else "students"
    return f"Found {len(submissions)} {noun} ({', '.join(details)})"


def safe_extract(zip_path, target):
    """Extract a zip without trusting it: no absolute paths or ``..`` (an error: such a zip
    was not made by an LMS), no links, no special files, bounded member count and sizes
    (counted while reading, not from the header). Files other than notebooks are not
    extracted: an empty file of the same name stands for each, so that the layout (and a
    student who handed in only a PDF) is still seen. Raise ValueError, naming the zip, when
    it is corrupt or unsafe; nothing outside ``target`` has been touched then."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise ValueError(f"{zip_path} has {len(members)} entries (limit "
                                 f"{MAX_ZIP_MEMBERS})")
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts:
                    raise ValueError(f"{zip_path} has an entry outside its folder "
                                     f"({member.filename!r}); refused, nothing was graded")
                if not name.parts:
                    continue
                kind = stat.S_IFMT(member.external_attr >> 16)
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    continue  # symlinks, devices, fifos
                destination = target.joinpath(*name.parts)
                if member.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                if name.suffix != ".ipynb":
                    destination.touch()  # seen, not read
                    continue
                total = _extract_member(archive, member, destination, total, zip_path)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ValueError(f"{zip_path} is corrupt or truncated ({exc}); nothing was graded")\
            from None
    return target


def _extract_member(archive, member, destination, total, zip_path):
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
                raise ValueError(f"{zip_path} expands to more than {MAX_ZIP_TOTAL >> 30} GB")
            sink.write(chunk)
    if written > MAX_ZIP_MEMBER:
        destination.unlink()
        destination.with_name(destination.name + ".too-large").touch()
    return total


def copy_notebook(source, destination):
    """Copy a hand-in into the work folder; nothing to do when grading nbgrader's
    ``submitted/`` in place (the source is the destination)."""
    destination = Path(destination)
    if destination.exists() and Path(source).resolve() == destination.resolve():
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
