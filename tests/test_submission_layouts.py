"""Every layout instructors hand the grader (issue #13): Canvas and Moodle bulk downloads,
zipped or unpacked, nbgrader's collected ``submitted/`` graded in place, and the mistakes
(a course root, another assignment's notebook, a zip of one student, a corrupt or unsafe
zip). The first half reads layouts only (fast); the second grades a few real notebooks."""

import io
import shutil
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from autograder_cases import hostile

from autograder import cli, commands
from autograder.gradebook import open_gradebook
from autograder.lms_names import parse_canvas, parse_moodle, read_nbgrader_timestamp
from autograder.submissions import collect, describe
from autograder.workdir import Workdir

LIMITS = {"timeout_seconds": 8.0, "cpu_seconds": 9, "memory_mb": 768}
NB = "{}"  # collect never reads a notebook: any bytes do for the layout tests


def write(root, files):
    """Files {relative path: text} under ``root``; returns root."""
    root = Path(root)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def zip_of(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


CANVAS = {
    "andersalice_12345_67890_rnn_bptt.ipynb": NB,
    "smithjudy_LATE_222_333_rnn_bptt.ipynb": NB,          # late
    "smithjudy_444_555_rnn_bptt.ipynb": NB,               # the other Judy Smith ...
    "smithjudy_444_555_rnn_bptt-1.ipynb": NB,             # ... who uploaded it again
    "doejohn_777_888_report.pdf": "pdf",                  # no notebook
    "teamrocket_901_902_rnn_bptt.ipynb": NB,              # a group's hand-in
}


# ----------------------------------------------------------------------------- names
def test_canvas_names_give_user_id_name_and_late_flag():
    late = parse_canvas("smithjudy_LATE_222_333_rnn_bptt-1.ipynb")
    assert (late.lms_id, late.display_name, late.late, late.file) == \
        ("222", "smithjudy", True, "rnn_bptt-1.ipynb")
    assert not parse_canvas("andersalice_12345_67890_rnn_bptt.ipynb").late
    assert parse_canvas("cy_12345_rnn_bptt.ipynb") is None   # one number: a flat file


def test_moodle_names_file_folder_and_group():
    flat = parse_moodle("Alice Anders_5550001_assignsubmission_file_rnn_bptt.ipynb")
    assert (flat.lms_id, flat.display_name, flat.file) == \
        ("5550001", "Alice Anders", "rnn_bptt.ipynb")
    folder = parse_moodle("Team A-Bo Bee_5550002_assignsubmission_file_", folder=True)
    assert (folder.lms_id, folder.display_name) == ("5550002", "Team A-Bo Bee")
    assert parse_moodle("alice", folder=True) is None


def test_nbgrader_timestamps_are_read_as_nbgrader_reads_them(tmp_path):
    stamp = tmp_path / "timestamp.txt"
    stamp.write_text("2026-12-01 10:00:00.123456 UTC\n")
    assert read_nbgrader_timestamp(stamp) == "2026-12-01T10:00:00+00:00"
    stamp.write_text("2026-12-01T05:00:00-05:00")
    assert read_nbgrader_timestamp(stamp) == "2026-12-01T10:00:00+00:00"
    stamp.write_text("yesterday-ish")
    with pytest.raises(ValueError, match="not a time"):
        read_nbgrader_timestamp(stamp)


# ----------------------------------------------------------------------------- layouts
@pytest.mark.parametrize("zipped", [False, True])
def test_canvas_download(tmp_path, zipped):
    if zipped:
        where = zip_of(tmp_path / "submissions.zip", CANVAS)
    else:
        where = write(tmp_path / "unpacked", CANVAS)
    found, warnings = collect(where, "rnn_bptt", tmp_path / "x")
    by_id = {s.student: s for s in found}
    assert set(by_id) == {"12345", "222", "444", "777", "901"}  # both Judy Smiths
    assert by_id["222"].late and not by_id["12345"].late
    assert by_id["222"].display_name == by_id["444"].display_name == "smithjudy"
    assert by_id["444"].original_name == "smithjudy_444_555_rnn_bptt-1.ipynb"
    assert by_id["777"].notebook is None and by_id["777"].status == "no notebook"
    assert "doejohn_777_888_report.pdf" in by_id["777"].problem
    assert {s.layout for s in found} == {"canvas"} and by_id["901"].lms_id == "901"
    assert any("444: 2 notebooks; graded smithjudy_444_555_rnn_bptt-1.ipynb" in w
               for w in warnings)
    assert describe(found) == ("Found 5 students (Canvas bulk download, 1 late, "
                               "1 resubmission, 1 without a notebook)")


@pytest.mark.parametrize("zipped", [False, True])
def test_moodle_download_folders_flat_and_group(tmp_path, zipped):
    files = {
        "Alice Anders_5550001_assignsubmission_file_/rnn_bptt.ipynb": NB,
        "Alice Anders_5550001_assignsubmission_file_/notes.txt": "",
        "Judy Smith_5550003_assignsubmission_file_/scan.pdf": "pdf",
        "Judy Smith_5550004_assignsubmission_file_/rnn_bptt.ipynb": NB,
        "Team A-Bo Bee_5550002_assignsubmission_file_rnn_bptt.ipynb": NB,
    }
    where = zip_of(tmp_path / "m.zip", {f"export/{k}": v for k, v in files.items()}) \
        if zipped else write(tmp_path / "m", files)
    found, _ = collect(where, "rnn_bptt", tmp_path / "x")
    by_id = {s.student: s for s in found}
    assert set(by_id) == {"5550001", "5550002", "5550003", "5550004"}
    assert by_id["5550001"].display_name == "Alice Anders"
    assert by_id["5550002"].display_name == "Team A-Bo Bee"
    assert by_id["5550003"].status == "no notebook" and "scan.pdf" in by_id["5550003"].problem
    assert by_id["5550004"].notebook is not None
    assert describe(found) == "Found 4 students (Moodle bulk download, 1 without a notebook)"


def test_two_hand_ins_mapping_to_one_id_are_an_error_naming_both(tmp_path):
    write(tmp_path / "s", {"Jane Doe/a.ipynb": NB, "Jane_Doe/b.ipynb": NB})
    with pytest.raises(ValueError, match="'Jane Doe' and 'Jane_Doe'"):
        collect(tmp_path / "s", "rnn_bptt", tmp_path / "x")
    write(tmp_path / "c", {"smithjudy_444_1_rnn_bptt.ipynb": NB,
                           "doejane_444_2_rnn_bptt.ipynb": NB})
    with pytest.raises(ValueError, match="444"):
        collect(tmp_path / "c", "rnn_bptt", tmp_path / "y")


def test_nbgrader_exchange_layout_reads_timestamps(tmp_path):
    root = write(tmp_path / "submitted", {
        "alice/rnn_bptt/rnn_bptt.ipynb": NB,
        "alice/rnn_bptt/timestamp.txt": "2026-12-01 10:00:00.5 UTC",
        "alice/lstm_backward/lstm_backward.ipynb": NB,
        "bob/lstm_backward/lstm_backward.ipynb": NB,       # not this assignment
    })
    found, warnings = collect(root, "rnn_bptt", tmp_path / "x", "rnn_bptt")
    assert [(s.student, s.layout, s.submitted_at) for s in found] == \
        [("alice", "nbgrader", "2026-12-01T10:00:00+00:00")]
    assert found[0].notebook.parent.name == "rnn_bptt"
    assert any("bob: no rnn_bptt/ folder" in w for w in warnings)


def test_a_course_root_is_refused_with_the_path_to_pass(tmp_path):
    root = write(tmp_path / "course", {"submitted/alice/rnn_bptt/rnn_bptt.ipynb": NB,
                                       "source/rnn_bptt/rnn_bptt.ipynb": NB,
                                       "nbgrader_config.py": ""})
    with pytest.raises(ValueError, match=f"pass {root / 'submitted'}"):
        collect(root, "rnn_bptt", tmp_path / "x")
    bare = write(tmp_path / "bare", {"submitted/alice/rnn_bptt/rnn_bptt.ipynb": NB})
    with pytest.raises(ValueError, match="not a folder of submissions"):
        collect(bare, "rnn_bptt", tmp_path / "y")      # not one student called submitted


def test_a_zip_of_one_students_folder_is_that_student(tmp_path):
    archive = zip_of(tmp_path / "alice.zip", {"alice/rnn_bptt.ipynb": NB})
    found, _ = collect(archive, "rnn_bptt", tmp_path / "x")
    assert [s.student for s in found] == ["alice"]
    bare = zip_of(tmp_path / "bare.zip", {"rnn_bptt.ipynb": NB})
    found, warnings = collect(bare, "rnn_bptt", tmp_path / "y")
    assert found == [] and any("no student id in the name" in w for w in warnings)


def test_corrupt_and_unsafe_zips_are_clear_errors(tmp_path):
    good = zip_of(tmp_path / "good.zip", {"alice/rnn_bptt.ipynb": NB * 2000})
    data = bytearray(good.read_bytes())
    data[60:90] = b"\xff" * 30      # inside the compressed member
    (tmp_path / "corrupt.zip").write_bytes(bytes(data))
    (tmp_path / "cut.zip").write_bytes(good.read_bytes()[:40])
    for name in ("corrupt.zip", "cut.zip"):
        with pytest.raises(ValueError, match="corrupt|truncated"):
            collect(tmp_path / name, "rnn_bptt", tmp_path / "x")
    unsafe = zip_of(tmp_path / "unsafe.zip", {"alice/rnn_bptt.ipynb": NB,
                                               "../outside.ipynb": NB})
    with pytest.raises(ValueError, match="outside its folder.*outside.ipynb"):
        collect(unsafe, "rnn_bptt", tmp_path / "x")
    assert not (tmp_path / "outside.ipynb").exists()


# ----------------------------------------------------------------------------- graded
@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A work folder with both assignments generated, and notebooks to hand in."""
    base = tmp_path_factory.mktemp("layouts")
    workdir = Workdir(base / "grading")
    for assignment in ("rnn_bptt", "lstm_backward"):
        commands.generate(workdir, assignment, quiet=True)
    chosen = [c for c in hostile.RNN_CASES if c.student in ("correct", "released")]
    hostile.write_cases(base / "cases", "rnn_bptt", chosen,
                        workdir.release("rnn_bptt") / "rnn_bptt.ipynb",
                        workdir.source("rnn_bptt") / "rnn_bptt.ipynb")
    notebooks = {case: (base / "cases" / case / "submission.ipynb").read_text()
                 for case in ("correct", "released")}
    notebooks["lstm"] = (workdir.release("lstm_backward") / "lstm_backward.ipynb").read_text()
    return workdir, notebooks


def grade(workdir, folder):
    out = io.StringIO()
    summary = commands.grade(workdir, "rnn_bptt", folder, jobs=2, limits=LIMITS,
                             progress=False, out=out)
    return summary, out.getvalue()


def gradebook_students(workdir):
    with open_gradebook(workdir) as gb:
        return {s.student_id for s in gb.assignment_submissions("rnn_bptt")}


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue() + err.getvalue()


def test_a_class_through_canvas_nbgrader_and_undo(course, tmp_path):
    workdir, nb = course
    canvas = zip_of(tmp_path / "canvas.zip", {
        "andersalice_12345_67890_rnn_bptt.ipynb": nb["correct"],
        "smithjudy_LATE_222_333_rnn_bptt.ipynb": nb["correct"],
        "smithjudy_444_555_rnn_bptt.ipynb": nb["released"],
        "smithjudy_444_555_rnn_bptt-1.ipynb": nb["correct"],  # the resubmission counts
        "doejohn_777_888_report.pdf": "pdf",
        "leelee_999_1000_rnn_bptt.ipynb": nb["lstm"],          # the other assignment
    })
    summary, out = grade(workdir, canvas)
    assert "Found 5 students (Canvas bulk download, 1 late, 1 resubmission, 1 without a " \
           "notebook)" in out
    records = workdir.read_records("rnn_bptt")
    assert {s: (r.status, r.total) for s, r in records.items()} == {
        "12345": ("graded", 100), "222": ("graded", 100), "444": ("graded", 100),
        "777": ("no notebook", 0), "999": ("wrong assignment", 0)}
    assert records["222"].late and records["444"].display_name == "smithjudy"
    assert records["444"].original_name == "smithjudy_444_555_rnn_bptt-1.ipynb"
    assert "lstm_backward" in records["999"].parts[0].reason
    assert "[wrong assignment]" in out and "12345 (andersalice)" in out
    assert gradebook_students(workdir) == {"12345", "222", "444", "777"}  # 999 refused
    assert not workdir.autograded("999", "rnn_bptt").exists()

    # nbgrader's own layout inside the work folder: graded in place, time from timestamp.txt
    hand_in = workdir.submitted("alice", "rnn_bptt")
    hand_in.mkdir(parents=True)
    (hand_in / "rnn_bptt.ipynb").write_text(nb["correct"])
    (hand_in / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    summary, out = grade(workdir, workdir.root / "submitted")
    records = workdir.read_records("rnn_bptt")
    assert records["alice"].total == 100 and records["alice"].layout == "nbgrader"
    assert records["alice"].submitted_at == "2026-12-01T10:00:00+00:00"
    assert summary.graded == 1  # the Canvas students' copies were unchanged
    assert "alice" in gradebook_students(workdir)
    # then the other assignment's notebook by mistake: refused, alice's grade stays
    (hand_in / "rnn_bptt.ipynb").write_text(nb["lstm"])
    summary, out = grade(workdir, workdir.root / "submitted")
    assert "alice: the new notebook is of another assignment and was refused; the " \
           "previous grade (100) is kept" in out
    assert workdir.read_records("rnn_bptt")["alice"].total == 100
    # the course root passed by mistake: a clear error, nothing changed
    code, said = run_cli("grade", "rnn_bptt", str(workdir.root), "--workdir",
                         str(workdir.root), "--quiet")
    assert code == 1 and f"pass {workdir.root / 'submitted'}" in said
    assert workdir.read_records("rnn_bptt").keys() == records.keys()

    # a bad zip loses nothing already graded
    zip_of(tmp_path / "bad.zip", {"x/a.ipynb": NB, "../../evil.ipynb": NB})
    code, said = run_cli("grade", "rnn_bptt", str(tmp_path / "bad.zip"), "--workdir",
                         str(workdir.root), "--quiet")
    assert code == 1 and "outside its folder" in said
    assert workdir.read_records("rnn_bptt").keys() == records.keys()

    # undo: an unknown id removes nothing; a known one removes record, notebook, gradebook
    code, said = run_cli("grade", "rnn_bptt", "--remove", "12345", "nobody", "--workdir",
                         str(workdir.root))
    assert code == 1 and "nobody" in said and "nothing was removed" in said
    assert "12345" in workdir.read_records("rnn_bptt")
    code, said = run_cli("grade", "rnn_bptt", "--remove", "12345", "999", "--workdir",
                         str(workdir.root))
    assert code == 0, said
    assert not {"12345", "999"} & set(workdir.read_records("rnn_bptt"))
    assert "12345" not in gradebook_students(workdir)
    assert not workdir.autograded("12345", "rnn_bptt").exists()
    assert workdir.submitted("12345", "rnn_bptt").is_dir()   # the hand-in is kept


def test_moodle_zip_graded(course, tmp_path):
    workdir, nb = course
    workdir = Workdir(shutil.copytree(workdir.root, tmp_path / "grading"))
    moodle = zip_of(tmp_path / "moodle.zip", {
        "RNN-1/Alice Anders_5550001_assignsubmission_file_/rnn_bptt.ipynb": nb["correct"],
        "RNN-1/Judy Smith_5550003_assignsubmission_file_/scan.pdf": "pdf",
        "RNN-1/Team A-Bo Bee_5550002_assignsubmission_file_rnn_bptt.ipynb": nb["released"],
    })
    _, out = grade(workdir, moodle)
    assert "Found 3 students (Moodle bulk download, 1 without a notebook)" in out
    records = workdir.read_records("rnn_bptt")
    assert {s: (r.status, r.total, r.display_name) for s, r in records.items()
            if s.startswith("555")} == {
        "5550001": ("graded", 100, "Alice Anders"),
        "5550002": ("graded", 0, "Team A-Bo Bee"),
        "5550003": ("no notebook", 0, "Judy Smith")}
