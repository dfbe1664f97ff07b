"""Code outside the functions cannot cost unrelated points; reasons a student can act on.

Each case is a correct rnn_bptt submission with hostile code at the TOP LEVEL of one graded
cell (not inside a function). The policy (autograder/harness.py): only imports, definitions
and assignments run at the top level of a graded cell; the rest is skipped and listed on the
feedback page; assignments are time-boxed and cannot os._exit. So every case must keep full
points, graded for real in the sandbox (bubblewrap where it works) and in the fallback mode.
"""

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from autograder_cases import hostile
from autograder_cases.solutions import SOLUTIONS

from autograder import commands
from autograder.sandbox import bwrap_works
from autograder.workdir import Workdir

REPO = Path(__file__).resolve().parents[1]
LIMITS = {"timeout_seconds": 8.0, "cpu_seconds": 9, "memory_mb": 768}
SOL = SOLUTIONS["rnn_bptt"]


def _with_top(part, top, before=False):
    body = SOL[part]
    return {part: (top + "\n" + body) if before else (body + "\n" + top)}


TOP_LEVEL_CASES = [
    hostile.Case("top-exit", "os._exit(0) at the top level of rnn_forward's cell",
                 replace=_with_top("rnn_forward", "import os\nos._exit(0)\n")),
    hostile.Case("top-exit-assign", "an assignment that calls os._exit at the top level",
                 replace=_with_top("rnn_step_backward", "import os\nstatus = os._exit(3)\n")),
    hostile.Case("top-loop", "an infinite top-level loop in rnn_step_forward's cell",
                 replace=_with_top("rnn_step_forward", "while True:\n    pass\n")),
    hostile.Case("top-loop-assign", "a never-ending assignment at the top level",
                 replace=_with_top("rnn_backward",
                                   "import itertools\n"
                                   "first = next(i for i in itertools.count() if i < 0)\n")),
    hostile.Case("top-walk", "a top-level os.walk('/') before temporal_softmax_loss",
                 replace=_with_top("temporal_softmax_loss",
                                   "import os\nfor root, dirs, files in os.walk('/'):\n"
                                   "    print(root)\n", before=True)),
    hostile.Case("top-nameerror", "a top-level NameError in rnn_forward's cell",
                 replace=_with_top("rnn_forward", "h_test, _ = rnn_forward(x_demo, h0, Wx, "
                                   "Wh, b)\nscale = undefined_constant * 2\n")),
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    workdir = Workdir(tmp_path_factory.mktemp("robust") / "grading")
    commands.generate(workdir, "rnn_bptt", quiet=True)
    return workdir


def _grade(generated, tmp_path, cases, sandbox):
    workdir = Workdir(tmp_path / "grading")
    shutil.copytree(generated.root, workdir.root)
    folder = tmp_path / "submissions"
    written = hostile.write_cases(folder, "rnn_bptt", cases,
                                  workdir.release("rnn_bptt") / "rnn_bptt.ipynb",
                                  workdir.source("rnn_bptt") / "rnn_bptt.ipynb")
    out = io.StringIO()
    commands.grade(workdir, "rnn_bptt", folder, jobs=2, limits=LIMITS, progress=False,
                   out=out, sandbox=sandbox)
    return workdir.read_records("rnn_bptt"), written, out.getvalue()


MODES = ["none"] + (["bwrap"] if bwrap_works() else [])


@pytest.mark.parametrize("sandbox", MODES)
def test_top_level_code_costs_no_points(generated, tmp_path, sandbox):
    records, written, output = _grade(generated, tmp_path, TOP_LEVEL_CASES, sandbox)
    assert set(records) == set(written)
    for student, record in records.items():
        for part in record.parts:
            assert part.points == pytest.approx(part.max_points), (
                f"{student} ({written[student].what}): {part.name} got {part.points}: "
                f"{part.reason}; {part.notes}")
    assert "MissingIDFieldWarning" not in output

    def notes(student, part):
        return " ".join(next(p for p in records[student].parts if p.name == part).notes)

    # what did not run is listed on the part of the cell it came from, and nowhere else
    assert "not run" in notes("top-exit", "rnn_forward")
    assert "os._exit(0)" in notes("top-exit", "rnn_forward")
    assert "not run" not in notes("top-exit", "rnn_step_forward")
    assert "while True:" in notes("top-loop", "rnn_step_forward")
    assert "for root, dirs, files in os.walk('/'):" in notes("top-walk",
                                                             "temporal_softmax_loss")
    # a run assignment that misbehaves is reported as its cell's error
    assert "os._exit(3)" in notes("top-exit-assign", "rnn_step_backward")
    assert "longer than" in notes("top-loop-assign", "rnn_backward")
    nameerror = notes("top-nameerror", "rnn_forward")
    assert "undefined_constant" in nameerror and "x_demo" in nameerror


def test_name_error_for_a_name_from_another_cell_says_how_to_fix(generated, tmp_path):
    body = SOL["rnn_step_forward"].replace("np.tanh(", "activation(")
    case = hostile.Case("outside-name", "uses a helper defined in a non-graded cell",
                        replace={"rnn_step_forward": body})
    records, _, _ = _grade(generated, tmp_path, [case], "none")
    part = next(p for p in records["outside-name"].parts if p.name == "rnn_step_forward")
    assert part.points == 0
    assert "NameError: name 'activation' is not defined" in part.reason
    assert "only the graded cells and the assignment's setup cells run" in part.reason
    assert "define it inside the graded cell" in part.reason


WRONG_STEP_BACKWARD = SOL["rnn_step_backward"].replace("x.T @ da", "da.T @ x")
WRONG_BACKWARD = SOL["rnn_backward"].replace("dh[:, t] + dh_next", "dh[:, t]")
CALLER_CASES = [
    hostile.Case("callee-wrong", "rnn_step_backward wrong; rnn_backward (right) calls it",
                 replace={"rnn_step_backward": WRONG_STEP_BACKWARD}),
    hostile.Case("caller-wrong", "rnn_backward forgets dh_next; rnn_step_backward right",
                 replace={"rnn_backward": WRONG_BACKWARD}),
    hostile.Case("both-wrong", "rnn_backward and the rnn_step_backward it calls both wrong",
                 replace={"rnn_step_backward": WRONG_STEP_BACKWARD,
                          "rnn_backward": WRONG_BACKWARD}),
]


@pytest.fixture(scope="module")
def callers(generated, tmp_path_factory):
    records, _, _ = _grade(generated, tmp_path_factory.mktemp("callers"), CALLER_CASES,
                           "none")
    return {student: {p.name: p for p in record.parts} for student, record in records.items()}


def test_a_right_caller_of_a_wrong_callee_keeps_its_points(callers):
    """The policy: the caller is graded again with the reference callee; its own code is
    right, so it keeps its points, and the reason names the function to fix."""
    parts = callers["callee-wrong"]
    assert parts["rnn_step_backward"].points == 0
    backward = parts["rnn_backward"]
    assert backward.points == backward.max_points
    assert ("your rnn_backward is correct with a correct rnn_step_backward; fix "
            "rnn_step_backward") in backward.reason
    notes = " ".join(backward.notes)
    assert "rnn_step_backward, which rnn_backward uses, is itself wrong (0/4" in notes
    assert "with your own rnn_step_backward: 0/4 hidden cases correct" in notes
    assert parts["rnn_forward"].points == parts["rnn_forward"].max_points
    assert not any("is itself wrong" in n for n in parts["rnn_forward"].notes)


def test_a_wrong_caller_of_a_right_callee_loses_its_points(callers):
    parts = callers["caller-wrong"]
    assert parts["rnn_step_backward"].points == parts["rnn_step_backward"].max_points
    backward = parts["rnn_backward"]
    assert backward.points < backward.max_points   # (a one-step case needs no dh_next)
    assert "reference" not in backward.reason + " ".join(backward.notes)


def test_a_wrong_caller_of_a_wrong_callee_stays_wrong(callers):
    parts = callers["both-wrong"]
    assert parts["rnn_step_backward"].points == 0
    backward = parts["rnn_backward"]
    assert backward.points < backward.max_points
    text = backward.reason + " ".join(backward.notes)
    assert "fix rnn_step_backward first" in text
    # its own code, with the reference callee, is right only where dh_next does not matter
    # (a one-step case): the better of the two runs, never full marks
    assert (re.search(r"your rnn_backward gets [1-3]/4 hidden cases correct with a correct "
                      r"rnn_step_backward; fix rnn_step_backward first, then rnn_backward",
                      backward.reason)
            or "rnn_backward itself needs fixing too" in text)


def _without_cell_ids(path):
    """An older notebook (nbformat 4.5 without cell ids), which makes nbformat warn."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        cell.pop("id", None)
    nb["nbformat_minor"] = 5
    path.write_text(json.dumps(nb), encoding="utf-8")


@pytest.mark.parametrize("quiet", [False, True], ids=["progress-bar", "quiet"])
def test_the_grade_command_prints_no_library_warnings(generated, tmp_path, quiet):
    """`python -m autograder grade` as an instructor runs it, with every warning Python would
    show switched on (PYTHONWARNINGS=default): no line of its output is a warning."""
    workdir = tmp_path / "grading"
    shutil.copytree(generated.root, workdir)
    cases = [hostile.Case("no-ids", "cells without ids"),
             hostile.Case("wrong", "a wrong callee",
                          replace={"rnn_step_backward": WRONG_STEP_BACKWARD})]
    hostile.write_cases(tmp_path / "subs", "rnn_bptt", cases,
                        workdir / "release" / "rnn_bptt" / "rnn_bptt.ipynb",
                        workdir / "source" / "rnn_bptt" / "rnn_bptt.ipynb")
    _without_cell_ids(tmp_path / "subs" / "no-ids" / "submission.ipynb")
    command = [sys.executable, "-m", "autograder", "grade", "rnn_bptt", str(tmp_path / "subs"),
               "--workdir", str(workdir), "--jobs", "2", "--sandbox", "none"]
    env = dict(os.environ, PYTHONWARNINGS="default", PYTHONPATH=str(REPO))
    env.pop("TQDM_DISABLE", None)  # `make test` turns bars off for its logs; this test needs one
    done = subprocess.run(command + (["--quiet"] if quiet else []), capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "2 graded now" in done.stdout
    assert ("grading:" in done.stderr) != quiet     # the bar is there unless --quiet
    lines = (done.stdout + done.stderr).replace("\r", "\n").splitlines()
    assert [line for line in lines if "Warning" in line] == []
