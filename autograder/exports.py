"""The class's grades in the shape each LMS imports, and the feedback pages as a zip that
Moodle's "upload multiple feedback files in a zip" assigns to the right students.

One row per student: every graded student (from nbgrader's gradebook, the truth, which
includes scores changed in formgrader) and every enrolled student of the roster who handed
in nothing (status "not submitted", 0 points), so nobody vanishes from the upload.

- ``csv``: our own columns (student_id, name, section, status, the points of each graded
  function, penalty, total, max, submitted_at, late_by).

With a deadline (deadlines.py) every total is the total after the late penalty; the csv
says the penalty and how late, Moodle's Status says it too, Canvas has no place for it.
- ``canvas``: Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section,
  then one column named after the assignment ("Title (canvas id)" to update an existing
  assignment, a new title creates one), and a "Points Possible" row. Canvas matches rows on
  ID (the Canvas user ID, the roster's lms_id); any other column would be read as another
  assignment, so the status is not written here.
- ``moodle``: Moodle's offline grading worksheet: Identifier ("Participant N", N being the
  roster's lms_id), Full name, Email address, Status, Grade, Maximum grade, Grade can be
  changed, Last modified (grade). Moodle needs Identifier, Grade and Last modified (grade).
"""

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .record import capped_total

FORMATS = ("csv", "canvas", "moodle")
NOT_SUBMITTED = "not submitted"


@dataclass
class Row:
    student: str
    name: str = ""
    lms_id: str = ""
    section: str = ""
    email: str = ""
    points: dict = field(default_factory=dict)     # part -> points (None: not graded)
    total: float = 0.0
    status: str = NOT_SUBMITTED
    submitted_at: str = ""
    graded_at: str = ""
    penalty: float = 0.0
    late_by: str = ""         # "" on time or without a deadline; "unknown" without a time


def class_rows(points_by_student, records, roster, names, bonus, maximum, lateness=None):
    """Rows sorted by student id, joined to the roster (``{id: Enrolled}`` or None);
    ``lateness`` (``{student: deadlines.Lateness}``) takes each late penalty off."""
    roster, lateness = roster or {}, lateness or {}
    rows = []
    for student in sorted(set(points_by_student) | set(records) | set(roster)):
        record, enrolled = records.get(student), roster.get(student)
        row = Row(student)
        if record is not None:
            row.name, row.lms_id = record.display_name, record.lms_id
            row.submitted_at, row.graded_at = record.submitted_at, record.graded_at
        if enrolled is not None:
            row.name = enrolled.name or row.name
            row.lms_id = enrolled.lms_id or row.lms_id
            row.section, row.email = enrolled.section, enrolled.email
        if student in points_by_student:
            points = points_by_student[student]
            row.points = {n: points.get(n) for n in names}
            normal = sum(points.get(n) or 0.0 for n in names if n not in bonus)
            extra = sum(points.get(n) or 0.0 for n in names if n in bonus)
            row.total = capped_total(normal, extra, maximum)
            row.status = record.status if record is not None else "graded"
            late = lateness.get(student)
            if late is not None:
                row.penalty = late.penalty
                row.total = round(row.total - late.penalty, 4)
                row.late_by = late.delay_text()
        elif record is not None:
            row.status = record.status  # recorded but kept out of the gradebook (refused)
        if roster and enrolled is None:
            row.status += "; not on the roster"
        rows.append(row)
    return rows


def table(rows, fmt, names, maximum, assignment, lms_assignment=None):
    """The CSV rows (lists of strings) of one export format."""
    if fmt == "csv":
        out = [["student_id", "name", "section", "status", *names, "penalty", "total",
                "max", "submitted_at", "late_by"]]
        for r in rows:
            out.append([r.student, r.name, r.section, r.status,
                        *[_fmt(r.points.get(n)) for n in names], _fmt(r.penalty),
                        _fmt(r.total), _fmt(maximum), r.submitted_at, r.late_by])
        return out
    _require_lms_ids(rows, fmt)
    if fmt == "canvas":
        out = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                lms_assignment or assignment],
               ["Points Possible", "", "", "", "", _fmt(maximum)]]
        out += [[r.name, r.lms_id, "", "", r.section, _fmt(r.total)] for r in rows]
        return out
    if fmt == "moodle":
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        out = [["Identifier", "Full name", "Email address", "Status", "Grade",
                "Maximum grade", "Grade can be changed", "Last modified (grade)"]]
        out += [[f"Participant {r.lms_id}", r.name, r.email, _moodle_status(r),
                 _fmt(r.total), _fmt(maximum), "Yes", r.graded_at or now] for r in rows]
        return out
    raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _moodle_status(row):
    if row.late_by and row.late_by != "unknown":
        return f"{row.status}; late by {row.late_by}, penalty {_fmt(row.penalty)}"
    return row.status


def _require_lms_ids(rows, fmt):
    """An LMS skips rows it cannot match without saying which: refuse instead."""
    missing = [r.student for r in rows if not r.lms_id]
    if missing:
        raise ValueError(
            f"{fmt} export: no LMS id for {len(missing)} student(s) ({', '.join(missing[:10])}"
            f"{', ...' if len(missing) > 10 else ''}); give a roster (--roster) whose lms_id "
            "column holds the " + ("Canvas user ID" if fmt == "canvas"
                                   else "Moodle participant number"))


def write_table(path, table_rows):
    """Write the CSV in one go, so a failed export leaves no half-written file."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(table_rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return path


def moodle_feedback_name(row, page_name):
    """Moodle's zip naming: ``fullname_participant_assignfeedback_file_filename``; the
    importer splits on the first four underscores, so the name must not contain any."""
    name = (row.name or row.student).replace("_", " ")
    return f"{name}_{row.lms_id}_assignfeedback_file_{page_name}"


def moodle_feedback_zip(path, rows, pages):
    """Zip ``{student: page path}`` for Moodle's feedback-files upload; returns the count.
    The pages travel without the MathJax folder, so math shows as TeX source there."""
    _require_lms_ids([r for r in rows if r.student in pages], "moodle")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for row in rows:
            page = pages.get(row.student)
            if page is not None:
                archive.write(page, moodle_feedback_name(row, Path(page).name))
                count += 1
    return count


def _fmt(value):
    if value is None:
        return ""
    # four decimals, as the totals are rounded: ".4g" would turn 79.875 into 79.88
    return f"{round(value, 4):.10g}" if value != int(value) else str(int(value))
