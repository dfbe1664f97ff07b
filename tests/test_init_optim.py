"""Initialisers, optimisers against torch.optim, and gradient clipping against torch."""

import numpy as np
import pytest
import torch

import rnnlib as R


# ----------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize("shape", [(1, 1), (6, 6), (8, 3), (3, 8), (64, 64)])
def test_orthogonal(shape):
    rng = np.random.default_rng(0)
    W = R.orthogonal(shape, rng, gain=2.0)
    assert W.shape == shape
    rows, cols = shape
    if rows >= cols:
        assert np.allclose(W.T @ W, 4.0 * np.eye(cols), atol=1e-12)
    else:
        assert np.allclose(W @ W.T, 4.0 * np.eye(rows), atol=1e-12)
    assert np.allclose(np.linalg.svd(W, compute_uv=False), 2.0, atol=1e-12)
    assert R.orthogonal(shape, np.random.default_rng(0), dtype=np.float32).dtype == np.float32


def test_orthogonal_is_not_always_the_same_matrix():
    a = R.orthogonal((5, 5), np.random.default_rng(1))
    b = R.orthogonal((5, 5), np.random.default_rng(2))
    assert not np.allclose(a, b)
    assert np.array_equal(a, R.orthogonal((5, 5), np.random.default_rng(1)))


@pytest.mark.parametrize("fan_in, fan_out", [(100, 300), (400, 400)])
def test_glorot_variance_and_range(fan_in, fan_out):
    rng = np.random.default_rng(3)
    target = 2.0 / (fan_in + fan_out)
    U = R.glorot_uniform(fan_in, fan_out, rng)
    G = R.glorot_normal(fan_in, fan_out, rng)
    assert U.shape == G.shape == (fan_in, fan_out)
    assert np.max(np.abs(U)) <= np.sqrt(6.0 / (fan_in + fan_out))
    # 30 000+ samples: the sample variance is within 3 % of the target with overwhelming odds
    assert abs(U.var() / target - 1) < 0.03
    assert abs(G.var() / target - 1) < 0.03
    assert abs(U.mean()) < 0.05 * np.sqrt(target) and abs(G.mean()) < 0.05 * np.sqrt(target)


def test_scaled_identity():
    assert np.array_equal(R.scaled_identity(3, 0.5), 0.5 * np.eye(3))
    assert R.scaled_identity(2, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("kind, k", [("rnn", 1), ("gru", 3), ("lstm", 4)])
def test_init_rnn_params(kind, k):
    D, H = 5, 4
    p = R.init_rnn_params(D, H, np.random.default_rng(0), kind=kind)
    assert p["Wx"].shape == (D, k * H) and p["Wh"].shape == (H, k * H) and p["b"].shape == (k * H,)
    for block in range(k):
        Wh = p["Wh"][:, block * H:(block + 1) * H]
        assert np.allclose(Wh.T @ Wh, np.eye(H), atol=1e-12), "recurrent blocks are orthogonal"
    expected_b = np.zeros(k * H)
    if kind == "lstm":
        expected_b[H:2 * H] = 1.0
    assert np.array_equal(p["b"], expected_b)
    p2 = R.init_rnn_params(D, H, np.random.default_rng(0), kind=kind, dtype=np.float32,
                           forget_bias=0.0)
    assert all(v.dtype == np.float32 for v in p2.values())
    assert np.all(p2["b"] == 0)
    assert np.allclose(p2["Wx"], p["Wx"], atol=1e-6), "same seed, same weights"


def test_init_errors():
    with pytest.raises(ValueError, match="kind"):
        R.init_rnn_params(2, 3, np.random.default_rng(0), kind="transformer")
    with pytest.raises(ValueError, match="rng"):
        R.glorot_uniform(2, 3, 0)


# ----------------------------------------------------------------------------- optimisers
def _run_ours(rule, w0, grads, config):
    w = w0.copy()
    for g in grads:
        w, config = rule(w, g, config)
    return w


def _run_torch(opt_class, w0, grads, **kwargs):
    w = torch.tensor(w0.copy(), requires_grad=True)
    opt = opt_class([w], **kwargs)
    for g in grads:
        opt.zero_grad()
        w.grad = torch.tensor(g)
        opt.step()
    return w.detach().numpy()


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.5, 0.01)])
def test_sgd_matches_torch(momentum, weight_decay):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 3))
    grads = rng.standard_normal((6, 4, 3))
    ours = _run_ours(R.sgd, w0, grads,
                     {"learning_rate": 0.1, "momentum": momentum, "weight_decay": weight_decay})
    ref = _run_torch(torch.optim.SGD, w0, grads, lr=0.1, momentum=momentum,
                     weight_decay=weight_decay)
    assert R.rel_error(ours, ref) < 1e-12


@pytest.mark.parametrize("lr, betas", [(1e-3, (0.9, 0.999)), (0.05, (0.8, 0.99))])
def test_adam_matches_torch(lr, betas):
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((5,))
    grads = rng.standard_normal((8, 5))
    ours = _run_ours(R.adam, w0, grads,
                     {"learning_rate": lr, "beta1": betas[0], "beta2": betas[1]})
    ref = _run_torch(torch.optim.Adam, w0, grads, lr=lr, betas=betas, eps=1e-8)
    assert R.rel_error(ours - w0, ref - w0) < 1e-9


def test_default_configs_and_float32():
    w = np.ones(3, dtype=np.float32)
    w1, cfg = R.adam(w, np.ones(3, dtype=np.float32))
    assert cfg["t"] == 1 and w1.dtype == np.float32
    assert np.allclose(w1, 1 - 1e-3, atol=1e-6)   # the first Adam step has size lr
    w2, cfg2 = R.sgd(w, np.ones(3, dtype=np.float32))
    assert w2.dtype == np.float32 and np.allclose(w2, 0.99)
    with pytest.raises(ValueError, match="dw has shape"):
        R.sgd(w, np.ones(2))


@pytest.mark.parametrize("cls, torch_cls, kwargs, torch_kwargs", [
    (R.SGD, torch.optim.SGD, {"learning_rate": 0.1, "momentum": 0.9}, {"lr": 0.1, "momentum": 0.9}),
    (R.Adam, torch.optim.Adam, {"learning_rate": 0.01}, {"lr": 0.01}),
])
def test_optimizer_classes_update_dicts_in_place(cls, torch_cls, kwargs, torch_kwargs):
    rng = np.random.default_rng(2)
    params = {"Wx": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    initial = {k: v.copy() for k, v in params.items()}
    Wx_array = params["Wx"]
    opt = cls(params, **kwargs)
    steps = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(4)]
    for grads in steps:
        opt.step(grads)
    assert params["Wx"] is Wx_array, "parameters are updated in place"
    for name in params:
        ref = _run_torch(torch_cls, initial[name], [g[name] for g in steps], **torch_kwargs)
        assert R.rel_error(params[name] - initial[name], ref - initial[name]) < 1e-9
    with pytest.raises(ValueError, match="not a parameter"):
        opt.step({"Wy": np.zeros(1)})


# ----------------------------------------------------------------------------- clipping
@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
@pytest.mark.parametrize("as_dict", [False, True])
def test_clip_grad_norm_matches_torch(max_norm, as_dict):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((2, 2, 2))]
    tensors = [torch.zeros(a.shape, dtype=torch.float64, requires_grad=True) for a in arrays]
    for t, a in zip(tensors, arrays):
        t.grad = torch.tensor(a.copy())
    ref_norm = float(torch.nn.utils.clip_grad_norm_(tensors, max_norm))
    grads = {f"g{k}": a for k, a in enumerate(arrays)} if as_dict else arrays
    norm = R.clip_grad_norm(grads, max_norm)
    assert abs(norm - ref_norm) < 1e-12 * ref_norm
    for a, t in zip(arrays, tensors):
        assert R.rel_error(a, t.grad.numpy()) < 1e-14
    after = np.sqrt(sum(np.sum(a ** 2) for a in arrays))
    assert after <= max_norm * (1 + 1e-12) or max_norm > norm


def test_clip_grad_norm_rejects_non_arrays():
    with pytest.raises(ValueError, match="float numpy array"):
        R.clip_grad_norm([[1.0, 2.0]], 1.0)
