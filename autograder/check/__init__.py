"""The students' self-checks, run in their own kernel (``from autograder import selfcheck``).

Each ``check_<function>(...)`` takes the student's own functions, runs them on small fixed
cases and compares every returned term with the reference (rnnlib) with the grader's
comparison (``autograder.spec``), one term at a time. When a term is wrong it is also
compared with the results of the usual mistakes (a transposed weight gradient, the gradient
from step t+1 not added, ``dc`` from the next step forgotten, the gate blocks in the wrong
order, the loss not averaged over the batch, ...) so that the failure (a one-line
``SelfCheckFailed``, an ``AssertionError``) can name the likely bug.
Every backward check ends with a gradient check: centered finite
differences of the student's forward pass against the student's backward pass.

A check that passes prints one line starting with the function's name and ``OK``. A
function that still raises ``NotImplementedError`` stops the notebook with a message that
says so.

This package imports numpy, rnnlib and ``autograder.spec`` only: never the sandbox, the
gradebook or nbgrader. The checks exist for learning; grades are computed by the
autograder in a separate process, on hidden inputs, and never call them. One description
per graded function lives in ``rnn.py`` (Assignment 1) and ``lstm.py`` (Assignment 2); the
machinery they share is ``core.py``. ``before_you_submit`` (``submit.py``) runs every graded cell
on its own, as the grader does, and says what the grader will see.
"""

from . import lstm, rnn
from .core import FD_STEP, GRAD_TOL, TOL, as_check, relative_difference
from .submit import before_you_submit

DESCRIPTIONS = {d.name: d for d in rnn.DESCRIPTIONS + lstm.DESCRIPTIONS}

check_rnn_step_forward = as_check(rnn.RNN_STEP_FORWARD)
check_rnn_step_backward = as_check(rnn.RNN_STEP_BACKWARD)
check_rnn_forward = as_check(rnn.RNN_FORWARD)
check_rnn_backward = as_check(rnn.RNN_BACKWARD)
check_temporal_softmax_loss = as_check(rnn.TEMPORAL_SOFTMAX_LOSS)
check_lstm_step_forward = as_check(lstm.LSTM_STEP_FORWARD)
check_lstm_step_backward = as_check(lstm.LSTM_STEP_BACKWARD)
check_lstm_forward = as_check(lstm.LSTM_FORWARD)
check_lstm_backward = as_check(lstm.LSTM_BACKWARD)
check_lstm_step_forward_peephole = as_check(lstm.LSTM_STEP_FORWARD_PEEPHOLE)
check_lstm_step_backward_peephole = as_check(lstm.LSTM_STEP_BACKWARD_PEEPHOLE)

__all__ = [
    "check_rnn_step_forward",
    "check_rnn_step_backward",
    "check_rnn_forward",
    "check_rnn_backward",
    "check_temporal_softmax_loss",
    "check_lstm_step_forward",
    "check_lstm_step_backward",
    "check_lstm_forward",
    "check_lstm_backward",
    "check_lstm_step_forward_peephole",
    "check_lstm_step_backward_peephole",
    "before_you_submit",
    "relative_difference",
    "TOL", "GRAD_TOL", "FD_STEP", "DESCRIPTIONS",
]
