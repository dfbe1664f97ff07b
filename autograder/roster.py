"""The class list an export is joined to, so that enrolled students who handed in nothing
still get a row ("not submitted") and each row carries the id the LMS matches on.

Format: a CSV file with a header row. ``id`` (the student id the grader uses, i.e. the
submission folder or file name) is required; ``name``, ``lms_id`` (Canvas user ID or
Moodle participant number), ``section`` and ``email`` are optional. Column names are matched
case-insensitively; other columns are ignored. A duplicate or empty id is an error, because
two rows for one student would make the LMS keep whichever came last.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("id", "name", "lms_id", "section", "email")


@dataclass
class Enrolled:
    id: str
    name: str = ""
    lms_id: str = ""
    section: str = ""
    email: str = ""


class RosterError(ValueError):
    """A roster file the export cannot use; the message names the file, line and fix."""


def read_roster(path):
    """``{id: Enrolled}`` in the file's order; raise RosterError on bad input."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read the roster {path}: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    header = {(name or "").strip().lower(): name for name in (reader.fieldnames or [])}
    if "id" not in header:
        raise RosterError(f"roster {path}: no 'id' column (found {sorted(header) or 'none'};"
                          f" expected a header row with id and optionally "
                          f"{', '.join(COLUMNS[1:])})")
    roster = {}
    for line, row in enumerate(reader, start=2):
        values = {c: (row.get(header[c]) or "").strip() for c in COLUMNS if c in header}
        student = values["id"]
        if not student:
            raise RosterError(f"roster {path}, line {line}: empty id")
        if student in roster:
            raise RosterError(f"roster {path}, line {line}: duplicate id {student!r} "
                              "(each student must appear once)")
        roster[student] = Enrolled(**values)
    return roster
