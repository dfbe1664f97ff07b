"""Throughput of `grade --executor dask` on a LocalCluster of 1 and 2 worker processes.

    python benchmarks/grading_dask.py [--submissions 16] [--workers 1 2]

The submissions are correct and ordinarily broken notebooks of Assignment 1 (rnn_bptt),
generated from the student version (no hangs or memory bombs: every submission costs about
the same). For each worker count the same batch is graded from scratch into a fresh copy of
the course folder (the cluster start is not timed; the checks of the workers are).

Printed per worker count: submissions per second, the scaling efficiency
(throughput(n) / (n * throughput(1))) and the p50/p95 of the seconds a worker spent on one
submission (``Record.seconds``). The figures depend on the machine's load: on a shared
machine (other jobs using the cores) the efficiency says little about an idle cluster;
report the load with the figures. The CPU time of the client process is printed as well.
"""

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from autograder_cases import hostile  # noqa: E402

from autograder import commands  # noqa: E402
from autograder.executors import dask_executor  # noqa: E402
from autograder.workdir import Workdir  # noqa: E402

NAMES = ("correct", "released", "syntax-error", "exception", "wrong-shape", "nan", "partial",
         "patched-helpers", "calls-rnnlib")
MODULES = ("autograder.grading", "autograder.assignments.rnn_bptt")
LIMITS = {"timeout_seconds": 8.0, "cpu_seconds": 9, "memory_mb": 768}


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sandbox", default="auto", choices=["auto", "bwrap", "none"])
    args = parser.parse_args(argv)
    if args.submissions < 1 or min(args.workers) < 1:
        parser.error("--submissions and --workers must be at least 1")
    base = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    try:
        generated = Workdir(base / "generated")
        commands.generate(generated, "rnn_bptt", quiet=True)
        templates = [c for c in hostile.RNN_CASES if c.student in NAMES]
        cases = [hostile.Case(f"s{k:04d}-{c.student}", c.what, replace=c.replace,
                              broken=c.broken, base=c.base)
                 for k, c in ((k, templates[k % len(templates)])
                              for k in range(args.submissions))]
        folder = base / "submissions"
        hostile.write_cases(folder, "rnn_bptt", cases,
                            generated.release("rnn_bptt") / "rnn_bptt.ipynb",
                            generated.source("rnn_bptt") / "rnn_bptt.ipynb")
        print(f"{args.submissions} submissions of rnn_bptt, sandbox {args.sandbox}, "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
              "(shared machine: other jobs compete for the cores)")
        print(f"{'workers':>7}  {'subm/s':>7}  {'efficiency':>10}  {'p50 s':>6}  {'p95 s':>6}"
              f"  {'client cpu s':>12}")
        base_rate, totals = None, None
        for n in args.workers:
            workdir = Workdir(base / f"w{n}")
            shutil.copytree(generated.root, workdir.root)
            with dask_executor(MODULES, local_workers=n) as executor:
                cpu, started = time.process_time(), time.monotonic()
                summary = commands.grade(workdir, "rnn_bptt", folder, sandbox=args.sandbox,
                                         limits=LIMITS, progress=False, out=io.StringIO(),
                                         executor=executor)
                wall, cpu = time.monotonic() - started, time.process_time() - cpu
            got = {r.student: r.total for r in summary.records}
            if totals is not None and got != totals:
                raise SystemExit(f"{n} workers gave other totals than before: {got}")
            totals = got
            rate = summary.graded / wall
            base_rate = base_rate or rate / args.workers[0]
            seconds = [r.seconds for r in summary.records]
            print(f"{n:>7}  {rate:>7.2f}  {rate / (n * base_rate):>10.2f}  "
                  f"{percentile(seconds, 0.5):>6.2f}  {percentile(seconds, 0.95):>6.2f}  "
                  f"{cpu:>12.1f}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
