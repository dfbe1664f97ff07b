"""Visible self-checks of the graded assignments: ``from autograder import selfcheck``.

Kept as the name the released notebooks import; the checks live in ``autograder.check``
(student side, apart from the instructor's grader). The private names below are re-exported
for the tests of the mistake models.
"""

from .check import *  # noqa: F401,F403
from .check import __all__  # noqa: F401
from .check.core import relative_difference  # noqa: F401
from .check.lstm import (  # noqa: F401
                         GATES,
                         _lstm_backward_variant,
                         _lstm_forward_variant,
                         _lstm_step_backward_variant,
                         _lstm_step_cases,
                         _lstm_step_forward_mistakes,
                         _lstm_step_variant,
                         _wrong_orders,
)
from .check.rnn import _rnn_backward_variant  # noqa: F401
