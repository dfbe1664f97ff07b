"""Deadlines (#13 item 3): the due date, per-student extensions and the late penalty, with
nbgrader's semantics; then the whole path through the command line: ``deadline``, ``grade``,
``export --format csv|canvas|moodle --roster`` and ``feedback``, checked row by row, and bad
input that must be refused without losing anything."""

import csv
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from autograder_cases import hostile
from test_autograder_e2e import copy_workdir, grade, write_submissions

from autograder import commands, deadlines
from autograder.gradebook import open_gradebook, utc_naive
from autograder.workdir import Workdir

REPO = Path(__file__).resolve().parents[1]
DUE = "2026-03-01T23:59+01:00"
DUE_UTC = datetime(2026, 3, 1, 22, 59, tzinfo=timezone.utc)


# ----------------------------------------------------------------------------- parsing, rule
@pytest.mark.parametrize("text, expected", [
    ("2026-03-01T23:59+01:00", DUE_UTC),
    ("2026-03-01 22:59Z", DUE_UTC),
    ("2026-03-01T17:59-05:00", DUE_UTC),
])
def test_due_dates_parse_to_utc(text, expected):
    assert deadlines.parse_due(text) == expected


@pytest.mark.parametrize("text, message", [
    ("next friday", "does not parse.*ISO 8601"),
    ("2026-03-01T23:59", "no time zone.*2026-03-01T23:59\\+01:00"),
    ("2026-02-30T10:00Z", "does not parse"),
])
def test_bad_due_dates_say_what_was_expected(text, message):
    with pytest.raises(deadlines.DeadlineError, match=message):
        deadlines.parse_due(text)


@pytest.mark.parametrize("text, hours", [("2d", 48), ("36h", 36), ("1d 12h", 36),
                                          ("90min", 1.5), ("1w", 168), ("1.5 days", 36)])
def test_extension_durations(text, hours):
    assert deadlines.parse_duration(text) == timedelta(hours=hours)


@pytest.mark.parametrize("text", ["", "2", "two days", "2d banana", "-1d"])
def test_bad_extension_durations(text):
    with pytest.raises(deadlines.DeadlineError, match="does not parse"):
        deadlines.parse_duration(text)


@pytest.mark.parametrize("rule, score, late, expected", [
    ("none", 80, 3600, 0), ("zero", 80, 1, 80), ("zero", 80, 0, 0),
    ("10%/day", 80, 1, 8), ("10%/day", 80, 86400, 8), ("10%/day", 80, 86401, 16),
    ("10%/day", 80, 86400 * 30, 80),             # never more than the score
    ("5%/hour", 60, 2 * 3600 + 13 * 60, 9),       # 3 started hours
    ("10%/day", 0, 86400, 0),
])
def test_penalty_follows_nbgrader(rule, score, late, expected):
    """nbgrader: no penalty on time; 'zero' takes the whole score; the penalty is clamped
    to [0, score] (AssignLatePenalties._check_late_penalty)."""
    assert deadlines.penalty_points(rule, score, late) == pytest.approx(expected)


@pytest.mark.parametrize("rule", ["10%", "half", "10%/week", "-5%/day"])
def test_unknown_penalty_rules_are_refused(rule):
    with pytest.raises(deadlines.DeadlineError, match="none.*zero.*P%/day"):
        deadlines.check_penalty(rule)


def test_lateness_sentence_says_how_late_and_the_extension():
    rule = deadlines.Deadline(DUE_UTC, "10%/day", {"cy": timedelta(days=2)})
    late = deadlines.lateness(rule, "ben", "2026-03-02T01:12:00+00:00", 80)
    assert late.seconds_late == 2 * 3600 + 13 * 60 and late.penalty == 8
    assert "Submitted 2 h 13 min after the due date (2026-03-01 22:59 UTC)" in late.sentence()
    assert "late penalty 8 points (10% of the score per started day late)" in late.sentence()
    on_time = deadlines.lateness(rule, "cy", "2026-03-03T04:00:00+00:00", 80)
    assert on_time.penalty == 0 and "on time" in on_time.sentence()
    assert "extension of 2 d" in on_time.sentence()
    unknown = deadlines.lateness(rule, "dee", "", 80)
    assert unknown.penalty == 0 and unknown.delay_text() == "unknown"
    assert "LMS" not in unknown.sentence()
    flagged = deadlines.lateness(rule, "dee", "", 80, flagged=True)
    assert "time is unknown (the LMS marked it late but gave no time)" in flagged.sentence()


@pytest.mark.parametrize("text, message", [
    ("student_id,extension\nzed,2d\n", "line 2: unknown student 'zed'.*--roster"),
    ("student_id,extension\nada,2d\nada,1d\n", "line 3: 'ada' appears twice"),
    ("student_id,extension\nada,soon\n", "line 2: extension 'soon' does not parse"),
    ("id,days\nada,2\n", "header must be student_id,extension"),
    ("student_id,extension\n\n,\nada,1d\n\nada,2d\n", "line 6: 'ada' appears twice"),
])
def test_extension_file_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "ext.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(deadlines.DeadlineError, match=message):
        deadlines.read_extensions(path, {"ada", "ben"})


@pytest.mark.parametrize("text, expected", [
    ("2026-03-02T01:12:00+01:00", datetime(2026, 3, 2, 0, 12)),
    ("2026-03-02T01:12:00Z", datetime(2026, 3, 2, 1, 12)), ("", None), ("yesterday", None)])
def test_gradebook_times_are_naive_utc_as_nbgrader_keeps_them(text, expected):
    """Every graded submission's time goes into nbgrader's gradebook, deadline or not."""
    assert utc_naive(text) == expected


# ----------------------------------------------------------------------------- end to end
def cli(workdir, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO), TQDM_DISABLE="1")
    return subprocess.run([sys.executable, "-m", "autograder", *args, "--workdir",
                           str(workdir.root)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def _submit(made, folder, student, case, when):
    target = folder / student / "rnn_bptt.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(made / case / "submission.ipynb", target)
    os.utime(target, (when.timestamp(), when.timestamp()))


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    workdir = Workdir(tmp_path_factory.mktemp("generated") / "grading")
    commands.generate(workdir, "rnn_bptt", quiet=True)
    return workdir


@pytest.fixture(scope="module")
def graded_class(generated, tmp_path_factory):
    """ada on time, ben 2 h 13 min late, cy 30 h late with a 2-day extension, dee enrolled
    with nothing handed in; 10% of the score per started day late."""
    tmp = tmp_path_factory.mktemp("class")
    workdir = copy_workdir(generated, tmp / "grading")
    cases = [c for c in hostile.RNN_CASES if c.student in ("correct", "partial")]
    write_submissions(workdir, "rnn_bptt", cases, tmp / "made")
    folder = tmp / "submissions"
    _submit(tmp / "made", folder, "ada", "correct", DUE_UTC - timedelta(hours=1))
    _submit(tmp / "made", folder, "ben", "partial", DUE_UTC + timedelta(hours=2, minutes=13))
    _submit(tmp / "made", folder, "cy", "correct", DUE_UTC + timedelta(hours=30))
    roster = tmp / "roster.csv"
    roster.write_text("id,name,lms_id,section,email\nada,Ada A,101,A,ada@x.org\n"
                      "ben,Ben B,102,A,ben@x.org\ncy,Cy C,103,B,cy@x.org\n"
                      "dee,Dee D,104,B,dee@x.org\n", encoding="utf-8")
    extensions = tmp / "extensions.csv"
    extensions.write_text("student_id,extension\ncy,2d\n", encoding="utf-8")
    # before anything is graded: cy is known from the roster only
    done = cli(workdir, "deadline", "rnn_bptt", "--due", DUE, "--penalty", "10%/day",
               "--extensions", str(extensions), "--roster", str(roster))
    assert done.returncode == 0, done.stderr
    summary, printed = grade(workdir, "rnn_bptt", folder)
    return workdir, tmp, roster, printed


def test_grade_says_who_was_late(graded_class):
    _, _, _, printed = graded_class
    assert "note: ben: Submitted 2 h 13 min after the due date" in printed
    assert "note: ada" not in printed and "note: cy" not in printed


@pytest.mark.parametrize("fmt", ["csv", "canvas", "moodle"])
def test_export_rows_through_the_cli(graded_class, fmt):
    workdir, tmp, roster, _ = graded_class
    records = workdir.read_records("rnn_bptt")
    ben_score = records["ben"].total
    assert records["ada"].total == records["cy"].total == 100 and ben_score < 100
    ben_total = round(ben_score * 0.9, 4)
    target = tmp / f"{fmt}.csv"
    done = cli(workdir, "export", "rnn_bptt", "--csv", str(target), "--format", fmt,
               "--roster", str(roster))
    assert done.returncode == 0, done.stderr
    assert "wrote 4 students (1 not submitted)" in done.stdout
    rows = _read(target)
    if fmt == "csv":
        got = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
        assert sorted(got) == ["ada", "ben", "cy", "dee"]
        assert [got[s]["status"] for s in sorted(got)] == ["graded"] * 3 + ["not submitted"]
        assert float(got["ben"]["penalty"]) == pytest.approx(ben_score * 0.1, abs=1e-3)
        assert float(got["ben"]["total"]) == pytest.approx(ben_total, abs=1e-3)
        assert got["ben"]["late_by"] == "2 h 13 min"
        for student in ("ada", "cy"):
            assert (got[student]["penalty"], got[student]["total"]) == ("0", "100")
            assert got[student]["late_by"] == ""
        assert got["dee"]["total"] == "0" and got["dee"]["submitted_at"] == ""
        assert got["ben"]["submitted_at"].startswith("2026-03-02T01:12")
    elif fmt == "canvas":
        assert rows[1][0] == "Points Possible"
        got = {r[1]: r for r in rows[2:]}
        assert sorted(got) == ["101", "102", "103", "104"]
        assert [got[i][-1] for i in ("101", "103", "104")] == ["100", "100", "0"]
        assert float(got["102"][-1]) == pytest.approx(ben_total, abs=1e-3)
    else:
        got = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
        assert sorted(got) == [f"Participant {i}" for i in (101, 102, 103, 104)]
        ben = got["Participant 102"]
        assert float(ben["Grade"]) == pytest.approx(ben_total, abs=1e-3)
        assert ben["Status"].startswith("graded; late by 2 h 13 min, penalty ")
        assert got["Participant 103"]["Status"] == "graded"
        assert got["Participant 104"]["Status"] == "not submitted"
        assert got["Participant 104"]["Grade"] == "0"


def test_the_gradebook_holds_the_deadline_as_nbgrader_does(graded_class):
    workdir, _, _, _ = graded_class
    records = workdir.read_records("rnn_bptt")
    with open_gradebook(workdir) as gb:
        assert gb.find_assignment("rnn_bptt").duedate == DUE_UTC.replace(tzinfo=None)
        ada = gb.find_submission("rnn_bptt", "ada")
        assert ada.timestamp == (DUE_UTC - timedelta(hours=1)).replace(tzinfo=None)
        ben = gb.find_submission("rnn_bptt", "ben")
        assert ben.total_seconds_late == 2 * 3600 + 13 * 60
        cy = gb.find_submission("rnn_bptt", "cy")
        assert cy.extension == timedelta(days=2) and cy.total_seconds_late == 0
        notebook = gb.find_submission_notebook("rnn_bptt", "rnn_bptt", "ben")
        assert notebook.late_submission_penalty == pytest.approx(records["ben"].total * 0.1)
        assert gb.find_submission_notebook("rnn_bptt", "rnn_bptt", "ada") \
            .late_submission_penalty in (None, 0)


def test_feedback_page_states_the_penalty(graded_class):
    workdir, _, _, _ = graded_class
    done = cli(workdir, "feedback", "rnn_bptt", "--quiet")
    assert done.returncode == 0, done.stderr
    score = workdir.read_records("rnn_bptt")["ben"].total
    page = (workdir.feedback("ben", "rnn_bptt") / "rnn_bptt.html").read_text(encoding="utf-8")
    assert f"<strong>{round(score * 0.9, 4):g} / 100</strong>" in page
    assert "Submitted 2 h 13 min after the due date (2026-03-01 22:59 UTC)" in page
    assert f"Total before the penalty: {score:g} / 100" in page
    cy = (workdir.feedback("cy", "rnn_bptt") / "rnn_bptt.html").read_text(encoding="utf-8")
    assert "Submitted on time" in cy and "extension of 2 d" in cy
    assert "<strong>100 / 100</strong>" in cy


def test_bad_input_is_refused_and_loses_nothing(graded_class):
    workdir, tmp, roster, _ = graded_class
    setting = deadlines.config_path(workdir, "rnn_bptt").read_text(encoding="utf-8")
    good = tmp / "good.csv"
    assert cli(workdir, "export", "rnn_bptt", "--csv", str(good)).returncode == 0
    before = good.read_text(encoding="utf-8")

    twice = tmp / "twice.csv"
    twice.write_text("id,name\nada,A\nben,B\nada,A again\n", encoding="utf-8")
    done = cli(workdir, "export", "rnn_bptt", "--csv", str(good), "--roster", str(twice))
    assert done.returncode == 1
    assert "line 4: duplicate id 'ada'" in done.stderr

    done = cli(workdir, "deadline", "rnn_bptt", "--due", "1 March, midnight")
    assert done.returncode == 1 and "does not parse" in done.stderr

    unknown = tmp / "unknown.csv"
    unknown.write_text("student_id,extension\nzed,1d\n", encoding="utf-8")
    done = cli(workdir, "deadline", "rnn_bptt", "--due", DUE, "--extensions", str(unknown))
    assert done.returncode == 1 and "unknown student 'zed'" in done.stderr

    # nothing changed: the setting, the gradebook's penalties and the export
    assert deadlines.config_path(workdir, "rnn_bptt").read_text(encoding="utf-8") == setting
    assert good.read_text(encoding="utf-8") == before
    with open_gradebook(workdir) as gb:
        assert gb.find_submission("rnn_bptt", "cy").extension == timedelta(days=2)


def test_a_new_deadline_recomputes_and_none_clears(graded_class, tmp_path):
    """Setting the deadline again (here: no extension, 'zero') applies at once to what is
    graded; ``--penalty none`` gives every point back."""
    workdir = copy_workdir(graded_class[0], tmp_path / "grading")
    done = cli(workdir, "deadline", "rnn_bptt", "--due", DUE, "--penalty", "zero")
    assert done.returncode == 0, done.stderr
    assert "note: cy: Submitted 1 d 6 h after the due date" in done.stdout
    target = tmp_path / "g.csv"
    assert cli(workdir, "export", "rnn_bptt", "--csv", str(target)).returncode == 0
    got = {r[0]: dict(zip(_read(target)[0], r)) for r in _read(target)[1:]}
    assert (got["ada"]["total"], got["ben"]["total"], got["cy"]["total"]) == ("100", "0", "0")
    assert cli(workdir, "deadline", "rnn_bptt", "--due", DUE).returncode == 0
    assert cli(workdir, "export", "rnn_bptt", "--csv", str(target)).returncode == 0
    got = {r[0]: dict(zip(_read(target)[0], r)) for r in _read(target)[1:]}
    assert got["cy"]["total"] == "100" and got["ben"]["penalty"] == "0"



def test_a_resubmission_is_judged_by_its_own_time(graded_class, tmp_path):
    """ben hands in corrected code three days late: graded afresh, his time and penalty are
    the new submission's (4 started days: 40%), in the export and the gradebook."""
    workdir, tmp, _, _ = graded_class
    workdir = copy_workdir(workdir, tmp_path / "grading")
    folder = tmp_path / "submissions"
    shutil.copytree(tmp / "submissions", folder, copy_function=shutil.copy2)
    _submit(tmp / "made", folder, "ben", "correct", DUE_UTC + timedelta(days=3, hours=1))
    summary, printed = grade(workdir, "rnn_bptt", folder)
    assert summary.graded == 1 and summary.reused == 2
    assert "note: ben: Submitted 3 d 1 h after the due date" in printed
    target = tmp_path / "g.csv"
    assert cli(workdir, "export", "rnn_bptt", "--csv", str(target)).returncode == 0
    got = {r[0]: dict(zip(_read(target)[0], r)) for r in _read(target)[1:]}
    assert (got["ben"]["penalty"], got["ben"]["total"]) == ("40", "60")
    assert (got["ada"]["total"], got["cy"]["total"]) == ("100", "100")
    with open_gradebook(workdir) as gb:
        notebook = gb.find_submission_notebook("rnn_bptt", "rnn_bptt", "ben")
        assert notebook.late_submission_penalty == 40


def test_nbgrader_timestamps_and_a_canvas_late_flag(graded_class, tmp_path):
    """The nbgrader layout's timestamp.txt is the submission time (file times are not read
    there); a Canvas download has no time, only its _LATE flag, which the page states."""
    workdir, tmp, _, _ = graded_class
    workdir = copy_workdir(workdir, tmp_path / "grading")
    exchange = tmp_path / "submitted"
    for student, stamp in (("eve", "2026-03-02 01:12:00.000000 UTC"), ("fay", "")):
        folder = exchange / student / "rnn_bptt"
        folder.mkdir(parents=True)
        shutil.copy(tmp / "made" / "correct" / "submission.ipynb", folder / "rnn_bptt.ipynb")
        if stamp:
            (folder / "timestamp.txt").write_text(stamp, encoding="utf-8")
    summary, printed = grade(workdir, "rnn_bptt", exchange)
    assert "note: eve: Submitted 2 h 13 min after the due date" in printed
    assert "note: fay: Due 2026-03-01 22:59 UTC; the submission time is unknown" in printed
    canvas = tmp_path / "canvas"
    canvas.mkdir()
    shutil.copy(tmp / "made" / "correct" / "submission.ipynb",
                canvas / "grangergus_LATE_777_888_rnn_bptt.ipynb")
    grade(workdir, "rnn_bptt", canvas)
    target = tmp_path / "g.csv"
    assert cli(workdir, "export", "rnn_bptt", "--csv", str(target)).returncode == 0
    got = {r[0]: dict(zip(_read(target)[0], r)) for r in _read(target)[1:]}
    assert (got["eve"]["penalty"], got["eve"]["total"], got["eve"]["late_by"]) == \
        ("10", "90", "2 h 13 min")
    assert (got["fay"]["total"], got["fay"]["late_by"]) == ("100", "unknown")
    assert (got["777"]["total"], got["777"]["late_by"]) == ("100", "unknown")
    commands.feedback(workdir, "rnn_bptt", progress=False, out=None)
    page = (workdir.feedback("777", "rnn_bptt") / "rnn_bptt.html").read_text(encoding="utf-8")
    assert "the LMS marked it late but gave no time" in page
