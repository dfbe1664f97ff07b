"""Visible self-checks for the graded assignments ``rnn_bptt`` and ``lstm_backward``.

Each ``check_*`` function takes the student's own functions, runs them on small fixed cases
and compares every returned term with the reference (rnnlib), one term at a time. When a term
is wrong it is also compared with the results of the usual mistakes (a transposed weight
gradient, the gradient from step t+1 not added, ``dc`` from the next step forgotten, the gate
blocks in the wrong order, the loss not averaged over the batch, ...) so that the
``AssertionError`` can name the likely bug. Every check ends with a gradient check: centered
finite differences of the student's forward pass against the student's backward pass.

A check that passes prints one line starting with the function's name and ``OK``. A function
that still raises ``NotImplementedError`` stops the notebook with a message that says so.

These checks run inside the student's kernel and exist for learning only. Grades are computed
by the autograder in a separate process, on hidden inputs, and never call this module.
"""

import itertools

import numpy as np

import rnnlib
from rnnlib import sigmoid

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
    "relative_difference",
]

#: Largest relative difference accepted between a student's term and the reference (float64).
TOL = 1e-6
#: Largest relative difference accepted between an analytic and a numerical gradient.
GRAD_TOL = 1e-6
#: Step of the centered finite differences.
FD_STEP = 1e-5

GATES = ("i", "f", "g", "o")
_GATE_HELP = "Wx[:, 0:H] input gate i, [H:2H] forget gate f, [2H:3H] candidate g, [3H:4H] output gate o"


# ----------------------------------------------------------------------------------------------
# Generic machinery
# ----------------------------------------------------------------------------------------------

def relative_difference(got, expected):
    """``max |got - expected| / max |expected|``: the error relative to the scale of the answer.

    Scale-relative rather than elementwise, so an entry of the reference that happens to be
    close to zero cannot make a correct answer fail.
    """
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-12)
    return float(np.max(np.abs(got - expected), initial=0.0)) / scale


def _fail(fn_name, message):
    raise AssertionError(f"{fn_name}: {message}")


def _copy_args(args):
    # The student's function gets copies, so modifying an input in place cannot change the
    # arrays that the reference and the later checks use.
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]


def _call(fn_name, fn, *args, where="the cell above"):
    """Call a student's function; turn NotImplementedError into a clear instruction."""
    if not callable(fn):
        raise AssertionError(f"{fn_name} is not a function: run {where} first")
    try:
        return fn(*_copy_args(args))
    except NotImplementedError:
        raise AssertionError(
            f"{fn_name} is not implemented yet: fill in {where} (replace "
            f"`raise NotImplementedError()` with your code), run it, then run this check again."
        ) from None


def _unpack(fn_name, result, names):
    """Check that a function returned a tuple of ``len(names)`` items."""
    spelled = "(" + ", ".join(names) + ")"
    if not isinstance(result, (tuple, list)):
        _fail(fn_name, f"must return a tuple {spelled}; it returned a {type(result).__name__}")
    if len(result) != len(names):
        _fail(fn_name, f"must return {len(names)} values {spelled}; it returned {len(result)}")
    return tuple(result)


def _as_array(fn_name, term, value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(fn_name, f"{term} must be a numpy array of numbers; got {type(value).__name__}")
    return array


def _check_term(fn_name, term, got, expected, mistakes=(), transposed=None):
    """Compare one returned term with the reference and name the likely bug when it differs.

    mistakes: pairs ``(array, message)``: what the term would be after a typical mistake.
    transposed: a hint such as ``"use h_prev.T @ da"`` to give when the term equals the
    transpose of the reference.
    Returns the relative difference of a passing term.
    """
    got = _as_array(fn_name, term, got)
    expected = np.asarray(expected, dtype=np.float64)

    def matches(candidate):
        candidate = np.asarray(candidate, dtype=np.float64)
        return candidate.shape == got.shape and relative_difference(got, candidate) <= TOL

    is_transposed = (
        transposed is not None and expected.ndim == 2 and matches(expected.T)
        and not matches(expected)
    )
    if got.shape != expected.shape:
        if is_transposed:
            _fail(fn_name, f"{term} looks transposed: {transposed}")
        for candidate, message in mistakes:
            if matches(candidate):
                _fail(fn_name, f"{term} is wrong: {message}")
        _fail(fn_name, f"{term} has shape {got.shape}; expected {expected.shape}")
    if not np.all(np.isfinite(got)):
        _fail(fn_name, f"{term} contains NaN or inf values")
    error = relative_difference(got, expected)
    if error <= TOL:
        return error
    if is_transposed:
        _fail(fn_name, f"{term} looks transposed: {transposed}")
    for candidate, message in mistakes:
        if matches(candidate):
            _fail(fn_name, f"{term} is wrong: {message}")
    _fail(fn_name, f"{term} does not match the reference (relative difference {error:.1e}, "
                   f"allowed {TOL:.0e})")


def _check_terms(fn_name, got, expected, names, mistakes=None, transposed=None):
    """Check every term of a returned tuple in order; also catch terms returned out of order."""
    mistakes = mistakes or {}
    transposed = transposed or {}
    order = "(" + ", ".join(names) + ")"
    worst = 0.0
    for k, name in enumerate(names):
        swapped = [(expected[j], f"it equals the reference {other}: return {order} in this order")
                   for j, other in enumerate(names) if j != k]
        term_mistakes = list(mistakes.get(name, [])) + list(mistakes.get("*", [])) + swapped
        worst = max(worst, _check_term(fn_name, name, got[k], expected[k], term_mistakes,
                                       transposed.get(name)))
    return worst


def _gradient_check(fn_name, loss, inputs, analytic):
    """Compare the student's analytic gradients with centered differences of ``loss()``.

    inputs: name -> array that ``loss()`` reads (it is changed in place and restored).
    analytic: name -> the student's gradient of the same scalar loss.
    Returns the largest relative difference.
    """
    worst = 0.0
    for name, array in inputs.items():
        numerical = rnnlib.eval_numerical_gradient(lambda _: loss(), array, h=FD_STEP)
        grad = _as_array(fn_name, "d" + name, analytic[name])
        if grad.shape != numerical.shape:
            _fail(fn_name, f"d{name} has shape {grad.shape}; expected {numerical.shape}")
        error = relative_difference(grad, numerical)
        if error > GRAD_TOL:
            _fail(fn_name, f"gradient check failed for d{name}: your backward pass disagrees "
                           f"with the numerical gradient of your forward pass (relative "
                           f"difference {error:.1e}, allowed {GRAD_TOL:.0e})")
        worst = max(worst, error)
    return worst


def _ok(fn_name, message):
    print(f"{fn_name} OK: {message}")


def _grid(shape, low, high):
    """Evenly spaced fixed values (no randomness) in a given shape."""
    return np.linspace(low, high, num=int(np.prod(shape))).reshape(shape)


def _order_name(order):
    return "(" + ", ".join(order) + ")"


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

def _rnn_step_cases():
    """Two cases (N=3, D=5, H=4): one from evenly spaced values, one random."""
    N, D, H = 3, 5, 4
    fixed = dict(
        x=_grid((N, D), -0.5, 0.8), h_prev=_grid((N, H), 0.3, -0.6),
        Wx=_grid((D, H), -0.4, 0.7), Wh=_grid((H, H), 0.6, -0.5), b=_grid((H,), -0.2, 0.4),
    )
    rng = np.random.default_rng(231)
    random = dict(
        x=rng.normal(size=(N, D)), h_prev=rng.normal(size=(N, H)),
        Wx=0.5 * rng.normal(size=(D, H)), Wh=0.5 * rng.normal(size=(H, H)),
        b=0.3 * rng.normal(size=H),
    )
    return [fixed, random]


def _rnn_seq_cases():
    """Two cases (N=3, T=4, D=5, H=4)."""
    N, T, D, H = 3, 4, 5, 4
    fixed = dict(
        x=_grid((N, T, D), -0.6, 0.9), h0=_grid((N, H), 0.4, -0.3),
        Wx=_grid((D, H), -0.5, 0.6), Wh=_grid((H, H), 0.5, -0.45), b=_grid((H,), -0.2, 0.3),
    )
    rng = np.random.default_rng(1986)
    random = dict(
        x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)),
        Wx=0.5 * rng.normal(size=(D, H)), Wh=0.5 * rng.normal(size=(H, H)),
        b=0.3 * rng.normal(size=H),
    )
    return [fixed, random]


def _lstm_step_cases(peephole=False):
    """Two cases (N=3, D=5, H=4), with a (3, H) peephole array when asked."""
    N, D, H = 3, 5, 4
    fixed = dict(
        x=_grid((N, D), -0.7, 0.9), h_prev=_grid((N, H), 0.4, -0.5),
        c_prev=_grid((N, H), -0.8, 0.6), Wx=_grid((D, 4 * H), -0.6, 0.8),
        Wh=_grid((H, 4 * H), 0.7, -0.5), b=_grid((4 * H,), -0.3, 0.5),
    )
    rng = np.random.default_rng(1997)
    random = dict(
        x=rng.normal(size=(N, D)), h_prev=rng.normal(size=(N, H)),
        c_prev=rng.normal(size=(N, H)), Wx=0.5 * rng.normal(size=(D, 4 * H)),
        Wh=0.5 * rng.normal(size=(H, 4 * H)), b=0.3 * rng.normal(size=4 * H),
    )
    if peephole:
        fixed["peephole"] = _grid((3, H), -0.5, 0.7)
        random["peephole"] = 0.5 * rng.normal(size=(3, H))
    return [fixed, random]


def _lstm_seq_cases():
    """Two cases (N=3, T=4, D=5, H=4)."""
    N, T, D, H = 3, 4, 5, 4
    fixed = dict(
        x=_grid((N, T, D), -0.8, 0.7), h0=_grid((N, H), 0.5, -0.4),
        Wx=_grid((D, 4 * H), -0.6, 0.7), Wh=_grid((H, 4 * H), 0.6, -0.5),
        b=_grid((4 * H,), -0.2, 0.6),
    )
    rng = np.random.default_rng(2015)
    random = dict(
        x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)),
        Wx=0.5 * rng.normal(size=(D, 4 * H)), Wh=0.5 * rng.normal(size=(H, 4 * H)),
        b=0.3 * rng.normal(size=4 * H),
    )
    return [fixed, random]


def _upstream(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


# ----------------------------------------------------------------------------------------------
# Typical mistakes of the vanilla RNN (each function returns what a buggy version computes)
# ----------------------------------------------------------------------------------------------

def _rnn_step_backward_terms(x, h_prev, Wx, Wh, da):
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def _rnn_backward_variant(x, h0, Wx, Wh, b, dh, add_next=True, every_upstream=True,
                          accumulate=True):
    """BPTT with switches that reproduce the usual mistakes; all True gives the right answer."""
    N, T, D = x.shape
    h, _ = rnnlib.rnn_forward(x, h0, Wx, Wh, b)
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev = h0 if t == 0 else h[:, t - 1]
        upstream = dh[:, t] if (every_upstream or t == T - 1) else 0.0
        dh_t = upstream + (dh_next if add_next else 0.0)
        da = dh_t * (1 - h[:, t] ** 2)
        dx[:, t], dh_next, dWx_t, dWh_t, db_t = _rnn_step_backward_terms(x[:, t], h_prev, Wx, Wh, da)
        if accumulate:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
    return dx, dh_next, dWx, dWh, db


# ----------------------------------------------------------------------------------------------
# Assignment 1: vanilla RNN and the loss
# ----------------------------------------------------------------------------------------------

def check_rnn_step_forward(rnn_step_forward, where="the cell above"):
    """Self-check of ``rnn_step_forward(x, h_prev, Wx, Wh, b) -> (h, cache)``."""
    name = "rnn_step_forward"
    worst = 0.0
    for case in _rnn_step_cases():
        x, h_prev, Wx, Wh, b = (case[k] for k in ("x", "h_prev", "Wx", "Wh", "b"))
        h, _ = _unpack(name, _call(name, rnn_step_forward, x, h_prev, Wx, Wh, b, where=where),
                       ("h", "cache"))
        expected, _ = rnnlib.rnn_step_forward(x, h_prev, Wx, Wh, b)
        a = x @ Wx + h_prev @ Wh + b
        mistakes = [
            (np.tanh(x @ Wx + h_prev @ Wh.T + b),
             "Wh is applied transposed: use h_prev @ Wh (row vectors, a = x @ Wx + h_prev @ Wh + b)"),
            (np.tanh(x @ Wx + h_prev @ Wh), "the bias b is not added"),
            (np.tanh(x @ Wx + b), "h_prev is ignored: add h_prev @ Wh"),
            (np.tanh(h_prev @ Wh + b), "the input x is ignored: add x @ Wx"),
            (a, "the tanh is missing: h = tanh(a)"),
            (sigmoid(a), "h uses the sigmoid; the vanilla RNN uses tanh"),
        ]
        worst = max(worst, _check_term(name, "h", h, expected, mistakes))
    _ok(name, f"h matches the reference on 2 cases (relative difference {worst:.1e}).")


def check_rnn_step_backward(rnn_step_forward, rnn_step_backward, where="the cell above"):
    """Self-check of ``rnn_step_backward(dh, cache) -> (dx, dh_prev, dWx, dWh, db)``."""
    name = "rnn_step_backward"
    names = ("dx", "dh_prev", "dWx", "dWh", "db")
    worst = 0.0
    for seed, case in enumerate(_rnn_step_cases()):
        x, h_prev, Wx, Wh, b = (case[k] for k in ("x", "h_prev", "Wx", "Wh", "b"))
        h, cache = _unpack("rnn_step_forward",
                           _call("rnn_step_forward", rnn_step_forward, x, h_prev, Wx, Wh, b,
                                 where=where), ("h", "cache"))
        dh = _upstream(np.shape(h), seed)
        got = _unpack(name, _call(name, rnn_step_backward, dh, cache, where=where), names)
        _, ref_cache = rnnlib.rnn_step_forward(x, h_prev, Wx, Wh, b)
        expected = rnnlib.rnn_step_backward(dh, ref_cache)
        h_ref = np.tanh(x @ Wx + h_prev @ Wh + b)
        a = x @ Wx + h_prev @ Wh + b
        da = dh * (1 - h_ref ** 2)
        no_derivative = _rnn_step_backward_terms(x, h_prev, Wx, Wh, dh)
        derivative_of_a = _rnn_step_backward_terms(x, h_prev, Wx, Wh, dh * (1 - a ** 2))
        mistakes = {name_: [(no_derivative[k], "the tanh derivative is missing: "
                                               "da = dh * (1 - h**2) where h = tanh(a)"),
                            (derivative_of_a[k], "the tanh derivative is taken at a: it is "
                                                 "1 - h**2 with h = tanh(a), not 1 - a**2")]
                    for k, name_ in enumerate(names)}
        mistakes["dh_prev"].append((da @ Wh, "dh_prev uses Wh; it needs the transpose: "
                                             "dh_prev = da @ Wh.T"))
        mistakes["dx"].append((da @ Wh.T, "dx uses Wh; it needs Wx: dx = da @ Wx.T"))
        mistakes["db"].extend([
            (da.mean(axis=0), "db is averaged over the batch; it must be summed: db = da.sum(axis=0)"),
            (da, "db must be summed over the batch: db = da.sum(axis=0)"),
            (dh.sum(axis=0), "the tanh derivative is missing: db = (dh * (1 - h**2)).sum(axis=0)"),
        ])
        transposed = {"dWh": "use h_prev.T @ da", "dWx": "use x.T @ da"}
        worst = max(worst, _check_terms(name, got, expected, names, mistakes, transposed))

    # Gradient check on the random case: numerical derivative of sum(h * dh) through the
    # student's own forward pass.
    case = _rnn_step_cases()[1]
    inputs = {k: case[k].copy() for k in ("x", "h_prev", "Wx", "Wh", "b")}
    dh = _upstream((3, 4), 7)
    _, cache = rnn_step_forward(*_copy_args(inputs.values()))
    dx, dh_prev, dWx, dWh, db = rnn_step_backward(dh, cache)
    analytic = {"x": dx, "h_prev": dh_prev, "Wx": dWx, "Wh": dWh, "b": db}

    def loss():
        return float(np.sum(rnn_step_forward(*_copy_args(inputs.values()))[0] * dh))

    grad_error = _gradient_check(name, loss, inputs, analytic)
    _ok(name, f"{', '.join(names)} match the reference on 2 cases (relative difference "
              f"{worst:.1e}); gradient check {grad_error:.1e}.")


def check_rnn_forward(rnn_forward, where="the cell above"):
    """Self-check of ``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)``."""
    name = "rnn_forward"
    worst = 0.0
    for case in _rnn_seq_cases():
        x, h0, Wx, Wh, b = (case[k] for k in ("x", "h0", "Wx", "Wh", "b"))
        h, _ = _unpack(name, _call(name, rnn_forward, x, h0, Wx, Wh, b, where=where),
                       ("h", "cache"))
        expected, _ = rnnlib.rnn_forward(x, h0, Wx, Wh, b)
        from_zero, _ = rnnlib.rnn_forward(x, np.zeros_like(h0), Wx, Wh, b)
        shifted = np.concatenate([h0[:, None], expected[:, :-1]], axis=1)
        transposed_wh, _ = rnnlib.rnn_forward(x, h0, Wx, Wh.T, b)
        no_recurrence = np.tanh(x @ Wx + h0[:, None] @ Wh + b)
        mistakes = [
            (from_zero, "h0 is ignored: the first step must start from h0, not from zeros"),
            (shifted, "h[:, t] holds the state before step t; store the new state "
                      "h_t = tanh(x[:, t] @ Wx + h_{t-1} @ Wh + b) at h[:, t]"),
            (transposed_wh, "Wh is applied transposed: use h_prev @ Wh"),
            (no_recurrence, "every step starts from h0: pass the new h on to the next step"),
        ]
        worst = max(worst, _check_term(name, "h", h, expected, mistakes))
    _ok(name, f"h matches the reference on 2 cases (relative difference {worst:.1e}).")


def check_rnn_backward(rnn_forward, rnn_backward, where="the cell above"):
    """Self-check of ``rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)``."""
    name = "rnn_backward"
    names = ("dx", "dh0", "dWx", "dWh", "db")
    worst = 0.0
    for seed, case in enumerate(_rnn_seq_cases()):
        x, h0, Wx, Wh, b = (case[k] for k in ("x", "h0", "Wx", "Wh", "b"))
        h, cache = _unpack("rnn_forward", _call("rnn_forward", rnn_forward, x, h0, Wx, Wh, b,
                                                where=where), ("h", "cache"))
        dh = _upstream(np.shape(h), 10 + seed)
        got = _unpack(name, _call(name, rnn_backward, dh, cache, where=where), names)
        _, ref_cache = rnnlib.rnn_forward(x, h0, Wx, Wh, b)
        expected = rnnlib.rnn_backward(dh, ref_cache)
        args = (x, h0, Wx, Wh, b, dh)
        no_next = _rnn_backward_variant(*args, add_next=False)
        last_only = _rnn_backward_variant(*args, every_upstream=False)
        overwritten = _rnn_backward_variant(*args, accumulate=False)
        mistakes = {"*": []}
        for k, term in enumerate(names):
            mistakes[term] = [
                (no_next[k], "the gradient from step t+1 is not added to dh: step t must "
                             "receive dh[:, t] + dh_next, where dh_next is the dh_prev "
                             "returned by step t+1"),
                (last_only[k], "only the upstream gradient of the last step is used: add "
                               "dh[:, t] at every step t (every h_t feeds the loss)"),
                (overwritten[k], f"{term} is overwritten at every step; the weights are shared "
                                 f"over time, so sum their gradients: {term} += ..."),
            ]
        transposed = {"dWh": "use h_prev.T @ da", "dWx": "use x[:, t].T @ da"}
        worst = max(worst, _check_terms(name, got, expected, names, mistakes, transposed))

    case = _rnn_seq_cases()[1]
    inputs = {k: case[k].copy() for k in ("x", "h0", "Wx", "Wh", "b")}
    dh = _upstream((3, 4, 4), 17)
    _, cache = rnn_forward(*_copy_args(inputs.values()))
    analytic = dict(zip(("x", "h0", "Wx", "Wh", "b"), rnn_backward(dh, cache)))

    def loss():
        return float(np.sum(rnn_forward(*_copy_args(inputs.values()))[0] * dh))

    grad_error = _gradient_check(name, loss, inputs, analytic)
    _ok(name, f"{', '.join(names)} match the reference on 2 cases (relative difference "
              f"{worst:.1e}); gradient check {grad_error:.1e}.")


def _softmax_cases():
    """Two cases (N=3, T=4, V=5) with some steps masked out."""
    N, T, V = 3, 4, 5
    fixed = dict(
        x=_grid((N, T, V), -1.5, 2.0),
        y=np.array([[0, 4, 2, 1], [3, 3, 0, 2], [1, 0, 4, 4]]),
        mask=np.array([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool),
    )
    rng = np.random.default_rng(2010)
    random = dict(
        x=rng.normal(size=(N, T, V)), y=rng.integers(0, V, size=(N, T)),
        mask=np.array([[1, 1, 0, 1], [1, 1, 1, 1], [1, 0, 1, 0]], dtype=bool),
    )
    return [fixed, random]


def check_temporal_softmax_loss(temporal_softmax_loss, where="the cell above"):
    """Self-check of ``temporal_softmax_loss(x, y, mask) -> (loss, dx)``."""
    name = "temporal_softmax_loss"
    worst = 0.0
    for case in _softmax_cases():
        x, y, mask = case["x"], case["y"], case["mask"]
        N, T, V = x.shape
        loss, dx = _unpack(name, _call(name, temporal_softmax_loss, x, y, mask, where=where),
                           ("loss", "dx"))
        if np.ndim(loss) != 0:
            _fail(name, f"loss must be a scalar (a number); got an array of shape {np.shape(loss)}")
        expected_loss, expected_dx = rnnlib.temporal_softmax_loss(x, y, mask)
        all_steps = np.ones_like(mask)
        loss_unmasked, dx_unmasked = rnnlib.temporal_softmax_loss(x, y, all_steps)
        probs = rnnlib.softmax(x, axis=-1)
        loss_mistakes = [
            (N * expected_loss, "the loss is not averaged over the batch: divide the sum by N"),
            (expected_loss / T, "the loss is averaged over time as well: sum over the time "
                                "steps and divide by the batch size N only"),
            (N * expected_loss / mask.sum(), "the loss is divided by the number of unmasked "
                                             "steps; divide by the batch size N"),
            (loss_unmasked, "masked steps count in the loss: only steps where mask is True "
                            "may contribute"),
            (N * loss_unmasked, "the loss is not averaged over the batch (divide by N), and "
                                "masked steps count (use mask)"),
        ]
        dx_mistakes = [
            (N * expected_dx, "dx is not averaged over the batch: divide by N, as the loss is"),
            (expected_dx / T, "dx is averaged over time as well: divide by N only"),
            (dx_unmasked, "dx must be zero where mask is False"),
            (probs * mask[:, :, None] / N, "dx = (softmax(x) - onehot(y)) * mask / N: the 1 "
                                           "at the target class is not subtracted"),
        ]
        worst = max(worst, _check_term(name, "loss", loss, expected_loss, loss_mistakes))
        worst = max(worst, _check_term(name, "dx", dx, expected_dx, dx_mistakes))

    # Large scores: a softmax that does not subtract the max overflows.
    case = _softmax_cases()[1]
    big = case["x"] * 50 + 800.0
    with np.errstate(all="ignore"):
        loss, dx = _unpack(name, _call(name, temporal_softmax_loss, big, case["y"], case["mask"],
                                       where=where), ("loss", "dx"))
    if not (np.all(np.isfinite(loss)) and np.all(np.isfinite(dx))):
        _fail(name, "the softmax overflows for large scores (NaN or inf): subtract each "
                    "row's largest score before np.exp")
    expected_loss, expected_dx = rnnlib.temporal_softmax_loss(big, case["y"], case["mask"])
    _check_term(name, "loss (scores around 800)", loss, expected_loss)
    _check_term(name, "dx (scores around 800)", dx, expected_dx)

    x = case["x"].copy()
    _, dx = temporal_softmax_loss(x.copy(), case["y"], case["mask"])

    def loss_fn():
        return float(temporal_softmax_loss(x.copy(), case["y"], case["mask"])[0])

    grad_error = _gradient_check(name, loss_fn, {"x": x}, {"x": dx})
    _ok(name, f"loss and dx match the reference on 2 cases, with a mask (relative difference "
              f"{worst:.1e}); stable for scores around 800; gradient check {grad_error:.1e}.")


# ----------------------------------------------------------------------------------------------
# Typical mistakes of the LSTM
# ----------------------------------------------------------------------------------------------

def _lstm_step_variant(x, h_prev, c_prev, Wx, Wh, b, order=GATES, peephole=None,
                       tanh_of_c=True, keep_c_prev=True, g_sigmoid=False,
                       output_peeks_at_c_prev=False):
    """One LSTM step with switches for the usual mistakes; defaults give the right answer.

    order: which gate each column block holds, as the student's code reads them.
    Returns (h, c, values) where values holds the gates and cell state for the backward.
    """
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    blocks = {gate: a[:, k * H:(k + 1) * H] for k, gate in enumerate(order)}
    p_i, p_f, p_o = peephole if peephole is not None else (0.0, 0.0, 0.0)
    i = sigmoid(blocks["i"] + p_i * c_prev)
    f = sigmoid(blocks["f"] + p_f * c_prev)
    g = sigmoid(blocks["g"]) if g_sigmoid else np.tanh(blocks["g"])
    c = (f * c_prev if keep_c_prev else 0.0) + i * g
    o = sigmoid(blocks["o"] + p_o * (c_prev if output_peeks_at_c_prev else c))
    h = o * (np.tanh(c) if tanh_of_c else c)
    return h, c, dict(i=i, f=f, g=g, o=o, c=c, tanh_c=np.tanh(c))


def _lstm_step_backward_variant(x, h_prev, c_prev, Wx, Wh, b, dh, dc, peephole=None,
                                use_dc=True, dh_to_c=True, order=GATES, forget_factor=True,
                                peephole_into_dc=True, peephole_into_dc_prev=True,
                                dp_o_uses_c_prev=False):
    """Backward pass of one LSTM step with switches for the usual mistakes.

    Returns (dx, dh_prev, dc_prev, dWx, dWh, db, dpeephole).
    """
    _, _, v = _lstm_step_variant(x, h_prev, c_prev, Wx, Wh, b, peephole=peephole)
    i, f, g, o, c, tanh_c = (v[k] for k in ("i", "f", "g", "o", "c", "tanh_c"))
    p_i, p_f, p_o = peephole if peephole is not None else (0.0, 0.0, 0.0)
    da_o = dh * tanh_c * o * (1 - o)
    dc_total = (dc if use_dc else 0.0) + (dh * o * (1 - tanh_c ** 2) if dh_to_c else 0.0)
    if peephole_into_dc:
        dc_total = dc_total + da_o * p_o
    da_gate = dict(
        i=dc_total * g * i * (1 - i),
        f=dc_total * c_prev * f * (1 - f),
        g=dc_total * i * (1 - g ** 2),
        o=da_o,
    )
    da = np.concatenate([da_gate[gate] for gate in order], axis=1)
    dc_prev = dc_total * f if forget_factor else dc_total
    if peephole_into_dc_prev:
        dc_prev = dc_prev + da_gate["i"] * p_i + da_gate["f"] * p_f
    dpeephole = np.stack([
        (da_gate["i"] * c_prev).sum(axis=0),
        (da_gate["f"] * c_prev).sum(axis=0),
        (da_gate["o"] * (c_prev if dp_o_uses_c_prev else c)).sum(axis=0),
    ])
    return (da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0), dpeephole)


def _wrong_orders():
    return [order for order in itertools.permutations(GATES) if order != GATES]


def _lstm_forward_variant(x, h0, Wx, Wh, b, carry_c=True, c0_from_h0=False):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    h_prev, c_prev = h0, (h0 if c0_from_h0 else np.zeros_like(h0))
    for t in range(T):
        h_prev, c_prev, _ = _lstm_step_variant(x[:, t], h_prev,
                                               c_prev if carry_c else np.zeros_like(h0),
                                               Wx, Wh, b)
        h[:, t] = h_prev
    return h


def _lstm_backward_variant(x, h0, Wx, Wh, b, dh, carry_dc=True, add_next=True,
                           every_upstream=True, accumulate=True):
    N, T, _ = x.shape
    H = h0.shape[1]
    hs, cs = [h0], [np.zeros_like(h0)]
    for t in range(T):
        h_t, c_t, _ = _lstm_step_variant(x[:, t], hs[-1], cs[-1], Wx, Wh, b)
        hs.append(h_t)
        cs.append(c_t)
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        upstream = dh[:, t] if (every_upstream or t == T - 1) else 0.0
        dh_t = upstream + (dh_next if add_next else 0.0)
        dc_t = dc_next if carry_dc else np.zeros((N, H))
        dx[:, t], dh_next, dc_next, dWx_t, dWh_t, db_t, _ = _lstm_step_backward_variant(
            x[:, t], hs[t], cs[t], Wx, Wh, b, dh_t, dc_t)
        if accumulate:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
    return dx, dh_next, dWx, dWh, db


def _gate_order_message(order):
    return (f"gate blocks in the wrong order: expected (i, f, g, o), that is {_GATE_HELP}; "
            f"your code uses the order {_order_name(order)}")


# ----------------------------------------------------------------------------------------------
# Assignment 2: LSTM
# ----------------------------------------------------------------------------------------------

_LSTM_STEP_ARGS = ("x", "h_prev", "c_prev", "Wx", "Wh", "b")


def _lstm_step_forward_mistakes(case, peephole=None):
    args = [case[k] for k in _LSTM_STEP_ARGS]
    h_mistakes, c_mistakes = [], []

    def add(message, **switches):
        h, c, _ = _lstm_step_variant(*args, peephole=peephole, **switches)
        h_mistakes.append((h, message))
        c_mistakes.append((c, message))

    for order in _wrong_orders():
        add(_gate_order_message(order), order=order)
    add("h = o * tanh(c): the tanh of the cell state is missing", tanh_of_c=False)
    add("c = f * c_prev + i * g: the f * c_prev term is missing", keep_c_prev=False)
    add("the candidate g uses tanh, not the sigmoid", g_sigmoid=True)
    return h_mistakes, c_mistakes


def check_lstm_step_forward(lstm_step_forward, where="the cell above"):
    """Self-check of ``lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b) -> (h, c, cache)``."""
    name = "lstm_step_forward"
    worst = 0.0
    for case in _lstm_step_cases():
        args = [case[k] for k in _LSTM_STEP_ARGS]
        h, c, _ = _unpack(name, _call(name, lstm_step_forward, *args, where=where),
                          ("h", "c", "cache"))
        expected_h, expected_c, _ = rnnlib.lstm_step_forward(*args)
        h_mistakes, c_mistakes = _lstm_step_forward_mistakes(case)
        worst = max(worst, _check_term(name, "c", c, expected_c, c_mistakes))
        worst = max(worst, _check_term(name, "h", h, expected_h, h_mistakes))
    _ok(name, f"h and c match the reference on 2 cases (relative difference {worst:.1e}).")


def _lstm_step_backward_mistakes(case, dh, dc, names, peephole=None):
    args = [case[k] for k in _LSTM_STEP_ARGS]
    variants = []

    def add(message, **switches):
        variants.append((_lstm_step_backward_variant(*args, dh, dc, peephole=peephole,
                                                     **switches), message))

    add("dc from the next step is forgotten: the cell-state gradient is "
        "dc + dh * o * (1 - tanh(c)**2), where dc is the incoming gradient", use_dc=False)
    add("the path from h to c is missing: add dh * o * (1 - tanh(c)**2) to the incoming dc",
        dh_to_c=False)
    add("dc_prev misses the forget gate: dc_prev = (dc + dh * o * (1 - tanh(c)**2)) * f",
        forget_factor=False)
    for order in _wrong_orders():
        add(_gate_order_message(order) + " when stacking the gate gradients da", order=order)
    if peephole is not None:
        add("the output gate's peephole sends gradient into c: add da_o * p_o to the "
            "cell-state gradient before using it", peephole_into_dc=False)
        add("dc_prev misses the peephole terms: add da_i * p_i + da_f * p_f",
            peephole_into_dc_prev=False)
        add("dp_o uses c_prev; the output gate peeks at the new cell state: "
            "dp_o = (da_o * c).sum(axis=0)", dp_o_uses_c_prev=True)
    return {term: [(v[k], message) for v, message in variants] for k, term in enumerate(names)}


def check_lstm_step_backward(lstm_step_forward, lstm_step_backward, where="the cell above"):
    """Self-check of ``lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)``."""
    name = "lstm_step_backward"
    names = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")
    worst = 0.0
    for seed, case in enumerate(_lstm_step_cases()):
        args = [case[k] for k in _LSTM_STEP_ARGS]
        h, c, cache = _unpack("lstm_step_forward",
                              _call("lstm_step_forward", lstm_step_forward, *args, where=where),
                              ("h", "c", "cache"))
        dh, dc = _upstream(np.shape(h), 20 + seed), _upstream(np.shape(c), 30 + seed)
        got = _unpack(name, _call(name, lstm_step_backward, dh, dc, cache, where=where), names)
        _, _, ref_cache = rnnlib.lstm_step_forward(*args)
        expected = rnnlib.lstm_step_backward(dh, dc, ref_cache)
        mistakes = _lstm_step_backward_mistakes(case, dh, dc, names)
        transposed = {"dWh": "use h_prev.T @ da", "dWx": "use x.T @ da"}
        worst = max(worst, _check_terms(name, got, expected, names, mistakes, transposed))

    case = _lstm_step_cases()[1]
    inputs = {k: case[k].copy() for k in _LSTM_STEP_ARGS}
    dh, dc = _upstream((3, 4), 27), _upstream((3, 4), 37)
    _, _, cache = lstm_step_forward(*_copy_args(inputs.values()))
    analytic = dict(zip(_LSTM_STEP_ARGS, lstm_step_backward(dh, dc, cache)))

    def loss():
        h, c, _ = lstm_step_forward(*_copy_args(inputs.values()))
        return float(np.sum(h * dh) + np.sum(c * dc))

    grad_error = _gradient_check(name, loss, inputs, analytic)
    _ok(name, f"{', '.join(names)} match the reference on 2 cases (relative difference "
              f"{worst:.1e}); gradient check {grad_error:.1e}.")


def check_lstm_forward(lstm_forward, where="the cell above"):
    """Self-check of ``lstm_forward(x, h0, Wx, Wh, b) -> (h, cache)`` with c0 = 0."""
    name = "lstm_forward"
    worst = 0.0
    for case in _lstm_seq_cases():
        x, h0, Wx, Wh, b = (case[k] for k in ("x", "h0", "Wx", "Wh", "b"))
        h, _ = _unpack(name, _call(name, lstm_forward, x, h0, Wx, Wh, b, where=where),
                       ("h", "cache"))
        expected, _ = rnnlib.lstm_forward(x, h0, Wx, Wh, b)
        from_zero, _ = rnnlib.lstm_forward(x, np.zeros_like(h0), Wx, Wh, b)
        shifted = np.concatenate([h0[:, None], expected[:, :-1]], axis=1)
        mistakes = [
            (from_zero, "h0 is ignored: the first step must start from h0"),
            (_lstm_forward_variant(x, h0, Wx, Wh, b, carry_c=False),
             "the cell state is not carried from step to step: step t starts from the c of "
             "step t-1 (and c0 = 0)"),
            (_lstm_forward_variant(x, h0, Wx, Wh, b, c0_from_h0=True),
             "c0 must be zeros, not h0"),
            (shifted, "h[:, t] holds the state before step t; store the new h at h[:, t]"),
        ]
        worst = max(worst, _check_term(name, "h", h, expected, mistakes))
    _ok(name, f"h matches the reference on 2 cases (relative difference {worst:.1e}).")


def check_lstm_backward(lstm_forward, lstm_backward, where="the cell above"):
    """Self-check of ``lstm_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)``."""
    name = "lstm_backward"
    names = ("dx", "dh0", "dWx", "dWh", "db")
    worst = 0.0
    for seed, case in enumerate(_lstm_seq_cases()):
        x, h0, Wx, Wh, b = (case[k] for k in ("x", "h0", "Wx", "Wh", "b"))
        h, cache = _unpack("lstm_forward", _call("lstm_forward", lstm_forward, x, h0, Wx, Wh, b,
                                                 where=where), ("h", "cache"))
        dh = _upstream(np.shape(h), 40 + seed)
        got = _unpack(name, _call(name, lstm_backward, dh, cache, where=where), names)
        _, ref_cache = rnnlib.lstm_forward(x, h0, Wx, Wh, b)
        expected = rnnlib.lstm_backward(dh, ref_cache)
        args = (x, h0, Wx, Wh, b, dh)
        no_dc = _lstm_backward_variant(*args, carry_dc=False)
        no_next = _lstm_backward_variant(*args, add_next=False)
        last_only = _lstm_backward_variant(*args, every_upstream=False)
        overwritten = _lstm_backward_variant(*args, accumulate=False)
        mistakes = {}
        for k, term in enumerate(names):
            mistakes[term] = [
                (no_dc[k], "dc from the next step is forgotten: pass the dc_prev returned by "
                           "step t+1 as the dc of step t (it starts at zero after the last step)"),
                (no_next[k], "the gradient from step t+1 is not added to dh: step t must "
                             "receive dh[:, t] + dh_next"),
                (last_only[k], "only the upstream gradient of the last step is used: add "
                               "dh[:, t] at every step t"),
                (overwritten[k], f"{term} is overwritten at every step; the weights are shared "
                                 f"over time, so sum their gradients: {term} += ..."),
            ]
        transposed = {"dWh": "use h_prev.T @ da", "dWx": "use x[:, t].T @ da"}
        worst = max(worst, _check_terms(name, got, expected, names, mistakes, transposed))

    case = _lstm_seq_cases()[1]
    inputs = {k: case[k].copy() for k in ("x", "h0", "Wx", "Wh", "b")}
    dh = _upstream((3, 4, 4), 47)
    _, cache = lstm_forward(*_copy_args(inputs.values()))
    analytic = dict(zip(("x", "h0", "Wx", "Wh", "b"), lstm_backward(dh, cache)))

    def loss():
        return float(np.sum(lstm_forward(*_copy_args(inputs.values()))[0] * dh))

    grad_error = _gradient_check(name, loss, inputs, analytic)
    _ok(name, f"{', '.join(names)} match the reference on 2 cases (relative difference "
              f"{worst:.1e}); gradient check {grad_error:.1e}.")


# ----------------------------------------------------------------------------------------------
# Assignment 2, bonus: peephole connections
# ----------------------------------------------------------------------------------------------

def check_lstm_step_forward_peephole(lstm_step_forward_peephole, where="the cell above"):
    """Self-check of ``lstm_step_forward_peephole(x, h_prev, c_prev, Wx, Wh, b, peephole)``."""
    name = "lstm_step_forward_peephole"
    worst = 0.0
    for case in _lstm_step_cases(peephole=True):
        args = [case[k] for k in _LSTM_STEP_ARGS]
        P = case["peephole"]
        h, c, _ = _unpack(name, _call(name, lstm_step_forward_peephole, *args, P, where=where),
                          ("h", "c", "cache"))
        expected_h, expected_c, _ = rnnlib.lstm_step_forward(*args, peephole=P)
        h_mistakes, c_mistakes = _lstm_step_forward_mistakes(case, peephole=P)
        plain_h, plain_c, _ = _lstm_step_variant(*args)
        peeks_back, _, _ = _lstm_step_variant(*args, peephole=P, output_peeks_at_c_prev=True)
        rows = []
        for perm in itertools.permutations(range(3)):
            if perm != (0, 1, 2):
                h_p, c_p, _ = _lstm_step_variant(*args, peephole=P[list(perm)])
                rows.append((h_p, c_p))
        row_message = "the rows of peephole are (p_i, p_f, p_o) in this order"
        c_mistakes = [(plain_c, "the peephole terms are missing (this is the plain LSTM)")] + \
            [(c_p, row_message) for _, c_p in rows] + c_mistakes
        h_mistakes = [(plain_h, "the peephole terms are missing (this is the plain LSTM)"),
                      (peeks_back, "the output gate peeks at the new cell state: "
                                   "o = sigmoid(a_o + p_o * c) with this step's c, not c_prev")] + \
            [(h_p, row_message) for h_p, _ in rows] + h_mistakes
        worst = max(worst, _check_term(name, "c", c, expected_c, c_mistakes))
        worst = max(worst, _check_term(name, "h", h, expected_h, h_mistakes))
    _ok(name, f"h and c match the reference on 2 cases (relative difference {worst:.1e}).")


def check_lstm_step_backward_peephole(lstm_step_forward_peephole, lstm_step_backward_peephole,
                                      where="the cell above"):
    """Self-check of ``lstm_step_backward_peephole(dh, dc, cache)``: plain gradients + dpeephole."""
    name = "lstm_step_backward_peephole"
    names = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db", "dpeephole")
    fwd_name = "lstm_step_forward_peephole"
    worst = 0.0
    for seed, case in enumerate(_lstm_step_cases(peephole=True)):
        args = [case[k] for k in _LSTM_STEP_ARGS]
        P = case["peephole"]
        h, c, cache = _unpack(fwd_name, _call(fwd_name, lstm_step_forward_peephole, *args, P,
                                              where=where), ("h", "c", "cache"))
        dh, dc = _upstream(np.shape(h), 50 + seed), _upstream(np.shape(c), 60 + seed)
        got = _unpack(name, _call(name, lstm_step_backward_peephole, dh, dc, cache, where=where),
                      names)
        _, _, ref_cache = rnnlib.lstm_step_forward(*args, peephole=P)
        expected = rnnlib.lstm_step_backward_peephole(dh, dc, ref_cache)
        mistakes = _lstm_step_backward_mistakes(case, dh, dc, names, peephole=P)
        transposed = {"dWh": "use h_prev.T @ da", "dWx": "use x.T @ da"}
        worst = max(worst, _check_terms(name, got, expected, names, mistakes, transposed))

    case = _lstm_step_cases(peephole=True)[1]
    keys = _LSTM_STEP_ARGS + ("peephole",)
    inputs = {k: case[k].copy() for k in keys}
    dh, dc = _upstream((3, 4), 57), _upstream((3, 4), 67)
    _, _, cache = lstm_step_forward_peephole(*_copy_args(inputs.values()))
    analytic = dict(zip(keys, lstm_step_backward_peephole(dh, dc, cache)))

    def loss():
        h, c, _ = lstm_step_forward_peephole(*_copy_args(inputs.values()))
        return float(np.sum(h * dh) + np.sum(c * dc))

    grad_error = _gradient_check(name, loss, inputs, analytic)
    _ok(name, f"{', '.join(names)} match the reference on 2 cases (relative difference "
              f"{worst:.1e}); gradient check {grad_error:.1e}.")
