"""Unit tests of the autograder's pieces that parse hostile input or make decisions.

The end-to-end behaviour is tested in test_autograder_e2e.py; these pin down the parsers
(frames, result arrays, zips, notebooks), the comparison and its hints, and the sandbox's
seccomp program and allowed-helpers module, quickly and without nbgrader.
"""

import json
import pickle
import struct
import zipfile
from concurrent.futures import Future
from pathlib import Path

import nbformat
import numpy as np
import pytest

import rnnlib
from autograder import commands, grading, harness, scoring, spec
from autograder.assignments import ASSIGNMENTS, parts_of
from autograder.notebooks import (
    SourceAssignment,
    helper_module_source,
    solution_cells,
    strip_magics,
)
from autograder.record import SCHEMA_VERSION, PartResult, Record, capped_total
from autograder.spec import hidden_cases
from autograder.submissions import Submission, collect, normalize_id, safe_extract

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- frames
def test_frames_round_trip_and_stop_at_garbage():
    data = harness.encode_frame({"type": "a"}) + harness.encode_frame({"type": "b"}, b"xyz")
    frames, problem = harness.decode_frames(data)
    assert problem is None
    assert [(h["type"], p) for h, p in frames] == [("a", b""), ("b", b"xyz")]
    for junk in (b"12", b"abc\n{}", b"5\n[1,2]", b"999999999\n", b"10\n{\"payload\":"):
        frames, problem = harness.decode_frames(data + junk)
        assert len(frames) == 2 and problem, junk
    header = json.dumps({"payload": 100}).encode()
    frames, problem = harness.decode_frames(b"%d\n" % len(header) + header + b"short")
    assert frames == [] and problem == "truncated frame"


def test_frames_survive_random_bytes():
    rng = np.random.default_rng(0)
    for _ in range(300):
        blob = rng.integers(0, 256, rng.integers(0, 200)).astype(np.uint8).tobytes()
        frames, problem = harness.decode_frames(b"3\n{}x" + blob)
        assert isinstance(frames, list)  # never raises


# ----------------------------------------------------------------------------- arrays
def _case_frame(arrays):
    entries, chunks = [], []
    for name, value in arrays:
        entry, data = harness.encode_array(name, value, np)
        entries.append(entry)
        chunks.append(data)
    return {"type": "case", "case": 0, "ok": True, "arrays": entries}, b"".join(chunks)


def test_arrays_are_rebuilt_from_plain_bytes():
    h, dx = np.arange(6.0).reshape(2, 3), np.ones((2, 3), dtype=np.float32)
    header, payload = _case_frame([("h", h), ("dx", dx)])
    arrays = scoring.rebuild_arrays(header, payload, ("h", "dx"))
    np.testing.assert_array_equal(arrays["h"], h)
    assert arrays["dx"].dtype == np.float32


@pytest.mark.parametrize("tamper, words", [
    (lambda h, p: (dict(h, arrays=[dict(h["arrays"][0], dtype="|O")]), p), "not a number"),
    (lambda h, p: (dict(h, arrays=[dict(h["arrays"][0], shape=[10 ** 4, 10 ** 4])]), p),
     "far too large"),
    (lambda h, p: (dict(h, arrays=[dict(h["arrays"][0], shape=[-1])]), p), "invalid shape"),
    (lambda h, p: (h, p + b"extra"), "inconsistent"),
    (lambda h, p: (h, p[:-1]), "inconsistent"),
    (lambda h, p: (dict(h, arrays=[dict(h["arrays"][0], name="other")]), p),
     "expected values"),
    (lambda h, p: (dict(h, arrays="nope"), p), "expected values"),
])
def test_tampered_results_are_refused(tamper, words):
    header, payload = _case_frame([("h", np.zeros((2, 3)))])
    header, payload = tamper(header, payload)
    with pytest.raises(ValueError, match=words):
        scoring.rebuild_arrays(header, payload, ("h",))


def test_object_arrays_cannot_be_sent():
    with pytest.raises(ValueError, match="not a numeric array"):
        harness.encode_array("h", np.array([object()]), np)


# ----------------------------------------------------------------------------- comparison
def test_compare_accepts_right_and_names_the_mistake():
    rng = np.random.default_rng(1)
    expected = rng.normal(size=(4, 4))
    assert spec.compare("dWh", expected + 1e-13, expected) is None
    assert "looks transposed" in spec.compare("dWh", expected.T.copy(), expected)
    assert "wrong sign" in spec.compare("dWh", -expected, expected)
    assert "times 2" in spec.compare("dWh", 2 * expected, expected)
    assert "all zeros" in spec.compare("dWh", np.zeros((4, 4)), expected)
    assert "contains NaN" in spec.compare("dWh", expected * np.nan, expected)
    assert "contains inf" in spec.compare("dWh", expected * np.inf, expected)
    wrong_shape = spec.compare("dWx", np.zeros((3, 5)), np.zeros((5, 3)))
    assert wrong_shape == "dWx has shape (3, 5), expected (5, 3) (it looks transposed)"
    assert spec.compare("loss", np.array([2.0]), np.array(2.0)) is None
    assert "scalar" in spec.compare("loss", np.zeros(3), np.array(2.0))


def test_time_hint_points_at_the_missing_recurrence():
    rng = np.random.default_rng(2)
    expected = rng.normal(size=(2, 5, 3))
    got = expected.copy()
    got[:, :3] += 1.0
    message = spec.compare("dx", got, expected, time_axis=True)
    assert "time steps t <= 2 are wrong" in message


# ----------------------------------------------------------------------------- parts
def test_hidden_cases_depend_on_the_seed_and_match_rnnlib():
    parts = parts_of("rnn_bptt")
    inputs_a, refs_a = hidden_cases(parts, 123)
    inputs_b, _ = hidden_cases(parts, 124)
    key = "rnn_step_forward/0/x"
    assert not np.allclose(inputs_a[key], inputs_b[key])
    h, _ = rnnlib.rnn_step_forward(*(inputs_a[f"rnn_step_forward/0/{n}"]
                                     for n in ("x", "h_prev", "Wx", "Wh", "b")))
    np.testing.assert_array_equal(refs_a[("rnn_step_forward", 0)]["h"], h)
    # the upstream gradients of a forward part are not sent (nothing extra is revealed)
    assert "rnn_step_forward/0/dh" not in inputs_a


def test_every_part_has_a_reference_for_every_case():
    for assignment, parts in ASSIGNMENTS.items():
        _, references = hidden_cases(parts, 7)
        for part in parts:
            for case in range(len(part.shapes)):
                ref = references[(part.name, case)]
                assert set(ref) == set(part.checked), (assignment, part.name)
                assert all(np.all(np.isfinite(v)) for v in ref.values())


# ----------------------------------------------------------------------------- notebooks
def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for grade_id, source, kind in cells:
        cell = (nbformat.v4.new_code_cell(source) if kind == "code"
                else nbformat.v4.new_markdown_cell(source))
        if grade_id:
            cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": True}
        nb.cells.append(cell)
    return nb


def test_solution_cells_are_found_by_grade_id_then_by_name():
    nb = _nb(("rnn_forward", "def rnn_forward(): pass", "code"),
             ("rnn_forward", "def rnn_forward(): return 2", "code"),
             (None, "def rnn_backward(): pass", "code"),
             ("rnn_step_forward", "text", "markdown"))
    cells, notes = solution_cells(nb, ["rnn_forward", "rnn_backward", "rnn_step_forward"])
    assert [name for name, _ in cells] == ["rnn_forward", "rnn_backward"]
    assert cells[0][1] == "def rnn_forward(): pass"
    assert any("more than one cell" in n for n in notes)
    assert any("used the code cell that defines rnn_backward" in n for n in notes)
    assert any("not a code cell" in n for n in notes)


def test_magics_become_pass():
    assert strip_magics("%timeit f()\nx = 1\n    !ls") == "pass\nx = 1\n    pass"


def test_helper_module_never_contains_graded_functions():
    source = helper_module_source(["from rnnlib import sigmoid, rel_error, rnn_forward"],
                                  ["rnn_forward", "rnn_backward"])
    namespace = {}
    exec(compile(source, "<helpers>", "exec"), namespace)
    x = np.linspace(-50, 50, 11)
    np.testing.assert_array_equal(namespace["sigmoid"](x), rnnlib.sigmoid(x))
    assert namespace["rel_error"](x, x) == 0.0
    assert "def rnn_forward" not in source
    with pytest.raises(ImportError, match="must be your own code"):
        namespace["__getattr__"]("rnn_forward")
    with pytest.raises(ImportError, match="not available while grading"):
        namespace["__getattr__"]("lstm_forward")


# ----------------------------------------------------------------------------- sandbox bits
def test_seccomp_program_is_well_formed():
    for machine in ("x86_64", "aarch64"):
        program = harness.seccomp_program(machine, 4242)
        assert 10 < len(program) < 100
        for code, jt, jf, k in program:
            struct.pack("HBBI", code, jt, jf, k)  # fits the kernel's sock_filter
        # the last instructions return: allow, deny (EPERM) and ENOSYS
        assert program[-3][3] == 0x7FFF0000 and program[-2][3] == 0x00050001
    assert harness.seccomp_program("sparc", 1) is None


# ----------------------------------------------------------------------------- submissions
def test_zip_extraction_refuses_traversal_and_links(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("top/alice/hw.ipynb", "{}")
        link = zipfile.ZipInfo("top/bob/link.ipynb")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
        zf.writestr("top/bob/data.bin", b"\0" * 10)
    target = safe_extract(archive, tmp_path / "out")
    found = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert found == ["top/alice/hw.ipynb", "top/bob/data.bin"]
    assert (target / "top/bob/data.bin").stat().st_size == 0  # seen, not extracted
    for evil in ("top/../../evil.ipynb", "/etc/evil.ipynb"):
        bad = tmp_path / "bad.zip"
        with zipfile.ZipFile(bad, "w") as zf:
            zf.writestr("top/alice/hw.ipynb", "{}")
            zf.writestr(evil, "{}")
        with pytest.raises(ValueError, match="outside its folder"):
            safe_extract(bad, tmp_path / "out2")
    assert not (tmp_path / "evil.ipynb").exists()


def test_collect_layouts(tmp_path):
    (tmp_path / "s" / "alice" / "sub").mkdir(parents=True)
    (tmp_path / "s" / "alice" / "sub" / "x.ipynb").write_text("{}")
    (tmp_path / "s" / "alice" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "s" / "alice" / ".ipynb_checkpoints" / "x-checkpoint.ipynb").write_text("{}")
    (tmp_path / "s" / "bob").mkdir()
    (tmp_path / "s" / "bob" / "a.ipynb").write_text("{}")
    (tmp_path / "s" / "bob" / "b.ipynb").write_text("{}")
    (tmp_path / "s" / "carl").mkdir()
    (tmp_path / "s" / "carl" / "a.ipynb").write_text("{}")
    (tmp_path / "s" / "carl" / "rnn_bptt.ipynb").write_text("{}")
    (tmp_path / "s" / "dee_991_rnn_bptt.ipynb").write_text("{}")
    (tmp_path / "s" / "notes.txt").write_text("")
    found, warnings = collect(tmp_path / "s", "rnn_bptt", tmp_path / "x")
    by_id = {s.student: s for s in found}
    assert set(by_id) == {"alice", "bob", "carl", "dee"}
    assert by_id["alice"].notebook.name == "x.ipynb"
    assert by_id["bob"].notebook.name == "b.ipynb"  # the latest by name, and it says so
    assert any("bob: 2 notebooks; graded bob/b.ipynb (the latest by name)" in w
               for w in warnings)
    assert by_id["carl"].notebook.name == "rnn_bptt.ipynb"
    assert any("notes.txt" in w for w in warnings)
    assert normalize_id("Jane Doe/../x") == "Jane_Doe_.._x"


def test_feedback_page_neutralizes_student_markup(tmp_path):
    from autograder.feedback import render_page

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Answer: <script>alert(1)</script> "
                                              "[x](javascript:alert(2)) and $a < b$"),
                nbformat.v4.new_raw_cell("<img src=x onerror=alert(3)>")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    record = {"student": "<b>eve</b>", "assignment": "rnn_bptt", "total": 1, "max": 100,
              "parts": [{"name": "rnn_forward", "points": 1, "max_points": 15, "passed": 1,
                         "cases": 4, "reason": "raised ValueError: <iframe>", "notes": [],
                         "output": "<script>alert(4)</script>", "bonus": False}]}
    page = render_page(path, Record.from_dict(record))  # a record of grader 1.0
    for bad in ("<script>alert", "javascript:alert", "<img src=x", "<iframe>", "<b>eve"):
        assert bad not in page, bad
    assert "&lt;script&gt;alert(4)" in page and "https://" not in "".join(
        line for line in page.splitlines() if "<script" in line and "src=" in line)


def test_deeply_nested_headers_are_malformed_not_fatal():
    body = b"[" * 30000 + b"]" * 30000  # within the header size limit
    frames, problem = harness.decode_frames(b"%d\n" % len(body) + body)
    assert frames == [] and problem


# ----------------------------------------------------------------------------- record
def _record(**changes):
    parts = [PartResult("a", 60, points=60.0), PartResult("b", 40, points=30.0),
             PartResult("extra", 5, points=5.0, bonus=True)]
    fields = dict(student="ada", assignment="rnn_bptt", max=100, parts=parts)
    fields.update(changes)
    return Record(**fields)


def test_the_total_is_normal_plus_bonus_capped_at_the_maximum():
    assert _record().total == 95 and _record().bonus == 5
    full = _record(parts=[PartResult("a", 100, points=100.0),
                          PartResult("extra", 5, points=5.0, bonus=True)])
    assert full.total == 100 and full.bonus == 5
    assert capped_total(90, 20, 100) == 100 and capped_total(90, 5, 100) == 95


def test_a_record_survives_its_json_round_trip():
    record = _record(notes=["n"], sandbox={"mode": "none", "isolated": False}, key="k")
    again = Record.from_json(record.to_json())
    assert again == record
    data = json.loads(record.to_json())
    assert data["schema"] == SCHEMA_VERSION and data["total"] == 95
    assert data["parts"][2]["bonus"] is True


def test_a_record_of_grader_1_0_is_read():
    old = {"student": "ben", "assignment": "rnn_bptt", "started": 1.0, "grader": "f",
           "notes": [], "status": "graded", "sandbox": {"mode": "bwrap", "isolated": True},
           "key": "k", "notebook_digest": "d", "max": 100.0, "bonus": 0.0, "total": 15.0,
           "seconds": 1.0, "finished": 2.0, "student_seconds": 0.5, "graded_at": "now",
           "parts": [{"name": "rnn_forward", "max_points": 15.0, "points": 15.0, "passed": 4,
                      "cases": 4, "reason": "ok", "notes": [], "output": "", "bonus": False,
                      "student_seconds": 0.5}]}
    record = Record.from_dict(old)
    assert record.total == 15 and record.parts[0].passed == 4 and record.key == "k"
    with pytest.raises(ValueError, match="schema"):
        Record.from_dict(dict(old, schema=99))
    with pytest.raises(ValueError):
        Record.from_dict(["not", "a", "record"])


# ----------------------------------------------------------------------------- fingerprint
def test_the_fingerprint_covers_every_module_that_can_change_a_score():
    files = {str(p.relative_to(REPO)) for p in
             grading.fingerprint_files(("autograder.grading", "autograder.assignments.rnn_bptt"))}
    for needed in ("autograder/grading.py", "autograder/spec.py", "autograder/scoring.py",
                   "autograder/harness.py", "autograder/sandbox.py",
                   "autograder/assignments/rnn_bptt.py", "autograder/assignments/__init__.py",
                   "rnnlib/__init__.py", "rnnlib/rnn.py", "rnnlib/layers.py",
                   # the self-checks' mistake models name the bugs in the grader's reasons too
                   "autograder/check/core.py", "autograder/check/rnn.py"):
        assert needed in files, needed
    for not_scoring in ("autograder/feedback.py", "autograder/gradebook.py",
                        "autograder/commands.py"):
        assert not_scoring not in files, not_scoring
    assert grading.grader_fingerprint(("autograder.grading", "autograder.assignments.rnn_bptt")) \
        != grading.grader_fingerprint(("autograder.grading",
                                       "autograder.assignments.lstm_backward"))


def test_the_fingerprint_follows_the_bytes_of_rnnlib(monkeypatch):
    modules = ("autograder.grading", "autograder.assignments.rnn_bptt")
    before = grading.grader_fingerprint(modules)
    real = Path.read_bytes

    def edited(path):
        data = real(path)
        return data + b"\n# a corrected reference\n" if path.name == "rnn.py" else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert grading.grader_fingerprint(modules) != before


# ----------------------------------------------------------------------------- batch
class InlineExecutor:
    """The smallest executor: runs each job at once and hands back a finished Future."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, *args):
        future = Future()
        future.set_result(fn(*args))
        self.submitted += 1
        return future


def _context():
    parts = parts_of("rnn_bptt")
    source = SourceAssignment(name="rnn_bptt", notebook_name="rnn_bptt", path=Path("x"),
                              points={p.name: 20.0 for p in parts},
                              test_cells={p.name: f"test_{p.name}" for p in parts},
                              digest="0" * 64)
    return grading.Context(assignment="rnn_bptt", source=source, parts=parts,
                           helper_source="", limits={}, mode="none", fingerprint="f")


def test_run_batch_takes_any_executor_and_yields_records():
    ctx = _context()
    submissions = [Submission(f"s{k}", problem="no .ipynb file in the submission")
                   for k in range(3)]
    executor = InlineExecutor()
    records = list(grading.run_batch(ctx, submissions, executor=executor))
    assert executor.submitted == 3
    assert sorted(r.student for r in records) == ["s0", "s1", "s2"]
    assert all(isinstance(r, Record) and r.status == "no notebook" and r.total == 0
               for r in records)
    threaded = list(grading.run_batch(ctx, submissions, jobs=2))
    assert sorted(r.key for r in threaded) == sorted(r.key for r in records)


def test_the_context_can_be_shipped_to_another_process():
    ctx = _context()
    again = pickle.loads(pickle.dumps(ctx))
    inputs, _ = hidden_cases(again.parts, 3)
    assert inputs.keys() == hidden_cases(ctx.parts, 3)[0].keys()


def test_feedback_says_when_it_has_no_local_mathjax(monkeypatch, capsys):
    """Both feedback commands warn on stderr when sphinx-mathjax-offline is missing."""
    commands._warn_without_mathjax()
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(commands, "find_mathjax", lambda: None)
    commands._warn_without_mathjax()
    assert "no local MathJax found" in capsys.readouterr().err
