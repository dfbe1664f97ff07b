"""What is graded and how a value is judged: ``Part``, hidden cases and the one comparison.

A part names a graded function (which is also the ``grade_id`` of its solution cell), the
inputs it takes, what it returns, which of those values are compared with the reference,
and carries its own ``make_inputs`` (random inputs for one case shape) and ``reference``
(rnnlib's values, computed in the grader's process). A backward function is evaluated the
way a student would use it: the student's own forward builds the cache on the same inputs,
then the student's backward gets the upstream gradients. Inputs are drawn fresh for every
grading run from a secret seed; only the shapes of the cases are fixed (they are listed in
the feedback, the values never are).

``relative_error``/``RELATIVE_TOLERANCE`` decide whether a value is right, for the grader
(``compare``) and for the students' self-checks (``autograder.check``) alike.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

import rnnlib

RELATIVE_TOLERANCE = 1e-6  # rnnlib.rel_error in float64

# The cases of every part: small, with N = 1 and T = 1 edge cases, a square case (D = H,
# where a transposed weight has the right shape and only its values give it away) and
# D != H cases (where it has the wrong shape).
RNN_SHAPES = (
    {"N": 3, "T": 4, "D": 5, "H": 6},
    {"N": 1, "T": 1, "D": 3, "H": 2},
    {"N": 4, "T": 6, "D": 4, "H": 4},
    {"N": 2, "T": 9, "D": 7, "H": 3},
)
# The same cases for a single time step (no T).
STEP_SHAPES = tuple({k: v for k, v in shape.items() if k != "T"} for shape in RNN_SHAPES)
SOFTMAX_SHAPES = (
    {"N": 3, "T": 4, "V": 7},
    {"N": 1, "T": 1, "V": 5},
    {"N": 5, "T": 6, "V": 4},
    {"N": 2, "T": 9, "V": 11},
)


# ----------------------------------------------------------------------------- comparison
def relative_error(got, expected):
    """The error measure of every judgement: ``rnnlib.rel_error`` of two float64 arrays."""
    return float(rnnlib.rel_error(np.asarray(got, dtype=np.float64),
                                  np.asarray(expected, dtype=np.float64)))


def close(got, expected):
    """True when ``got`` has ``expected``'s shape and is within the tolerance."""
    got, expected = np.asarray(got), np.asarray(expected)
    return got.shape == expected.shape and relative_error(got, expected) < RELATIVE_TOLERANCE


def _hint(got, expected):
    """A short guess at the mistake, for a value with the right shape but wrong numbers."""
    if not np.any(got) and np.any(expected):
        return "it is all zeros"
    if relative_error(got, -expected) < RELATIVE_TOLERANCE:
        return "it has the wrong sign"
    if got.ndim == 2 and got.shape[0] == got.shape[1] and \
            relative_error(got, expected.T) < RELATIVE_TOLERANCE:
        return "it looks transposed"
    denominator = float(np.vdot(expected, expected))
    if denominator > 0:
        factor = float(np.vdot(got, expected)) / denominator
        if factor != 0 and relative_error(got, factor * expected) < RELATIVE_TOLERANCE:
            return f"it is the right value times {factor:.4g}"
    return ""


def _time_hint(got, expected):
    """For a (N, T, ...) value: which time steps are wrong."""
    if got.ndim < 2 or got.shape[1] < 2:
        return ""
    wrong = [t for t in range(got.shape[1])
             if relative_error(got[:, t], expected[:, t]) >= RELATIVE_TOLERANCE]
    if not wrong or len(wrong) == got.shape[1]:
        return ""
    T = got.shape[1]
    if wrong == list(range(wrong[0], T)):
        return f"time steps t >= {wrong[0]} are wrong, the earlier ones are right"
    if wrong == list(range(0, wrong[-1] + 1)):
        return (f"time steps t <= {wrong[-1]} are wrong, the later ones are right "
                "(is the gradient from step t+1 carried back to step t?)")
    return f"time steps {wrong[:6]} are wrong"


def compare(name, got, expected, time_axis=False):
    """None when ``got`` matches ``expected``, else the grader's reason it does not."""
    if expected.ndim == 0:
        if got.size != 1:
            return f"{name} should be a scalar, got shape {tuple(got.shape)}"
        got = got.reshape(())
    elif got.shape != expected.shape:
        message = f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if got.shape == expected.shape[::-1]:
            message += " (it looks transposed)"
        return message
    if got.dtype.kind == "b":
        got = got.astype(np.float64)
    if not np.all(np.isfinite(got)):
        bad = "NaN" if np.any(np.isnan(got)) else "inf"
        return f"{name} contains {bad}"
    got = got.astype(np.float64)
    error = relative_error(got, expected)
    if error < RELATIVE_TOLERANCE:
        return None
    message = f"{name} is wrong (relative error {error:.2g}, needs < {RELATIVE_TOLERANCE:g})"
    hints = [h for h in (_hint(got, expected),
                         _time_hint(got, expected) if time_axis else "") if h]
    if hints:
        message += ": " + "; ".join(hints)
    return message


# ----------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class Part:
    name: str                  # graded function; grade_id of its solution cell
    args: tuple                # inputs passed to it (after the cache, for a backward)
    returns: tuple             # names of everything it returns, in order
    checked: tuple             # returned values compared with the reference
    make_inputs: Callable      # (rng, **shape) -> {input name: array}, for one case
    reference: Callable        # (inputs) -> rnnlib's values of ``checked``, in order
    forward: str = ""          # the student's forward that builds the cache
    forward_args: tuple = ()
    shapes: tuple = RNN_SHAPES
    time_axis: tuple = ()      # checked values whose axis 1 is time (for hints)
    bonus: bool = False        # extra credit: added to the total, which is capped at the max

    def plan_entry(self):
        """The part as the sandbox harness sees it (no references, no values)."""
        return {"name": self.name, "call": self.name, "args": list(self.args),
                "forward": self.forward or None, "forward_args": list(self.forward_args),
                "returns": len(self.returns), "return_names": list(self.returns),
                "take": [self.returns.index(name) for name in self.checked],
                "cases": len(self.shapes)}

    def describe_case(self, case):
        return ", ".join(f"{key}={value}" for key, value in self.shapes[case].items())


def random_weights(rng, D, H, gates=1):
    """``Wx (D, gates*H)``, ``Wh (H, gates*H)``, ``b (gates*H,)`` scaled like a sane init."""
    return {"Wx": rng.normal(0.0, 1.0 / np.sqrt(D), (D, gates * H)),
            "Wh": rng.normal(0.0, 1.0 / np.sqrt(H), (H, gates * H)),
            "b": rng.normal(0.0, 0.3, (gates * H,))}


def reference(part, inputs):
    """The part's reference values, as ``{checked name: float64 array}``."""
    values = tuple(part.reference(inputs))
    if len(values) != len(part.checked):
        raise RuntimeError(f"the reference returned {len(values)} values for {part.name}, "
                           f"the part checks {len(part.checked)}")
    return {key: np.asarray(value, dtype=np.float64) for key, value in
            zip(part.checked, values)}


def hidden_cases(parts, seed):
    """Inputs for every part and case (``"part/case/name" -> array``) and the references
    (``(part, case) -> {name: array}``), both from one secret seed."""
    inputs, references = {}, {}
    for index, part in enumerate(parts):
        for case, shape in enumerate(part.shapes):
            rng = np.random.default_rng([seed, index, case])
            values = part.make_inputs(rng, **shape)
            for key in set(part.args) | set(part.forward_args):
                inputs[f"{part.name}/{case}/{key}"] = values[key]
            references[(part.name, case)] = reference(part, values)
    return inputs, references
