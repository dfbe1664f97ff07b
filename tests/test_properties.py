"""Property tests (hypothesis): shapes and dtypes for random sizes, and shape errors that name
the argument."""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnlib as R

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
sizes = st.integers(min_value=1, max_value=4)
dtypes = st.sampled_from([np.float32, np.float64])
seeds = st.integers(min_value=0, max_value=2**32 - 1)
BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


def make_args(cell, N, T, D, H, dtype, seed, step, peephole=False):
    """Positional arguments of the cell's forward function, in its argument order."""
    rng = np.random.default_rng(seed)
    k = BLOCKS[cell]
    x = rng.standard_normal((N, D) if step else (N, T, D))
    args = {"x": x, "h": rng.standard_normal((N, H))}
    if cell == "lstm" and step:
        args["c_prev"] = rng.standard_normal((N, H))
    args["Wx"] = rng.standard_normal((D, k * H)) * 0.5
    args["Wh"] = rng.standard_normal((H, k * H)) * 0.5
    args["b"] = rng.standard_normal(k * H) * 0.5
    if peephole:
        args["peephole"] = rng.standard_normal((3, H)) * 0.5
    return {name: a.astype(dtype) for name, a in args.items()}


FORWARD = {
    ("rnn", True): R.rnn_step_forward,
    ("rnn", False): R.rnn_forward,
    ("lstm", True): R.lstm_step_forward,
    ("lstm", False): R.lstm_forward,
    ("gru", True): R.gru_step_forward,
    ("gru", False): R.gru_forward,
}


def run(cell, step, args, rng):
    """Forward and backward with random upstream gradients; returns (outputs, grads)."""
    kwargs = {"peephole": args["peephole"]} if "peephole" in args else {}
    positional = [a for name, a in args.items() if name != "peephole"]
    out = FORWARD[cell, step](*positional, **kwargs)
    *outputs, cache = out
    dtype = outputs[0].dtype
    ups = [rng.standard_normal(o.shape).astype(dtype) for o in outputs]
    if cell == "rnn":
        grads = (R.rnn_step_backward if step else R.rnn_backward)(ups[0], cache)
    elif cell == "gru":
        grads = (R.gru_step_backward if step else R.gru_backward)(ups[0], cache)
    elif step:
        backward = R.lstm_step_backward_peephole if "peephole" in args else R.lstm_step_backward
        grads = backward(ups[0], ups[1], cache)
    else:
        grads = (R.lstm_backward_peephole if "peephole" in args else R.lstm_backward)(ups[0], cache)
    return outputs, grads


@SETTINGS
@given(
    cell=st.sampled_from(["rnn", "lstm", "gru"]),
    step=st.booleans(),
    peephole=st.booleans(),
    N=sizes,
    T=sizes,
    D=sizes,
    H=sizes,
    dtype=dtypes,
    seed=seeds,
)
def test_shapes_and_dtypes_of_outputs_and_gradients(cell, step, peephole, N, T, D, H, dtype, seed):
    peephole = peephole and cell == "lstm"
    args = make_args(cell, N, T, D, H, dtype, seed, step, peephole)
    outputs, grads = run(cell, step, args, np.random.default_rng(seed + 1))
    out_shape = (N, H) if step else (N, T, H)
    for o in outputs:
        assert o.shape == out_shape and o.dtype == dtype
        assert np.all(np.isfinite(o))
    # one gradient per input, in the forward's order (x, h, [c_prev], Wx, Wh, b, [peephole])
    expected = [a.shape for a in args.values()]
    assert [g.shape for g in grads] == expected
    assert all(g.dtype == dtype for g in grads), [g.dtype for g in grads]
    assert all(np.all(np.isfinite(g)) for g in grads)


@SETTINGS
@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), N=sizes, T=sizes, D=sizes, H=sizes, seed=seeds)
def test_float32_is_close_to_float64(cell, N, T, D, H, seed):
    a64 = make_args(cell, N, T, D, H, np.float64, seed, step=False)
    a32 = {k: v.astype(np.float32) for k, v in a64.items()}
    (h64,), g64 = run(cell, False, a64, np.random.default_rng(seed))
    (h32,), g32 = run(cell, False, a32, np.random.default_rng(seed))
    assert np.max(np.abs(h32 - h64)) < 1e-5
    for a, b in zip(g32, g64):
        assert np.max(np.abs(a - b)) < 1e-4 * max(1.0, float(np.max(np.abs(b))))


@SETTINGS
@given(
    cell=st.sampled_from(["rnn", "lstm", "gru"]),
    step=st.booleans(),
    peephole=st.booleans(),
    N=sizes,
    T=sizes,
    D=sizes,
    H=sizes,
    data=st.data(),
)
def test_a_wrong_shape_raises_a_value_error_naming_the_argument(
    cell, step, peephole, N, T, D, H, data
):
    peephole = peephole and cell == "lstm"
    args = make_args(cell, N, T, D, H, np.float64, 0, step, peephole)
    name = data.draw(st.sampled_from(sorted(args)), label="argument")
    a = args[name]
    # any axis may be wrong except the time axis of x, whose length is free
    axes = [k for k in range(a.ndim) if not (name == "x" and not step and k == 1)]
    how = data.draw(st.sampled_from(["grow", "drop_axis", "add_axis"]), label="how")
    if how == "grow":
        axis = data.draw(st.sampled_from(axes), label="axis")
        shape = list(a.shape)
        shape[axis] += data.draw(st.integers(1, 3), label="extra")
        bad = np.zeros(shape)
    elif how == "drop_axis":
        bad = a[..., 0] if a.ndim > 1 else np.float64(a[0])
    else:
        bad = a[None]
    args[name] = bad
    with pytest.raises(ValueError) as info:
        run(cell, step, args, np.random.default_rng(0))
    message = str(info.value)
    shown = "h0" if name == "h" and not step else ("h_prev" if name == "h" else name)
    # The message names the argument; when its axis sets a size (D from x, H from h) the check
    # may fire on the argument that disagrees, whose message then cites the size's source.
    assert re.search(rf"\b{shown}\b", message), message
    assert "has shape" in message and "expected" in message, message


@SETTINGS
@given(N=sizes, T=sizes, V=st.integers(1, 6), dtype=dtypes, seed=seeds)
def test_temporal_softmax_loss_properties(N, T, V, dtype, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, T, V)) * 5).astype(dtype)
    y = rng.integers(0, V, size=(N, T))
    mask = rng.random((N, T)) > 0.3
    loss, dx = R.temporal_softmax_loss(x, y, mask)
    assert loss.dtype == dtype and dx.dtype == dtype and dx.shape == (N, T, V)
    assert loss >= 0
    assert np.all(dx[~mask] == 0)
    # softmax minus a one-hot sums to zero over the vocabulary
    assert np.allclose(dx.sum(axis=2), 0, atol=1e-6)


@SETTINGS
@given(N=sizes, T=sizes, D=sizes, M=sizes, V=sizes, dtype=dtypes, seed=seeds)
def test_embedding_and_temporal_affine_shapes_and_dtypes(N, T, D, M, V, dtype, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((V, D)).astype(dtype)
    idx = rng.integers(0, V, size=(N, T))
    out, cache = R.word_embedding_forward(idx, W)
    dW = R.word_embedding_backward(np.ones_like(out), cache)
    assert out.shape == (N, T, D) and out.dtype == dtype and dW.dtype == dtype
    assert dW.sum() == pytest.approx(N * T * D)  # every lookup contributes its ones
    w = rng.standard_normal((D, M)).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    out2, cache2 = R.temporal_affine_forward(out, w, b)
    grads = R.temporal_affine_backward(np.ones_like(out2), cache2)
    assert out2.shape == (N, T, M) and out2.dtype == dtype
    assert [g.shape for g in grads] == [(N, T, D), (D, M), (M,)]
    assert all(g.dtype == dtype for g in grads)
