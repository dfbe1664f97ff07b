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

import re
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


class Expected(np.ndarray):
    """A reference value that also knows how to read a wrong answer to it.

    ``time_axis``: axis 1 is time; ``gates``: the last axis holds that many gate blocks
    (i, f, g, o for the LSTM); ``transposed``: the advice when the answer is the transpose;
    ``mistakes``: a callable giving ``[(array, message)]``, what the typical mistakes return
    (called only for a wrong answer). The grader (``reference``) and the self-checks
    (``autograder.check``) both build one, so ``compare`` reads a wrong answer the same way
    on both sides. It behaves as the plain array everywhere else.
    """
    time_axis = False
    gates = 0
    transposed = ""
    mistakes = None


def expected_value(value, time_axis=False, gates=0, transposed="", mistakes=None):
    """``value`` as an ``Expected`` float64 array carrying how to explain a wrong answer."""
    out = np.array(value, dtype=np.float64).view(Expected)
    out.time_axis, out.gates, out.transposed, out.mistakes = (bool(time_axis), int(gates),
                                                              transposed, mistakes)
    return out


GATE_NAMES = ("i", "f", "g", "o")


def _special(got, expected):
    """What is special about a wrong value as a whole ("" when nothing simple is)."""
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
    offset = float(np.mean(got - expected))
    if offset != 0 and relative_error(got, expected + offset) < RELATIVE_TOLERANCE:
        return f"it is the right value plus a constant {offset:.4g}"
    return ""


def _hint(got, expected):
    """A short guess at the mistake, for a value with the right shape but wrong numbers."""
    return _special(got, expected)


def _steps(steps):
    return ", ".join(str(t) for t in steps[:6]) + (", ..." if len(steps) > 6 else "")


def _time_hint(got, expected):
    """For a (N, T, ...) value: which time steps are wrong, and what they hold."""
    if got.ndim < 2 or got.shape[1] < 2:
        return ""
    T = got.shape[1]
    wrong = [t for t in range(T)
             if relative_error(got[:, t], expected[:, t]) >= RELATIVE_TOLERANCE]
    if not wrong:
        return ""
    if len(wrong) == T:
        if close(got[:, 1:], expected[:, :-1]):
            return ("every time step holds the value of the step before it (shifted by one "
                    "step in time)")
        if close(got[:, :-1], expected[:, 1:]):
            return "every time step holds the value of the step after it (shifted by one step)"
        if close(got, expected[:, ::-1]):
            return "the time steps are in reverse order"
        return f"every time step 0..{T - 1} is wrong"
    special = _special(got[:, wrong], expected[:, wrong])
    there = f" ({special.replace('it is ', '').replace('it has ', '')} there)" if special else ""
    if wrong == [T - 1]:
        return f"right except the last step t = {T - 1}{there}"
    if wrong == [0]:
        return f"right except the first step t = 0{there}"
    if wrong == list(range(0, T - 1)):
        return (f"only the last step t = {T - 1} is right, every earlier step is wrong{there} "
                "(is the gradient from step t+1 carried back to step t?)")
    if wrong == list(range(wrong[0], T)):
        return f"time steps t >= {wrong[0]} are wrong{there}, the earlier ones are right"
    if wrong == list(range(0, wrong[-1] + 1)):
        return (f"time steps t <= {wrong[-1]} are wrong{there}, the later ones are right "
                "(is the gradient from step t+1 carried back to step t?)")
    return f"time steps {_steps(wrong)} are wrong{there}, the others are right"


def _span(k):
    """Columns of gate block ``k`` in the (i, f, g, o) layout: 0:H, H:2H, 2H:3H, 3H:4H."""
    def edge(m):
        return "0" if m == 0 else "H" if m == 1 else f"{m}H"
    return f"{edge(k)}:{edge(k + 1)}"


def _gate_hint(got, expected, gates):
    """For a value whose last axis holds ``gates`` blocks: which blocks are wrong."""
    if gates < 2 or got.ndim < 1 or got.shape[-1] % gates:
        return ""
    H = got.shape[-1] // gates
    names = GATE_NAMES if gates == len(GATE_NAMES) else tuple(str(k) for k in range(gates))
    block = [(got[..., k * H:(k + 1) * H], expected[..., k * H:(k + 1) * H])
             for k in range(gates)]
    wrong = [k for k, (g, e) in enumerate(block) if relative_error(g, e) >= RELATIVE_TOLERANCE]
    if not wrong:
        return ""
    holds = {k: j for k in wrong for j in range(gates)
             if j != k and close(block[k][0], block[j][1])}
    spans = [_span(k) for k in range(gates)]
    if holds and set(holds) == set(wrong):
        said = "; ".join(f"block {names[k]} (columns {spans[k]}) holds the values of block "
                         f"{names[j]}" for k, j in holds.items())
        return f"gate blocks mixed up: {said}"
    parts = []
    for k in wrong:
        special = _special(*block[k])
        parts.append(f"{names[k]} (columns {spans[k]})"
                     + (f": {special.replace('it is ', '').replace('it has ', '')}"
                        if special else ""))
    right = [names[k] for k in range(gates) if k not in wrong]
    tail = f"; block{'s' if len(right) > 1 else ''} {', '.join(right)} right" if right else ""
    return f"wrong in gate block{'s' if len(wrong) > 1 else ''} {'; '.join(parts)}{tail}"


def _index_hint(got, expected):
    """Last resort for a value with no time axis and no gate blocks: which rows or columns
    (axis 0 / the last axis) are wrong, when only some are."""
    for axis, label in ((0, "rows"), (got.ndim - 1, "columns")):
        if got.ndim < 1 or got.shape[axis] < 2 or (axis and got.ndim < 2):
            continue
        wrong = [k for k in range(got.shape[axis])
                 if relative_error(np.take(got, k, axis), np.take(expected, k, axis))
                 >= RELATIVE_TOLERANCE]
        if 0 < len(wrong) < got.shape[axis]:
            if len(wrong) == 1:
                return f"only {label[:-1]} {wrong[0]} is wrong"
            return f"only {label} {_steps(wrong)} are wrong"
    return ""


def localise(got, expected, time_axis=False, gates=0):
    """Where a wrong value is wrong and what is special there, as one phrase; both the
    grader's reasons and the self-checks' messages use it. "" when nothing can be said."""
    hints = [_special(got, expected)]
    if time_axis:
        hints.append(_time_hint(got, expected))
    if gates:
        hints.append(_gate_hint(got, expected, gates))
    hints = [h for h in hints if h]
    if not hints and not time_axis and not gates:
        hints = [h for h in (_index_hint(got, expected),) if h]
    # a special value as a whole makes the per-step hint redundant when it repeats it
    if len(hints) > 1 and hints[0] and all(h.startswith("every") or (
            h.startswith("wrong in gate blocks") and "right" not in h) for h in hints[1:]):
        hints = hints[:1]
    return "; ".join(hints)


def _named(name, got, expected, transposed, mistakes):
    """The named mistake that ``got`` equals, or ""."""
    if transposed and expected.ndim == 2 and close(got, expected.T) and \
            not close(got, expected):
        return f"{name} looks transposed: {transposed}"
    for candidate, message in (mistakes() if mistakes is not None else ()):
        if close(got, np.asarray(candidate, dtype=np.float64)):
            return f"{name} is wrong: {message}"
    return ""


def compare(name, got, expected, time_axis=False):
    """None when ``got`` matches ``expected``, else the reason it does not.

    The one judgement of a returned value, for the grader and the self-checks: the shape,
    finite values, ``relative_error < RELATIVE_TOLERANCE``; then, for a wrong value, the
    named mistake it equals (when ``expected`` is an ``Expected`` that carries mistakes), else
    where it is wrong (``localise``).
    """
    time_axis = time_axis or getattr(expected, "time_axis", False)
    gates = getattr(expected, "gates", 0)
    transposed = getattr(expected, "transposed", "")
    mistakes = getattr(expected, "mistakes", None)
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got)
    if got.dtype.kind not in "biuf":
        return f"{name} must be an array of numbers, got dtype {got.dtype}"
    if got.dtype.kind == "b":
        got = got.astype(np.float64)
    got = got.astype(np.float64)
    if expected.ndim == 0:
        if got.size != 1:
            return f"{name} should be a scalar, got shape {tuple(got.shape)}"
        got = got.reshape(())
    elif got.shape != expected.shape:
        message = f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        named = _named(name, got, expected, transposed, mistakes)
        if named:
            return f"{message}: {named}"
        if got.shape == expected.shape[::-1]:
            message += " (it looks transposed)"
        return message
    if not np.all(np.isfinite(got)):
        bad = "NaN" if np.any(np.isnan(got)) else "inf"
        return f"{name} contains {bad}"
    error = relative_error(got, expected)
    if error < RELATIVE_TOLERANCE:
        return None
    named = _named(name, got, expected, transposed, mistakes)
    if named:
        return named
    message = f"{name} is wrong (relative error {error:.2g}, needs < {RELATIVE_TOLERANCE:g})"
    where = localise(got, expected, time_axis, gates)
    return message + (": " + where if where else "")


_BARE = re.compile(r"is wrong \(relative error [^)]*\)$")
_PLACED = re.compile(r"^(\w+) is wrong \(relative error [^)]*\): (.*)$")


def _at(names, where, problems):
    """One term, or several terms wrong in the same place, as one clause."""
    if len(names) == 1:
        return dict(problems)[names[0]]
    return f"{', '.join(names)} are wrong, all in the same place: {where}"


def compare_all(terms):
    """None when every ``(name, got, expected)`` matches, else one reason for them all.

    Every wrong term whose reason names a mistake or a place is given, in order (terms wrong
    in the same place, say dWx, dWh and db in gate block g, in one clause); terms that are
    only "wrong" are listed by name after the first of them, so the reader learns which
    outputs are wrong even when none says more; the terms that are right are said last,
    because which outputs are right is itself a place ("c is right, h is wrong"). The grader's
    reason for a case and a self-check's message are both this one sentence.
    """
    problems = [(name, compare(name, got, expected, getattr(expected, "time_axis", False)))
                for name, got, expected in terms]
    wrong = [(name, problem) for name, problem in problems if problem]
    if not wrong:
        return None
    said, places = [], {}
    for name, problem in wrong:
        found = _PLACED.match(problem)
        if found and found.group(1) == name:
            places.setdefault(found.group(2), []).append(name)
            if len(places[found.group(2)]) == 1:
                said.append(found.group(2))
        elif not _BARE.search(problem):
            said.append(problem)
    said = [_at(places[item], item, problems) if item in places else item for item in said]
    bare = [name for name, problem in wrong if _BARE.search(problem)]
    if not said:
        said = [dict(wrong)[bare.pop(0)]]
    if bare:
        said.append(f"{', '.join(bare)} {'is' if len(bare) == 1 else 'are'} wrong too")
    right = [name for name, problem in problems if not problem]
    if right:
        said.append(f"{', '.join(right)} {'is' if len(right) == 1 else 'are'} right")
    return "; ".join(said)


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
    gated: tuple = ()          # checked values whose last axis holds the 4 gate blocks
    transposed: tuple = ()     # (value, advice) pairs for a value returned transposed
    mistakes: Callable = None  # (inputs) -> {checked name: [(array, message)]}: named bugs

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
    cached = {}

    def mistakes_of(key):
        # computed once, and only when an answer is wrong (a correct class costs nothing)
        def mistakes():
            if "all" not in cached:
                cached["all"] = part.mistakes(inputs) if part.mistakes is not None else {}
            return cached["all"].get(key, ())
        return mistakes

    advice = dict(part.transposed)
    return {key: expected_value(value, time_axis=key in part.time_axis,
                                gates=len(GATE_NAMES) if key in part.gated else 0,
                                transposed=advice.get(key, ""), mistakes=mistakes_of(key))
            for key, value in zip(part.checked, values)}


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
