"""Grade 40 submissions with the course's grader and with plain `nbgrader autograde`.

    python benchmarks/grading.py [--submissions 40] [--jobs 2] [--nbgrader-subset N]

The submissions are generated from the student version of Assignment 1 (rnn_bptt): a mix of
correct ones and ones broken in ordinary ways (stubs left, syntax error, exception, wrong
shape, NaN, a bug on one hidden case, patched numpy helpers, calls into rnnlib, a fake
score). Hangs, memory bombs and fork bombs are left out so that nbgrader, which has no
sandbox, is timed on work it can do.

Both graders get the same notebooks in the same run: first `python -m autograder grade`
(parallel, `--jobs` workers), then `nbgrader autograde` (sequential, one kernel per
notebook, every cell executed, as nbgrader does) in a copy of the same course folder.
Printed: seconds per submission for both, the speed-up, and the grader's overhead per
submission (a worker's wall time for a submission minus the time spent in the student's
functions). `--nbgrader-subset N` times nbgrader on the first N submissions only (the
speed-up is then per submission); the default runs it on all of them.
"""

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from autograder_cases import hostile  # noqa: E402

from autograder import commands  # noqa: E402
from autograder.gradebook import nbgrader_env  # noqa: E402
from autograder.workdir import Workdir  # noqa: E402

MIX = ("correct", "instructor", "released", "syntax-error", "exception", "wrong-shape", "nan",
       "partial", "patched-helpers", "calls-rnnlib", "fake-score", "runtime-warning")


def make_submissions(workdir, folder, count):
    by_name = {case.student: case for case in hostile.RNN_CASES}
    cases = []
    for k in range(count):
        base = by_name[MIX[k % len(MIX)]]
        cases.append(hostile.Case(f"{base.student}-{k:02d}", base.what, replace=base.replace,
                                  broken=base.broken, base=base.base, edit=base.edit))
    hostile.write_cases(folder, "rnn_bptt", cases,
                        workdir.release("rnn_bptt") / "rnn_bptt.ipynb",
                        workdir.source("rnn_bptt") / "rnn_bptt.ipynb")
    return cases


def run_nbgrader(course, students):
    """Time `nbgrader autograde rnn_bptt` over the given students (sequential)."""
    submitted = course / "submitted"
    for folder in submitted.iterdir():
        if folder.name not in students:
            shutil.rmtree(folder)
    for name in ("autograded", "feedback", "results"):
        shutil.rmtree(course / name, ignore_errors=True)
    env = nbgrader_env()
    # the kernels must find rnnlib and the self-checks, as in a student's environment
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = env.get("OMP_NUM_THREADS", "1")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "rnn_bptt",
                           "--force"], cwd=course, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stdout[-3000:])
    export = course / "nbgrader_grades.csv"
    subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(export)],
                   cwd=course, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scores = {}
    if export.exists():
        with open(export, newline="") as handle:
            for row in csv.DictReader(handle):
                if row["assignment"] == "rnn_bptt" and row["student_id"] in students:
                    scores[row["student_id"]] = float(row["raw_score"])
    return seconds, scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--nbgrader-subset", type=int, default=None,
                        help="time nbgrader on this many submissions only")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="grading-benchmark-"))
    try:
        workdir = Workdir(root / "course")
        print(f"generating rnn_bptt in {workdir.root} ...", flush=True)
        commands.generate(workdir, "rnn_bptt", quiet=True)
        cases = make_submissions(workdir, root / "submissions", args.submissions)
        n = len(cases)

        started = time.perf_counter()
        summary = commands.grade(workdir, "rnn_bptt", root / "submissions", jobs=args.jobs,
                                 progress=False, out=io.StringIO())
        ours = time.perf_counter() - started
        records = summary.records
        batch = summary.seconds
        overheads = [r["seconds"] - r["student_seconds"] for r in records]
        student_compute = sum(r["student_seconds"] for r in records)

        subset = [c.student for c in cases][:args.nbgrader_subset or n]
        course = root / "nbgrader-course"
        shutil.copytree(workdir.root, course)
        print(f"running plain `nbgrader autograde` on {len(subset)} submissions "
              "(sequential) ...", flush=True)
        theirs, their_scores = run_nbgrader(course, set(subset))

        ours_per = ours / n
        theirs_per = theirs / len(subset)
        print()
        print(f"submissions: {n} ({', '.join(MIX)}; cycled)")
        print(f"python -m autograder grade (--jobs {args.jobs}, sandbox {summary.mode}): "
              f"{ours:.1f} s in all including start-up and gradebook, {ours_per:.2f} s per "
              f"submission (batch {batch:.1f} s)")
        print(f"  grader overhead per submission (worker wall time minus student code): "
              f"mean {sum(overheads) / n:.2f} s, max {max(overheads):.2f} s; student code "
              f"{student_compute:.1f} s in all")
        print(f"nbgrader autograde (sequential): {theirs:.1f} s for {len(subset)}, "
              f"{theirs_per:.2f} s per submission")
        print(f"speed-up: {theirs_per / ours_per:.1f}x per submission")
        goal_speed = theirs_per / ours_per >= 5
        goal_overhead = max(overheads) <= 1.5
        print(f"goal >= 5x faster: {'met' if goal_speed else 'NOT met'}; goal <= 1.5 s "
              f"overhead per submission: {'met' if goal_overhead else 'NOT met'}")
        ours_scores = {r["student"]: r["total"] for r in records}
        differ = {s: (ours_scores[s], their_scores.get(s)) for s in subset
                  if their_scores.get(s) is not None
                  and abs(ours_scores[s] - their_scores[s]) > 1e-6}
        print(f"submissions where nbgrader's in-kernel tests gave different points: "
              f"{len(differ)}")
        for student, (mine, theirs_score) in sorted(differ.items()):
            print(f"  {student}: autograder {mine:g}, nbgrader {theirs_score:g}")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
