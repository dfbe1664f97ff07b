"""Self-check descriptions of Assignment 1 (``rnn_bptt``): the vanilla RNN and the loss.

Each description names the function's fixed cases and its typical mistakes (what a buggy
version computes, with the message that names the bug); ``core`` does the rest.
"""

import numpy as np

import rnnlib
from rnnlib import sigmoid

from ..spec import relative_error
from . import isolation
from .core import TOL, Backward, Forward, call, fail, gradient_check, grid, unpack

#: The grader's setup for this assignment: the source notebook's ``setup_imports`` cell.
SETUP = "import numpy as np\n"

STEP_ARGS = ("x", "h_prev", "Wx", "Wh", "b")
SEQUENCE_ARGS = ("x", "h0", "Wx", "Wh", "b")


# ----------------------------------------------------------------------------- cases
def _rnn_step_cases():
    """Two cases (N=3, D=5, H=4): one from evenly spaced values, one random."""
    N, D, H = 3, 5, 4
    fixed = dict(
        x=grid((N, D), -0.5, 0.8), h_prev=grid((N, H), 0.3, -0.6),
        Wx=grid((D, H), -0.4, 0.7), Wh=grid((H, H), 0.6, -0.5), b=grid((H,), -0.2, 0.4),
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
        x=grid((N, T, D), -0.6, 0.9), h0=grid((N, H), 0.4, -0.3),
        Wx=grid((D, H), -0.5, 0.6), Wh=grid((H, H), 0.5, -0.45), b=grid((H,), -0.2, 0.3),
    )
    rng = np.random.default_rng(1986)
    random = dict(
        x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)),
        Wx=0.5 * rng.normal(size=(D, H)), Wh=0.5 * rng.normal(size=(H, H)),
        b=0.3 * rng.normal(size=H),
    )
    return [fixed, random]


def _softmax_cases():
    """Two cases (N=3, T=4, V=5) with some steps masked out."""
    N, T, V = 3, 4, 5
    fixed = dict(
        x=grid((N, T, V), -1.5, 2.0),
        y=np.array([[0, 4, 2, 1], [3, 3, 0, 2], [1, 0, 4, 4]]),
        mask=np.array([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool),
    )
    rng = np.random.default_rng(2010)
    random = dict(
        x=rng.normal(size=(N, T, V)), y=rng.integers(0, V, size=(N, T)),
        mask=np.array([[1, 1, 0, 1], [1, 1, 1, 1], [1, 0, 1, 0]], dtype=bool),
    )
    return [fixed, random]


# ----------------------------------------------------------------------------- mistake models
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
        dx[:, t], dh_next, dWx_t, dWh_t, db_t = _rnn_step_backward_terms(x[:, t], h_prev, Wx,
                                                                          Wh, da)
        if accumulate:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
    return dx, dh_next, dWx, dWh, db


def _rnn_step_forward_mistakes(case):
    x, h_prev, Wx, Wh, b = (case[k] for k in STEP_ARGS)
    a = x @ Wx + h_prev @ Wh + b
    return {"h": [
        (np.tanh(x @ Wx + h_prev @ Wh.T + b),
         "Wh is applied transposed: use h_prev @ Wh (row vectors, a = x @ Wx + h_prev @ Wh + b)"),
        (np.tanh(x @ Wx + h_prev @ Wh), "the bias b is not added"),
        (np.tanh(x @ Wx + h_prev @ Wh) + b, "the bias b is added after the tanh; it belongs "
                                            "inside: h = tanh(x @ Wx + h_prev @ Wh + b)"),
        (np.tanh(x @ Wx + b), "h_prev is ignored: add h_prev @ Wh"),
        (np.tanh(h_prev @ Wh + b), "the input x is ignored: add x @ Wx"),
        (a, "the tanh is missing: h = tanh(a)"),
        (sigmoid(a), "h uses the sigmoid; the vanilla RNN uses tanh"),
    ]}


def _rnn_step_backward_mistakes(case, upstream):
    x, h_prev, Wx, Wh, b = (case[k] for k in STEP_ARGS)
    (dh,) = upstream
    names = RNN_STEP_BACKWARD.returns
    h_ref = np.tanh(x @ Wx + h_prev @ Wh + b)
    a = x @ Wx + h_prev @ Wh + b
    da = dh * (1 - h_ref ** 2)
    no_derivative = _rnn_step_backward_terms(x, h_prev, Wx, Wh, dh)
    derivative_of_a = _rnn_step_backward_terms(x, h_prev, Wx, Wh, dh * (1 - a ** 2))
    tanh_twice = _rnn_step_backward_terms(x, h_prev, Wx, Wh, dh * (1 - np.tanh(h_ref) ** 2))
    mistakes = {name: [(no_derivative[k], "the tanh derivative is missing: "
                                          "da = dh * (1 - h**2) where h = tanh(a)"),
                       (derivative_of_a[k], "the tanh derivative is taken at a: it is "
                                            "1 - h**2 with h = tanh(a), not 1 - a**2"),
                       (tanh_twice[k], "the tanh is applied twice in the derivative: the "
                                       "cache's h is already tanh(a), so da = dh * (1 - h**2)")]
                for k, name in enumerate(names)}
    mistakes["dh_prev"].append((da @ Wh, "dh_prev uses Wh; it needs the transpose: "
                                         "dh_prev = da @ Wh.T"))
    mistakes["dx"].append((da @ Wh.T, "dx uses Wh; it needs Wx: dx = da @ Wx.T"))
    mistakes["db"].extend([
        (da.mean(axis=0), "db is averaged over the batch; it must be summed: "
                          "db = da.sum(axis=0)"),
        (da, "db must be summed over the batch: db = da.sum(axis=0)"),
        (dh.sum(axis=0), "the tanh derivative is missing: db = (dh * (1 - h**2)).sum(axis=0)"),
    ])
    return mistakes


def _rnn_forward_mistakes(case):
    x, h0, Wx, Wh, b = (case[k] for k in SEQUENCE_ARGS)
    expected, _ = rnnlib.rnn_forward(x, h0, Wx, Wh, b)
    from_zero, _ = rnnlib.rnn_forward(x, np.zeros_like(h0), Wx, Wh, b)
    shifted = np.concatenate([h0[:, None], expected[:, :-1]], axis=1)
    transposed_wh, _ = rnnlib.rnn_forward(x, h0, Wx, Wh.T, b)
    no_recurrence = np.tanh(x @ Wx + h0[:, None] @ Wh + b)
    return {"h": [
        (from_zero, "h0 is ignored: the first step must start from h0, not from zeros"),
        (shifted, "h[:, t] holds the state before step t; store the new state "
                  "h_t = tanh(x[:, t] @ Wx + h_{t-1} @ Wh + b) at h[:, t]"),
        (transposed_wh, "Wh is applied transposed: use h_prev @ Wh"),
        (no_recurrence, "every step starts from h0: pass the new h on to the next step"),
    ]}


def _rnn_backward_mistakes(case, upstream):
    args = tuple(case[k] for k in SEQUENCE_ARGS) + tuple(upstream)
    no_next = _rnn_backward_variant(*args, add_next=False)
    last_only = _rnn_backward_variant(*args, every_upstream=False)
    overwritten = _rnn_backward_variant(*args, accumulate=False)
    return {term: [
        (no_next[k], "the gradient from step t+1 is not added to dh: step t must "
                     "receive dh[:, t] + dh_next, where dh_next is the dh_prev "
                     "returned by step t+1"),
        (last_only[k], "only the upstream gradient of the last step is used: add "
                       "dh[:, t] at every step t (every h_t feeds the loss)"),
        (overwritten[k], f"{term} is overwritten at every step; the weights are shared "
                         f"over time, so sum their gradients: {term} += ..."),
    ] for k, term in enumerate(RNN_BACKWARD.returns)}


def _softmax_mistakes(case):
    x, y, mask = case["x"], case["y"], case["mask"]
    N, T, V = x.shape
    expected_loss, expected_dx = rnnlib.temporal_softmax_loss(x, y, mask)
    loss_unmasked, dx_unmasked = rnnlib.temporal_softmax_loss(x, y, np.ones_like(mask))
    probs = rnnlib.softmax(x, axis=-1)
    return {
        "loss": [
            (N * expected_loss, "the loss is not averaged over the batch: divide the sum by N"),
            (expected_loss / T, "the loss is averaged over time as well: sum over the time "
                                "steps and divide by the batch size N only"),
            (N * expected_loss / mask.sum(), "the loss is divided by the number of unmasked "
                                             "steps; divide by the batch size N"),
            (loss_unmasked, "the loss ignores the mask: masked steps count in the loss; only "
                            "steps where mask is True may contribute"),
            (N * loss_unmasked, "the loss ignores the mask (masked steps count) and is not "
                                "averaged over the batch (divide by N)"),
        ],
        "dx": [
            (N * expected_dx, "dx is not averaged over the batch: divide by N, as the loss is"),
            (expected_dx / T, "dx is averaged over time as well: divide by N only"),
            (dx_unmasked, "dx ignores the mask: it must be zero where mask is False"),
            (N * dx_unmasked, "dx ignores the mask (it must be zero where mask is False) and "
                              "is not averaged over the batch (divide by N)"),
            (probs * mask[:, :, None] / N, "dx = (softmax(x) - onehot(y)) * mask / N: the 1 "
                                           "at the target class is not subtracted"),
        ],
    }


def _softmax_scalar_loss(got):
    loss = got[0]
    if np.ndim(loss) != 0:
        fail("temporal_softmax_loss", "loss must be a scalar (a number); got an array of "
                                      f"shape {np.shape(loss)}")


#: Said (in the OK line, not as a failure) of a softmax that overflows for large scores: the
#: grader's hidden cases have moderate scores, so failing here would disagree with the grade.
OVERFLOW_WARNING = ("WARNING: it overflows for scores around 800 (NaN, inf or wrong values "
                    "there): subtract each row's largest score before np.exp. The grader's "
                    "hidden cases use moderate scores, so this costs no points, but the scores "
                    "of a trained model can grow that large")


def _softmax_stability_and_gradient(temporal_softmax_loss, where):
    """Large scores (a softmax that does not subtract the max overflows: warned about, not
    failed), then a gradient check of dx."""
    name = "temporal_softmax_loss"
    case = _softmax_cases()[1]
    big = case["x"] * 50 + 800.0
    with np.errstate(all="ignore"):
        loss, dx = unpack(name, call(name, temporal_softmax_loss, big, case["y"], case["mask"],
                                     where=where), ("loss", "dx"))
    expected_loss, expected_dx = rnnlib.temporal_softmax_loss(big, case["y"], case["mask"])
    stable = all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) and
                 relative_error(np.asarray(v, dtype=np.float64), e) < TOL
                 for v, e in ((loss, expected_loss), (dx, expected_dx)))

    x = case["x"].copy()
    _, dx = temporal_softmax_loss(x.copy(), case["y"], case["mask"])

    def loss_fn():
        return float(temporal_softmax_loss(x.copy(), case["y"], case["mask"])[0])

    grad_error = gradient_check(name, loss_fn, {"x": x}, {"x": dx})
    said = "stable for scores around 800" if stable else OVERFLOW_WARNING
    return f"; gradient check {grad_error:.1e}; {said}"


# ----------------------------------------------------------------------------- descriptions
RNN_STEP_FORWARD = Forward(
    "rnn_step_forward", STEP_ARGS, ("h", "cache"), ("h",), _rnn_step_cases,
    rnnlib.rnn_step_forward, _rnn_step_forward_mistakes, "h matches",
    doc="Self-check of ``rnn_step_forward(x, h_prev, Wx, Wh, b) -> (h, cache)``.")

RNN_STEP_BACKWARD = Backward(
    "rnn_step_backward", "rnn_step_forward", STEP_ARGS, ("h", "cache"),
    ("dx", "dh_prev", "dWx", "dWh", "db"), _rnn_step_cases, rnnlib.rnn_step_forward,
    rnnlib.rnn_step_backward, _rnn_step_backward_mistakes, seeds=(0,),
    transposed={"dWh": "use h_prev.T @ da", "dWx": "use x.T @ da"},
    doc="Self-check of ``rnn_step_backward(dh, cache) -> (dx, dh_prev, dWx, dWh, db)``.")

RNN_FORWARD = Forward(
    "rnn_forward", SEQUENCE_ARGS, ("h", "cache"), ("h",), _rnn_seq_cases, rnnlib.rnn_forward,
    _rnn_forward_mistakes, "h matches", layout={"h": {"time_axis": True}},
    doc="Self-check of ``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)``.")

RNN_BACKWARD = Backward(
    "rnn_backward", "rnn_forward", SEQUENCE_ARGS, ("h", "cache"),
    ("dx", "dh0", "dWx", "dWh", "db"), _rnn_seq_cases, rnnlib.rnn_forward,
    rnnlib.rnn_backward, _rnn_backward_mistakes, seeds=(10,),
    transposed={"dWh": "use h_prev.T @ da", "dWx": "use x[:, t].T @ da"},
    layout={"dx": {"time_axis": True}},
    doc="Self-check of ``rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)``.")

TEMPORAL_SOFTMAX_LOSS = Forward(
    "temporal_softmax_loss", ("x", "y", "mask"), ("loss", "dx"), ("loss", "dx"),
    _softmax_cases, rnnlib.temporal_softmax_loss, _softmax_mistakes, "loss and dx match",
    qualifier=", with a mask", validate=_softmax_scalar_loss,
    finish=_softmax_stability_and_gradient, layout={"dx": {"time_axis": True}},
    doc="Self-check of ``temporal_softmax_loss(x, y, mask) -> (loss, dx)``.")

DESCRIPTIONS = (RNN_STEP_FORWARD, RNN_STEP_BACKWARD, RNN_FORWARD, RNN_BACKWARD,
                TEMPORAL_SOFTMAX_LOSS)
isolation.register([d.name for d in DESCRIPTIONS], SETUP)
