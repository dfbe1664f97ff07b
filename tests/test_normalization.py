"""rnnlib.normalization against torch autograd in float64 and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnlib as R
from rnnlib.normalization import (
    layer_norm_backward,
    layer_norm_forward,
    ln_rnn_backward,
    ln_rnn_forward,
    ln_rnn_step_backward,
    ln_rnn_step_forward,
)

FORWARD_TOL = 1e-9
GRAD_TOL = 1e-7
EPS = 1e-5


def t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("shape", [(1, 2), (3, 5), (2, 4, 6)])
def test_layer_norm_matches_torch(shape):
    rng = np.random.default_rng(len(shape) + shape[-1])
    a = 3 * rng.standard_normal(shape) + 1
    gamma, beta = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    dout = rng.standard_normal(shape)
    out, cache = layer_norm_forward(a, gamma, beta, EPS)
    ta, tg, tb = t64(a), t64(gamma), t64(beta)
    tout = F.layer_norm(ta, (shape[-1],), tg, tb, EPS)
    (tout * torch.tensor(dout)).sum().backward()
    assert R.rel_error(out, tout.detach().numpy()) < FORWARD_TOL
    for ours, theirs in zip(layer_norm_backward(dout, cache), (ta.grad, tg.grad, tb.grad)):
        assert R.rel_error(ours, theirs.numpy()) < GRAD_TOL


def torch_ln_rnn(x, h0, Wx, Wh, gamma, beta, dh):
    leaves = [t64(v) for v in (x, h0, Wx, Wh, gamma, beta)]
    tx, th, tWx, tWh, tg, tb = leaves
    states = []
    for t in range(x.shape[1]):
        th = torch.tanh(F.layer_norm(tx[:, t] @ tWx + th @ tWh, (Wh.shape[0],), tg, tb, EPS))
        states.append(th)
    h = torch.stack(states, dim=1)
    (h * torch.tensor(dh)).sum().backward()
    return h.detach().numpy(), [leaf.grad.numpy() for leaf in leaves]


@pytest.mark.parametrize("shape", [(1, 1, 1, 2), (2, 3, 4, 5), (3, 6, 2, 3)])
def test_ln_rnn_sequence_matches_torch(shape):
    N, T, D, H = shape
    rng = np.random.default_rng(sum(shape))
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh = rng.standard_normal((D, H)), rng.standard_normal((H, H))
    gamma, beta = 1 + 0.1 * rng.standard_normal(H), 0.1 * rng.standard_normal(H)
    dh = rng.standard_normal((N, T, H))
    h, cache = ln_rnn_forward(x, h0, Wx, Wh, gamma, beta)
    h_ref, grads_ref = torch_ln_rnn(x, h0, Wx, Wh, gamma, beta, dh)
    assert R.rel_error(h, h_ref) < FORWARD_TOL
    for name, ours, theirs in zip(("dx", "dh0", "dWx", "dWh", "dgamma", "dbeta"),
                                  ln_rnn_backward(dh, cache), grads_ref):
        assert ours.shape == theirs.shape, name
        assert R.rel_error(ours, theirs) < GRAD_TOL, name


def test_ln_rnn_step_matches_finite_differences():
    rng = np.random.default_rng(7)
    N, D, H = 3, 4, 5
    args = [rng.standard_normal((N, D)), rng.standard_normal((N, H)),
            rng.standard_normal((D, H)), rng.standard_normal((H, H)),
            1 + 0.1 * rng.standard_normal(H), 0.1 * rng.standard_normal(H)]
    dh = rng.standard_normal((N, H))
    _, cache = ln_rnn_step_forward(*args)
    analytic = ln_rnn_step_backward(dh, cache)
    for k in range(6):
        def f(v, k=k):
            a = list(args)
            a[k] = v
            return ln_rnn_step_forward(*a)[0]
        numeric = R.eval_numerical_gradient_array(f, args[k].copy(), dh)
        assert R.rel_error(analytic[k], numeric) < 1e-6, k


def test_bad_shapes_are_named():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="gamma"):
        layer_norm_forward(np.ones((2, 3)), np.ones(4), np.zeros(3))
    with pytest.raises(ValueError, match="Wh"):
        ln_rnn_forward(np.ones((2, 3, 4)), np.ones((2, 5)), np.ones((4, 5)), np.ones((5, 4)),
                       np.ones(5), np.zeros(5))
    with pytest.raises(ValueError, match="x has shape"):
        ln_rnn_forward(rng.standard_normal((2, 4)), np.ones((2, 5)), np.ones((4, 5)),
                       np.ones((5, 5)), np.ones(5), np.zeros(5))
