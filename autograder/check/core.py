"""The machinery every self-check shares: calling the student's function, one comparison of
a returned term with the reference (``autograder.spec.compare``, the grader's own judgement
and localisation), the gradient check, and the check that a graded function would run the
way the grader runs it (``isolation``).

A self-check is described, not written: ``Forward`` and ``Backward`` hold what differs from
one graded function to the next (its arguments, what it returns, its fixed cases, its
reference and its typical mistakes); ``as_check`` turns a description into the
``check_<name>(...)`` function a notebook calls. Every message is raised by ``fail`` as a
``SelfCheckFailed``, which Jupyter shows as its one line, and every success printed by ``ok``.

Inputs changed in place are allowed, on both sides: the grader gives every call of a
student's function its own copy of the inputs, and so does every call made here; a check
that sees an input changed says so in its OK line.
"""

import inspect
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import rnnlib

from ..spec import RELATIVE_TOLERANCE, compare_all, expected_value, relative_error
from . import isolation

#: Largest error accepted between a student's term and the reference (spec's measure).
TOL = RELATIVE_TOLERANCE
#: Largest relative difference accepted between an analytic and a numerical gradient.
GRAD_TOL = 1e-6
#: Step of the centered finite differences.
FD_STEP = 1e-5
#: Where a check tells the student to look, unless the notebook says otherwise.
WHERE = "the cell above"


def relative_difference(got, expected):
    """``max |got - expected| / max |expected|``: the error relative to the scale of the answer.

    Used for the gradient check, where the numerical gradient carries an absolute error of
    the order of the finite-difference step: an entry that should be zero is never exactly
    zero, so an elementwise relative error would fail correct code.
    """
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-12)
    return float(np.max(np.abs(got - expected), initial=0.0)) / scale


class SelfCheckFailed(AssertionError):
    """A failed self-check. Jupyter (IPython) shows it as its one line, through
    ``_render_traceback_``: no traceback through the checker's own source."""

    def _render_traceback_(self):
        return [f"Self-check failed: {self}"]


def fail(fn_name, message):
    raise SelfCheckFailed(f"{fn_name}: {message}")


def require_isolated(fn_name, fn):
    """Fail the self-check when ``fn`` would not run as the grader runs it (``isolation``)."""
    found = isolation.problems(fn_name, fn)
    if found:
        fail(fn_name, "right on the fixed cases here, but it would fail when graded: it "
                      + "; it ".join(found))


def ok(fn_name, message):
    print(f"{fn_name} OK: {message}")


_HERE = str(Path(__file__).resolve().parents[1])  # the autograder package


def _student_traceback(exc, fn_name):
    """The lines Jupyter shows for an exception the student's code raised: its traceback
    from the first frame outside this package (the student's cell) on, never the checker's."""
    tb = exc.__traceback__
    while tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()
                                 ).startswith(_HERE):
        tb = tb.tb_next
    lines = ["Traceback (most recent call last):"]
    lines += "".join(traceback.format_tb(tb)).rstrip("\n").split("\n") if tb else []
    lines += "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n").split("\n")
    lines.append(f"(raised by your {fn_name} while its self-check ran it on a small fixed "
                 "case)")
    return lines


def copy_args(args):
    # The student's function gets copies, as in the grader, so modifying an input in place
    # changes neither the arrays that the reference and the later checks use nor the result.
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]


def call(fn_name, fn, *args, where=WHERE, names=(), notes=None):
    """Call a student's function on copies of ``args``; turn NotImplementedError into a clear
    instruction, and let the student's own exceptions through with a traceback that starts in
    the student's cell. ``notes`` (a set) collects the inputs (named by ``names``) that the
    call changed in place."""
    if not callable(fn):
        fail(fn_name, f"is not a function: run {where} first")
    copies = copy_args(args)
    try:
        result = fn(*copies)
    except NotImplementedError:
        raise SelfCheckFailed(
            f"{fn_name} is not implemented yet: fill in {where} (replace "
            f"`raise NotImplementedError()` with your code), run it, then run this check again."
        ) from None
    except SelfCheckFailed:
        raise
    except Exception as exc:
        lines = _student_traceback(exc, fn_name)
        try:
            exc._render_traceback_ = lambda: lines
        except AttributeError:  # an exception type without a __dict__: shown in full
            pass
        raise
    if notes is not None:
        for name, before, after in zip(names, args, copies):
            if isinstance(before, np.ndarray) and (
                    before.shape != np.shape(after)
                    or not np.array_equal(before, after, equal_nan=True)):
                notes.add(f"{fn_name} changes its input {name} in place")
    return result


def in_place_note(notes):
    """The OK line's remark on inputs changed in place (allowed on both sides)."""
    if not notes:
        return ""
    return ("; note: " + ", ".join(sorted(notes)) + ", which is allowed (the grader, like "
            "this check, gives every call its own copy of the inputs), but a caller that "
            "reuses that array would see it changed")


def unpack(fn_name, result, names):
    """Check that a function returned a tuple of ``len(names)`` items."""
    spelled = "(" + ", ".join(names) + ")"
    if not isinstance(result, (tuple, list)):
        fail(fn_name, f"must return a tuple {spelled}; it returned a {type(result).__name__}")
    if len(result) != len(names):
        fail(fn_name, f"must return {len(names)} values {spelled}; it returned {len(result)}")
    return tuple(result)


def as_array(fn_name, term, value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(fn_name, f"{term} must be a numpy array of numbers; got {type(value).__name__}")
    return array


def _expected(expected, mistakes=(), transposed=None, time_axis=False, gates=0):
    """The reference of one term as the grader's ``Expected``: its layout and named
    mistakes, so that ``compare`` reads a wrong value as the grader does."""
    return expected_value(expected, time_axis=time_axis, gates=gates,
                          transposed=transposed or "", mistakes=lambda: mistakes)


def _judge(fn_name, terms):
    """Fail with the grader's reason (``compare_all``) unless every ``(name, got, Expected)``
    matches; else return the largest error."""
    problem = compare_all(terms)
    if problem:
        fail(fn_name, problem)
    return max(relative_error(got, np.asarray(expected)) for _, got, expected in terms)


def check_term(fn_name, term, got, expected, mistakes=(), transposed=None, time_axis=False,
               gates=0):
    """Compare one returned term with the reference with the grader's ``compare``, which
    names the likely bug or says where the term is wrong.

    mistakes: pairs ``(array, message)``: what the term would be after a typical mistake.
    transposed: a hint such as ``"use h_prev.T @ da"`` to give when the term equals the
    transpose of the reference. time_axis / gates: the term's layout, as the grader has it.
    Returns the error of a passing term.
    """
    return _judge(fn_name, [(term, as_array(fn_name, term, got),
                             _expected(expected, mistakes, transposed, time_axis, gates))])


def check_terms(fn_name, got, expected, names, mistakes=None, transposed=None, layout=None):
    """Check every term of a returned tuple together, as the grader does (all wrong terms,
    then the right ones, in one sentence); also catch terms returned out of order."""
    mistakes = mistakes or {}
    transposed = transposed or {}
    layout = layout or {}
    order = "(" + ", ".join(names) + ")"
    terms = []
    for k, name in enumerate(names):
        swapped = [(expected[j], f"it equals the reference {other}: return {order} in this order")
                   for j, other in enumerate(names) if j != k]
        terms.append((name, as_array(fn_name, name, got[k]),
                      _expected(expected[k], list(mistakes.get(name, [])) + swapped,
                                transposed.get(name), **layout.get(name, {}))))
    return _judge(fn_name, terms)


def gradient_check(fn_name, loss, inputs, analytic):
    """Compare the student's analytic gradients with centered differences of ``loss()``.

    inputs: name -> array that ``loss()`` reads (it is changed in place and restored).
    analytic: name -> the student's gradient of the same scalar loss.
    Returns the largest relative difference.
    """
    worst = 0.0
    for name, array in inputs.items():
        numerical = rnnlib.eval_numerical_gradient(lambda _: loss(), array, h=FD_STEP)
        grad = as_array(fn_name, "d" + name, analytic[name])
        if grad.shape != numerical.shape:
            fail(fn_name, f"d{name} has shape {grad.shape}; expected {numerical.shape}")
        error = relative_difference(grad, numerical)
        if error > GRAD_TOL:
            fail(fn_name, f"gradient check failed for d{name}: your backward pass disagrees "
                          f"with the numerical gradient of your forward pass (relative "
                          f"difference {error:.1e}, allowed {GRAD_TOL:.0e})")
        worst = max(worst, error)
    return worst


def grid(shape, low, high):
    """Evenly spaced fixed values (no randomness) in a given shape."""
    return np.linspace(low, high, num=int(np.prod(shape))).reshape(shape)


def upstream(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


# ----------------------------------------------------------------------------- descriptions
@dataclass(frozen=True)
class Forward:
    """A function checked by its outputs on fixed cases.

    cases() -> [case dict]; reference(*args): rnnlib's function, returning ``returns``;
    mistakes(case) -> {term: [(array, message)]}; terms are checked in ``terms`` order.
    finish(fn, where) -> text appended to the OK line (further checks of its own).
    layout: {term: {"time_axis": True} or {"gates": 4}}, as the grader's part has it."""
    name: str
    args: tuple
    returns: tuple
    terms: tuple
    cases: Callable
    reference: Callable
    mistakes: Callable
    summary: str                    # "h matches", "h and c match", ...
    qualifier: str = ""             # said after "on 2 cases"
    validate: Callable = None       # (returned tuple) -> None, may fail
    finish: Callable = None
    doc: str = ""
    layout: dict = field(default_factory=dict)

    @property
    def functions(self):
        return (self.name,)

    def run(self, fn, where=WHERE):
        worst, cases, notes = 0.0, self.cases(), set()
        for case in cases:
            args = [case[k] for k in self.args]
            got = unpack(self.name, call(self.name, fn, *args, where=where, names=self.args,
                                         notes=notes), self.returns)
            if self.validate is not None:
                self.validate(got)
            values = dict(zip(self.returns, got))
            expected = dict(zip(self.returns, self.reference(*args)))
            mistakes = self.mistakes(case)
            worst = max(worst, _judge(self.name, [
                (term, as_array(self.name, term, values[term]),
                 _expected(expected[term], mistakes.get(term, ()), **self.layout.get(term, {})))
                for term in self.terms]))
        extra = self.finish(fn, where) if self.finish is not None else ""
        if where == WHERE:  # a graded cell (not, say, functions pasted from Assignment 1)
            require_isolated(self.name, fn)
        ok(self.name, f"{self.summary} the reference on {len(cases)} cases{self.qualifier} "
                      f"(relative difference {worst:.1e}){extra}{in_place_note(notes)}.")


@dataclass(frozen=True)
class Backward:
    """A backward pass, checked through the student's own forward pass.

    Upstream gradients (one per non-cache output of the forward) are seeded by
    ``seeds[j] + case index``, and ``seeds[j] + 7`` for the gradient check on the last case.
    reference_forward and reference_backward are rnnlib's pair; mistakes(case, upstream) ->
    {term: [(array, message)]}."""
    name: str
    forward: str
    args: tuple                     # the forward's inputs: also the gradient-check inputs
    forward_returns: tuple
    returns: tuple
    cases: Callable
    reference_forward: Callable
    reference_backward: Callable
    mistakes: Callable
    seeds: tuple
    transposed: dict = field(default_factory=dict)
    doc: str = ""
    layout: dict = field(default_factory=dict)

    @property
    def functions(self):
        return (self.forward, self.name)

    @property
    def upstream_names(self):
        return ("dh", "dc")[:len(self.seeds)]

    def run(self, forward, backward, where=WHERE):
        worst, cases, notes = 0.0, self.cases(), set()
        grad_names = self.upstream_names + ("cache",)
        for index, case in enumerate(cases):
            args = [case[k] for k in self.args]
            outputs = unpack(self.forward, call(self.forward, forward, *args, where=where,
                                                names=self.args, notes=notes),
                             self.forward_returns)
            grads_in = [upstream(np.shape(outputs[j]), seed + index)
                        for j, seed in enumerate(self.seeds)]
            got = unpack(self.name, call(self.name, backward, *grads_in, outputs[-1],
                                         where=where, names=grad_names, notes=notes),
                         self.returns)
            expected = self.reference_backward(*grads_in,
                                               self.reference_forward(*args)[-1])
            mistakes = self.mistakes(case, grads_in)
            worst = max(worst, check_terms(self.name, got, expected, self.returns, mistakes,
                                           self.transposed, self.layout))

        # Gradient check on the last case: numerical derivative of sum(out * upstream)
        # through the student's own forward pass. Every call gets copies (as in the grader),
        # so a backward that changes its dh in place cannot change the loss checked here.
        inputs = {k: cases[-1][k].copy() for k in self.args}
        shapes = [np.shape(o) for o in self.reference_forward(*inputs.values())[:-1]]
        grads_in = [upstream(shape, seed + 7) for shape, seed in zip(shapes, self.seeds)]

        def run_forward():
            return call(self.forward, forward, *inputs.values(), where=where)

        cache = run_forward()[-1]
        analytic = dict(zip(self.args, unpack(self.name, call(
            self.name, backward, *grads_in, cache, where=where), self.returns)))

        def loss():
            total = 0.0
            for output, grad in zip(run_forward(), grads_in):
                total = total + np.sum(output * grad)
            return float(total)

        grad_error = gradient_check(self.name, loss, inputs, analytic)
        if where == WHERE:  # a graded cell (not, say, functions pasted from Assignment 1)
            require_isolated(self.forward, forward)
            require_isolated(self.name, backward)
        ok(self.name, f"{', '.join(self.returns)} match the reference on {len(cases)} cases "
                      f"(relative difference {worst:.1e}); gradient check {grad_error:.1e}"
                      f"{in_place_note(notes)}.")


def as_check(description):
    """The ``check_<name>(<functions>, where=...)`` function of a description."""
    parameters = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                  for n in description.functions]
    parameters.append(inspect.Parameter("where", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=WHERE))
    signature = inspect.Signature(parameters)

    def check(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        description.run(*[values[n] for n in description.functions], where=values["where"])

    check.__name__ = check.__qualname__ = f"check_{description.name}"
    check.__doc__ = description.doc
    check.__signature__ = signature
    check.__module__ = "autograder.check"
    return check
