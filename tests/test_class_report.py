"""The class report counts exactly what the records say: mistakes named from the reasons
``spec.compare`` really writes, every status that needs a person, and a self-contained page."""

import io
import json
import re

import chromium
import numpy as np
import pytest
from autograder_cases import hostile
from autograder_cases.solutions import SOLUTIONS
from autograder_cases.styles import class_styles, style_indices

from autograder import classreport, cli, commands
from autograder.record import PartResult, Record
from autograder.spec import compare
from autograder.workdir import Workdir, atomic_write

RNG = np.random.default_rng(0)
EXPECTED = RNG.standard_normal((4, 4))
SEQUENCE = RNG.standard_normal((2, 5, 3))


def _late_steps_wrong():
    got = SEQUENCE.copy()
    got[:, 3:] += 1.0
    return compare("h", got, SEQUENCE, time_axis=True)


# planted mistake -> the reason the grader writes for it (made by the real compare)
PLANTED = {
    "transposed": compare("dWh", EXPECTED.T, EXPECTED),
    "wrong sign": compare("dx", -EXPECTED, EXPECTED),
    "all zeros": compare("db", np.zeros_like(EXPECTED), EXPECTED),
    "wrong shape": compare("h", EXPECTED[:3], EXPECTED),
    "later time steps wrong": _late_steps_wrong(),
    "NaN or inf": compare("h", np.full_like(EXPECTED, np.nan), EXPECTED),
}


def _record(student, reason=None, status="graded", isolated=True, seconds=1.5):
    parts = [PartResult("rnn_step_forward", 2.0, points=2.0, passed=3, cases=3),
             PartResult("rnn_step_backward", 3.0, points=0.0 if reason else 3.0,
                        passed=0 if reason else 3, cases=3, reason=reason or "")]
    return Record(student=student, assignment="rnn_bptt", max=5.0,
                  parts=parts if status == "graded" else [], status=status,
                  sandbox={"mode": "bwrap" if isolated else "none", "isolated": isolated},
                  seconds=seconds)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A class of 36: 5 of each planted mistake, 3 correct, and 3 that need a person."""
    work = Workdir(tmp_path_factory.mktemp("work"))
    records = []
    for i, reason in enumerate(r for r in PLANTED.values() for _ in range(5)):
        records.append(_record(f"s{i:02d}", reason, seconds=1.0 + i / 10))
    records += [_record(f"ok{i}") for i in range(3)]
    records += [_record("nb", status="no notebook"), _record("bad", status="unreadable"),
                _record("open", isolated=False)]
    for record in records:
        path = work.record_path("rnn_bptt", record.student)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, record.to_json().encode())
    # graded cells: everyone keeps the template; s00 and s01 wrote the same backward (one adds
    # a comment), s02..s04 wrote their own; ok0 handed in the template unchanged
    _notebook(work.release("rnn_bptt"), TEMPLATE)
    for student, body in {"s00": COPIED, "s01": COPIED + "  # checked", "s02": OWN[0],
                          "s03": OWN[1], "s04": OWN[2], "ok0": ""}.items():
        _notebook(work.submitted(student, "rnn_bptt"), TEMPLATE + body)
    return work


TEMPLATE = ("def rnn_step_backward(dnext_h, cache):\n"
            "    # unpack what the forward kept; the template gives this part to everyone\n"
            "    x, prev_h, Wx, Wh, next_h = cache\n"
            "    dx = dprev_h = dWx = dWh = db = None\n")
COPIED = ("    dtanh = dnext_h * (1 - next_h ** 2)\n    dx = dtanh @ Wx.T\n"
          "    dprev_h = dtanh @ Wh.T\n    dWx = x.T @ dtanh\n    dWh = prev_h.T @ dtanh\n"
          "    db = dtanh.sum(axis=0)\n    return dx, dprev_h, dWx, dWh, db\n")
OWN = ("    import numpy as np\n    g = np.multiply(dnext_h, 1.0 - np.square(next_h))\n"
       "    return np.dot(g, Wx.T), np.dot(g, Wh.T), np.dot(x.T, g), np.dot(prev_h.T, g), "
       "np.sum(g, 0)\n",
       "    local = dnext_h - dnext_h * next_h * next_h\n    grads = [local @ W.T for W in "
       "(Wx, Wh)]\n    grads += [a.T @ local for a in (x, prev_h)]\n"
       "    return (*grads, local.sum(0))\n",
       "    out = []\n    s = dnext_h * (1 - next_h * next_h)\n    for m in (Wx, Wh):\n"
       "        out.append(s.dot(m.T))\n    out.append(x.T.dot(s))\n"
       "    out.append(prev_h.T.dot(s))\n    out.append(s.sum(axis=0))\n"
       "    return tuple(out)\n")


def _notebook(folder, source):
    folder.mkdir(parents=True, exist_ok=True)
    cell = {"cell_type": "code", "source": source, "metadata": {"nbgrader": {
        "grade_id": "rnn_step_backward", "solution": True}}, "outputs": [],
        "execution_count": None}
    other = {"cell_type": "code", "source": "print('not graded')", "metadata": {},
             "outputs": [], "execution_count": None}
    (folder / "rnn_bptt.ipynb").write_text(json.dumps(
        {"cells": [other, cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_every_planted_reason_has_its_name():
    for name, reason in PLANTED.items():
        assert reason, name
        assert classreport.mistake_name(reason) == name, reason
    assert classreport.mistake_name("something new") == "other"


def test_counts_are_exact(workdir):
    numbers = classreport.summarize(workdir.read_records("rnn_bptt"))
    assert numbers["submissions"] == 36
    assert numbers["statuses"] == {"graded": 34, "no notebook": 1, "unreadable": 1}
    assert {name: count for name, count, _ in numbers["mistakes"]} == \
        {name: 5 for name in PLANTED}
    assert dict(numbers["attention"]) == {"nb": "no notebook", "bad": "unreadable",
                                          "open": "graded without isolation"}
    assert sorted(numbers["totals"]).count(5.0) == 4      # ok0-2 and "open"
    assert len(numbers["scores"]["rnn_step_backward"]) == 34


def test_cli_writes_a_self_contained_page(workdir, tmp_path, capsys):
    output = tmp_path / "report.html"
    assert cli.main(["report", "rnn_bptt", "--workdir", str(workdir.root),
                     "--output", str(output)]) == 0
    text = capsys.readouterr().out
    assert "36 submissions" in text and "transposed" in text
    page = output.read_text()
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 4   # total, 2 parts, time
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)


def test_no_records_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["report", "rnn_bptt", "--workdir", str(tmp_path)]) == 1
    assert "no grading records for rnn_bptt" in capsys.readouterr().err


def test_page_opens_offline_in_chromium(workdir, tmp_path):
    """The page in headless Chromium: every figure decodes, and nothing but file: and data:
    is requested (any other request is aborted and recorded)."""
    binary = chromium.find()
    if binary is None:
        pytest.skip("no Chromium here (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    output = tmp_path / "report.html"
    classreport.write_report(workdir, "rnn_bptt", output)
    outside = []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.route("**/*", route)
            page.goto(output.as_uri())
            widths = page.eval_on_selector_all("img.figure", "els => els.map(e => e.naturalWidth)")
        finally:
            browser.close()
    assert len(widths) == 4 and all(w > 0 for w in widths)
    assert outside == []


def test_near_copies_are_the_top_pair_and_the_template_does_not_count(workdir):
    records = workdir.read_records("rnn_bptt")
    pairs = classreport._similar(workdir, "rnn_bptt", records)
    assert pairs[0][1:] == ("s00", "s01") and pairs[0][0] > 0.8
    assert all(score < pairs[0][0] / 2 for score, _, _ in pairs[1:])
    assert all("ok0" not in (a, b) for _, a, b in pairs)    # only the template: nothing shared


# ----------------------------------------------------------------------------- a graded class
# A class of 34 notebooks graded for real (the sandbox, the parallel batch), each student with
# a style of their own (autograder_cases/styles.py) and at most one planted mistake, made by
# editing one correct function: {student prefix: (function, old text, new text, expected)}.
SOL = SOLUTIONS["rnn_bptt"]
MISTAKE_EDITS = {
    "transposed": ("rnn_step_backward", "h_prev.T @ da", "(h_prev.T @ da).T", 4),
    "sign": ("rnn_step_backward", "return da @ Wx.T", "return -(da @ Wx.T)", 3),
    "zeros": ("temporal_softmax_loss", "return loss, dflat.reshape(N, T, V)",
              "return loss, np.zeros((N, T, V))", 3),
    "scaled": ("rnn_step_forward", "h = np.tanh(", "h = 2.0 * np.tanh(", 3),
    "notcarried": ("rnn_backward", "dh[:, t] + dh_next", "dh[:, t]", 3),
    "lateforward": ("rnn_forward", "rnn_step_forward(x[:, t], h_prev,",
                    "rnn_step_forward(x[:, t], h0,", 2),
    "shape": ("temporal_softmax_loss", "return loss, dflat.reshape(N, T, V)",
              "return loss, dflat", 2),
}
EXPECTED_MISTAKES = {"transposed": 4, "wrong sign": 3, "all zeros": 3,
                     "scaled by a constant": 3,
                     # the self-check's own named mistakes (autograder/check/rnn.py)
                     "the gradient from step t+1 is not added to dh": 3,
                     "every step starts from h0": 2, "wrong shape": 2,
                     "stopped at the time limit": 1, "crashed": 1}
CRASH = "def temporal_softmax_loss(x, y, mask):\n    import os\n    os._exit(3)\n"
ENDLESS = "def rnn_backward(dh, cache):\n    while True:\n        pass\n"
CLASS_LIMITS = {"timeout_seconds": 5.0, "cpu_seconds": 6, "memory_mb": 768}


WRITTEN = ("written_truncation", "written_gradient_check")


def _answering(grade_ids):
    """A cell edit that writes an answer into the written-answer cells ``grade_ids``."""
    def edit(nb):
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in grade_ids:
                cell.source = "Because the window cuts the chain of dependencies at h0."
    return edit


def _class_cases():
    cases, used = [], set()

    def styles(function=None):
        index = style_indices(1, function, used)[0]
        used.add(index)
        return class_styles(index)

    for prefix, (function, old, new, count) in MISTAKE_EDITS.items():
        assert old in SOL[function], (prefix, old)
        for k in range(count):
            replace = styles(function)
            replace[function] = SOL[function].replace(old, new)
            cases.append(hostile.Case(f"{prefix}{k}", prefix, replace=replace))
    for name, cell in (("crash", {"temporal_softmax_loss": CRASH}),
                       ("endless", {"rnn_backward": ENDLESS})):
        cases.append(hostile.Case(name, name, replace=dict(styles(), **cell)))
    for k in range(8):  # correct0-4 answer the first written question, correct0-1 both
        answered = WRITTEN[:2] if k < 2 else WRITTEN[:1] if k < 5 else ()
        cases.append(hostile.Case(f"correct{k}", "correct", replace=styles(),
                                  edit=_answering(answered)))
    copied = styles()
    cases.append(hostile.Case("copy-a", "near-copy", replace=dict(copied)))
    copied["rnn_backward"] += "    # checked against the tests\n"
    cases.append(hostile.Case("copy-b", "near-copy", replace=copied))
    cases.append(hostile.Case("nothing", "no notebook", notebook_file=None))
    cases.append(hostile.Case("garbled", "unreadable", raw="{ not a notebook"))
    return cases


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    work = Workdir(root / "grading")
    commands.generate(work, "rnn_bptt", quiet=True)
    cases = _class_cases()
    hostile.write_cases(root / "submissions", "rnn_bptt", cases,
                        work.release("rnn_bptt") / "rnn_bptt.ipynb",
                        work.source("rnn_bptt") / "rnn_bptt.ipynb")
    commands.grade(work, "rnn_bptt", root / "submissions", jobs=2, limits=CLASS_LIMITS,
                   progress=False, out=io.StringIO(), sandbox="auto")
    return work, cases


def test_a_really_graded_class_gives_exact_counts(graded_class):
    work, cases = graded_class
    records = work.read_records("rnn_bptt")
    assert len(cases) >= 30 and set(records) == {c.student for c in cases}
    numbers = classreport.summarize(records)
    assert numbers["statuses"] == {"graded": 30, "stopped at the time limit": 1, "crashed": 1,
                                   "no notebook": 1, "unreadable": 1}
    counted = {name: count for name, count, _ in numbers["mistakes"]}
    assert counted == EXPECTED_MISTAKES, {n: ex for n, _, ex in numbers["mistakes"]}
    examples = {name: ex for name, _, ex in numbers["mistakes"]}
    assert examples["transposed"][0] == ("transposed0", "rnn_step_backward")
    assert examples["crashed"] == [("crash", "temporal_softmax_loss")]
    assert examples["stopped at the time limit"] == [("endless", "rnn_backward")]
    attention = dict(numbers["attention"])
    assert {s: attention[s] for s in ("crash", "endless", "nothing", "garbled")} == {
        "crash": "crashed (temporal_softmax_loss)",
        "endless": "stopped at the time limit (rnn_backward)",
        "nothing": "no notebook", "garbled": "unreadable"}
    # a caller of a planted wrong callee keeps its points (graded with the reference callee)
    for student in ("transposed0", "scaled0", "lateforward0"):
        wrong = {p.name for p in records[student].parts if not p.full_marks}
        assert len(wrong) == 1, (student, wrong)


def test_the_near_copies_are_the_top_pair_of_the_graded_class(graded_class):
    work, _ = graded_class
    pairs = classreport._similar(work, "rnn_bptt", work.read_records("rnn_bptt"))
    assert pairs[0][1:] == ("copy-a", "copy-b"), pairs[:3]
    assert pairs[0][0] > 0.9 and pairs[1][0] < pairs[0][0] - 0.1, pairs[:3]


def test_written_answers_and_what_formgrader_scored(graded_class):
    """Answered = changed from the released template; scored = a manual score in nbgrader's
    gradebook (set here through nbgrader's API, as formgrader does); comments likewise."""
    from autograder.gradebook import open_gradebook
    work, _ = graded_class
    records = work.read_records("rnn_bptt")

    def counts():
        written = classreport.written_answers(work, "rnn_bptt", records)
        return {c["name"]: (c["points"], c["answered"], c["graded"])
                for c in written["cells"]}, written["comments"]

    assert counts() == ({WRITTEN[0]: (0.0, 5, 0), WRITTEN[1]: (0.0, 2, 0)}, 0)
    with open_gradebook(work) as gb:
        gb.find_grade(WRITTEN[0], "rnn_bptt", "rnn_bptt", "correct0").manual_score = 0.0
        gb.find_grade(WRITTEN[0], "rnn_bptt", "rnn_bptt", "correct3").manual_score = 0.0
        gb.find_comment(WRITTEN[1], "rnn_bptt", "rnn_bptt", "correct1").manual_comment = \
            "Say which terms the truncation drops."
        gb.db.commit()
    assert counts() == ({WRITTEN[0]: (0.0, 5, 2), WRITTEN[1]: (0.0, 2, 0)}, 1)
    text = classreport.write_report(work, "rnn_bptt", work.root / "report.html")
    assert (f"{WRITTEN[0]} (no points: not graded for the total): 5 answered, 2 of them "
            "scored in formgrader so far") in text
    assert "formgrader comments: 1" in text
