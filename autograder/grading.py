"""Grading a batch: many submissions in parallel, one writer, nothing lost on a kill.

Worker threads each take a submission, build its job folder (solution cells found by
``grade_id``, hidden inputs from a fresh secret seed), run the sandbox and score the report
against rnnlib. Only the main thread writes: the record
``results/<assignment>/<student>.json`` (atomically), the submitted and autograded
notebooks, and the gradebook. A record is keyed by the grader's version, the source notebook
and the submitted notebook, so running the same batch again re-grades nothing, and a run
that was killed midway resumes with what was recorded.
"""

import hashlib
import json
import secrets
import shutil
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from . import gradebook as gradebook_module
from .notebook import (helper_module_source, load_source, notebook_digest, read_notebook,
                       solution_cells)
from .parts import hidden_cases, parts_of
from .results import PartResult, group_frames, score_part
from .sandbox import DEFAULT_LIMITS, NOT_ISOLATED, resolve_mode, run_job, write_job
from .submissions import collect, copy_notebook
from .workdir import SOURCE_ROOT, atomic_write, remove_stale_temporaries


def grader_fingerprint():
    """Changes whenever the code that decides a grade changes (then everything is re-graded)."""
    digest = hashlib.sha256(__version__.encode())
    here = Path(__file__).resolve().parent
    for name in ("harness.py", "parts.py", "results.py", "notebook.py", "grading.py",
                 "sandbox.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class Context:
    """Everything a worker needs; read-only while the batch runs."""
    assignment: str
    source: object
    parts: tuple
    helper_source: str
    limits: dict
    mode: str
    fingerprint: str
    tmp_root: str = None

    @property
    def part_names(self):
        return [p.name for p in self.parts]


@dataclass
class BatchSummary:
    records: list = field(default_factory=list)
    graded: int = 0
    reused: int = 0
    warnings: list = field(default_factory=list)
    mode: str = "bwrap"
    seconds: float = 0.0


def record_key(ctx, digest):
    return f"{ctx.fingerprint}:{ctx.mode}:{ctx.source.digest[:16]}:{digest}"


def prepare(workdir, assignment, mode="auto", limits=None, source_root=None):
    """Load the source assignment from the work folder (generating it first if needed)."""
    from .commands import generate  # the same steps as `python -m autograder generate`

    parts = parts_of(assignment)
    if not gradebook_module.has_assignment(workdir, assignment) \
            or not workdir.source(assignment).is_dir():
        generate(workdir, assignment, source_root=source_root, quiet=True)
    source = load_source(assignment, workdir.source(assignment), [p.name for p in parts],
                         [p.name for p in parts if p.bonus])
    helper = helper_module_source(source.setup_cells, [p.name for p in parts])
    return Context(assignment=assignment, source=source, parts=parts, helper_source=helper,
                   limits=dict(DEFAULT_LIMITS, **(limits or {})), mode=resolve_mode(mode),
                   fingerprint=grader_fingerprint())


def _empty_parts(ctx, reason):
    return [PartResult(name=p.name, max_points=ctx.source.points[p.name],
                       cases=len(p.shapes), reason=reason,
                       bonus=p.name in ctx.source.bonus) for p in ctx.parts]


def grade_submission(ctx, submission):
    """A record (dict) for one submission. Never raises."""
    started = time.monotonic()
    record = {"student": submission.student, "assignment": ctx.assignment,
              "started": time.time(),
              "grader": ctx.fingerprint, "notes": [], "status": "graded",
              "sandbox": {"mode": ctx.mode, "isolated": ctx.mode == "bwrap"}}
    try:
        if submission.notebook is None:
            record["status"] = "no notebook"
            record["key"] = record_key(ctx, "none:" + submission.problem)
            parts = _empty_parts(ctx, submission.problem)
        else:
            digest = notebook_digest(submission.notebook)
            record["key"] = record_key(ctx, digest)
            record["notebook_digest"] = digest
            try:
                nb = read_notebook(submission.notebook)
            except ValueError as exc:
                record["status"] = "unreadable"
                parts = _empty_parts(ctx, str(exc))
            else:
                parts = _grade_notebook(ctx, nb, record)
    except Exception:  # a bug of the grader: say so, the batch goes on
        record["status"] = "grader error"
        record.setdefault("key", record_key(ctx, "error"))
        text = traceback.format_exc(limit=6)
        record["notes"].append("internal grader error (re-run the grade command; if it "
                               "persists, report it): " + text[-1200:])
        parts = _empty_parts(ctx, "internal grader error, see the notes")
    record["parts"] = [p.to_dict() for p in parts]
    normal = sum(p.points for p in parts if not p.bonus)
    bonus = sum(p.points for p in parts if p.bonus)
    record["max"] = ctx.source.max_points
    record["bonus"] = round(bonus, 4)
    record["total"] = round(min(ctx.source.max_points, normal + bonus), 4)
    record["seconds"] = round(time.monotonic() - started, 4)
    record["finished"] = time.time()
    record["student_seconds"] = round(sum(p.student_seconds for p in parts), 4)
    record["graded_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return record


def _grade_notebook(ctx, nb, record):
    cells, notes = solution_cells(nb, ctx.part_names)
    record["notes"].extend(notes)
    present = {name for name, _ in cells}
    seed = secrets.randbits(64)  # secret, fresh for every submission, never stored
    inputs, references = hidden_cases(ctx.parts, seed)
    plan = {"setup_cells": ctx.source.setup_cells, "solution_cells": cells,
            "parts": [p.plan_entry() for p in ctx.parts if p.name in present],
            "limits": ctx.limits}
    needed = {f"{p.name}/" for p in ctx.parts if p.name in present}
    inputs = {k: v for k, v in inputs.items() if k.split("/", 1)[0] + "/" in needed}
    frames, problem = [], ""
    if plan["parts"]:
        job_dir = tempfile.mkdtemp(prefix="autograder-job-", dir=ctx.tmp_root)
        try:
            write_job(job_dir, plan, inputs, ctx.helper_source, ctx.mode)
            outcome = run_job(job_dir, ctx.limits, ctx.mode)
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)
        frames, problem = outcome.frames, outcome.problem
        if problem:
            record["notes"].append(problem)
    grouped = group_frames(frames)
    results = []
    for part in ctx.parts:
        points = ctx.source.points[part.name]
        bonus = part.name in ctx.source.bonus
        if part.name not in present:
            result = PartResult(name=part.name, max_points=points, cases=len(part.shapes),
                                bonus=bonus,
                                reason=f"no code cell with grade_id {part.name} (was the "
                                       "cell deleted or its metadata changed?)")
        elif part.name not in grouped:
            result = PartResult(name=part.name, max_points=points, cases=len(part.shapes),
                                bonus=bonus, reason="grading failed: " + (problem or
                                                                         "no result"))
        else:
            result = score_part(part, points, grouped[part.name], references, bonus=bonus,
                                memory_mb=ctx.limits.get("memory_mb"))
        results.append(result)
    return results


# ----------------------------------------------------------------------------- batch
def run_batch(workdir, ctx, submissions_path, jobs=2, force=False, progress=True,
              on_record=None):
    """Grade everything under ``submissions_path``; returns a BatchSummary."""
    started = time.monotonic()
    summary = BatchSummary(mode=ctx.mode)
    if ctx.mode != "bwrap":
        _hide_own_memory()
    remove_stale_temporaries(workdir.results(ctx.assignment))
    # job folders and unpacked zips live in WORKDIR/.tmp: a killed run's leftovers are
    # removed by the next run (which holds the lock, so nothing else uses them)
    scratch = workdir.root / ".tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="batch-", dir=scratch) as tmp:
        ctx.tmp_root = tmp
        submissions, warnings = collect(submissions_path, ctx.source.notebook_name,
                                        Path(tmp) / "unzipped")
        summary.warnings.extend(warnings)
        existing = workdir.read_records(ctx.assignment)
        todo, keep = [], []
        for submission in submissions:
            key = _expected_key(ctx, submission)
            old = existing.get(submission.student)
            if not force and old is not None and old.get("key") == key \
                    and old.get("status") != "grader error":
                keep.append(old)
            else:
                todo.append(submission)
        summary.reused = len(keep)
        bar = _progress(len(submissions), progress, initial=len(keep))
        with gradebook_module.open_gradebook(workdir) as gb:
            for record in keep:  # a killed run may have recorded without syncing
                gradebook_module.sync_record(gb, record, ctx.source)
                summary.records.append(record)
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                futures = {pool.submit(grade_submission, ctx, s): s for s in todo}
                for future in as_completed(futures):
                    submission = futures[future]
                    record = future.result()  # grade_submission never raises
                    _finish(workdir, ctx, submission, record, gb)
                    summary.records.append(record)
                    summary.graded += 1
                    if on_record:
                        on_record(record)
                    if bar is not None:
                        bar.update(1)
        if bar is not None:
            bar.close()
    summary.records.sort(key=lambda r: r["student"])
    summary.seconds = time.monotonic() - started
    return summary


def _hide_own_memory():
    """Without bubblewrap, student code runs as the same user as the grader: make the
    grader's /proc entries (its memory, which holds the reference values) unreadable to
    other processes of that user."""
    try:
        import ctypes

        PR_SET_DUMPABLE = 4
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _expected_key(ctx, submission):
    if submission.notebook is None:
        return record_key(ctx, "none:" + submission.problem)
    return record_key(ctx, notebook_digest(submission.notebook))


def _finish(workdir, ctx, submission, record, gb):
    """The single writer: record, notebooks, gradebook -- in this order."""
    from .feedback import autograded_notebook

    student, assignment = record["student"], ctx.assignment
    name = f"{ctx.source.notebook_name}.ipynb"
    if submission.notebook is not None:
        copy_notebook(submission.notebook, workdir.submitted(student, assignment) / name)
        try:
            nb = read_notebook(submission.notebook)
        except ValueError:
            nb = None
        graded = autograded_notebook(ctx.source.path, nb, record)
        atomic_write(workdir.autograded(student, assignment) / name, graded)
    atomic_write(workdir.record_path(assignment, student), json.dumps(record, indent=1))
    gradebook_module.sync_record(gb, record, ctx.source)


def _progress(total, enabled, initial=0):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="submission", desc="grading",
                dynamic_ncols=True)


def summary_table(summary, ctx):
    """The table printed at the end of `grade`."""
    names = [p.name for p in ctx.parts]
    lines = []
    width = max([7] + [len(r["student"]) for r in summary.records])
    lines.append(f"{'student':<{width}}  {'points':>7}  {'max':>5}  result")
    lines.append("-" * (width + 40))
    for record in summary.records:
        problems = [f"{p['name']}: {p['reason']}" for p in record["parts"]
                    if p["points"] < p["max_points"]]
        status = "all parts correct" if not problems else problems[0]
        if record.get("status") != "graded":
            status = f"[{record['status']}] " + status
        if len(status) > 90:
            status = status[:87] + "..."
        lines.append(f"{record['student']:<{width}}  {record['total']:>7.2f}  "
                     f"{record['max']:>5.0f}  {status}")
    lines.append("-" * (width + 40))
    lines.append(f"{len(summary.records)} submissions: {summary.graded} graded now, "
                 f"{summary.reused} unchanged since the last run; parts: {', '.join(names)}")
    if summary.mode != "bwrap":
        lines.append("WARNING: " + NOT_ISOLATED)
    else:
        lines.append("sandbox: bubblewrap (no network, read-only system, only numpy and the "
                     "standard library importable)")
    return "\n".join(lines)


def default_source_root():
    return SOURCE_ROOT
