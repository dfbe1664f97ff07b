"""The instructor commands as functions: generate, self_test, grade, feedback, export.

``python -m autograder`` (see cli.py) is a thin layer over these; tests and the benchmark
call them directly. This module owns loading the course (generating it first when the work
folder does not have it yet), all printing and all writing: grading itself (grading.py)
takes a ready Context and hands back Records, which are written here by one writer --
record, submitted and autograded notebooks, gradebook, in this order -- so that a run that
is killed midway resumes with what was recorded.
"""

import copy
import hashlib
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from . import deadlines
from . import gradebook as gradebook_module
from .assignments import module_of, parts_of
from .exports import NOT_SUBMITTED, class_rows, moodle_feedback_zip, table, write_table
from .feedback import autograded_notebook, find_mathjax, localize_feedback, write_feedback
from .grading import (
    WRONG_ASSIGNMENT,
    Context,
    expected_key,
    grade_submission,
    grader_fingerprint,
    run_batch,
)
from .notebooks import helper_module_source, load_source, read_notebook
from .record import PartResult
from .report import BatchSummary, summary_table
from .roster import read_roster
from .sandbox import DEFAULT_LIMITS, hide_own_memory, resolve_mode
from .submissions import Submission, collect, copy_notebook, describe
from .workdir import SOURCE_ROOT, Workdir, atomic_write, remove_stale_temporaries


def _workdir(workdir):
    return workdir if isinstance(workdir, Workdir) else Workdir(workdir)


def _load_source(assignment, folder):
    parts = parts_of(assignment)
    return load_source(assignment, folder, [p.name for p in parts],
                       [p.name for p in parts if p.bonus])


# ----------------------------------------------------------------------------- the course
def load_context(workdir, assignment, mode="auto", limits=None):
    """The grading Context of an assignment the work folder already holds."""
    parts = parts_of(assignment)
    source = _load_source(assignment, workdir.source(assignment))
    helper = helper_module_source(source.setup_cells, [p.name for p in parts])
    return Context(assignment=assignment, source=source, parts=parts, helper_source=helper,
                   limits=dict(DEFAULT_LIMITS, **(limits or {})), mode=resolve_mode(mode),
                   fingerprint=grader_fingerprint(("autograder.grading",
                                                   module_of(assignment))))


def prepare(workdir, assignment, mode="auto", limits=None, source_root=None):
    """Load the source assignment from the work folder, generating it first if needed."""
    workdir = _workdir(workdir)
    if not gradebook_module.has_assignment(workdir, assignment) \
            or not workdir.source(assignment).is_dir():
        generate(workdir, assignment, source_root=source_root, quiet=True)
    return load_context(workdir, assignment, mode=mode, limits=limits)


def generate(workdir, assignment, source_root=None, quiet=False):
    """Copy the source assignment into the work folder and let nbgrader make the student
    version (``release/<assignment>/``) and register the assignment in the gradebook."""
    workdir = _workdir(workdir)
    parts = parts_of(assignment)
    origin = Path(source_root or SOURCE_ROOT) / assignment
    if not origin.is_dir():
        raise FileNotFoundError(f"no source assignment {origin}")
    # check that the grader can grade it before touching anything
    source = _load_source(assignment, origin)
    helper_module_source(source.setup_cells, [p.name for p in parts])
    target = workdir.source(assignment)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(origin, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints",
                                                                   "__pycache__"))
    log = gradebook_module.run_nbgrader(workdir, "generate_assignment", assignment, "--force")
    release = workdir.release(assignment)
    self_test(workdir, assignment)
    if not quiet:
        print(f"generated {release} (student version) from {origin}")
        print(f"gradebook: {workdir.db_path}")
    return release, log


def self_test(workdir, assignment, sandbox="auto"):
    """Grade the instructor's own solution in the sandbox: it must get every point.

    This catches, before any student is graded, setup cells that do not work in the
    sandbox and a solution or a reference that disagree."""
    workdir = _workdir(workdir)
    ctx = load_context(workdir, assignment, mode=sandbox)
    notebook = next(iter(sorted(workdir.source(assignment).glob("*.ipynb"))))
    record = grade_submission(ctx, Submission("instructor-solution", notebook))
    wrong = [f"{p.name}: {p.reason}" for p in record.problems()]
    if wrong:
        raise RuntimeError("the instructor's solution does not get full marks from the "
                           "grader, so students could not either:\n  " + "\n  ".join(wrong))
    return record


# ----------------------------------------------------------------------------- grade
def grade(workdir, assignment, submissions, jobs=2, sandbox="auto", limits=None,
          force=False, progress=True, source_root=None, out=sys.stdout, on_record=None,
          executor=None):
    """Grade a folder or zip of submissions; returns a BatchSummary.

    ``executor``: where submissions are graded (default: a pool of ``jobs`` threads); see
    ``grading.run_batch``. ``on_record(record)`` is called after each Record is written."""
    workdir = _workdir(workdir)
    with workdir.lock():
        ctx = prepare(workdir, assignment, mode=sandbox, limits=limits,
                      source_root=source_root)
        if ctx.mode != "bwrap":
            print("WARNING: grading is NOT ISOLATED: bubblewrap is not available, student "
                  "code can read this user's files. Install bubblewrap.", file=sys.stderr)
        summary = _grade_batch(workdir, ctx, submissions, jobs=jobs, force=force,
                               progress=progress, on_record=on_record, executor=executor)
        kept = manual_overrides(workdir, assignment, ctx.source,
                                {r.student: r for r in summary.records
                                 if r.status != WRONG_ASSIGNMENT})
        late = _lateness(workdir, assignment, ctx.source, workdir.read_records(assignment))
    if out is not None:
        print(summary.found, file=out)
        for warning in summary.warnings:
            print(f"note: {warning}", file=out)
        for student, total in kept.items():
            print(f"note: {student}: {total:g} in the gradebook (export, feedback): a score "
                  "changed in formgrader, kept because the submission is unchanged; "
                  "`grade --force` re-grades and clears it", file=out)
        _print_lateness(late, out)
        print(summary_table(summary, ctx), file=out)
        where = f"{jobs} worker(s)" if executor is None else type(executor).__name__
        print(f"graded in {summary.seconds:.1f} s with {where}; records in "
              f"{workdir.results(assignment)}; gradebook {workdir.db_path}", file=out)
    return summary


def remove(workdir, assignment, students, out=sys.stdout):
    """Undo the grading of ``students`` for ``assignment`` (a mistaken batch): their record,
    autograded notebook, feedback page and nbgrader gradebook submission are deleted; what
    they handed in (``submitted/``) stays. Every id is checked before anything is deleted,
    so an unknown one (a typo) removes nothing and names the ids that exist."""
    from nbgrader.api import MissingEntry

    workdir = _workdir(workdir)
    with workdir.lock():
        records = workdir.read_records(assignment)
        with gradebook_module.open_gradebook(workdir) as gb:
            try:
                in_gradebook = {s.student_id for s in gb.assignment_submissions(assignment)}
            except MissingEntry:
                in_gradebook = set()
            known = set(records) | in_gradebook
            unknown = [s for s in students if s not in known]
            if unknown:
                shown = ", ".join(sorted(known)[:20]) or "none"
                raise ValueError(f"no graded submission of {assignment} for "
                               f"{', '.join(unknown)} in {workdir.root}; nothing was removed "
                               f"(graded students: {shown}"
                               f"{', ...' if len(known) > 20 else ''})")
            for student in students:
                if student in in_gradebook:
                    gb.remove_submission(assignment, student)
                for folder in (workdir.autograded(student, assignment),
                               workdir.feedback(student, assignment)):
                    shutil.rmtree(folder, ignore_errors=True)
                workdir.record_path(assignment, student).unlink(missing_ok=True)
                if out is not None:
                    print(f"removed {student} from {assignment}: record, autograded "
                          "notebook, feedback page and gradebook submission (the hand-in in "
                          "submitted/ is kept)", file=out)


def parse_shard(text):
    """'i/S' -> (i, S) with 1 <= i <= S."""
    try:
        index, count = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/S (for example 3/10), not {text!r}") \
            from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text}: i must be between 1 and S")
    return index, count


def in_shard(student, shard):
    """Whether ``student`` belongs to shard (i, S): a stable hash of the id, so every job of
    an array agrees without talking to the others."""
    index, count = shard
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % count == index - 1


def grade_shard(workdir, assignment, submissions, shard, jobs=2, sandbox="auto", limits=None,
                force=False, out=sys.stdout):
    """``grade --shard i/S --records-only``: grade this shard's students and write their
    records only (no gradebook, no notebooks, no lock), so that the S jobs of a Slurm array
    can share a work folder; a later plain ``grade`` collects the records. The assignment
    must have been generated in the work folder first. Returns a BatchSummary."""
    workdir = _workdir(workdir)
    shard = parse_shard(shard) if isinstance(shard, str) else tuple(shard)
    if not workdir.source(assignment).is_dir():
        raise RuntimeError(f"{assignment} is not generated in {workdir.root}; run "
                           f"`python -m autograder generate {assignment}` once before the "
                           "shards")
    ctx = load_context(workdir, assignment, mode=sandbox, limits=limits)
    started = time.monotonic()
    summary = BatchSummary(mode=ctx.mode)
    if ctx.mode != "bwrap":
        hide_own_memory()
    with tempfile.TemporaryDirectory(prefix=f"autograder-shard-{shard[0]}-of-{shard[1]}-") \
            as tmp:
        ctx.tmp_root = tmp
        found, warnings = collect(submissions, ctx.source.notebook_name, Path(tmp) / "unzipped",
                                  assignment)
        summary.warnings.extend(warnings)
        existing = workdir.read_records(assignment)
        todo = []
        for submission in found:
            if not in_shard(submission.student, shard):
                continue
            old = existing.get(submission.student)
            if not force and old is not None and old.key == expected_key(ctx, submission) \
                    and old.status != "grader error":
                summary.reused += 1
                summary.records.append(old)
            else:
                todo.append(submission)
        for record in run_batch(ctx, todo, jobs=jobs):
            atomic_write(workdir.record_path(assignment, record.student), record.to_json())
            summary.records.append(record)
            summary.graded += 1
    summary.records.sort(key=lambda r: r.student)
    summary.seconds = time.monotonic() - started
    if out is not None:
        print(f"shard {shard[0]}/{shard[1]}: graded {summary.graded}, kept {summary.reused}, "
              f"records in {workdir.results(assignment)}; run `grade` without --shard to "
              "collect them into the gradebook", file=out)
    return summary


def _grade_batch(workdir, ctx, submissions_path, jobs, force, progress, on_record, executor):
    started = time.monotonic()
    summary = BatchSummary(mode=ctx.mode)
    if ctx.mode != "bwrap":
        hide_own_memory()
    remove_stale_temporaries(workdir.results(ctx.assignment))
    # job folders and unpacked zips live in WORKDIR/.tmp: a killed run's leftovers are
    # removed by the next run (which holds the lock, so nothing else uses them)
    scratch = workdir.root / ".tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="batch-", dir=scratch) as tmp:
        ctx.tmp_root = tmp
        submissions, warnings = collect(submissions_path, ctx.source.notebook_name,
                                        Path(tmp) / "unzipped", ctx.assignment)
        summary.warnings.extend(warnings)
        summary.found = describe(submissions)
        existing = workdir.read_records(ctx.assignment)
        todo, keep = [], []
        for submission in submissions:
            old = existing.get(submission.student)
            if not force and old is not None and old.key == expected_key(ctx, submission) \
                    and old.status != "grader error":
                keep.append(old)
            else:
                todo.append(submission)
        summary.reused = len(keep)
        by_student = {s.student: s for s in todo}
        by_submission = {s.student: s for s in submissions}
        bar = _progress(len(submissions), progress, initial=len(keep))
        with gradebook_module.open_gradebook(workdir) as gb:
            for record in keep:  # a killed run may have recorded without syncing
                notebook = workdir.autograded(record.student, ctx.assignment) \
                    / f"{ctx.source.notebook_name}.ipynb"
                submission = by_submission[record.student]
                if record.status == WRONG_ASSIGNMENT:
                    pass  # refused: it never reaches the gradebook
                elif submission.notebook is not None and not notebook.is_file():
                    _write(workdir, ctx, submission, record, gb)  # from a --records-only shard
                else:
                    gradebook_module.sync_record(gb, record, ctx.source)
                summary.records.append(record)
            for record in run_batch(ctx, todo, executor=executor, jobs=jobs):
                if record.status == WRONG_ASSIGNMENT:
                    _refuse(workdir, record, existing.get(record.student), summary)
                else:
                    _write(workdir, ctx, by_student[record.student], record, gb)
                summary.records.append(record)
                summary.graded += 1
                if on_record:
                    on_record(record)
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
    summary.records.sort(key=lambda r: r.student)
    summary.seconds = time.monotonic() - started
    return summary


def _write(workdir, ctx, submission, record, gb):
    """The single writer: record, notebooks, gradebook -- in this order."""
    student, assignment = record.student, ctx.assignment
    name = f"{ctx.source.notebook_name}.ipynb"
    if submission.notebook is not None:
        record.submitted_at = record.submitted_at or file_time(submission, ctx.tmp_root)
        copy_notebook(submission.notebook, workdir.submitted(student, assignment) / name)
        try:
            nb = read_notebook(submission.notebook)
        except ValueError:
            nb = None
        graded = autograded_notebook(ctx.source.path, nb, record)
        atomic_write(workdir.autograded(student, assignment) / name, graded)
    atomic_write(workdir.record_path(assignment, student), record.to_json())
    gradebook_module.sync_record(gb, record, ctx.source, regraded=True)


def _refuse(workdir, record, previous, summary):
    """A notebook of another assignment: nothing goes to the gradebook or the notebooks.
    Its record is kept (the export and the report show the status and the reason) unless
    the student already has a grade from a right notebook, which then stays as it was."""
    if previous is not None and previous.status != WRONG_ASSIGNMENT:
        summary.warnings.append(f"{record.student}: the new notebook is of another "
                                f"assignment and was refused; the previous grade "
                                f"({previous.total:g}) is kept")
        return
    atomic_write(workdir.record_path(record.assignment, record.student), record.to_json())


def _progress(total, enabled, initial=0, unit="submission", desc="grading"):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True)


# ----------------------------------------------------------------------------- feedback, export
def gradebook_totals(workdir, assignment, source, records):
    """{student: total} as the gradebook (the truth, formgrader's edits included) holds it."""
    points = gradebook_module.gradebook_rows(workdir, assignment, source)
    names = [p.name for p in parts_of(assignment)]
    rows = class_rows(points, records, None, names, source.bonus, source.max_points)
    return {r.student: r.total for r in rows if r.student in points}


def graded_names(assignment, source):
    """The graded functions, then the written answers graded in formgrader."""
    return [p.name for p in parts_of(assignment)] + sorted(source.written)


def with_gradebook_points(record, points, written=None):
    """A copy of ``record`` whose parts carry the gradebook's points, so the feedback page
    shows the same total as export; a part scored in formgrader says so. ``written``
    (``{grade_id: points}``) adds a row per written answer, graded or not yet."""
    record = copy.deepcopy(record)
    for cell, maximum in sorted((written or {}).items()):
        given = points.get(cell)
        record.parts.append(PartResult(
            cell, maximum, points=given or 0.0,
            reason=f"written answer: {given:g}/{maximum:g} (graded by the instructor)"
            if given is not None else "written answer: not graded yet"))
    for part in record.parts:
        given = points.get(part.name)
        if given is not None and abs(given - part.points) > 1e-9:
            part.notes.append(f"score set by the instructor: {given:g} (the autograder "
                              f"gave {part.points:g})")
            part.points = given
    return record


def manual_overrides(workdir, assignment, source, records):
    """{student: gradebook total} where formgrader's scores make it differ from the
    record's auto-grade, so the batch summary can say which total counts."""
    totals = gradebook_totals(workdir, assignment, source, records)
    return {s: t for s, t in totals.items()
            if s in records and abs(t - records[s].total) > 1e-9}


def _records_and_source(workdir, assignment):
    records = workdir.read_records(assignment)
    if not records:
        raise RuntimeError(f"nothing graded yet for {assignment} in {workdir.root}; run "
                           f"`python -m autograder grade {assignment} SUBMISSIONS` first")
    return records, _load_source(assignment, workdir.source(assignment))


def feedback(workdir, assignment, progress=True, out=sys.stdout):
    workdir = _workdir(workdir)
    with workdir.lock():
        records, source = _records_and_source(workdir, assignment)
        points = gradebook_module.gradebook_rows(workdir, assignment, source)
        comments = gradebook_module.manual_comments(workdir, assignment, source.notebook_name)
        late = _lateness(workdir, assignment, source, records)
        for student, said in comments.items():
            if student in records:
                records[student].notes.extend(f"instructor's comment on {cell}: {text}"
                                              for cell, text in said)
        bar = _progress(len(records), progress, unit="page", desc="feedback")
        pages = write_feedback(workdir, assignment, source.notebook_name,
                               [with_gradebook_points(records[s], points.get(s, {}),
                                                      source.written)
                                for s in sorted(records)], progress=bar, lateness=late)
        if bar is not None:
            bar.close()
    if out is not None:
        print(f"wrote {len(pages)} feedback pages under {workdir.root / 'feedback'}", file=out)
    _warn_without_mathjax()
    return pages


def _warn_without_mathjax():
    """Feedback pages load MathJax from a local copy; say so when there is none."""
    if find_mathjax() is None:
        print("warning: no local MathJax found (the package sphinx-mathjax-offline is not "
              "installed): the pages show math as TeX source", file=sys.stderr)


def feedback_from_nbgrader(workdir, assignment, out=sys.stdout):
    """``feedback --from-nbgrader``: the pages nbgrader's ``generate_feedback`` wrote,
    made to render math offline (it loads MathJax from the internet and removes ours)."""
    workdir = _workdir(workdir)
    with workdir.lock():
        pages = localize_feedback(workdir, assignment)
    if not pages:
        raise RuntimeError(f"no feedback pages for {assignment} under "
                           f"{workdir.root / 'feedback'}; run `nbgrader generate_feedback "
                           f"{assignment}` there first")
    if out is not None:
        print(f"{len(pages)} feedback pages now load MathJax from a local copy", file=out)
    _warn_without_mathjax()
    return pages


def export(workdir, assignment, csv_path, out=sys.stdout, fmt="csv", roster=None,
           lms_assignment=None, feedback_zip=None):
    """The class's grades from the gradebook as ``fmt`` (csv, canvas, moodle; see
    exports.py), joined to a roster file when given; optionally the feedback pages as a
    zip for Moodle. Bad input raises before anything is written."""
    enrolled = read_roster(roster) if roster is not None else None
    workdir = _workdir(workdir)
    with workdir.lock():
        records, source = _records_and_source(workdir, assignment)
        points = gradebook_module.gradebook_rows(workdir, assignment, source)
        late = _lateness(workdir, assignment, source, records)
    names = graded_names(assignment, source)
    rows = class_rows(points, records, enrolled, names, source.bonus, source.max_points, late)
    csv_path = write_table(csv_path, table(rows, fmt, names, source.max_points, assignment,
                                           lms_assignment))
    if out is not None:
        missing = sum(r.status == NOT_SUBMITTED for r in rows)
        print(f"wrote {len(rows)} students ({missing} not submitted) to {csv_path}", file=out)
    if feedback_zip is not None:
        pages = {r.student: workdir.feedback(r.student, assignment)
                 / f"{source.notebook_name}.html" for r in rows}
        pages = {s: p for s, p in pages.items() if p.is_file()}
        if not pages:
            raise RuntimeError(f"no feedback pages for {assignment}: run "
                               f"`python -m autograder feedback {assignment}` first")
        count = moodle_feedback_zip(feedback_zip, rows, pages)
        if out is not None:
            print(f"wrote {count} feedback pages to {feedback_zip} (Moodle: Assignment > "
                  "View all submissions > Upload multiple feedback files in a zip)", file=out)
    return csv_path


# ----------------------------------------------------------------------------- deadlines
def deadline(workdir, assignment, due, penalty="none", extensions=None, roster=None,
             out=sys.stdout):
    """Set the assignment's due date, late penalty rule and extensions (see deadlines.py),
    and apply them at once to everything graded. Bad input raises before anything is
    written; a later ``deadline`` replaces the whole setting (extensions included)."""
    workdir = _workdir(workdir)
    rule = deadlines.check_penalty(penalty)
    moment = deadlines.parse_due(due)
    enrolled = read_roster(roster) if roster is not None else {}
    with workdir.lock():
        records = workdir.read_records(assignment)
        granted = deadlines.read_extensions(extensions, set(records) | set(enrolled)) \
            if extensions is not None else {}
        setting = deadlines.Deadline(moment, rule, granted)
        late = {}
        if records:
            source = _load_source(assignment, workdir.source(assignment))
            late = _lateness(workdir, assignment, source, records, setting)
        deadlines.save(workdir, assignment, setting)
    if out is not None:
        print(f"{assignment}: due {moment.isoformat()} ({deadlines.describe_rule(rule)}), "
              f"{len(granted)} extension(s); kept in "
              f"{deadlines.config_path(workdir, assignment)} and the gradebook", file=out)
        _print_lateness(late, out)
    return setting


def _lateness(workdir, assignment, source, records, setting=None):
    """{student: Lateness}, written into the gradebook; {} without a deadline."""
    return deadlines.apply(workdir, assignment, source, records,
                           graded_names(assignment, source), setting)


def _print_lateness(late, out):
    if out is None:
        return
    for student, found in sorted(late.items()):
        if found.seconds_late > 0 or not found.known:
            print(f"note: {student}: {found.sentence()}", file=out)


FILE_TIME_LAYOUTS = ("folders", "flat", "")


def file_time(submission, scratch):
    """The notebook file's modification time (ISO, UTC) as the submission time, when no
    better source gave one: only in the instructor's own folders (an LMS download's or an
    unpacked zip's file times say when it was downloaded or unpacked, not handed in)."""
    path = Path(submission.notebook)
    if submission.layout not in FILE_TIME_LAYOUTS or (
            scratch is not None and path.resolve().is_relative_to(Path(scratch).resolve())):
        return ""
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc) \
        .isoformat(timespec="seconds")
