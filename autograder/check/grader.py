"""What the grader takes from the self-check descriptions, so a wrong value is read the same
way when graded as in the self-check: the layout of the checked values, the transposition
advice and the named mistakes. Grader-side only: the student's self-checks never import it."""

from functools import partial

from . import lstm, rnn
from .core import Backward

DESCRIPTIONS = {d.name: d for d in rnn.DESCRIPTIONS + lstm.DESCRIPTIONS}


def named_mistakes(name, inputs):
    """The named mistakes of the self-check of ``name`` on the grader's hidden ``inputs``:
    ``{term: [(array, message)]}`` (a backward's upstream gradients are its inputs ``dh`` and,
    for the LSTM steps, ``dc``)."""
    description = DESCRIPTIONS[name]
    if isinstance(description, Backward):
        return description.mistakes(inputs, [inputs[n] for n in description.upstream_names])
    return description.mistakes(inputs)


def grader_mistakes(description):
    """``Part.mistakes`` of the grader: a picklable ``(inputs) -> {term: [...]}`` (the grading
    context is shipped to worker processes)."""
    return partial(named_mistakes, description.name)


def grader_view(description):
    """What the grader's ``Part`` of the same function takes from its description: the
    layout of the checked values, the transposition advice and the named mistakes, so a wrong
    value is read the same way when graded as in the self-check."""
    layout = description.layout
    return {"time_axis": tuple(k for k, v in layout.items() if v.get("time_axis")),
            "gated": tuple(k for k, v in layout.items() if v.get("gates")),
            "transposed": tuple(getattr(description, "transposed", {}).items()),
            "mistakes": grader_mistakes(description)}
