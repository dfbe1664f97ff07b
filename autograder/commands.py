"""The instructor commands as functions: generate, grade, feedback, export.

``python -m autograder`` (see cli.py) is a thin layer over these; tests and the benchmark
call them directly.
"""

import csv
import shutil
import sys
from pathlib import Path

from . import gradebook as gradebook_module
from .grading import prepare, run_batch, summary_table
from .notebook import helper_module_source, load_source
from .parts import parts_of
from .workdir import SOURCE_ROOT, Workdir


def generate(workdir, assignment, source_root=None, quiet=False):
    """Copy the source assignment into the work folder and let nbgrader make the student
    version (``release/<assignment>/``) and register the assignment in the gradebook."""
    workdir = workdir if isinstance(workdir, Workdir) else Workdir(workdir)
    parts = parts_of(assignment)
    origin = Path(source_root or SOURCE_ROOT) / assignment
    if not origin.is_dir():
        raise FileNotFoundError(f"no source assignment {origin}")
    # check that the grader can grade it before touching anything
    source = load_source(assignment, origin, [p.name for p in parts],
                         [p.name for p in parts if p.bonus])
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
    from .grading import grade_submission, prepare
    from .submissions import Submission

    ctx = prepare(workdir, assignment, mode=sandbox)
    notebook = next(iter(sorted(workdir.source(assignment).glob("*.ipynb"))))
    record = grade_submission(ctx, Submission("instructor-solution", notebook))
    wrong = [f"{p['name']}: {p['reason']}" for p in record["parts"]
             if p["points"] < p["max_points"]]
    if wrong:
        raise RuntimeError("the instructor's solution does not get full marks from the "
                           "grader, so students could not either:\n  " + "\n  ".join(wrong))
    return record


def grade(workdir, assignment, submissions, jobs=2, sandbox="auto", limits=None,
          force=False, progress=True, source_root=None, out=sys.stdout, on_record=None):
    workdir = workdir if isinstance(workdir, Workdir) else Workdir(workdir)
    with workdir.lock():
        ctx = prepare(workdir, assignment, mode=sandbox, limits=limits,
                      source_root=source_root)
        if ctx.mode != "bwrap":
            print("WARNING: grading is NOT ISOLATED: bubblewrap is not available, student "
                  "code can read this user's files. Install bubblewrap.", file=sys.stderr)
        summary = run_batch(workdir, ctx, submissions, jobs=jobs, force=force,
                            progress=progress, on_record=on_record)
    if out is not None:
        for warning in summary.warnings:
            print(f"note: {warning}", file=out)
        print(summary_table(summary, ctx), file=out)
        print(f"graded in {summary.seconds:.1f} s with {jobs} worker(s); records in "
              f"{workdir.results(assignment)}; gradebook {workdir.db_path}", file=out)
    return summary


def _records_and_source(workdir, assignment):
    records = workdir.read_records(assignment)
    if not records:
        raise RuntimeError(f"nothing graded yet for {assignment} in {workdir.root}; run "
                           f"`python -m autograder grade {assignment} SUBMISSIONS` first")
    parts = parts_of(assignment)
    source = load_source(assignment, workdir.source(assignment), [p.name for p in parts],
                         [p.name for p in parts if p.bonus])
    return records, source


def feedback(workdir, assignment, progress=True, out=sys.stdout):
    from .feedback import find_mathjax, write_feedback

    workdir = workdir if isinstance(workdir, Workdir) else Workdir(workdir)
    with workdir.lock():
        records, source = _records_and_source(workdir, assignment)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(records), unit="page", desc="feedback", dynamic_ncols=True)
        pages = write_feedback(workdir, assignment, source.notebook_name,
                               [records[s] for s in sorted(records)], progress=bar)
        if bar is not None:
            bar.close()
    if out is not None:
        print(f"wrote {len(pages)} feedback pages under {workdir.root / 'feedback'}", file=out)
    if find_mathjax() is None:
        print("warning: no local MathJax found (the package sphinx-mathjax-offline is not "
              "installed): the pages show math as TeX source", file=sys.stderr)
    return pages


def export(workdir, assignment, csv_path, out=sys.stdout):
    """CSV of the gradebook: student id, points per graded function, total, max."""
    workdir = workdir if isinstance(workdir, Workdir) else Workdir(workdir)
    with workdir.lock():
        records, source = _records_and_source(workdir, assignment)
        rows = gradebook_module.gradebook_rows(workdir, assignment, source)
    names = [p.name for p in parts_of(assignment)]
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", *names, "total", "max"])
        for student in sorted(rows):
            points = rows[student]
            normal = sum(points.get(n) or 0.0 for n in names if n not in source.bonus)
            bonus = sum(points.get(n) or 0.0 for n in names if n in source.bonus)
            total = min(source.max_points, normal + bonus)
            writer.writerow([student, *[_fmt(points.get(n)) for n in names], _fmt(total),
                             _fmt(source.max_points)])
    if out is not None:
        print(f"wrote {len(rows)} students to {csv_path}", file=out)
    return csv_path


def _fmt(value):
    if value is None:
        return ""
    return f"{value:.4g}" if value != int(value) else str(int(value))
