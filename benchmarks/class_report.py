"""Time `python -m autograder report` on a large class (default 200 submissions).

    python benchmarks/class_report.py [--submissions 200]

Grading 200 notebooks takes minutes and is timed by benchmarks/grading.py; what this times is
the report alone, so the records are generated: every student gets a submitted notebook in a
style of their own (tests/autograder_cases/styles.py, the variants repeat after 81 students),
and a record whose parts carry reasons the real ``spec.compare`` writes. Printed: the seconds
of the whole command (records read, figures drawn, every pair of students compared by
copydetect) and of the similarity section alone.
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from autograder_cases import hostile  # noqa: E402
from autograder_cases.styles import class_styles  # noqa: E402

from autograder import classreport, commands  # noqa: E402
from autograder.record import PartResult, Record  # noqa: E402
from autograder.spec import compare  # noqa: E402
from autograder.workdir import Workdir, atomic_write  # noqa: E402

PARTS = {"rnn_step_forward": 15.0, "rnn_step_backward": 25.0, "rnn_forward": 15.0,
         "rnn_backward": 30.0, "temporal_softmax_loss": 15.0}


def _reasons():
    rng = np.random.default_rng(0)
    good = rng.standard_normal((4, 4))
    return [compare("dWh", good.T, good), compare("dx", -good, good),
            compare("db", np.zeros_like(good), good), compare("h", good[:3], good), ""]


def build(work, count):
    commands.generate(work, "rnn_bptt", quiet=True)
    released = work.release("rnn_bptt") / "rnn_bptt.ipynb"
    source = work.source("rnn_bptt") / "rnn_bptt.ipynb"
    reasons, pick = _reasons(), random.Random(0)
    cases = [hostile.Case(f"s{i:03d}", "generated", replace=class_styles(i % 81))
             for i in range(count)]
    folder = Path(tempfile.mkdtemp(prefix="class-report-"))
    hostile.write_cases(folder, "rnn_bptt", cases, released, source)
    for case in cases:
        target = work.submitted(case.student, "rnn_bptt")
        target.mkdir(parents=True, exist_ok=True)
        (target / "rnn_bptt.ipynb").write_bytes(
            (folder / case.student / "submission.ipynb").read_bytes())
        parts = []
        for name, points in PARTS.items():
            reason = pick.choice(reasons)
            parts.append(PartResult(name, points, points=0.0 if reason else points,
                                    passed=0 if reason else 4, cases=4, reason=reason))
        record = Record(student=case.student, assignment="rnn_bptt", max=100.0, parts=parts,
                        sandbox={"mode": "bwrap", "isolated": True},
                        seconds=round(pick.uniform(0.8, 2.5), 3))
        path = work.record_path("rnn_bptt", case.student)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, record.to_json().encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Workdir(Path(tmp) / "grading")
        build(work, args.submissions)
        started = time.perf_counter()
        classreport.write_report(work, "rnn_bptt", Path(tmp) / "report.html")
        whole = time.perf_counter() - started
        records = work.read_records("rnn_bptt")
        started = time.perf_counter()
        classreport._similar(work, "rnn_bptt", records)
        similar = time.perf_counter() - started
    print(f"{args.submissions} submissions: report {whole:.2f} s "
          f"(similarity alone {similar:.2f} s)")


if __name__ == "__main__":
    main()
