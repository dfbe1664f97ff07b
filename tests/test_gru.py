"""GRU (lecture form) against the same equations in torch ops, finite differences and nn.GRU."""

import numpy as np
import oracle
import pytest
import torch
from oracle import AGREE_TOL, FORWARD_TOL, GRAD_TOL, NUMERIC_TOL

import rnnlib as R

SHAPES = [(1, 1, 1, 1), (2, 3, 4, 5), (3, 6, 2, 1), (1, 4, 3, 3), (4, 1, 5, 2), (2, 5, 1, 4)]
NAMES = ("dx", "dh_prev", "dWx", "dWh", "db")


def assert_grads_close(ours, theirs, names, tol=GRAD_TOL):
    assert len(ours) == len(theirs) == len(names)
    for name, a, b in zip(names, ours, theirs):
        assert a.shape == b.shape, f"{name}: shape {a.shape}, oracle {b.shape}"
        err = R.rel_error(a, b)
        assert err < tol, f"{name}: rel_error {err:.2e} >= {tol:.0e}"


@pytest.mark.parametrize("shape", SHAPES)
def test_step_matches_torch(shape):
    N, _, D, H = shape
    rng = np.random.default_rng(sum(shape))
    x, h_prev, Wx, Wh, b = oracle.random_case(rng, N, 1, D, H, blocks=3, sequence=False)
    dh = rng.standard_normal((N, H))
    h, cache = R.gru_step_forward(x, h_prev, Wx, Wh, b)
    h_ref, grads_ref = oracle.gru_step(x, h_prev, Wx, Wh, b, dh)
    assert R.rel_error(h, h_ref) < FORWARD_TOL
    assert_grads_close(R.gru_step_backward(dh, cache), grads_ref, NAMES)


@pytest.mark.parametrize("shape", SHAPES)
def test_sequence_matches_torch(shape):
    N, T, D, H = shape
    rng = np.random.default_rng(300 + sum(shape))
    x, h0, Wx, Wh, b = oracle.random_case(rng, N, T, D, H, blocks=3)
    dh = rng.standard_normal((N, T, H))
    h, cache = R.gru_forward(x, h0, Wx, Wh, b)
    h_ref, grads_ref = oracle.gru_sequence(x, h0, Wx, Wh, b, dh)
    assert h.shape == (N, T, H)
    assert R.rel_error(h, h_ref) < FORWARD_TOL
    assert_grads_close(R.gru_backward(dh, cache), grads_ref, ("dx", "dh0", "dWx", "dWh", "db"))


def test_conversion_to_torch_gru_documented_in_the_module():
    # The module docstring says: torch's z is our 1 - z (negate the z weights and bias), and
    # torch applies r after the matmul. When the candidate ignores h_prev (Wh_n = 0) the two
    # reset placements coincide, so after negating z the models must agree exactly.
    rng = np.random.default_rng(4)
    N, T, D, H = 2, 5, 3, 4
    x, h0, Wx, Wh, b = oracle.random_case(rng, N, T, D, H, blocks=3)
    Wh[:, 2 * H:] = 0.0
    h, _ = R.gru_forward(x, h0, Wx, Wh, b)

    sign = np.ones(3 * H)
    sign[H:2 * H] = -1.0      # z_torch = 1 - z_ours = sigma(-a_z)
    net = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.tensor((Wx * sign).T))
        net.weight_hh_l0.copy_(torch.tensor((Wh * sign).T))
        net.bias_ih_l0.copy_(torch.tensor(b * sign))
        net.bias_hh_l0.zero_()
        h_torch, _ = net(torch.tensor(x), torch.tensor(h0)[None])
    assert R.rel_error(h, h_torch.numpy()) < FORWARD_TOL

    # With Wh_n != 0 the placement of r matters, and the models differ.
    Wh2 = rng.standard_normal((H, 3 * H))
    h2, _ = R.gru_forward(x, h0, Wx, Wh2, b)
    with torch.no_grad():
        net.weight_hh_l0.copy_(torch.tensor((Wh2 * sign).T))
        h2_torch, _ = net(torch.tensor(x), torch.tensor(h0)[None])
    assert R.rel_error(h2, h2_torch.numpy()) > 1e-3


def test_step_and_sequence_agree():
    N, T, D, H = 3, 5, 4, 6
    rng = np.random.default_rng(3)
    x, h0, Wx, Wh, b = oracle.random_case(rng, N, T, D, H, blocks=3)
    dh = rng.standard_normal((N, T, H))
    h, cache = R.gru_forward(x, h0, Wx, Wh, b)
    h_prev, caches, steps = h0, [], []
    for t in range(T):
        h_prev, c = R.gru_step_forward(x[:, t], h_prev, Wx, Wh, b)
        steps.append(h_prev)
        caches.append(c)
    assert R.rel_error(h, np.stack(steps, axis=1)) < AGREE_TOL
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dh_next, gWx, gWh, gb = R.gru_step_backward(dh[:, t] + dh_next, caches[t])
        dWx += gWx
        dWh += gWh
        db += gb
    assert_grads_close(R.gru_backward(dh, cache), (dx, dh_next, dWx, dWh, db),
                       ("dx", "dh0", "dWx", "dWh", "db"), tol=AGREE_TOL)


def test_sequence_gradients_match_finite_differences():
    rng = np.random.default_rng(31)
    args = list(oracle.random_case(rng, 2, 3, 3, 4, blocks=3))
    dh = rng.standard_normal((2, 3, 4))
    analytic = R.gru_backward(dh, R.gru_forward(*args)[1])
    for k, name in enumerate(("dx", "dh0", "dWx", "dWh", "db")):
        numeric = R.eval_numerical_gradient_array(lambda _: R.gru_forward(*args)[0], args[k], dh)
        err = R.rel_error(analytic[k], numeric)
        assert err < NUMERIC_TOL, f"{name}: rel_error {err:.2e} vs finite differences"


def test_float32_stays_float32():
    rng = np.random.default_rng(6)
    args = [a.astype(np.float32) for a in oracle.random_case(rng, 3, 4, 5, 6, blocks=3)]
    h, cache = R.gru_forward(*args)
    grads = R.gru_backward(np.ones_like(h), cache)
    step_h, step_cache = R.gru_step_forward(args[0][:, 0], *args[1:])
    step_grads = R.gru_step_backward(np.ones_like(step_h), step_cache)
    assert h.dtype == step_h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads + step_grads)


def test_bad_shapes_raise():
    rng = np.random.default_rng(0)
    x, h0, Wx, Wh, b = oracle.random_case(rng, 2, 3, 4, 5, blocks=3)
    with pytest.raises(ValueError, match=r"Wh has shape \(5, 20\); expected \(H, 3H\) = \(5, 15\)"):
        R.gru_forward(x, h0, Wx, np.zeros((5, 20)), b)
    with pytest.raises(ValueError, match=r"Wx has shape"):
        R.gru_step_forward(x[:, 0], h0, Wx[:3], Wh, b)
