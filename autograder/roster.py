"""The class list an export is joined to, so that enrolled students who handed in nothing
still get a row ("not submitted") and each row carries the id the LMS matches on.

Format: a CSV file with a header row. ``id`` (the student id the grader uses, i.e. the
submission folder or file name) is required; ``name``, ``lms_id`` (Canvas user ID or
Moodle participant number), ``section`` and ``email`` are optional. Column names are matched
case-insensitively; other columns are ignored; blank rows (a spreadsheet's trailing commas)
are skipped. A duplicate or empty id is an error, because two rows for one student would
make the LMS keep whichever came last; the message gives the line as an editor numbers it.
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


def read_table(path, what, error):
    """``(header, rows)`` of the small CSV file ``path`` an instructor hands the grader (the
    roster, the extensions): the header's names stripped and lower-cased, and ``(line, cells)``
    for every row that is not blank, ``line`` being where the row ends in the file (as an editor
    numbers lines), its cells stripped. A file that cannot be read as UTF-8 text raises
    ``error`` naming ``what`` and ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read the {what} {path}: {exc}") from None
    reader = csv.reader(text.splitlines())
    header = [name.strip().lower() for name in next(reader, [])]
    rows = []
    for cells in reader:
        cells = [cell.strip() for cell in cells]
        if any(cells):
            rows.append((reader.line_num, cells))
    return header, rows


def read_roster(path):
    """``{id: Enrolled}`` in the file's order; raise RosterError on bad input."""
    header, rows = read_table(path, "roster", RosterError)
    if "id" not in header:
        raise RosterError(f"roster {path}: no 'id' column (found {sorted(set(header)) or 'none'};"
                          f" expected a header row with id and optionally "
                          f"{', '.join(COLUMNS[1:])})")
    where = {c: header.index(c) for c in COLUMNS if c in header}
    roster = {}
    for line, cells in rows:
        values = {c: cells[i] if i < len(cells) else "" for c, i in where.items()}
        student = values["id"]
        if not student:
            raise RosterError(f"roster {path}, line {line}: empty id")
        if student in roster:
            raise RosterError(f"roster {path}, line {line}: duplicate id {student!r} "
                              "(each student must appear once)")
        roster[student] = Enrolled(**values)
    return roster
