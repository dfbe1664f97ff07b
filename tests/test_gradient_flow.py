"""rnnlib.gradient_flow against torch autograd in float64, rnn_backward and finite differences."""

import numpy as np
import pytest
import torch

import rnnlib as R
from rnnlib.gradient_flow import (
    gradient_flow_regulariser,
    hidden_state_gradients,
    temporal_contributions,
)

TOL = 1e-10
NUMERIC_TOL = 1e-7


def case(seed, N=3, T=6, D=2, H=4, activation="tanh"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    Wx = 0.5 * rng.standard_normal((D, H))
    Wh = rng.standard_normal((H, H)) / np.sqrt(H)
    b = 0.1 * rng.standard_normal(H)
    dh = rng.standard_normal((N, T, H))
    h, cache = R.rnn_forward(x, h0, Wx, Wh, b, activation=activation)
    return x, h0, Wx, Wh, b, dh, h, cache


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_hidden_state_gradients_match_torch(activation):
    x, h0, Wx, Wh, b, dh, h, _ = case(1, activation=activation)
    delta, fprime, dh0 = hidden_state_gradients(h, h0, Wh, dh, activation)
    f = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[activation]
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    th0 = t(h0).requires_grad_()
    states, hp = [], th0
    for k in range(x.shape[1]):
        hp = f(t(x[:, k]) @ t(Wx) + hp @ t(Wh) + t(b))
        hp.retain_grad()
        states.append(hp)
    sum((s * t(dh[:, k])).sum() for k, s in enumerate(states)).backward()
    torch_delta = np.stack([s.grad.numpy() for s in states], axis=1)
    assert R.rel_error(delta, torch_delta) < TOL
    assert R.rel_error(dh0, th0.grad.numpy()) < TOL


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_temporal_contributions_sum_to_rnn_backward(seed):
    x, h0, Wx, Wh, b, dh, h, cache = case(seed)
    C = temporal_contributions(h, h0, Wh, dh)
    _, _, _, dWh, _ = R.rnn_backward(dh, cache)
    assert R.rel_error(C.sum(axis=(0, 1)), dWh) < TOL
    T = h.shape[1]
    for t in range(T):
        assert np.all(C[t, t + 1:] == 0), "a loss cannot reach steps after it"


def test_temporal_contribution_of_one_loss_matches_torch():
    x, h0, Wx, Wh, b, dh, h, _ = case(3)
    C = temporal_contributions(h, h0, Wh, dh)
    t_loss = 4
    # the loss at step t_loss alone: its dWh is sum_k C[t_loss, k]
    only = np.zeros_like(dh)
    only[:, t_loss] = dh[:, t_loss]
    tWh = torch.tensor(Wh, requires_grad=True)
    hp = torch.tensor(h0)
    for k in range(t_loss + 1):
        hp = torch.tanh(torch.tensor(x[:, k]) @ torch.tensor(Wx) + hp @ tWh + torch.tensor(b))
    (hp * torch.tensor(dh[:, t_loss])).sum().backward()
    assert R.rel_error(C[t_loss].sum(axis=0), tWh.grad.numpy()) < TOL


def omega_torch(delta, fprime, Wh):
    tWh = torch.tensor(Wh, requires_grad=True)
    v = torch.tensor(delta * fprime)
    u = v @ tWh.T
    ratio = u.norm(dim=2) / torch.tensor(delta).norm(dim=2)
    omega = ((ratio - 1) ** 2).mean(dim=0).sum()
    omega.backward()
    return omega.item(), tWh.grad.numpy()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_regulariser_matches_torch_and_finite_differences(seed):
    x, h0, Wx, Wh, b, dh, h, _ = case(seed)
    delta, fprime, _ = hidden_state_gradients(h, h0, Wh, dh)
    omega, dWh = gradient_flow_regulariser(delta, fprime, Wh)
    omega_ref, dWh_ref = omega_torch(delta, fprime, Wh)
    assert abs(omega - omega_ref) < TOL * max(1.0, abs(omega_ref))
    assert R.rel_error(dWh, dWh_ref) < TOL
    numeric = R.eval_numerical_gradient(
        lambda W: gradient_flow_regulariser(delta, fprime, W)[0], Wh.copy(), verbose=False
    )
    assert R.rel_error(dWh, numeric) < NUMERIC_TOL


def test_regulariser_is_zero_for_norm_preserving_steps():
    # identity activation and an orthogonal Wh preserve every gradient norm exactly
    rng = np.random.default_rng(0)
    Q = R.orthogonal((5, 5), rng)
    delta = rng.standard_normal((2, 7, 5))
    omega, dWh = gradient_flow_regulariser(delta, np.ones_like(delta), Q)
    assert omega < 1e-20 and np.abs(dWh).max() < 1e-10


def test_bad_shapes_are_named():
    x, h0, Wx, Wh, b, dh, h, _ = case(0)
    with pytest.raises(ValueError, match="dh"):
        hidden_state_gradients(h, h0, Wh, dh[:, :-1])
    with pytest.raises(ValueError, match="Wh"):
        temporal_contributions(h, h0, Wh[:, :-1], dh)
    with pytest.raises(ValueError, match="fprime"):
        gradient_flow_regulariser(dh, dh[:, :-1], Wh)
    with pytest.raises(ValueError, match="activation"):
        hidden_state_gradients(h, h0, Wh, dh, activation="softsign")
