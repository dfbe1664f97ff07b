"""rnnlib.recurrences against a torch float64 loop, polynomial roots and matrix powers."""

import numpy as np
import pytest
import torch

from rnnlib.recurrences import companion_matrix, higher_order_recurrence

TORCH_ACT = {"identity": lambda a: a, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
             "relu": torch.relu}


@pytest.mark.parametrize("activation", sorted(TORCH_ACT))
@pytest.mark.parametrize("n,K", [(1, 1), (1, 3), (3, 2), (2, 4)])
def test_matches_torch_loop(activation, n, K):
    rng = np.random.default_rng(10 * n + K)
    taps = [0.5 * rng.standard_normal((n, n)) for _ in range(K)]
    C = rng.standard_normal((n, 2))
    x = rng.standard_normal((15, 2))
    past0 = rng.standard_normal((K, n))
    ours = higher_order_recurrence(taps, C, x, activation, h_init=past0)
    tt = [torch.tensor(w) for w in taps]
    history = [torch.tensor(p) for p in past0]  # h(-1), h(-2), ...
    out = []
    for t in range(15):
        a = torch.tensor(C) @ torch.tensor(x[t])
        for j in range(K):
            a = a + tt[j] @ history[j]
        h = TORCH_ACT[activation](a)
        out.append(h)
        history = [h] + history[:-1]
    assert np.allclose(ours, torch.stack(out).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("coefficients", [(1.0, 1.0), (1.2, -0.72), (0.5, 0.2, -0.3)])
def test_scalar_companion_eigenvalues_are_polynomial_roots(coefficients):
    eig = np.sort_complex(np.linalg.eigvals(companion_matrix(list(coefficients))))
    roots = np.sort_complex(np.roots([1.0] + [-c for c in coefficients]))
    assert np.allclose(eig, roots, atol=1e-10)


def test_linear_run_is_companion_power():
    rng = np.random.default_rng(3)
    n, K, T = 2, 3, 12
    taps = [0.4 * rng.standard_normal((n, n)) for _ in range(K)]
    C = rng.standard_normal((n, 1))
    x = np.zeros((T, 1))
    x[0] = 1.0
    h = higher_order_recurrence(taps, C, x)
    A = companion_matrix(taps)
    s0 = np.concatenate([C[:, 0], np.zeros(n * (K - 1))])
    for t in range(T):
        assert np.allclose(h[t], (np.linalg.matrix_power(A, t) @ s0)[:n], atol=1e-12)


def test_more_taps_more_modes():
    rng = np.random.default_rng(0)
    n = 3
    for K in (1, 2, 3):
        A = companion_matrix([rng.standard_normal((n, n)) for _ in range(K)])
        assert A.shape == (n * K, n * K)
        assert len(np.unique(np.round(np.linalg.eigvals(A), 8))) == n * K


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="W_2"):
        companion_matrix([np.eye(2), np.eye(3)])
    with pytest.raises(ValueError, match="C has shape"):
        higher_order_recurrence([np.eye(2)], np.ones((3, 1)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="activation"):
        higher_order_recurrence([np.eye(2)], np.ones((2, 1)), np.zeros((4, 1)), "softsign")
    with pytest.raises(ValueError, match="empty"):
        companion_matrix([])
