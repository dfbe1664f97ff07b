"""nbgrader's side: generating the release and writing grades into its gradebook.

Only the main process of ``python -m autograder`` writes here, one submission at a time,
while it holds the work folder's lock. Writes are idempotent (create-or-update), so a run
that was killed and started again ends with each student exactly once.
"""

import os
import re
import shutil
import subprocess
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

from .workdir import PACKAGE_DIR

COURSE_ID = "rnn-course"


def nbgrader_env():
    """nbgrader runs `alembic` as a program: put this interpreter's scripts on PATH."""
    env = dict(os.environ)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    return env


def install_config(workdir):
    workdir.root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGE_DIR / "nbgrader_config.py", workdir.root / "nbgrader_config.py")


def run_nbgrader(workdir, *args):
    """Run an nbgrader command in the work folder; raise RuntimeError with its log on error."""
    install_config(workdir)
    cmd = [sys.executable, "-m", "nbgrader", *args]
    done = subprocess.run(cmd, cwd=workdir.root, env=nbgrader_env(), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed:\n{done.stdout[-3000:]}")
    return done.stdout


def open_gradebook(workdir):
    from nbgrader.api import Gradebook

    return Gradebook(workdir.db_url, COURSE_ID)


def has_assignment(workdir, assignment):
    if not workdir.db_path.exists():
        return False
    from nbgrader.api import MissingEntry

    with open_gradebook(workdir) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return False
    return True


def sync_record(gb, record, source, regraded=False):
    """Put one Record's points into the gradebook (create or update).

    ``regraded``: the record was just graded again (the notebook changed, or ``--force``),
    so a score the instructor typed in formgrader for one of its auto-graded cells judged
    the old code: it is cleared, else it would silently outrank the new auto score. When
    only re-syncing an unchanged record the override is the instructor's word and stays.
    A formgrader comment is kept but marked as written before the re-grade.
    """
    from nbgrader.api import MissingEntry

    student, assignment = record.student, record.assignment
    gb.update_or_create_student(student)
    try:
        gb.find_submission(assignment, student)
    except MissingEntry:
        with warnings.catch_warnings():
            # nbgrader's add_submission builds its rows in a way SQLAlchemy 2 comments on
            warnings.simplefilter("ignore", category=Warning)
            gb.add_submission(assignment, student)
    gb.find_submission(assignment, student).timestamp = utc_naive(record.submitted_at)
    if regraded:
        mark_stale_comments(gb, record, source.notebook_name)
    for part in record.parts:
        test_cell = source.test_cells[part.name]
        grade = gb.find_grade(test_cell, source.notebook_name, assignment, student)
        if regraded:
            grade.manual_score = None
        if part.name in source.bonus:
            # nbgrader's own place for extra credit; formgrader shows it as such
            grade.auto_score = 0.0
            grade.extra_credit = float(part.points)
        else:
            grade.auto_score = float(part.points)
        grade.needs_manual_grade = False
    for cell in source.written:
        # a written answer is the instructor's to grade: formgrader lists it until scored,
        # and again after a re-grade of a changed notebook (the answer may have changed)
        grade = gb.find_grade(cell, source.notebook_name, assignment, student)
        grade.needs_manual_grade = grade.manual_score is None or regraded
    gb.db.commit()


def utc_naive(text):
    """An ISO 8601 time (a record's submitted_at) the way nbgrader stores times: naive UTC;
    None when empty or not a time."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


STALE = re.compile(r"^\[written before the re-grade of [^\]]*\] ")


def mark_stale_comments(gb, record, notebook_name):
    """A formgrader comment judged the code as it was before this re-grade: it is kept (the
    instructor's words are not thrown away) but marked, in formgrader and on the feedback
    page, as written before the re-grade; the instructor removes the mark to confirm it."""
    from nbgrader.api import MissingEntry

    try:
        notebook = gb.find_submission_notebook(notebook_name, record.assignment,
                                               record.student)
    except MissingEntry:
        return
    when = record.graded_at or "this run"
    for comment in notebook.comments:
        text = (comment.manual_comment or "").strip()
        if text:
            comment.manual_comment = (f"[written before the re-grade of {when}] "
                                      + STALE.sub("", text))


def _submissions(gb, assignment):
    """The assignment's submissions in the gradebook; none when it has never been graded."""
    from nbgrader.api import MissingEntry

    try:
        return gb.assignment_submissions(assignment)
    except MissingEntry:
        return []


def gradebook_rows(workdir, assignment, source):
    """{student: {part or written answer: points}} as nbgrader's gradebook holds them."""
    from nbgrader.api import MissingEntry

    rows = {}
    with open_gradebook(workdir) as gb:
        for submission in _submissions(gb, assignment):
            points = {}
            for part, test_cell in source.test_cells.items():
                try:
                    grade = gb.find_grade(test_cell, source.notebook_name, assignment,
                                          submission.student_id)
                except MissingEntry:
                    continue
                # `score` includes a score the instructor changed in formgrader
                points[part] = grade.score if grade.auto_score is not None \
                    or grade.manual_score is not None else None
            for cell in source.written:
                try:
                    grade = gb.find_grade(cell, source.notebook_name, assignment,
                                          submission.student_id)
                except MissingEntry:
                    continue
                points[cell] = grade.manual_score   # None: not graded yet
            rows[submission.student_id] = points
    return rows


def manual_comments(workdir, assignment, notebook_name):
    """{student: [(cell name, comment)]}: what the instructor wrote in formgrader."""
    from nbgrader.api import MissingEntry

    found = {}
    with open_gradebook(workdir) as gb:
        for submission in _submissions(gb, assignment):
            try:
                notebook = gb.find_submission_notebook(notebook_name, assignment,
                                                       submission.student_id)
            except MissingEntry:
                continue
            said = [(c.name, c.manual_comment.strip()) for c in notebook.comments
                    if c.manual_comment and c.manual_comment.strip()]
            if said:
                found[submission.student_id] = sorted(said)
    return found


def write_lateness(workdir, assignment, notebook_name, due, entries):
    """Put the deadline where nbgrader keeps it: the assignment's due date, and for each
    ``{student: (timestamp, extension, penalty)}`` (naive UTC times, a timedelta or None,
    points) the submission's timestamp and extension and the notebook's late penalty, so
    formgrader and nbgrader's own exports show what ours do."""
    from nbgrader.api import MissingEntry

    with open_gradebook(workdir) as gb:
        gb.find_assignment(assignment).duedate = due
        for submission in _submissions(gb, assignment):
            if submission.student_id not in entries:
                continue
            timestamp, extension, penalty = entries[submission.student_id]
            submission.timestamp, submission.extension = timestamp, extension
            try:
                notebook = gb.find_submission_notebook(notebook_name, assignment,
                                                       submission.student_id)
            except MissingEntry:
                continue
            notebook.late_submission_penalty = penalty or None
        gb.db.commit()
