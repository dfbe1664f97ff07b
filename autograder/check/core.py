"""The machinery every self-check shares: calling the student's function, one comparison of
a returned term with the reference (``autograder.spec``'s measure and tolerance, as the
grader uses), naming the likely bug from a list of typical mistakes, and the gradient check.

A self-check is described, not written: ``Forward`` and ``Backward`` hold what differs from
one graded function to the next (its arguments, what it returns, its fixed cases, its
reference and its typical mistakes); ``as_check`` turns a description into the
``check_<name>(...)`` function a notebook calls. Every message is raised by ``fail`` and
every success printed by ``ok``.
"""

import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import rnnlib

from ..spec import RELATIVE_TOLERANCE, close, relative_error

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


def fail(fn_name, message):
    raise AssertionError(f"{fn_name}: {message}")


def ok(fn_name, message):
    print(f"{fn_name} OK: {message}")


def copy_args(args):
    # The student's function gets copies, so modifying an input in place cannot change the
    # arrays that the reference and the later checks use.
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]


def call(fn_name, fn, *args, where=WHERE):
    """Call a student's function; turn NotImplementedError into a clear instruction."""
    if not callable(fn):
        raise AssertionError(f"{fn_name} is not a function: run {where} first")
    try:
        return fn(*copy_args(args))
    except NotImplementedError:
        raise AssertionError(
            f"{fn_name} is not implemented yet: fill in {where} (replace "
            f"`raise NotImplementedError()` with your code), run it, then run this check again."
        ) from None


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


def check_term(fn_name, term, got, expected, mistakes=(), transposed=None):
    """Compare one returned term with the reference and name the likely bug when it differs.

    mistakes: pairs ``(array, message)``: what the term would be after a typical mistake.
    transposed: a hint such as ``"use h_prev.T @ da"`` to give when the term equals the
    transpose of the reference.
    Returns the error of a passing term.
    """
    got = as_array(fn_name, term, got)
    expected = np.asarray(expected, dtype=np.float64)

    def matches(candidate):
        return close(got, np.asarray(candidate, dtype=np.float64))

    is_transposed = (
        transposed is not None and expected.ndim == 2 and matches(expected.T)
        and not matches(expected)
    )
    if got.shape != expected.shape:
        if is_transposed:
            fail(fn_name, f"{term} looks transposed: {transposed}")
        for candidate, message in mistakes:
            if matches(candidate):
                fail(fn_name, f"{term} is wrong: {message}")
        fail(fn_name, f"{term} has shape {got.shape}; expected {expected.shape}")
    if not np.all(np.isfinite(got)):
        fail(fn_name, f"{term} contains NaN or inf values")
    error = relative_error(got, expected)
    if error < TOL:
        return error
    if is_transposed:
        fail(fn_name, f"{term} looks transposed: {transposed}")
    for candidate, message in mistakes:
        if matches(candidate):
            fail(fn_name, f"{term} is wrong: {message}")
    fail(fn_name, f"{term} does not match the reference (relative difference {error:.1e}, "
                  f"allowed {TOL:.0e})")


def check_terms(fn_name, got, expected, names, mistakes=None, transposed=None):
    """Check every term of a returned tuple in order; also catch terms returned out of order."""
    mistakes = mistakes or {}
    transposed = transposed or {}
    order = "(" + ", ".join(names) + ")"
    worst = 0.0
    for k, name in enumerate(names):
        swapped = [(expected[j], f"it equals the reference {other}: return {order} in this order")
                   for j, other in enumerate(names) if j != k]
        term_mistakes = list(mistakes.get(name, [])) + swapped
        worst = max(worst, check_term(fn_name, name, got[k], expected[k], term_mistakes,
                                      transposed.get(name)))
    return worst


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
    finish(fn, where) -> text appended to the OK line (further checks of its own)."""
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

    @property
    def functions(self):
        return (self.name,)

    def run(self, fn, where=WHERE):
        worst, cases = 0.0, self.cases()
        for case in cases:
            args = [case[k] for k in self.args]
            got = unpack(self.name, call(self.name, fn, *args, where=where), self.returns)
            if self.validate is not None:
                self.validate(got)
            values = dict(zip(self.returns, got))
            expected = dict(zip(self.returns, self.reference(*args)))
            mistakes = self.mistakes(case)
            for term in self.terms:
                worst = max(worst, check_term(self.name, term, values[term], expected[term],
                                              mistakes.get(term, ())))
        extra = self.finish(fn, where) if self.finish is not None else ""
        ok(self.name, f"{self.summary} the reference on {len(cases)} cases{self.qualifier} "
                      f"(relative difference {worst:.1e}){extra}.")


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

    @property
    def functions(self):
        return (self.forward, self.name)

    def run(self, forward, backward, where=WHERE):
        worst, cases = 0.0, self.cases()
        for index, case in enumerate(cases):
            args = [case[k] for k in self.args]
            outputs = unpack(self.forward, call(self.forward, forward, *args, where=where),
                             self.forward_returns)
            grads_in = [upstream(np.shape(outputs[j]), seed + index)
                        for j, seed in enumerate(self.seeds)]
            got = unpack(self.name, call(self.name, backward, *grads_in, outputs[-1],
                                         where=where), self.returns)
            expected = self.reference_backward(*grads_in,
                                               self.reference_forward(*args)[-1])
            mistakes = self.mistakes(case, grads_in)
            worst = max(worst, check_terms(self.name, got, expected, self.returns, mistakes,
                                           self.transposed))

        # Gradient check on the last case: numerical derivative of sum(out * upstream)
        # through the student's own forward pass.
        inputs = {k: cases[-1][k].copy() for k in self.args}
        shapes = [np.shape(o) for o in self.reference_forward(*inputs.values())[:-1]]
        grads_in = [upstream(shape, seed + 7) for shape, seed in zip(shapes, self.seeds)]
        cache = forward(*copy_args(inputs.values()))[-1]
        analytic = dict(zip(self.args, backward(*grads_in, cache)))

        def loss():
            outputs = forward(*copy_args(inputs.values()))
            total = 0.0
            for output, grad in zip(outputs, grads_in):
                total = total + np.sum(output * grad)
            return float(total)

        grad_error = gradient_check(self.name, loss, inputs, analytic)
        ok(self.name, f"{', '.join(self.returns)} match the reference on {len(cases)} cases "
                      f"(relative difference {worst:.1e}); gradient check {grad_error:.1e}.")


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
