"""Tests of rnnlib.stability: recurrences, Jacobians, remedies, echo state network, deep MLP.

Oracles: torch float64 autograd (Jacobians, leaky and skip RNN, the MLP), closed forms
(matrix powers, ridge regression), rnnlib's own ``rnn_forward``/``rnn_backward`` where the
two must coincide, and centered finite differences.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlib import eval_numerical_gradient_array, rel_error, rnn_backward, rnn_forward
from rnnlib import stability as sb

F64 = torch.float64
TORCH_ACT = {
    "identity": lambda a: a,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "elu": torch.nn.functional.elu,
}


def t64(a, grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=grad)


def rnn_data(rng, N=3, T=6, D=4, H=5, scale=0.5):
    return (
        rng.standard_normal((N, T, D)),
        rng.standard_normal((N, H)),
        rng.standard_normal((D, H)) * scale,
        rng.standard_normal((H, H)) * scale,
        rng.standard_normal(H) * scale,
    )


# ------------------------------------------------------------------ activations and spectra


@pytest.mark.parametrize("name", sb.ACTIVATIONS)
def test_derivative_from_output_matches_derivative_of_preactivation(name):
    a = np.linspace(-4, 4, 41) + 0.05  # avoid a == 0 exactly for relu
    h = sb.activation_function(name)(a)
    assert rel_error(sb.derivative_from_output(name, h), sb.activation_derivative(name, a)) < 1e-12
    ta = t64(a)
    TORCH_ACT[name](ta).sum().backward()
    assert rel_error(sb.activation_derivative(name, a), ta.grad.numpy()) < 1e-12
    assert np.all(np.abs(sb.activation_derivative(name, a)) <= sb.DERIVATIVE_BOUND[name] + 1e-15)


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="activation"):
        sb.activation_function("softsign")


def test_fibonacci_matrix_tenth_power_of_eigenvalues():
    W = np.array([[1.0, 1.0], [1.0, 0.0]])
    lam, U = np.linalg.eig(W)
    assert np.allclose(sorted(lam), [(1 - 5**0.5) / 2, (1 + 5**0.5) / 2])
    assert np.allclose(U @ np.diag(lam**10) @ np.linalg.inv(U), np.linalg.matrix_power(W, 10))
    small, large = sorted(np.abs(lam) ** 10)
    assert round(small, 4) == 0.0081 and round(large, 2) == 122.99  # the lecture's numbers
    assert abs(small + large - 123) < 1e-9  # phi^10 + psi^10 is the Lucas number L_10 = 123


@pytest.mark.parametrize("basis", ["orthogonal", "random", "identity"])
def test_matrix_with_eigenvalues_has_them(basis):
    wanted = [1.1, 0.9 * np.exp(0.3j), 0.9 * np.exp(-0.3j), -0.5, 0.2]
    W = sb.matrix_with_eigenvalues(wanted, np.random.default_rng(0), basis=basis)
    assert W.dtype == np.float64 and W.shape == (5, 5)
    got = np.linalg.eigvals(W)
    for lam in wanted:
        assert np.min(np.abs(got - lam)) < 1e-9, f"eigenvalue {lam} missing from {got}"
    assert abs(sb.spectral_radius(W) - 1.1) < 1e-9
    if basis == "orthogonal":  # normal matrix: the largest singular value is the spectral radius
        assert abs(sb.max_singular_value(W) - 1.1) < 1e-9


def test_matrix_with_eigenvalues_needs_conjugate_pairs():
    with pytest.raises(ValueError, match="conjugate"):
        sb.matrix_with_eigenvalues([0.5 + 0.5j, 0.3], np.random.default_rng(0))


def test_scale_to_spectral_radius_and_singular_value():
    W = np.random.default_rng(1).standard_normal((6, 6))
    assert abs(sb.spectral_radius(sb.scale_to_spectral_radius(W, 0.95)) - 0.95) < 1e-12
    assert abs(sb.max_singular_value(W) - np.linalg.svd(W, compute_uv=False)[0]) < 1e-12
    assert sb.spectral_radius(W) <= sb.max_singular_value(W) + 1e-12
    with pytest.raises(ValueError, match="square"):
        sb.spectral_radius(np.ones((2, 3)))


# ------------------------------------------------------------------ simulating recurrences


def test_impulse_response_is_matrix_power():
    rng = np.random.default_rng(2)
    W, C, x0 = (
        rng.standard_normal((4, 4)) * 0.5,
        rng.standard_normal((4, 3)),
        rng.standard_normal(3),
    )
    h = sb.impulse_response(W, C, x0, 12)
    expected = np.stack([np.linalg.matrix_power(W, t) @ C @ x0 for t in range(12)])
    assert rel_error(h, expected) < 1e-12


def test_simulate_recurrence_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    W, C, b = rng.standard_normal((3, 3)), rng.standard_normal((3, 2)), rng.standard_normal(3)
    x, h0 = rng.standard_normal((7, 2)), rng.standard_normal(3)
    for name in sb.ACTIVATIONS:
        f = sb.activation_function(name)
        h_prev, rows = h0, []
        for t in range(7):
            h_prev = f(W @ h_prev + C @ x[t] + b)
            rows.append(h_prev)
        got = sb.simulate_recurrence(W, C, x, b=b, h0=h0, activation=name)
        assert rel_error(got, np.stack(rows)) < 1e-12, name
    assert (
        sb.simulate_recurrence(
            W.astype(np.float32), C.astype(np.float32), x.astype(np.float32)
        ).dtype
        == np.float32
    )


def test_simulate_recurrence_rejects_bad_shapes():
    with pytest.raises(ValueError, match="C has shape"):
        sb.simulate_recurrence(np.eye(3), np.ones((2, 2)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="x has shape"):
        sb.simulate_recurrence(np.eye(3), np.ones((3, 2)), np.ones(5))


def test_scalar_recurrence_broadcasts_a_grid_and_matches_the_loop():
    w = np.array([0.9, 1.0, 1.1])[:, None, None]
    b = np.array([-0.5, 0.0, 0.5])
    x = np.zeros((1, 3, 1, 20))
    x[0, :, 0, 0] = [-0.5, 0.0, 0.5]
    for name in ("sigmoid", "tanh", "relu"):
        h = sb.scalar_recurrence(w, b, x, activation=name)
        assert h.shape == (3, 3, 3, 20)
        f = sb.activation_function(name)
        for i, j, k in [(0, 0, 0), (2, 2, 1), (1, 2, 2)]:
            state, curve = 0.0, []
            for t in range(20):
                state = f(w[i, 0, 0] * state + x[0, j, 0, t] + b[k])
                curve.append(state)
            assert rel_error(h[i, j, k], np.array(curve)) < 1e-12


def test_linear_scalar_recurrence_is_geometric():
    h = sb.scalar_recurrence(1.1, 0.0, np.r_[1.0, np.zeros(9)], activation="identity")
    assert rel_error(h, 1.1 ** np.arange(10)) < 1e-12


# ------------------------------------------------------------------ Jacobians and the bound


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_hidden_state_jacobians_match_torch(activation):
    rng = np.random.default_rng(4)
    x, h0, Wx, Wh, b = rnn_data(rng)
    h, _ = rnn_forward(x, h0, Wx, Wh, b, activation=activation)
    J = sb.hidden_state_jacobians(h, Wh, activation)
    assert J.shape == (3, 6, 5, 5)
    f = TORCH_ACT[activation]
    for n, t in [(0, 0), (1, 3), (2, 5)]:
        h_prev = h0[n] if t == 0 else h[n, t - 1]

        def step(hp, n=n, t=t):
            return f(t64(x[n, t], False) @ t64(Wx, False) + hp @ t64(Wh, False) + t64(b, False))

        expected = torch.autograd.functional.jacobian(step, t64(h_prev, False)).numpy()
        assert rel_error(J[n, t], expected) < 1e-12


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_backprop_through_jacobians_equals_rnn_backward(activation):
    rng = np.random.default_rng(5)
    x, h0, Wx, Wh, b = rnn_data(rng, T=9)
    h, cache = rnn_forward(x, h0, Wx, Wh, b, activation=activation)
    g_last = rng.standard_normal((3, 5))
    dh = np.zeros_like(h)
    dh[:, -1] = g_last
    _, dh0, *_ = rnn_backward(dh, cache)
    grads, g0 = sb.backprop_through_jacobians(sb.hidden_state_jacobians(h, Wh, activation), g_last)
    assert rel_error(g0, dh0) < 1e-10
    # torch: gradient of <g_last, h_{T-1}> with respect to h_5
    th0 = t64(h0)
    hp, states = th0, []
    for t in range(9):
        hp = TORCH_ACT[activation](
            t64(x[:, t], False) @ t64(Wx, False) + hp @ t64(Wh, False) + t64(b, False)
        )
        hp.retain_grad()
        states.append(hp)
    (states[-1] * t64(g_last, False)).sum().backward()
    assert rel_error(grads[:, 5], states[5].grad.numpy()) < 1e-10
    assert rel_error(g0, th0.grad.numpy()) < 1e-10


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    scale=st.floats(0.1, 3.0),
    activation=st.sampled_from(["tanh", "sigmoid", "relu"]),
)
def test_gradient_norm_bound_holds(seed, scale, activation):
    rng = np.random.default_rng(seed)
    x, h0, Wx, _, b = rnn_data(rng, T=12)
    Wh = rng.standard_normal((5, 5)) * scale / np.sqrt(5)
    h, _ = rnn_forward(x, h0, Wx, Wh, b, activation=activation)
    g_last = rng.standard_normal((3, 5))
    grads, _ = sb.backprop_through_jacobians(sb.hidden_state_jacobians(h, Wh, activation), g_last)
    bound = sb.gradient_norm_bound(h, Wh, np.linalg.norm(g_last, axis=1), activation)
    assert np.all(np.linalg.norm(grads, axis=2) <= bound * (1 + 1e-9) + 1e-300)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_small_singular_value_is_sufficient_for_vanishing(activation):
    rng = np.random.default_rng(6)
    gamma = sb.DERIVATIVE_BOUND[activation]
    x, h0, Wx, _, b = rnn_data(rng, T=30)
    Wh = rng.standard_normal((5, 5))
    Wh *= 0.9 / gamma / sb.max_singular_value(Wh)  # sigma_max(Wh) = 0.9 / gamma
    h, _ = rnn_forward(x, h0, Wx, Wh, b, activation=activation)
    g_last = rng.standard_normal((3, 5))
    grads, _ = sb.backprop_through_jacobians(sb.hidden_state_jacobians(h, Wh, activation), g_last)
    ratio = np.linalg.norm(grads[:, 0], axis=1) / np.linalg.norm(g_last, axis=1)
    assert np.all(ratio <= 0.9**29 * (1 + 1e-9))


def test_jacobian_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="Wh has shape"):
        sb.hidden_state_jacobians(np.zeros((2, 3, 4)), np.zeros((3, 3)))


# ------------------------------------------------------------------ leaky units and skip RNN


def leaky_torch(x, h0, Wx, Wh, b, alpha, activation):
    hp, hs = h0, []
    for t in range(x.shape[1]):
        hp = (1 - alpha) * hp + alpha * TORCH_ACT[activation](x[:, t] @ Wx + hp @ Wh + b)
        hs.append(hp)
    return torch.stack(hs, 1)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("per_unit", [False, True])
def test_leaky_rnn_matches_torch(activation, per_unit):
    rng = np.random.default_rng(7)
    x, h0, Wx, Wh, b = rnn_data(rng)
    alpha = rng.uniform(0.1, 1.0, 5) if per_unit else 0.3
    h, cache = sb.leaky_rnn_forward(x, h0, Wx, Wh, b, alpha, activation)
    dh = rng.standard_normal(h.shape)
    grads = sb.leaky_rnn_backward(dh, cache)
    leaves = [t64(a) for a in (x, h0, Wx, Wh, b)]
    out = leaky_torch(*leaves, t64(alpha, False), activation)
    out.backward(t64(dh, False))
    assert rel_error(h, out.detach().numpy()) < 1e-12
    for name, got, leaf in zip(["dx", "dh0", "dWx", "dWh", "db"], grads, leaves):
        assert rel_error(got, leaf.grad.numpy()) < 1e-10, name


def test_leaky_rnn_with_alpha_one_is_the_vanilla_rnn():
    rng = np.random.default_rng(8)
    x, h0, Wx, Wh, b = rnn_data(rng)
    h, cache = sb.leaky_rnn_forward(x, h0, Wx, Wh, b, 1.0)
    h_ref, cache_ref = rnn_forward(x, h0, Wx, Wh, b)
    dh = rng.standard_normal(h.shape)
    assert rel_error(h, h_ref) < 1e-14
    for got, ref in zip(sb.leaky_rnn_backward(dh, cache), rnn_backward(dh, cache_ref)):
        assert rel_error(got, ref) < 1e-12


def test_leaky_rnn_finite_differences_and_dtype():
    rng = np.random.default_rng(9)
    x, h0, Wx, Wh, b = rnn_data(rng, N=2, T=4, D=3, H=3)
    dh = rng.standard_normal((2, 4, 3))
    _, cache = sb.leaky_rnn_forward(x, h0, Wx, Wh, b, 0.25)
    _, _, _, dWh, _ = sb.leaky_rnn_backward(dh, cache)
    num = eval_numerical_gradient_array(
        lambda W: sb.leaky_rnn_forward(x, h0, Wx, W, b, 0.25)[0], Wh, dh
    )
    assert rel_error(dWh, num) < 1e-7
    h32, cache32 = sb.leaky_rnn_forward(*(a.astype(np.float32) for a in (x, h0, Wx, Wh, b)), 0.25)
    assert h32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in sb.leaky_rnn_backward(dh.astype(np.float32), cache32))
    with pytest.raises(ValueError, match="alpha"):
        sb.leaky_rnn_forward(x, h0, Wx, Wh, b, 0.0)
    with pytest.raises(ValueError, match="alpha has shape"):
        sb.leaky_rnn_forward(x, h0, Wx, Wh, b, np.ones(2) * 0.5)


def test_leaky_unit_time_constant_sets_the_memory():
    # A linear leaky unit without recurrent weights decays as (1 - alpha)^t after an impulse.
    x = np.zeros((1, 60, 1))
    x[0, 0, 0] = 1.0
    for tau in (2.0, 10.0):
        h, _ = sb.leaky_rnn_forward(
            x, np.zeros((1, 1)), np.ones((1, 1)), np.zeros((1, 1)), np.zeros(1), 1 / tau, "identity"
        )
        assert rel_error(h[0, :, 0], (1 / tau) * (1 - 1 / tau) ** np.arange(60)) < 1e-12


def skip_torch(x, h0, Wx, Wh, Ws, b, skip, activation):
    hs = []
    for t in range(x.shape[1]):
        hp = hs[t - 1] if t >= 1 else h0
        hsk = hs[t - skip] if t >= skip else h0
        hs.append(TORCH_ACT[activation](x[:, t] @ Wx + hp @ Wh + hsk @ Ws + b))
    return torch.stack(hs, 1)


@pytest.mark.parametrize("skip", [1, 2, 3, 8])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_skip_rnn_matches_torch(skip, activation):
    rng = np.random.default_rng(10 + skip)
    x, h0, Wx, Wh, b = rnn_data(rng, T=7)
    Ws = rng.standard_normal((5, 5)) * 0.5
    h, cache = sb.skip_rnn_forward(x, h0, Wx, Wh, Ws, b, skip, activation)
    dh = rng.standard_normal(h.shape)
    grads = sb.skip_rnn_backward(dh, cache)
    leaves = [t64(a) for a in (x, h0, Wx, Wh, Ws, b)]
    out = skip_torch(*leaves, skip, activation)
    out.backward(t64(dh, False))
    assert rel_error(h, out.detach().numpy()) < 1e-12
    for name, got, leaf in zip(["dx", "dh0", "dWx", "dWh", "dWs", "db"], grads, leaves):
        assert rel_error(got, leaf.grad.numpy()) < 1e-10, name


def test_skip_rnn_with_zero_skip_weights_is_the_vanilla_rnn():
    rng = np.random.default_rng(11)
    x, h0, Wx, Wh, b = rnn_data(rng)
    h, _ = sb.skip_rnn_forward(x, h0, Wx, Wh, np.zeros((5, 5)), b, 3)
    assert rel_error(h, rnn_forward(x, h0, Wx, Wh, b)[0]) < 1e-14
    with pytest.raises(ValueError, match="skip"):
        sb.skip_rnn_forward(x, h0, Wx, Wh, np.zeros((5, 5)), b, 0)
    with pytest.raises(ValueError, match="Ws has shape"):
        sb.skip_rnn_forward(x, h0, Wx, Wh, np.zeros((4, 5)), b, 2)


# ------------------------------------------------------------------ echo state network


def test_esn_readout_is_the_ridge_solution():
    rng = np.random.default_rng(12)
    esn = sb.EchoStateNetwork(2, 30, spectral_radius=0.9, rng=rng)
    assert abs(sb.spectral_radius(esn.W) - 0.9) < 1e-10
    u = rng.uniform(-0.5, 0.5, (400, 2))
    y = np.stack([np.roll(u[:, 0], 1), u[:, 1] ** 2], axis=1)
    esn.fit(u, y, washout=50, ridge=1e-3)
    S = np.hstack([esn.run(u)[50:], np.ones((350, 1))])
    # ridge regression as an ordinary least-squares problem on an augmented system
    A = np.vstack([S, np.sqrt(1e-3) * np.eye(31)])
    B = np.vstack([y[50:], np.zeros((31, 2))])
    expected = np.linalg.lstsq(A, B, rcond=None)[0]
    assert rel_error(esn.W_out, expected) < 1e-8
    assert esn.predict(u).shape == (400, 2)


def test_esn_forgets_its_initial_state_and_remembers_recent_inputs():
    rng = np.random.default_rng(13)
    esn = sb.EchoStateNetwork(1, 50, spectral_radius=0.9, input_scale=0.5, rng=rng)
    u = rng.uniform(-0.5, 0.5, (300, 1))
    a = esn.run(u, r0=np.ones(50))
    b = esn.run(u, r0=-np.ones(50))
    assert np.linalg.norm(a[0] - b[0]) > 1.0
    assert np.linalg.norm(a[-1] - b[-1]) < 1e-6, "the echo state property failed at rho = 0.9"
    train, test = rng.uniform(-0.5, 0.5, (2000, 1)), rng.uniform(-0.5, 0.5, (1000, 1))
    delay = 3
    esn.fit(train, np.roll(train[:, 0], delay), washout=100, ridge=1e-8)
    pred = esn.predict(test)[100:, 0]
    r = np.corrcoef(pred, np.roll(test[:, 0], delay)[100:])[0, 1]
    assert r**2 > 0.9, f"delay-{delay} recall R^2 = {r**2:.3f}"
    with pytest.raises(ValueError, match="u has shape"):
        esn.run(np.zeros((5, 2)))


def test_esn_final_states_match_run_and_fit_final_is_the_ridge_solution():
    rng = np.random.default_rng(14)
    esn = sb.EchoStateNetwork(2, 20, spectral_radius=0.95, leak=0.3, bias_scale=0.2, rng=rng)
    x = rng.uniform(-1, 1, (6, 9, 2))
    final = esn.final_states(x)
    assert final.shape == (6, 20)
    for n in range(6):
        assert np.allclose(final[n], esn.run(x[n])[-1], rtol=0, atol=1e-13)
    # many-to-one targets: a nonlinear function of the sequence
    x = rng.uniform(-1, 1, (200, 9, 2))
    y = x[:, 0, 0] * x[:, -1, 1]
    esn.fit_final(x, y, ridge=1e-2)
    S = np.hstack([esn.final_states(x), np.ones((200, 1))])
    A = np.vstack([S, np.sqrt(1e-2) * np.eye(21)])
    B = np.concatenate([y, np.zeros(21)])[:, None]
    assert rel_error(esn.W_out, np.linalg.lstsq(A, B, rcond=None)[0]) < 1e-8
    assert esn.predict_final(x).shape == (200, 1)
    with pytest.raises(ValueError, match="x has shape"):
        esn.final_states(np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match="y has shape"):
        esn.fit_final(x, np.zeros(7))
    with pytest.raises(ValueError, match="fit_final"):
        sb.EchoStateNetwork(2, 5, rng=rng).predict_final(x)


def test_esn_predict_before_fit_fails():
    esn = sb.EchoStateNetwork(1, 5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="fit"):
        esn.predict(np.zeros((3, 1)))


# ------------------------------------------------------------------ deep MLP at initialisation


@pytest.mark.parametrize("activation", ["elu", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("scheme", ["torch", "lecun", "he"])
def test_mlp_gradient_norms_match_torch(activation, scheme):
    rng = np.random.default_rng(14)
    params = sb.mlp_init([6, 8, 8, 8, 3], rng, scheme=scheme, dtype=np.float64)
    x, y = rng.standard_normal((10, 6)), rng.integers(0, 3, 10)
    norms, loss = sb.mlp_gradient_norms(x, y, params, activation)
    leaves = [(t64(W), t64(b)) for W, b in params]
    a = t64(x, False)
    for W, b in leaves[:-1]:
        a = TORCH_ACT[activation](a @ W + b)
    scores = a @ leaves[-1][0] + leaves[-1][1]
    tl = torch.nn.functional.cross_entropy(scores, torch.tensor(y))
    tl.backward()
    assert abs(loss - tl.item()) < 1e-12
    expected = np.array([np.linalg.norm(W.grad.numpy()) for W, _ in leaves])
    assert rel_error(norms, expected) < 1e-10


def test_mlp_init_variances():
    rng = np.random.default_rng(15)
    ((W_t, _),) = sb.mlp_init([400, 300], rng, "torch")
    ((W_l, b_l),) = sb.mlp_init([400, 300], rng, "lecun")
    ((W_h, _),) = sb.mlp_init([400, 300], rng, "he")
    assert W_t.dtype == np.float32 and np.all(b_l == 0)
    assert abs(W_t.var() * 3 * 400 - 1) < 0.05
    assert abs(W_l.var() * 400 - 1) < 0.05
    assert abs(W_h.var() * 400 - 2) < 0.1


# ------------------------------------------------------------------ the training loop


def _vanilla(x, p):
    return rnn_forward(x, np.zeros((x.shape[0], p["Wh"].shape[0])), p["Wx"], p["Wh"], p["b"])


def _vanilla_backward(dh, cache):
    _, _, dWx, dWh, db = rnn_backward(dh, cache)
    return {"Wx": dWx, "Wh": dWh, "b": db}


def _params(rng, H=8, scale=1.0):
    return {
        "Wx": rng.standard_normal((2, H)) * 0.5,
        "Wh": rng.standard_normal((H, H)) * scale / np.sqrt(H),
        "b": np.zeros(H),
        "Wy": rng.standard_normal((H, 1)) * 0.1,
        "by": np.zeros(1),
    }


def _short_sum_task(rng):
    def sample():
        x = rng.uniform(0, 1, (32, 4, 2))
        return x, x[:, :, 0].sum(axis=1) * 0.5

    return sample


def test_training_loop_learns_a_short_task():
    rng = np.random.default_rng(16)
    sample = _short_sum_task(rng)
    p = _params(rng)
    hist = sb.train_last_step_regressor(
        _vanilla, _vanilla_backward, p, sample, 300, 1e-2, max_norm=5.0
    )
    assert not hist["diverged"]
    assert np.mean(hist["loss"][-20:]) < 0.1 * np.mean(hist["loss"][:5])
    assert max(hist["grad_norm"]) > 0


def test_training_loop_gradient_matches_finite_differences():
    # One step of Adam moves every weight by -lr * sign(g) (to first order), so the sign of the
    # step taken shows the sign of the gradient; compare it with a finite-difference gradient.
    rng = np.random.default_rng(17)
    x, y = _short_sum_task(rng)()
    p = _params(rng)
    start = {k: v.copy() for k, v in p.items()}

    def loss_of(Wh):
        h, _ = _vanilla(x, {**start, "Wh": Wh})
        return np.mean(((h[:, -1] @ start["Wy"] + start["by"])[:, 0] - y) ** 2) + 0.05 * np.sum(
            Wh**2
        )

    num = eval_numerical_gradient_array(lambda W: np.array(loss_of(W)), start["Wh"], np.array(1.0))
    sb.train_last_step_regressor(
        _vanilla, _vanilla_backward, p, lambda: (x, y), 1, 1e-4, weight_decay=0.1
    )
    step = p["Wh"] - start["Wh"]
    significant = np.abs(num) > 1e-6
    assert np.all(np.sign(step[significant]) == -np.sign(num[significant]))


def test_training_loop_flags_divergence_and_clipping_caps_the_step():
    rng = np.random.default_rng(18)
    sample = _short_sum_task(rng)
    relu_forward = lambda x, p: rnn_forward(  # noqa: E731
        x, np.zeros((x.shape[0], 8)), p["Wx"], p["Wh"], p["b"], activation="relu"
    )
    p = _params(np.random.default_rng(19), scale=1.0)
    p["Wh"] = 8.0 * np.eye(8)
    p["Wy"] = np.full((8, 1), 50.0)
    hist = sb.train_last_step_regressor(
        relu_forward, _vanilla_backward, p, sample, 50, 1.0, divergence_loss=1e4
    )
    assert hist["diverged"] and len(hist["loss"]) < 50
    runs = {}
    for max_norm in (None, 1e9, 1e-3):
        p = _params(np.random.default_rng(19))
        data = _short_sum_task(np.random.default_rng(20))
        hist = sb.train_last_step_regressor(
            _vanilla, _vanilla_backward, p, data, 5, 1e-2, max_norm=max_norm
        )
        assert not hist["diverged"] and min(hist["grad_norm"]) > 1e-3
        runs[max_norm] = p["Wh"]
    assert np.array_equal(runs[None], runs[1e9]), (
        "a threshold above the norm must not change anything"
    )
    assert not np.allclose(runs[None], runs[1e-3]), "clipping to 1e-3 had no effect"


def test_package_re_exports_every_public_name_of_its_modules():
    import importlib

    names = set()
    for module in ("spectra", "dynamics", "jacobians", "remedies", "esn", "mlp"):
        public = importlib.import_module(f"rnnlib.stability.{module}").__all__
        names |= set(public)
        for name in public:
            assert getattr(sb, name) is getattr(
                importlib.import_module(f"rnnlib.stability.{module}"), name
            )
    assert names | {
        "ACTIVATIONS",
        "DERIVATIVE_BOUND",
        "activation_function",
        "activation_derivative",
        "derivative_from_output",
    } == set(sb.__all__)
