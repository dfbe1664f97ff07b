"""End-to-end tests of `python -m autograder` on generated submissions.

The real source assignments (autograder/source/) are generated with nbgrader once per test
session; every hostile case of tests/autograder_cases/hostile.py is graded in one parallel
batch and must receive exactly the points it is expected to. Then: the gradebook, nbgrader's
own export, the CSV export, the feedback pages, an idempotent re-run, the fallback without
bubblewrap, an LMS zip, and a run that is killed midway and resumed.
"""

import csv
import io
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import chromium
import nbformat
import pytest
from autograder_cases import hostile

from autograder import commands
from autograder.gradebook import nbgrader_env, open_gradebook
from autograder.sandbox import bwrap_works
from autograder.workdir import Workdir

REPO = Path(__file__).resolve().parents[1]
# Small limits keep the suite quick: a hang costs LIMITS["timeout_seconds"].
LIMITS = {"timeout_seconds": 8.0, "cpu_seconds": 9, "memory_mb": 768}
ISOLATED = bwrap_works()


def _notice_mode():
    if not ISOLATED:
        warnings.warn("bubblewrap (bwrap) is not usable here: the grading tests run in the "
                      "fallback mode (resource limits and seccomp, NOT isolated); the "
                      "isolation-only expectations are replaced by the fallback's",
                      UserWarning, stacklevel=2)


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """A work folder in which both assignments were generated (by nbgrader)."""
    workdir = Workdir(tmp_path_factory.mktemp("generated") / "grading")
    for assignment in ("rnn_bptt", "lstm_backward"):
        release, _ = commands.generate(workdir, assignment, quiet=True)
        assert (release / f"{assignment}.ipynb").is_file()
    return workdir


def copy_workdir(generated, target):
    shutil.copytree(generated.root, target)
    return Workdir(target)


def source_points(workdir, assignment):
    from autograder.assignments import parts_of
    from autograder.notebooks import load_source

    parts = parts_of(assignment)
    return load_source(assignment, workdir.source(assignment), [p.name for p in parts],
                       [p.name for p in parts if p.bonus])


def write_submissions(workdir, assignment, cases, folder, values=None):
    return hostile.write_cases(folder, assignment, cases,
                               workdir.release(assignment) / f"{assignment}.ipynb",
                               workdir.source(assignment) / f"{assignment}.ipynb", values)


def grade(workdir, assignment, folder, **kwargs):
    out = io.StringIO()
    options = dict(jobs=2, limits=LIMITS, progress=False, out=out)
    options.update(kwargs)
    summary = commands.grade(workdir, assignment, folder, **options)
    return summary, out.getvalue()


def sleepers():
    """Processes left over by the many-processes case (`sleep 321`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == b"sleep\x00321\x00":
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def assert_points(record, case, source, isolated):
    expected = hostile.expected_parts(case, source.points, isolated=isolated)
    got = {p.name: p.points for p in record.parts}
    assert got == pytest.approx(expected), (
        f"{case.student} ({case.what}): got {got}, expected {expected}; reasons: "
        + json.dumps({p.name: p.reason for p in record.parts}, indent=1))
    total = hostile.expected_total(case, source.points, source.bonus, source.max_points,
                                   isolated=isolated)
    assert record.total == pytest.approx(total), case.student


# ----------------------------------------------------------------------------- the batch
@pytest.fixture(scope="module")
def rnn_batch(generated, tmp_path_factory):
    _notice_mode()
    base = tmp_path_factory.mktemp("rnn")
    workdir = copy_workdir(generated, base / "grading")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    folder = base / "submissions"
    values = {"GRADEBOOK": str(workdir.db_path),
              "OTHER_NOTEBOOK": str(folder / "correct" / "submission.ipynb"),
              "REPO_FILE": str(REPO / "rnnlib" / "rnn.py"),
              "PORT": server.getsockname()[1]}
    cases = write_submissions(workdir, "rnn_bptt", hostile.RNN_CASES, folder, values)
    before = set(sleepers())
    summary, output = grade(workdir, "rnn_bptt", folder)
    try:
        server.accept()
        connected = True
    except BlockingIOError:
        connected = False
    finally:
        server.close()
    return {"workdir": workdir, "summary": summary, "output": output, "cases": cases,
            "folder": folder, "connected": connected,
            "sleepers": set(sleepers()) - before,
            "source": source_points(workdir, "rnn_bptt")}


def test_every_hostile_case_gets_exactly_its_points(rnn_batch):
    records = rnn_batch["workdir"].read_records("rnn_bptt")
    assert set(records) == set(rnn_batch["cases"])
    for student, case in rnn_batch["cases"].items():
        assert_points(records[student], case, rnn_batch["source"], ISOLATED)


def test_each_failure_has_a_clear_reason(rnn_batch):
    records = rnn_batch["workdir"].read_records("rnn_bptt")

    def reason(student, part):
        found = next(p for p in records[student].parts if p.name == part)
        return found.reason + " | " + " | ".join(found.notes)

    expected_words = {
        ("released", "rnn_step_forward"): "NotImplementedError",
        ("syntax-error", "rnn_backward"): "SyntaxError",
        ("exception", "temporal_softmax_loss"): "KeyError: 'oops'",
        ("wrong-shape", "rnn_step_backward"): "dWx has shape (6, 5), expected (5, 6): "
                                              "dWx looks transposed",
        ("nan", "temporal_softmax_loss"): "loss contains NaN",
        ("partial", "rnn_forward"): "3/4 hidden cases correct; case 2 (N=1",
        ("infinite-loop", "rnn_forward"): "time limit",
        ("ignores-sigint", "rnn_step_backward"): "time limit",
        ("os-exit", "rnn_backward"): "exited (exit code 0)",
        ("crash", "rnn_step_forward"): "crashed (SIGSEGV)",
        ("memory-bomb", "rnn_step_backward"): "MemoryError",
        ("memory-bomb", "temporal_softmax_loss"): "the memory limit is 768 MB",
        ("many-processes", "temporal_softmax_loss"): "PermissionError",
        ("output-flood", "rnn_step_forward"): "printed output was cut",
        ("patched-helpers", "rnn_step_forward"): "h is wrong",
        ("fake-score", "rnn_step_forward"): "hidden cases correct",
        ("calls-rnnlib", "rnn_step_backward"): "not available while grading",
        ("calls-rnnlib", "rnn_forward"): "the graded functions must be your own code",
        ("unreadable", "rnn_step_forward"): "could not be read",
        ("no-notebook", "rnn_step_forward"): "no .ipynb file",
    }
    # filling memory takes long on a loaded machine: the time limit may stop it first
    slow_ok = {("memory-bomb", "rnn_step_backward"): "time limit"}
    for (student, part), words in expected_words.items():
        said = reason(student, part)
        assert words in said or slow_ok.get((student, part), words) in said, \
            (student, part, said)
    # what the student printed is never taken for a result, only kept (escaped) as output
    fake = next(p for p in records["fake-score"].parts if p.name == "rnn_step_forward")
    assert "Score: 100/100" in fake.output and fake.points == 0


def test_sandbox_blocks_network_processes_and_files(rnn_batch):
    records = rnn_batch["workdir"].read_records("rnn_bptt")
    assert not rnn_batch["connected"], "a submission opened a connection to the host"
    assert not rnn_batch["sleepers"], "a submission left processes behind"
    leaks = [p.reason for p in records["reads-files"].parts if "LEAK" in p.reason]
    if ISOLATED:
        assert records["reads-files"].sandbox == {"mode": "bwrap", "isolated": True}
        assert not leaks
    else:
        assert "NOT ISOLATED" in rnn_batch["output"]
        assert leaks, "without bubblewrap the file read is expected to succeed"


def test_batch_ran_in_parallel_and_summarised(rnn_batch):
    records = list(rnn_batch["workdir"].read_records("rnn_bptt").values())
    spans = sorted((r.started, r.finished) for r in records)
    overlapping = any(b[0] < a[1] for a, b in zip(spans, spans[1:]))
    assert overlapping, "with jobs=2 two submissions must be graded at the same time"
    output = rnn_batch["output"]
    for student in rnn_batch["cases"]:
        assert student in output
    assert f"{len(rnn_batch['cases'])} submissions: {len(rnn_batch['cases'])} graded now" \
        in output
    # the numpy.py and other files beside a notebook are ignored
    assert (rnn_batch["folder"] / "numpy-beside" / "numpy.py").exists()


def test_gradebook_holds_each_student_once_with_the_points(rnn_batch):
    workdir = rnn_batch["workdir"]
    records = workdir.read_records("rnn_bptt")
    with sqlite3.connect(workdir.db_path) as db:
        rows = db.execute(
            "SELECT student.id, COUNT(*) FROM submitted_assignment "
            "JOIN student ON student.id = submitted_assignment.student_id "
            "JOIN assignment ON assignment.id = submitted_assignment.assignment_id "
            "WHERE assignment.name = 'rnn_bptt' GROUP BY student.id").fetchall()
    assert dict(rows) == {student: 1 for student in records}
    with open_gradebook(workdir) as gb:
        for student, record in records.items():
            submission = gb.find_submission("rnn_bptt", student)
            assert submission.score == pytest.approx(record.total), student
            for part in record.parts:
                row = gb.find_grade(f"test_{part.name}", "rnn_bptt", "rnn_bptt", student)
                assert row.auto_score == pytest.approx(part.points)
                assert not row.needs_manual_grade  # only the written answers are left


def test_exports_agree(rnn_batch, tmp_path):
    workdir = rnn_batch["workdir"]
    records = workdir.read_records("rnn_bptt")
    target = tmp_path / "grades.csv"
    assert subprocess.run(
        [sys.executable, "-m", "autograder", "export", "rnn_bptt", "--csv", str(target),
         "--workdir", str(workdir.root)], cwd=REPO, capture_output=True).returncode == 0
    with open(target, newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(records)
    for student, record in records.items():
        assert float(rows[student]["total"]) == pytest.approx(record.total)
        assert float(rows[student]["max"]) == 100
        for part in record.parts:
            assert float(rows[student][part.name]) == pytest.approx(part.points)
    # nbgrader's own export reads the same gradebook
    nbgrader_csv = tmp_path / "nbgrader.csv"
    done = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to",
                           str(nbgrader_csv)], cwd=workdir.root, env=nbgrader_env(),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(nbgrader_csv, newline="") as handle:
        theirs = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(handle)
                  if r["assignment"] == "rnn_bptt"}
    assert theirs == pytest.approx({s: r.total for s, r in records.items()})


def test_feedback_pages(rnn_batch):
    workdir = rnn_batch["workdir"]
    pages = commands.feedback(workdir, "rnn_bptt", progress=False, out=None)
    records = workdir.read_records("rnn_bptt")
    assert len(pages) == len(records)
    page = (workdir.feedback("wrong-shape", "rnn_bptt") / "rnn_bptt.html").read_text()
    # rnn_step_backward (25) is wrong; rnn_backward, graded again with the reference
    # callee, keeps its 30
    assert "dWx looks transposed" in page and "75 / 100" in page
    for part in ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
                 "temporal_softmax_loss"):
        assert part in page
    # math is typeset offline by a local MathJax; nothing is loaded from the internet
    assert '<script src="mathjax/config.js">' in page
    assert "https://" not in "".join(
        line for line in page.splitlines() if "<script" in line and "src=" in line)
    mathjax = workdir.feedback("wrong-shape", "rnn_bptt") / "mathjax"
    assert (mathjax / "config.js").is_file()
    assert (mathjax / "tex-svg-full.js").stat().st_size > 1_000_000
    assert "$$" in page or "\\(" in page or "$" in page  # the notebook's math is on the page
    # what a student's code printed is escaped, never markup
    flood = (workdir.feedback("fake-score", "rnn_bptt") / "rnn_bptt.html").read_text()
    assert "Score: 100/100" in flood
    # and the math really is typeset, in a browser without network
    if chromium.find() is None:
        warnings.warn("no headless Chromium here: the feedback page's math was checked only "
                      "by its markup, not rendered", UserWarning, stacklevel=2)
        return
    dom = chromium.dump_dom((workdir.feedback("wrong-shape", "rnn_bptt") / "rnn_bptt.html")
                            .as_uri())
    assert dom.count("<mjx-container") >= 10, "MathJax did not typeset the feedback page"


def test_rerun_is_idempotent(rnn_batch):
    workdir = rnn_batch["workdir"]
    before = {s: r.key for s, r in workdir.read_records("rnn_bptt").items()}
    summary, _ = grade(workdir, "rnn_bptt", rnn_batch["folder"])
    assert summary.graded == 0 and summary.reused == len(before)
    after = {s: r.key for s, r in workdir.read_records("rnn_bptt").items()}
    assert after == before
    with sqlite3.connect(workdir.db_path) as db:
        count = db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()[0]
    assert count == len(before)


# ----------------------------------------------------------------------------- fallback
def test_fallback_without_bubblewrap_still_grades_and_says_so(generated, tmp_path):
    workdir = copy_workdir(generated, tmp_path / "grading")
    chosen = [c for c in hostile.RNN_CASES if c.student in
              ("correct", "reads-files", "many-processes", "calls-rnnlib", "crash",
               "network")]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    folder = tmp_path / "submissions"
    values = {"GRADEBOOK": str(workdir.db_path),
              "OTHER_NOTEBOOK": str(folder / "correct" / "submission.ipynb"),
              "REPO_FILE": str(REPO / "rnnlib" / "rnn.py"), "PORT": server.getsockname()[1]}
    cases = write_submissions(workdir, "rnn_bptt", chosen, folder, values)
    summary, output = grade(workdir, "rnn_bptt", folder, sandbox="none")
    with pytest.raises(BlockingIOError):
        server.accept()  # seccomp blocks sockets even without bubblewrap
    server.close()
    assert "NOT ISOLATED" in output
    source = source_points(workdir, "rnn_bptt")
    records = workdir.read_records("rnn_bptt")
    for student, case in cases.items():
        assert records[student].sandbox == {"mode": "none", "isolated": False}
        assert_points(records[student], case, source, isolated=False)


# ----------------------------------------------------------------------------- lstm, zip
def test_lstm_assignment_with_extra_credit(generated, tmp_path):
    workdir = copy_workdir(generated, tmp_path / "grading")
    cases = write_submissions(workdir, "lstm_backward", hostile.LSTM_CASES,
                              tmp_path / "submissions")
    grade(workdir, "lstm_backward", tmp_path / "submissions")
    source = source_points(workdir, "lstm_backward")
    assert source.bonus == {"lstm_step_forward_peephole", "lstm_step_backward_peephole"}
    assert source.max_points == 100
    records = workdir.read_records("lstm_backward")
    for student, case in cases.items():
        assert_points(records[student], case, source, ISOLATED)
    assert records["forgets-dc"].total == 100 - 0.75 * source.points["lstm_backward"] + sum(
        source.points[p] for p in source.bonus)
    with open_gradebook(workdir) as gb:
        grade_row = gb.find_grade("test_lstm_step_forward_peephole", "lstm_backward",
                                  "lstm_backward", "correct")
        assert grade_row.extra_credit == source.points["lstm_step_forward_peephole"]


def test_lms_zip(generated, tmp_path):
    workdir = copy_workdir(generated, tmp_path / "grading")
    chosen = [c for c in hostile.RNN_CASES if c.student in ("correct", "released")]
    folder = write_submissions(workdir, "rnn_bptt", chosen, tmp_path / "unpacked")
    correct = (tmp_path / "unpacked" / "correct" / "submission.ipynb").read_bytes()
    released = (tmp_path / "unpacked" / "released" / "submission.ipynb").read_bytes()
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/ada/Assignment 1.ipynb", correct)
        zf.writestr("export/ada/notes.txt", "ignored")
        zf.writestr("export/ben/work/rnn_bptt.ipynb", released)
        zf.writestr("export/cy_12345_rnn_bptt.ipynb", correct)
    unsafe = tmp_path / "unsafe.zip"
    with zipfile.ZipFile(unsafe, "w") as zf:
        zf.writestr("export/ada/Assignment 1.ipynb", correct)
        zf.writestr("export/../../escape.ipynb", correct)
    with pytest.raises(ValueError, match="outside its folder"):
        grade(workdir, "rnn_bptt", unsafe)
    assert folder
    summary, _ = grade(workdir, "rnn_bptt", archive)
    records = workdir.read_records("rnn_bptt")
    assert {s: r.total for s, r in records.items()} == {"ada": 100, "ben": 0, "cy": 100}
    assert not (tmp_path / "escape.ipynb").exists()


# ----------------------------------------------------------------------------- kill, resume
SLOW_LOSS = '''
import time

def temporal_softmax_loss(x, y, mask):
    time.sleep(0.4)
    N, T, V = x.shape
    shifted = x - x.max(axis=2, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    n, t = np.indices((N, T))
    loss = -np.sum(mask * log_p[n, t, y]) / N
    dx = np.exp(log_p)
    dx[n, t, y] -= 1.0
    dx *= mask[:, :, None] / N
    return {SCALE} * loss, {SCALE} * dx
'''


def test_kill_midway_and_resume(generated, tmp_path):
    workdir = copy_workdir(generated, tmp_path / "grading")
    cases = []
    for k in range(8):
        scale = "1.0" if k % 2 == 0 else "2.0"  # odd students get the loss wrong
        cases.append(hostile.Case(
            f"student-{k}", "slow", replace={"temporal_softmax_loss":
                                             SLOW_LOSS.replace("{SCALE}", scale)},
            broken={} if k % 2 == 0 else {"temporal_softmax_loss": hostile.ALL}))
    folder = tmp_path / "submissions"
    write_submissions(workdir, "rnn_bptt", cases, folder)
    cmd = [sys.executable, "-m", "autograder", "grade", "rnn_bptt", str(folder),
           "--workdir", str(workdir.root), "--jobs", "1", "--quiet", "--timeout", "20"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while len(list(workdir.results("rnn_bptt").glob("*.json"))) < 2:
            assert proc.poll() is None, "the grader finished before it could be killed"
            assert time.monotonic() < deadline, "no results recorded in time"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    recorded = workdir.read_records("rnn_bptt")
    assert 2 <= len(recorded) < len(cases), "the run was meant to be killed midway"
    summary, _ = grade(workdir, "rnn_bptt", folder, jobs=2)
    assert summary.reused >= len(recorded) and summary.graded == len(cases) - summary.reused
    records = workdir.read_records("rnn_bptt")
    source = source_points(workdir, "rnn_bptt")
    for case in cases:
        assert_points(records[case.student], case, source, ISOLATED)
    with sqlite3.connect(workdir.db_path) as db:
        rows = db.execute("SELECT student_id, COUNT(*) FROM submitted_assignment "
                          "GROUP BY student_id").fetchall()
    assert dict(rows) == {case.student: 1 for case in cases}
    with open_gradebook(workdir) as gb:
        for case in cases:
            assert gb.find_submission("rnn_bptt", case.student).score == pytest.approx(
                records[case.student].total)
    assert not list(workdir.results("rnn_bptt").glob(".*.tmp"))
    assert os.path.exists(workdir.db_path)


# ----------------------------------------------------------------------------- a third assignment
TINY_MODULE = '''"""A tiny assignment written for the test: one module, one source notebook."""

from autograder.spec import Part

SHAPES = ({"N": 2, "D": 3, "M": 4}, {"N": 1, "D": 2, "M": 2})


def make_affine(rng, N, D, M):
    return {"x": rng.normal(size=(N, D)), "w": rng.normal(size=(D, M)),
            "b": rng.normal(size=(M,))}


def affine_forward_reference(a):
    return (a["x"] @ a["w"] + a["b"],)


PARTS = (Part("affine_forward", ("x", "w", "b"), ("out", "cache"), ("out",), make_affine,
              affine_forward_reference, shapes=SHAPES),)
'''


def tiny_source_notebook(path):
    def cell(source, **meta):
        made = nbformat.v4.new_code_cell(source)
        made.metadata["nbgrader"] = dict(meta, schema_version=3)
        return made

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        cell("import numpy as np", grade=False, solution=False, locked=True,
             grade_id="setup_imports"),
        cell("def affine_forward(x, w, b):\n    ### BEGIN SOLUTION\n    out = x @ w + b\n"
             "    ### END SOLUTION\n    return out, None", solution=True, grade=False,
             locked=False, grade_id="affine_forward"),
        cell("out, _ = affine_forward(np.ones((1, 2)), np.ones((2, 2)), np.zeros(2))\n"
             "assert out.shape == (1, 2)", grade=True, solution=False, locked=True, points=10,
             grade_id="test_affine_forward"),
    ]
    path.parent.mkdir(parents=True)
    nbformat.write(nb, str(path))


def tiny_submission(folder, student, body):
    nb = nbformat.read(str(folder.parent / "source" / "tiny_affine" / "tiny_affine.ipynb"),
                       as_version=4)
    for cell in nb.cells:
        if cell.metadata["nbgrader"]["grade_id"] == "affine_forward":
            cell.source = f"def affine_forward(x, w, b):\n    return {body}, None\n"
    (folder / student).mkdir(parents=True)
    nbformat.write(nb, str(folder / student / "tiny_affine.ipynb"))


def test_a_third_assignment_is_one_module_and_one_notebook(tmp_path, monkeypatch):
    """Register an assignment the grader has never seen, grade it end to end, then change
    its reference: the fingerprint (computed from the modules' source) changes, so the
    same submissions are graded again, with the new reference."""
    import importlib

    from autograder import assignments

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    module_file = plugins / "tiny_affine.py"
    module_file.write_text(TINY_MODULE, encoding="utf-8")
    tiny_source_notebook(tmp_path / "source" / "tiny_affine" / "tiny_affine.ipynb")
    monkeypatch.setattr(assignments, "__path__", [*assignments.__path__, str(plugins)])
    monkeypatch.delitem(sys.modules, "autograder.assignments.tiny_affine", raising=False)
    for name, parts in assignments.discover().items():
        monkeypatch.setitem(assignments.ASSIGNMENTS, name, parts)
    assert "tiny_affine" in assignments.ASSIGNMENTS

    folder = tmp_path / "submissions"
    tiny_submission(folder, "right", "x @ w + b")
    tiny_submission(folder, "no-bias", "x @ w")
    workdir = Workdir(tmp_path / "grading")
    options = dict(jobs=2, limits=LIMITS, progress=False, out=None,
                   source_root=tmp_path / "source")
    summary = commands.grade(workdir, "tiny_affine", folder, **options)
    assert summary.graded == 2
    assert {r.student: r.total for r in summary.records} == {"right": 10, "no-bias": 0}
    assert "out is wrong" in workdir.read_records("tiny_affine")["no-bias"].parts[0].reason

    summary = commands.grade(workdir, "tiny_affine", folder, **options)
    assert summary.graded == 0 and summary.reused == 2

    # a changed reference (here: one that forgets the bias) re-grades everything
    module_file.write_text(TINY_MODULE.replace('a["x"] @ a["w"] + a["b"]', 'a["x"] @ a["w"]'),
                           encoding="utf-8")
    module = importlib.reload(sys.modules["autograder.assignments.tiny_affine"])
    monkeypatch.setitem(assignments.ASSIGNMENTS, "tiny_affine", module.PARTS)
    summary = commands.grade(workdir, "tiny_affine", folder, **options)
    assert summary.graded == 2 and summary.reused == 0
    assert {r.student: r.total for r in summary.records} == {"right": 0, "no-bias": 10}
