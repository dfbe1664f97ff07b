"""Feedback-page wording (#20) and the LMS exports (#13): what students and LMSs read."""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import chromium
import pytest
from autograder_cases import hostile
from test_autograder_e2e import copy_workdir, grade, source_points, write_submissions

from autograder import commands
from autograder.exports import class_rows, moodle_feedback_zip, table
from autograder.feedback import summary_html
from autograder.gradebook import open_gradebook, run_nbgrader
from autograder.record import PartResult, Record
from autograder.roster import RosterError, read_roster
from autograder.workdir import SOURCE_ROOT, Workdir

REPO = Path(__file__).resolve().parents[1]


def _record(bonus_points):
    parts = [PartResult("rnn_step_forward", 60, points=60, passed=4, cases=4,
                        reason="all 4 hidden cases correct"),
             PartResult("rnn_backward", 40, points=30, passed=3, cases=4,
                        reason="case 2: time steps t <= 2 are wrong"),
             PartResult("gru_bonus", 10, points=bonus_points, passed=1, cases=1, bonus=True)]
    return Record("s1", "rnn", max=100, parts=parts, graded_at="2026-10-02T10:00Z")


def test_feedback_page_says_extra_credit_is_a_gain_and_how_cases_count():
    page = summary_html(_record(10))
    assert "100 / 100" in page
    assert "including 10 extra credit" not in page
    assert "10 points of extra credit added" in page
    assert "never exceeds 100" in page
    assert "new random values" not in page
    assert "full marks on every run" in page
    assert "rnn_step_forward 4, rnn_backward 4, gru_bonus 1" in page
    assert "partial score" in page


def test_feedback_page_without_extra_credit_does_not_mention_it():
    page = summary_html(_record(0))
    assert "90 / 100</strong>." in page
    assert "extra credit added" not in page


# ----------------------------------------------------------------------------- exports
NAMES = ["rnn_step_forward", "rnn_backward", "gru_bonus"]


def _roster(tmp_path, text):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _class(tmp_path):
    """Two graded students (one with extra credit, one changed in formgrader) and an
    enrolled student who handed in nothing."""
    roster = read_roster(_roster(tmp_path, "ID,Name,LMS_id,Section,Email,extra\n"
                                 "s1,Ada Lovelace,101,A,ada@x.org,?\n"
                                 "s2,Ben Bo,102,B,ben@x.org,\n"
                                 "s3,Cy Di,103,A,cy@x.org,\n"))
    records = {"s1": _record(10), "s2": _record(0)}
    records["s2"].student = "s2"
    points = {"s1": {"rnn_step_forward": 60, "rnn_backward": 30, "gru_bonus": 10},
              "s2": {"rnn_step_forward": 55, "rnn_backward": 30, "gru_bonus": 0}}
    return class_rows(points, records, roster, NAMES, {"gru_bonus"}, 100)


def test_rows_join_the_roster_and_keep_a_non_submitter(tmp_path):
    rows = {r.student: r for r in _class(tmp_path)}
    assert sorted(rows) == ["s1", "s2", "s3"]
    assert rows["s1"].total == 100 and rows["s1"].name == "Ada Lovelace"
    assert rows["s2"].total == 85          # the gradebook's score, not the record's 90
    assert rows["s3"].status == "not submitted" and rows["s3"].total == 0


def test_csv_canvas_and_moodle_tables(tmp_path):
    rows = _class(tmp_path)
    ours = list(csv.DictReader(io.StringIO(_text(table(rows, "csv", NAMES, 100, "rnn")))))
    assert [r["status"] for r in ours] == ["graded", "graded", "not submitted"]
    assert ours[1]["rnn_step_forward"] == "55" and ours[2]["total"] == "0"
    canvas = table(rows, "canvas", NAMES, 100, "rnn", "RNN BPTT (1234)")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                         "RNN BPTT (1234)"]
    assert canvas[1][0] == "Points Possible" and canvas[1][-1] == "100"
    assert canvas[2] == ["Ada Lovelace", "101", "", "", "A", "100"]
    moodle = table(rows, "moodle", NAMES, 100, "rnn")
    assert moodle[0][:6] == ["Identifier", "Full name", "Email address", "Status",
                             "Grade", "Maximum grade"]
    assert "Last modified (grade)" in moodle[0]
    assert moodle[3][:5] == ["Participant 103", "Cy Di", "cy@x.org", "not submitted", "0"]


def test_lms_formats_refuse_rows_they_cannot_match(tmp_path):
    rows = class_rows({"s9": {"rnn_step_forward": 1}}, {}, None, NAMES, set(), 100)
    for fmt in ("canvas", "moodle"):
        with pytest.raises(ValueError, match="no LMS id for 1 student.*s9.*--roster"):
            table(rows, fmt, NAMES, 100, "rnn")
    assert table(rows, "csv", NAMES, 100, "rnn")[1][0] == "s9"


def test_roster_skips_blank_rows_and_strips_cells(tmp_path):
    """Spreadsheets save trailing rows of bare commas; they are not students."""
    roster = read_roster(_roster(tmp_path, "\ufeffId , Name\n s1 , Ada \n,\n\n s2,Ben\n,,\n"))
    assert list(roster) == ["s1", "s2"] and roster["s1"].name == "Ada"
    with pytest.raises(RosterError, match="cannot read the roster .*roster.csv"):
        read_roster(tmp_path / "missing" / "roster.csv")


def test_graded_student_missing_from_the_roster_is_kept_and_flagged(tmp_path):
    roster = read_roster(_roster(tmp_path, "id\ns1\n"))
    rows = class_rows({"s1": {}, "s2": {}}, {}, roster, NAMES, set(), 100)
    assert [r.status for r in rows] == ["graded", "graded; not on the roster"]


@pytest.mark.parametrize("text, message", [
    ("name,lms_id\nAda,1\n", "no 'id' column"),
    ("id,name\ns1,Ada\ns2,Ben\ns1,Ada again\n", "line 4: duplicate id 's1'"),
    ("id,name\n,Ada\n", "line 2: empty id"),
    # the line an editor shows, past blank lines and a quoted name over two lines
    ("id,name\ns1,Ada\n\n,\ns2,\"Ben\nBo\"\n\ns1,Ada again\n", "line 8: duplicate id 's1'"),
])
def test_roster_errors_name_the_problem(tmp_path, text, message):
    with pytest.raises(RosterError, match=message):
        read_roster(_roster(tmp_path, text))


def test_moodle_feedback_zip_names(tmp_path):
    rows = _class(tmp_path)
    rows[0].name = "Ada_Lovelace"
    page = tmp_path / "rnn.html"
    page.write_text("<html></html>")
    target = tmp_path / "feedback.zip"
    assert moodle_feedback_zip(target, rows, {"s1": page, "s2": page}) == 2
    names = zipfile.ZipFile(target).namelist()
    assert names == ["Ada Lovelace_101_assignfeedback_file_rnn.html",
                     "Ben Bo_102_assignfeedback_file_rnn.html"]
    # the importer splits on the first four underscores: participant id second
    assert all(n.split("_", 4)[1].isdigit() for n in names)


def _text(rows):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- manual overrides
@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A work folder in which nbgrader generated rnn_bptt."""
    workdir = Workdir(tmp_path_factory.mktemp("generated") / "grading")
    commands.generate(workdir, "rnn_bptt", quiet=True)
    return workdir


def _export_total(workdir, tmp_path, student):
    target = commands.export(workdir, "rnn_bptt", tmp_path / "grades.csv", out=None)
    with open(target, newline="", encoding="utf-8") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    return float(rows[student]["total"])


def _set_manual_score(workdir, part, score):
    """What an instructor's edit in formgrader does: nbgrader's own Gradebook API."""
    source = source_points(workdir, "rnn_bptt")
    with open_gradebook(workdir) as gb:
        cell = gb.find_grade(source.test_cells[part], "rnn_bptt", "rnn_bptt", "ada")
        cell.manual_score = score
        gb.db.commit()


def test_manual_score_does_not_survive_a_resubmission_or_force(generated, tmp_path):
    """#13: ada's formgrader score judged her old code; her corrected resubmission (and a
    ``--force`` re-grade) is graded afresh, and export writes the new full score."""
    workdir = copy_workdir(generated, tmp_path / "grading")
    source = source_points(workdir, "rnn_bptt")
    cases = [c for c in hostile.RNN_CASES if c.student in ("correct", "partial")]
    write_submissions(workdir, "rnn_bptt", cases, tmp_path / "made")
    folder = tmp_path / "submissions" / "ada"
    folder.mkdir(parents=True)
    shutil.copy(tmp_path / "made" / "partial" / "submission.ipynb", folder / "rnn_bptt.ipynb")
    grade(workdir, "rnn_bptt", tmp_path / "submissions")
    first = workdir.read_records("rnn_bptt")["ada"].total
    assert first < 100

    _set_manual_score(workdir, "rnn_forward", source.points["rnn_forward"] - 1)
    overridden = _export_total(workdir, tmp_path, "ada")
    assert overridden != first      # the instructor's word counts while the code is the same
    summary, printed = grade(workdir, "rnn_bptt", tmp_path / "submissions")
    assert _export_total(workdir, tmp_path, "ada") == overridden
    assert f"note: ada: {overridden:g} in the gradebook" in printed   # shown, not hidden
    assert "grade --force" in printed
    with open_gradebook(workdir) as gb:
        notebook = gb.find_submission_notebook("rnn_bptt", "rnn_bptt", "ada")
        notebook.comments[0].manual_comment = "Check N == 1 <again>"
        commented = notebook.comments[0].name
        gb.db.commit()
    commands.feedback(workdir, "rnn_bptt", progress=False, out=None)
    page = (workdir.feedback("ada", "rnn_bptt") / "rnn_bptt.html").read_text(encoding="utf-8")
    assert f"<strong>{overridden:g} / 100</strong>" in page
    assert "score set by the instructor" in page
    assert f"instructor&#x27;s comment on {commented}: Check N == 1 &lt;again&gt;" in page

    shutil.copy(tmp_path / "made" / "correct" / "submission.ipynb", folder / "rnn_bptt.ipynb")
    summary, printed = grade(workdir, "rnn_bptt", tmp_path / "submissions")
    assert [r.total for r in summary.records] == [100]
    assert "in the gradebook" not in printed
    assert _export_total(workdir, tmp_path, "ada") == 100

    _set_manual_score(workdir, "rnn_forward", 0.0)
    assert _export_total(workdir, tmp_path, "ada") == 100 - source.points["rnn_forward"]
    grade(workdir, "rnn_bptt", tmp_path / "submissions", force=True)
    assert _export_total(workdir, tmp_path, "ada") == 100


def _comment(workdir, student, text=None):
    """Read (or, with ``text``, set as formgrader does) the first comment of a notebook."""
    with open_gradebook(workdir) as gb:
        comment = gb.find_submission_notebook("rnn_bptt", "rnn_bptt", student).comments[0]
        if text is not None:
            comment.manual_comment = text
            gb.db.commit()
        return comment.manual_comment


def test_stale_comments_are_kept_and_marked(generated, tmp_path):
    """#13: a formgrader comment about the old code survives a re-grade, marked as written
    before it (in formgrader and on the feedback page); an unchanged re-run leaves it."""
    workdir = copy_workdir(generated, tmp_path / "grading")
    write_submissions(workdir, "rnn_bptt", [c for c in hostile.RNN_CASES
                                            if c.student == "partial"], tmp_path / "made")
    folder = tmp_path / "submissions" / "ada"
    folder.mkdir(parents=True)
    shutil.copy(tmp_path / "made" / "partial" / "submission.ipynb", folder / "rnn_bptt.ipynb")
    grade(workdir, "rnn_bptt", tmp_path / "submissions")
    _comment(workdir, "ada", "N == 1 fails")
    grade(workdir, "rnn_bptt", tmp_path / "submissions")
    assert _comment(workdir, "ada") == "N == 1 fails"          # unchanged: not stale
    grade(workdir, "rnn_bptt", tmp_path / "submissions", force=True)
    graded_at = workdir.read_records("rnn_bptt")["ada"].graded_at
    marked = f"[written before the re-grade of {graded_at}] N == 1 fails"
    assert _comment(workdir, "ada") == marked
    grade(workdir, "rnn_bptt", tmp_path / "submissions", force=True)
    assert _comment(workdir, "ada").count("[written before") == 1   # one mark, the latest
    commands.feedback(workdir, "rnn_bptt", progress=False, out=None)
    page = (workdir.feedback("ada", "rnn_bptt") / "rnn_bptt.html").read_text(encoding="utf-8")
    assert "[written before the re-grade of " in page and "N == 1 fails" in page


def test_nbgrader_feedback_pages_render_math_offline(generated, tmp_path):
    """#13: nbgrader's generate_feedback loads MathJax from a CDN and removes our copy;
    ``feedback --from-nbgrader`` points the page at a local MathJax that exists."""
    workdir = copy_workdir(generated, tmp_path / "grading")
    write_submissions(workdir, "rnn_bptt", [c for c in hostile.RNN_CASES
                                            if c.student == "correct"], tmp_path / "made")
    (tmp_path / "submissions" / "ada").mkdir(parents=True)
    shutil.copy(tmp_path / "made" / "correct" / "submission.ipynb",
                tmp_path / "submissions" / "ada" / "rnn_bptt.ipynb")
    grade(workdir, "rnn_bptt", tmp_path / "submissions")
    commands.feedback(workdir, "rnn_bptt", progress=False, out=None)
    run_nbgrader(workdir, "generate_feedback", "rnn_bptt", "--force")
    page = workdir.feedback("ada", "rnn_bptt") / "rnn_bptt.html"
    assert not (page.parent / "mathjax").exists()         # what nbgrader does
    assert "cdnjs.cloudflare.com/ajax/libs/mathjax" in page.read_text(encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(REPO), TQDM_DISABLE="1")
    done = subprocess.run([sys.executable, "-m", "autograder", "feedback", "rnn_bptt",
                           "--from-nbgrader", "--workdir", str(workdir.root)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = page.read_text(encoding="utf-8")
    sources = re.findall(r"<script[^>]*\ssrc=[\"']([^\"']+)", text)
    assert sources == ["mathjax/config.js"]
    config = page.parent / "mathjax" / "config.js"
    assert config.is_file() and "tex-svg-full.js" in config.read_text(encoding="utf-8")
    assert (page.parent / "mathjax" / "tex-svg-full.js").stat().st_size > 100_000
    assert "$" in text                                  # the math is still there, as TeX
    if chromium.find() is None:
        warnings.warn("no headless Chromium here: the page's math was checked by its markup "
                      "only", UserWarning, stacklevel=2)
        return
    dom = chromium.dump_dom(page.as_uri())
    assert dom.count("<mjx-container") >= 10, "MathJax did not typeset nbgrader's page"


def test_written_answers_carry_points_graded_in_formgrader(tmp_path):
    """#13: the instructor gives a written answer points in the source notebook; nbgrader
    lists it for manual grading, and export and the feedback page count formgrader's score
    once given ("not graded yet" before)."""
    source_root = tmp_path / "source"
    shutil.copytree(SOURCE_ROOT / "rnn_bptt", source_root / "rnn_bptt")
    path = source_root / "rnn_bptt" / "rnn_bptt.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"]
             if c["metadata"].get("nbgrader", {}).get("grade_id") == "written_truncation"]
    assert len(cells) == 1 and cells[0]["cell_type"] == "markdown"
    cells[0]["metadata"]["nbgrader"]["points"] = 5
    path.write_text(json.dumps(nb), encoding="utf-8")
    workdir = Workdir(tmp_path / "grading")
    commands.generate(workdir, "rnn_bptt", source_root=source_root, quiet=True)
    write_submissions(workdir, "rnn_bptt", [c for c in hostile.RNN_CASES
                                            if c.student == "correct"], tmp_path / "made")
    (tmp_path / "submissions" / "ada").mkdir(parents=True)
    shutil.copy(tmp_path / "made" / "correct" / "submission.ipynb",
                tmp_path / "submissions" / "ada" / "rnn_bptt.ipynb")
    summary, printed = grade(workdir, "rnn_bptt", tmp_path / "submissions")
    assert summary.records[0].max == 105 and summary.records[0].total == 100
    assert "in the gradebook" not in printed

    def written_grade():
        with open_gradebook(workdir) as gb:
            grade_row = gb.find_grade("written_truncation", "rnn_bptt", "rnn_bptt", "ada")
            return grade_row.max_score, grade_row.needs_manual_grade, grade_row.manual_score

    def exported():
        target = commands.export(workdir, "rnn_bptt", tmp_path / "grades.csv", out=None)
        with open(target, newline="", encoding="utf-8") as f:
            return next(csv.DictReader(f))

    def page():
        commands.feedback(workdir, "rnn_bptt", progress=False, out=None)
        return (workdir.feedback("ada", "rnn_bptt") / "rnn_bptt.html").read_text(
            encoding="utf-8")

    assert written_grade() == (5, True, None)        # formgrader lists it for grading
    row = exported()
    assert (row["written_truncation"], row["total"], row["max"]) == ("", "100", "105")
    assert "written answer: not graded yet" in page() and "<strong>100 / 105</strong>" in page()

    with open_gradebook(workdir) as gb:                # what formgrader does
        gb.find_grade("written_truncation", "rnn_bptt", "rnn_bptt", "ada").manual_score = 3
        gb.db.commit()
    grade(workdir, "rnn_bptt", tmp_path / "submissions")   # unchanged: the score stays
    assert written_grade()[1:] == (False, 3)
    row = exported()
    assert (row["written_truncation"], row["total"]) == ("3", "103")
    text = page()
    assert "written answer: 3/5 (graded by the instructor)" in text
    assert "<strong>103 / 105</strong>" in text


def test_a_refused_notebook_keeps_its_status_in_the_export():
    """A notebook of another assignment is recorded but never reaches the gradebook: its row
    says why (not "not submitted"), with no points."""
    refused = Record(student="s1", assignment="rnn_bptt", status="wrong assignment")
    (row,) = class_rows({}, {"s1": refused}, None, ["rnn_step_forward"], set(), 100.0)
    assert row.status == "wrong assignment" and row.total == 0.0
