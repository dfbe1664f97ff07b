"""Grading: one submission -> one ``Record``; a batch yields Records as they finish.

``grade_submission`` builds the job folder of a submission (solution cells found by
``grade_id``, hidden inputs from a fresh secret seed), runs the sandbox and scores the
report against the references, in this process. Nothing here writes the work folder or
prints: the caller (``commands``) loads the course into a ready ``Context`` and is the
single writer of what comes back. ``run_batch`` takes an executor: a thread pool by
default, or anything with ``concurrent.futures.Executor``'s ``submit`` that returns
``concurrent.futures.Future`` objects (for example ``distributed.Client.get_executor()``).

A record is keyed by the grader's fingerprint, the sandbox mode, the source notebook and the
submitted notebook, so running the same batch again re-grades nothing. The fingerprint is a
hash of the source of every module that can change a score: the import closure of this
module and of the assignment's module, inside ``autograder`` and ``rnnlib``, computed from
their ``import`` statements (see ``fingerprint_files``).
"""

import ast
import hashlib
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .notebooks import called_names, nbgrader_meta, notebook_digest, read_notebook, solution_cells
from .record import PartResult, Record
from .sandbox import run_job, write_job
from .scoring import group_frames, score_part
from .spec import hidden_cases

TRACKED_PACKAGES = ("autograder", "rnnlib")


# ----------------------------------------------------------------------------- fingerprint
def _module_file(name):
    """The file of module ``name`` of a tracked package, found on disk (nothing imported):
    in the folders of its package (``__path__``, which may have been extended)."""
    if name.split(".")[0] not in TRACKED_PACKAGES:
        return None
    parent, _, leaf = name.rpartition(".")
    if not parent:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        return Path(path) if path else None
    package = sys.modules.get(parent)
    if package is not None:
        folders = list(getattr(package, "__path__", []))
    else:
        init = _module_file(parent)
        folders = [init.parent] if init is not None and init.name == "__init__.py" else []
    for folder in folders:
        for candidate in (Path(folder) / leaf / "__init__.py", Path(folder) / f"{leaf}.py"):
            if candidate.is_file():
                return candidate
    return None


def _imports(name, path):
    """Names of the tracked modules that module ``name`` (file ``path``) imports."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here.split(".")
            if node.level:
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    closed = set()
    for module in found:  # importing a.b.c runs a and a.b as well
        parts = module.split(".")
        closed.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
    return {module for module in closed if _module_file(module) is not None}


def fingerprint_files(modules=("autograder.grading",)):
    """Files of ``modules`` and of every tracked module they import, directly or not."""
    seen, stack = {}, list(modules)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            raise ValueError(f"{name} is not a module of {' or '.join(TRACKED_PACKAGES)}")
        seen[name] = path
        parents = {name.rsplit(".", k)[0] for k in range(1, name.count(".") + 1)}
        stack.extend((_imports(name, path) | parents) - set(seen))
    return [seen[name] for name in sorted(seen)]


def grader_fingerprint(modules=("autograder.grading",)):
    """Changes whenever the code that decides a grade changes (then everything is re-graded):
    the grader's version and the source of ``fingerprint_files(modules)``."""
    digest = hashlib.sha256(__version__.encode())
    for path in fingerprint_files(modules):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# ----------------------------------------------------------------------------- one submission
@dataclass
class Context:
    """Everything a worker needs; read-only while the batch runs (and picklable, so that a
    process or cluster executor can ship it)."""
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


def record_key(ctx, digest):
    return f"{ctx.fingerprint}:{ctx.mode}:{ctx.source.digest[:16]}:{digest}"


def expected_key(ctx, submission):
    """The key that grading ``submission`` now would give its record."""
    if submission.notebook is None:
        return record_key(ctx, "none:" + submission.problem)
    return record_key(ctx, notebook_digest(submission.notebook))


def _empty_parts(ctx, reason):
    return [PartResult(name=p.name, max_points=ctx.source.points[p.name],
                       cases=len(p.shapes), reason=reason,
                       bonus=p.name in ctx.source.bonus) for p in ctx.parts]


# what a Record keeps of where its Submission came from
SUBMISSION_FIELDS = ("display_name", "lms_id", "late", "submitted_at", "original_name",
                     "layout")


WRONG_ASSIGNMENT = "wrong assignment"


def other_assignment(ctx, nb):
    """Why ``nb`` is another assignment's notebook ("" when it is not): it has nbgrader
    cells, and none of their grade_ids is one of this assignment's. Such a notebook is
    refused rather than graded 0, so that a wrong upload never becomes a grade."""
    ids = {nbgrader_meta(cell).get("grade_id") for cell in nb.cells} - {None, ""}
    ours = set(ctx.part_names) | set(ctx.source.test_cells.values())
    if not ids or ids & ours:
        return ""
    shown = ", ".join(sorted(str(i) for i in ids)[:4])
    return (f"this notebook is not {ctx.assignment}: its graded cells ({shown}) are none of "
            f"this assignment's ({', '.join(ctx.part_names[:4])}); refused, nothing written "
            "to the gradebook (was the wrong file handed in?)")


def grade_submission(ctx, submission):
    """The Record of one submission. Never raises."""
    started = time.monotonic()
    record = Record(student=submission.student, assignment=ctx.assignment,
                    max=ctx.source.max_points, started=time.time(), grader=ctx.fingerprint,
                    sandbox={"mode": ctx.mode, "isolated": ctx.mode == "bwrap"},
                    **{name: getattr(submission, name) for name in SUBMISSION_FIELDS})
    try:
        if submission.notebook is None:
            record.status = "no notebook"
            record.key = record_key(ctx, "none:" + submission.problem)
            parts = _empty_parts(ctx, submission.problem)
        else:
            digest = notebook_digest(submission.notebook)
            record.key = record_key(ctx, digest)
            record.notebook_digest = digest
            try:
                nb = read_notebook(submission.notebook)
            except ValueError as exc:
                record.status = "unreadable"
                parts = _empty_parts(ctx, str(exc))
            else:
                refused = other_assignment(ctx, nb)
                if refused:
                    record.status = WRONG_ASSIGNMENT
                    parts = _empty_parts(ctx, refused)
                else:
                    parts = _grade_notebook(ctx, nb, record)
    except Exception:  # a bug of the grader: say so, the batch goes on
        record.status = "grader error"
        record.key = record.key or record_key(ctx, "error")
        text = traceback.format_exc(limit=6)
        record.notes.append("internal grader error (re-run the grade command; if it "
                            "persists, report it): " + text[-1200:])
        parts = _empty_parts(ctx, "internal grader error, see the notes")
    record.parts = parts
    record.seconds = round(time.monotonic() - started, 4)
    record.finished = time.time()
    record.student_seconds = round(sum(p.student_seconds for p in parts), 4)
    record.graded_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return record


def _grade_notebook(ctx, nb, record):
    cells, notes = solution_cells(nb, ctx.part_names)
    record.notes.extend(notes)
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
            record.notes.append(problem)
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
    _blame_callees(ctx, cells, results)
    return results


def _blame_callees(ctx, cells, results):
    """Say so when a failing function calls (or is fed by) another graded function that fails.

    Points are unchanged (a caller is graded with the student's own callees, as a student
    would use it); the note names the function to fix first, which is the actionable part.
    """
    by_name = {r.name: r for r in results}
    sources = dict(cells)
    failing = {r.name for r in results if r.passed < r.cases}
    for part in ctx.parts:
        result = by_name[part.name]
        if part.name not in failing or part.name not in sources:
            continue
        callees = called_names(sources[part.name], failing - {part.name})
        if part.forward in failing and part.forward != part.name:
            callees.add(part.forward)
        for callee in sorted(callees):
            wrong = by_name[callee]
            result.notes.append(
                f"{callee}, which {part.name} uses, is itself wrong ({wrong.passed}/"
                f"{wrong.cases} hidden cases correct): fix {callee} first; {part.name} may "
                "fail only because of it")


# ----------------------------------------------------------------------------- batch
def run_batch(ctx, submissions, executor=None, jobs=2):
    """Grade ``submissions``; yield their Records in the order they finish.

    ``executor``: a ``concurrent.futures.Executor`` (or an object with the same ``submit``
    returning ``concurrent.futures.Future``). Without one, a thread pool of ``jobs`` workers
    is made and shut down when the generator ends; an executor passed in is left running.
    """
    own = executor is None
    if own:
        executor = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures = []
    try:
        futures = [executor.submit(grade_submission, ctx, s) for s in submissions]
        for future in as_completed(futures):
            yield future.result()  # grade_submission never raises
    finally:
        for future in futures:
            future.cancel()  # only those not started yet: a consumer that stopped early
        if own:
            executor.shutdown(wait=True)
