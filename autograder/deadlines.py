"""Due dates, per-student extensions and the late penalty, with nbgrader's semantics.

nbgrader keeps a due date on the assignment, a submission ``timestamp`` and an
``extension`` on each submitted assignment, and a ``late_submission_penalty`` (points) on
each submitted notebook; its ``LateSubmissionPlugin`` turns (student, score, seconds late)
into that penalty, which is never below 0 nor above the score. ``penalty_method`` is
``none`` (no penalty) or ``zero`` (penalty = score); a course may plug in its own rule, and
ours is ``P%/day`` or ``P%/hour``: P percent of the score per started day (hour) late.

The instructor states the deadline once, ``python -m autograder deadline ASSIGNMENT --due
... [--extensions FILE] [--penalty ...]``; it is kept in ``WORKDIR/deadlines/<assignment>.json``
(so a later re-grade of a new submission finds it) and written into nbgrader's gradebook,
where formgrader shows it, every time grades are written or read (``apply``). The score a
penalty is taken from is the gradebook's total, so a score changed in formgrader changes the
penalty with it, as it would when nbgrader's autograde runs again.
"""

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from . import gradebook as gradebook_module
from .exports import class_rows
from .roster import read_table
from .workdir import atomic_write

PENALTY_HELP = "none (default), zero (a late submission gets 0), or P%/day or P%/hour"
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*/\s*(day|hour)\s*$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(weeks?|w|days?|d|hours?|h|minutes?|min|m)\b")
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}


class DeadlineError(ValueError):
    """A due date, extension or penalty the grader cannot use; the message says why."""


# ----------------------------------------------------------------------------- parsing
def parse_due(text):
    """An ISO 8601 date and time with its time zone (``2026-03-01T23:59+01:00``,
    ``2026-03-01 23:59Z``) as an aware UTC datetime. A time without a zone is refused:
    whose midnight it means is exactly what a late penalty depends on."""
    try:
        value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise DeadlineError(f"due date {text!r} does not parse; expected ISO 8601 with a "
                            "time zone, e.g. 2026-03-01T23:59+01:00 or 2026-03-01T22:59Z") \
            from None
    if value.tzinfo is None:
        raise DeadlineError(f"due date {text!r} has no time zone; add one, e.g. "
                            f"{value.isoformat(timespec='minutes')}+01:00 or ...Z for UTC")
    return value.astimezone(timezone.utc)


def parse_time(text):
    """A submission time (ISO 8601, as records store it) as aware UTC, or None."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)) \
        .astimezone(timezone.utc)


def parse_duration(text):
    """``2d``, ``36h``, ``1d 12h``, ``90min``, ``1w`` -> timedelta."""
    text = str(text).strip().lower()
    found = _DURATION.findall(text)
    if not found or _DURATION.sub("", text).strip():
        raise DeadlineError(f"extension {text!r} does not parse; expected a number with a "
                            "unit, e.g. 2d, 36h, 1d 12h or 90min")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u[0]] for n, u in found))


def check_penalty(text):
    """The penalty rule as given, or DeadlineError."""
    text = str(text).strip()
    if text in ("none", "zero") or _RATE.match(text):
        return text
    raise DeadlineError(f"late penalty {text!r} is not one the grader knows; expected "
                        + PENALTY_HELP)


def read_extensions(path, known):
    """``{student: timedelta}`` from a CSV ``student_id,extension``; a student the class
    does not have (``known``) is an error, since a typo would silently cost them points."""
    header, rows = read_table(path, "extensions file", DeadlineError)
    if header[:2] != ["student_id", "extension"]:
        raise DeadlineError(f"extensions file {path}: the header must be "
                            f"student_id,extension (found {','.join(header) or 'nothing'})")
    extensions = {}
    for line, cells in rows:
        student, amount = (cells + ["", ""])[:2]
        if student in extensions:
            raise DeadlineError(f"extensions file {path}, line {line}: {student!r} appears "
                                "twice (give each student one extension)")
        if student not in known:
            raise DeadlineError(f"extensions file {path}, line {line}: unknown student "
                                f"{student!r} (not graded and not on the roster); fix the "
                                "id, or give --roster with the class list")
        try:
            extensions[student] = parse_duration(amount)
        except DeadlineError as exc:
            raise DeadlineError(f"extensions file {path}, line {line}: {exc}") from None
    return extensions


# ----------------------------------------------------------------------------- the rule
@dataclass
class Deadline:
    due: datetime                               # aware, UTC
    penalty: str = "none"
    extensions: dict = field(default_factory=dict)   # student -> timedelta

    def due_for(self, student):
        return self.due + self.extensions.get(student, timedelta(0))


def penalty_points(rule, score, seconds_late):
    """The points a submission ``seconds_late`` loses, clamped to [0, score] as nbgrader's
    AssignLatePenalties does."""
    if seconds_late <= 0 or score <= 0 or rule == "none":
        return 0.0
    if rule == "zero":
        return float(score)
    percent, unit = _RATE.match(rule).groups()
    periods = math.ceil(seconds_late / (86400 if unit == "day" else 3600))
    return round(min(float(score), max(0.0, score * float(percent) / 100 * periods)), 4)


def describe_rule(rule):
    return {"none": "no late penalty",
            "zero": "a late submission gets 0 points"}.get(
        rule, f"{rule.replace('/', ' of the score per started ')} late")


def describe_delay(seconds):
    """``2 h 13 min``, ``1 d 3 h``, ``45 s``."""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v} {u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "min")) if v]
    return " ".join(parts[:2]) if parts else f"{secs} s"


# ----------------------------------------------------------------------------- storage
def config_path(workdir, assignment):
    return workdir.root / "deadlines" / f"{assignment}.json"


def save(workdir, assignment, deadline):
    data = {"due": deadline.due.isoformat(), "penalty": deadline.penalty,
            "extensions": {s: d.total_seconds() for s, d in sorted(deadline.extensions.items())}}
    atomic_write(config_path(workdir, assignment), json.dumps(data, indent=1))


def load(workdir, assignment):
    """The assignment's Deadline, or None when none was set."""
    path = config_path(workdir, assignment)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Deadline(parse_due(data["due"]), check_penalty(data.get("penalty", "none")),
                        {s: timedelta(seconds=v) for s, v in data.get("extensions", {}).items()})
    except (ValueError, KeyError, TypeError) as exc:
        raise DeadlineError(f"{path} is not a deadline file the grader wrote ({exc}); set "
                            f"it again with `python -m autograder deadline {assignment} "
                            "--due ...`") from None


# ----------------------------------------------------------------------------- applying it
@dataclass
class Lateness:
    """One student's submission against the deadline."""
    submitted_at: str            # as recorded; "" when unknown
    due: datetime                # including the student's extension
    extension: timedelta
    seconds_late: float          # 0 when on time or unknown
    penalty: float
    rule: str
    flagged: bool = False        # the LMS marked it late (Canvas's _LATE_ marker)

    @property
    def known(self):
        return bool(self.submitted_at) and parse_time(self.submitted_at) is not None

    def delay_text(self):
        """How late, for an export column: "" on time, "unknown" without a time."""
        if not self.known:
            return "unknown"
        return describe_delay(self.seconds_late) if self.seconds_late > 0 else ""

    def sentence(self):
        """What the feedback page and the export say about it."""
        due = self.due.strftime("%Y-%m-%d %H:%M UTC")
        extra = (f", with an extension of {describe_delay(self.extension.total_seconds())}"
                 if self.extension else "")
        if not self.known:
            flag = " (the LMS marked it late but gave no time)" if self.flagged else ""
            return (f"Due {due}{extra}; the submission time is unknown{flag}, so no late "
                    "penalty.")
        if self.seconds_late <= 0:
            return f"Submitted on time (due {due}{extra})."
        return (f"Submitted {describe_delay(self.seconds_late)} after the due date "
                f"({due}{extra}): late penalty {self.penalty:g} points "
                f"({describe_rule(self.rule)}).")


def lateness(deadline, student, submitted_at, score, flagged=False):
    due = deadline.due_for(student)
    moment = parse_time(submitted_at)
    late = max(0.0, (moment - due).total_seconds()) if moment is not None else 0.0
    return Lateness(submitted_at or "", due, deadline.extensions.get(student, timedelta(0)),
                    late, penalty_points(deadline.penalty, score, late), deadline.penalty,
                    flagged)


def apply(workdir, assignment, source, records, names, deadline=None):
    """``{student: Lateness}`` of every graded student, written into nbgrader's gradebook
    (due date, timestamps, extensions, penalties) so formgrader shows the same; ``{}`` when
    the assignment has no deadline. Call with the work folder's lock held."""
    deadline = deadline or load(workdir, assignment)
    if deadline is None:
        return {}
    points = gradebook_module.gradebook_rows(workdir, assignment, source)
    rows = class_rows(points, records, None, names, source.bonus, source.max_points)
    found = {}
    for row in rows:
        if row.student in points:
            record = records.get(row.student)
            found[row.student] = lateness(deadline, row.student,
                                          getattr(record, "submitted_at", ""), row.total,
                                          getattr(record, "late", False))
    gradebook_module.write_lateness(
        workdir, assignment, source.notebook_name, _naive(deadline.due),
        {s: (_naive(parse_time(v.submitted_at)), v.extension or None, v.penalty)
         for s, v in found.items()})
    return found


def _naive(moment):
    """nbgrader stores times as naive UTC."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment else None
