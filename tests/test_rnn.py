"""Vanilla RNN against torch autograd in float64 and against finite differences."""

import numpy as np
import oracle
import pytest
from oracle import AGREE_TOL, FORWARD_TOL, GRAD_TOL, NUMERIC_TOL

import rnnlib as R

# (N, T, D, H), including the degenerate sizes N = 1, T = 1, H = 1
SHAPES = [(1, 1, 1, 1), (2, 3, 4, 5), (3, 6, 2, 1), (1, 4, 3, 3), (4, 1, 5, 2), (2, 5, 1, 4)]
NAMES = ("dx", "dh_prev", "dWx", "dWh", "db")


def assert_grads_close(ours, theirs, names, tol=GRAD_TOL):
    assert len(ours) == len(theirs) == len(names)
    for name, a, b in zip(names, ours, theirs):
        assert a.shape == b.shape, f"{name}: shape {a.shape}, oracle {b.shape}"
        err = R.rel_error(a, b)
        assert err < tol, f"{name}: rel_error {err:.2e} >= {tol:.0e}"


@pytest.mark.parametrize("activation", R.ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_step_matches_torch(activation, shape):
    N, _, D, H = shape
    rng = np.random.default_rng(sum(shape))
    x, h_prev, Wx, Wh, b = oracle.random_case(rng, N, 1, D, H, sequence=False)
    dh = rng.standard_normal((N, H))
    h, cache = R.rnn_step_forward(x, h_prev, Wx, Wh, b, activation=activation)
    h_ref, grads_ref = oracle.rnn_step(x, h_prev, Wx, Wh, b, dh, activation)
    assert h.shape == (N, H)
    assert R.rel_error(h, h_ref) < FORWARD_TOL
    assert_grads_close(R.rnn_step_backward(dh, cache), grads_ref, NAMES)


@pytest.mark.parametrize("activation", R.ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_sequence_matches_torch(activation, shape):
    N, T, D, H = shape
    rng = np.random.default_rng(100 + sum(shape))
    x, h0, Wx, Wh, b = oracle.random_case(rng, N, T, D, H)
    dh = rng.standard_normal((N, T, H))
    h, cache = R.rnn_forward(x, h0, Wx, Wh, b, activation=activation)
    h_ref, grads_ref = oracle.rnn_sequence(x, h0, Wx, Wh, b, dh, activation)
    assert h.shape == (N, T, H)
    assert R.rel_error(h, h_ref) < FORWARD_TOL
    assert_grads_close(R.rnn_backward(dh, cache), grads_ref, ("dx", "dh0", "dWx", "dWh", "db"))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_ops_oracle_agrees_with_nn_rnn(activation):
    # The ops oracle (used for sigmoid) and nn.RNN (used for tanh/relu) must agree where both apply,
    # otherwise the sigmoid test would compare against an oracle that was never checked itself.
    import torch

    rng = np.random.default_rng(7)
    x, h0, Wx, Wh, b = oracle.random_case(rng, 2, 4, 3, 5)
    dh = rng.standard_normal((2, 4, 5))
    h_nn, grads_nn = oracle.rnn_sequence(x, h0, Wx, Wh, b, dh, activation)
    leaves = [oracle.tensor(a) for a in (x, h0, Wx, Wh, b)]
    h_ops = oracle.rnn_ops(*leaves, activation=activation)
    grads_ops = oracle.grads_of([h_ops], [dh], leaves)
    assert isinstance(h_ops, torch.Tensor)
    assert R.rel_error(h_nn, oracle.numpy(h_ops)) < 1e-13
    assert_grads_close(grads_nn, grads_ops, ("dx", "dh0", "dWx", "dWh", "db"), tol=1e-12)


@pytest.mark.parametrize("activation", R.ACTIVATIONS)
def test_step_and_sequence_agree(activation):
    N, T, D, H = 3, 5, 4, 6
    rng = np.random.default_rng(3)
    x, h0, Wx, Wh, b = oracle.random_case(rng, N, T, D, H)
    dh = rng.standard_normal((N, T, H))
    h, cache = R.rnn_forward(x, h0, Wx, Wh, b, activation=activation)

    h_prev, caches, steps = h0, [], []
    for t in range(T):
        h_prev, c = R.rnn_step_forward(x[:, t], h_prev, Wx, Wh, b, activation=activation)
        steps.append(h_prev)
        caches.append(c)
    assert R.rel_error(h, np.stack(steps, axis=1)) < AGREE_TOL

    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dh_next, gWx, gWh, gb = R.rnn_step_backward(dh[:, t] + dh_next, caches[t])
        dWx += gWx
        dWh += gWh
        db += gb
    assert_grads_close(
        R.rnn_backward(dh, cache),
        (dx, dh_next, dWx, dWh, db),
        ("dx", "dh0", "dWx", "dWh", "db"),
        tol=AGREE_TOL,
    )


@pytest.mark.parametrize("activation", R.ACTIVATIONS)
def test_sequence_gradients_match_finite_differences(activation):
    N, T, D, H = 2, 3, 4, 5
    rng = np.random.default_rng(11)
    args = list(oracle.random_case(rng, N, T, D, H))
    dh = rng.standard_normal((N, T, H))
    _, cache = R.rnn_forward(*args, activation=activation)
    analytic = R.rnn_backward(dh, cache)
    for k, name in enumerate(("dx", "dh0", "dWx", "dWh", "db")):

        def f(_, k=k):
            return R.rnn_forward(*args, activation=activation)[0]

        numeric = R.eval_numerical_gradient_array(f, args[k], dh)
        err = R.rel_error(analytic[k], numeric)
        assert err < NUMERIC_TOL, (
            f"{name} ({activation}): rel_error {err:.2e} vs finite differences"
        )


def test_step_gradients_match_finite_differences():
    rng = np.random.default_rng(12)
    args = list(oracle.random_case(rng, 3, 1, 4, 5, sequence=False))
    dh = rng.standard_normal((3, 5))
    _, cache = R.rnn_step_forward(*args)
    analytic = R.rnn_step_backward(dh, cache)
    for k, name in enumerate(NAMES):
        numeric = R.eval_numerical_gradient_array(
            lambda _: R.rnn_step_forward(*args)[0], args[k], dh
        )
        err = R.rel_error(analytic[k], numeric)
        assert err < NUMERIC_TOL, f"{name}: rel_error {err:.2e} vs finite differences"


def test_upstream_gradient_only_at_last_step_flows_to_every_input():
    # A loss on h_T alone must still reach x_1 through the recurrence (BPTT carries dh_next).
    rng = np.random.default_rng(5)
    x, h0, Wx, Wh, b = oracle.random_case(rng, 2, 4, 3, 3)
    h, cache = R.rnn_forward(x, h0, Wx, Wh, b)
    dh = np.zeros_like(h)
    dh[:, -1] = 1.0
    dx = R.rnn_backward(dh, cache)[0]
    assert np.all(np.abs(dx[:, 0]).sum(axis=1) > 0), "the gradient from step t+1 is not added to dh"


def test_float32_stays_float32_and_is_close_to_float64():
    rng = np.random.default_rng(6)
    args = oracle.random_case(rng, 3, 4, 5, 6)
    dh = rng.standard_normal((3, 4, 6))
    h64, c64 = R.rnn_forward(*args)
    h32, c32 = R.rnn_forward(*[a.astype(np.float32) for a in args])
    g64 = R.rnn_backward(dh, c64)
    g32 = R.rnn_backward(dh.astype(np.float32), c32)
    assert h32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in g32)
    assert np.max(np.abs(h32 - h64)) < 1e-5
    for a, b in zip(g32, g64):
        assert np.max(np.abs(a - b)) < 1e-4 * max(1.0, np.max(np.abs(b)))


def test_bad_activation_and_shapes_raise():
    rng = np.random.default_rng(0)
    x, h0, Wx, Wh, b = oracle.random_case(rng, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="activation"):
        R.rnn_forward(x, h0, Wx, Wh, b, activation="softplus")
    with pytest.raises(ValueError, match=r"Wh has shape \(5, 4\); expected \(H, H\) = \(5, 5\)"):
        R.rnn_forward(x, h0, Wx, Wh[:, :4], b)
    with pytest.raises(ValueError, match=r"^x has shape"):
        R.rnn_step_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"h0 has shape \(3, 5\)"):
        R.rnn_forward(x, np.zeros((3, 5)), Wx, Wh, b)
    with pytest.raises(ValueError, match="T >= 1"):
        R.rnn_forward(x[:, :0], h0, Wx, Wh, b)
    h, cache = R.rnn_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match="dh has shape"):
        R.rnn_backward(h[:, :2], cache)
