"""rnnlib.deep_transition against torch autograd in float64 and finite differences."""

import numpy as np
import pytest
import torch

import rnnlib as R
from rnnlib.deep_transition import dt_rnn_backward, dt_rnn_forward

NAMES = ("dx", "dh0", "dWx", "dW1", "db1", "dW2", "db2", "dWs")


def make(seed, N, T, D, H, shortcut=True):
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
            rng.standard_normal((D, H)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H),
            0.1 * rng.standard_normal(H), rng.standard_normal((H, H)) / np.sqrt(H),
            0.1 * rng.standard_normal(H),
            rng.standard_normal((H, H)) / np.sqrt(H) if shortcut else np.zeros((H, H))]
    return args, rng.standard_normal((N, T, H))


@pytest.mark.parametrize("shortcut", [False, True])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 5, 3, 4), (3, 7, 2, 6)])
def test_matches_torch(shape, shortcut):
    args, dh = make(sum(shape), *shape, shortcut=shortcut)
    h, cache = dt_rnn_forward(*args)
    leaves = [torch.tensor(a, requires_grad=True) for a in args]
    tx, th, tWx, tW1, tb1, tW2, tb2, tWs = leaves
    states = []
    for t in range(shape[1]):
        tz = torch.tanh(tx[:, t] @ tWx + th @ tW1 + tb1)
        th = torch.tanh(tz @ tW2 + th @ tWs + tb2)
        states.append(th)
    th_all = torch.stack(states, dim=1)
    (th_all * torch.tensor(dh)).sum().backward()
    assert R.rel_error(h, th_all.detach().numpy()) < 1e-12
    for name, ours, leaf in zip(NAMES, dt_rnn_backward(dh, cache), leaves):
        assert ours.shape == leaf.shape, name
        assert R.rel_error(ours, leaf.grad.numpy()) < 1e-10, name


def test_matches_finite_differences():
    args, dh = make(5, 2, 4, 3, 3)
    _, cache = dt_rnn_forward(*args)
    analytic = dt_rnn_backward(dh, cache)
    for k, name in enumerate(NAMES):
        def f(v, k=k):
            a = list(args)
            a[k] = v
            return dt_rnn_forward(*a)[0]
        numeric = R.eval_numerical_gradient_array(f, args[k].copy(), dh)
        assert R.rel_error(analytic[k], numeric) < 1e-7, name


def test_bad_shapes_are_named():
    args, _ = make(0, 2, 3, 4, 5)
    bad = list(args)
    bad[5] = np.zeros((5, 4))
    with pytest.raises(ValueError, match="W2"):
        dt_rnn_forward(*bad)
    bad = list(args)
    bad[1] = np.zeros((3, 5))
    with pytest.raises(ValueError, match="h0"):
        dt_rnn_forward(*bad)
    h, cache = dt_rnn_forward(*args)
    with pytest.raises(ValueError, match="dh"):
        dt_rnn_backward(h[:, :-1], cache)
