"""Feedback-page wording (#20) and the LMS exports (#13): what students and LMSs read."""

from autograder.feedback import summary_html
from autograder.record import PartResult, Record


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
