"""Embedding, temporal affine, temporal softmax loss and the stable primitives."""

import warnings

import numpy as np
import oracle
import pytest
import torch
from oracle import FORWARD_TOL, GRAD_TOL, NUMERIC_TOL

import rnnlib as R

SHAPES = [(1, 1, 1, 1), (2, 3, 4, 5), (3, 6, 2, 7), (4, 1, 5, 2)]  # (N, T, D, V or M)


@pytest.mark.parametrize("shape", SHAPES)
def test_word_embedding_matches_torch(shape):
    N, T, D, V = shape
    rng = np.random.default_rng(sum(shape))
    x = rng.integers(0, V, size=(N, T))
    x[0, 0] = x[-1, -1]  # make sure some word repeats, so dW must accumulate
    W = rng.standard_normal((V, D))
    dout = rng.standard_normal((N, T, D))
    out, cache = R.word_embedding_forward(x, W)
    out_ref, dW_ref = oracle.word_embedding(x, W, dout)
    assert out.shape == (N, T, D)
    assert R.rel_error(out, out_ref) == 0.0
    dW = R.word_embedding_backward(dout, cache)
    assert R.rel_error(dW, dW_ref) < GRAD_TOL, "repeated words must add up their gradients"


def test_word_embedding_any_index_shape_and_errors():
    W = np.arange(12.0).reshape(4, 3)
    out, cache = R.word_embedding_forward(np.array([3, 0, 3]), W)
    assert np.array_equal(out, W[[3, 0, 3]])
    dW = R.word_embedding_backward(np.ones((3, 3)), cache)
    assert np.array_equal(dW, np.array([[1.0] * 3, [0.0] * 3, [0.0] * 3, [2.0] * 3]))
    with pytest.raises(
        ValueError, match=r"x holds values in \[0, 4\]; expected integers in \[0, V\)"
    ):
        R.word_embedding_forward(np.array([[0, 4]]), W)
    with pytest.raises(ValueError, match="x must hold integer indices"):
        R.word_embedding_forward(np.array([[0.0, 1.0]]), W)
    with pytest.raises(ValueError, match=r"W has shape \(12,\)"):
        R.word_embedding_forward(np.array([[0, 1]]), W.reshape(-1))
    assert R.word_embedding_forward(np.array([[0]]), W.astype(np.float32))[0].dtype == np.float32


@pytest.mark.parametrize("shape", SHAPES)
def test_temporal_affine_matches_torch(shape):
    N, T, D, M = shape
    rng = np.random.default_rng(sum(shape))
    x, w, b = rng.standard_normal((N, T, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    dout = rng.standard_normal((N, T, M))
    out, cache = R.temporal_affine_forward(x, w, b)
    out_ref, grads_ref = oracle.temporal_affine(x, w, b, dout)
    assert R.rel_error(out, out_ref) < FORWARD_TOL
    for name, a, ref in zip(("dx", "dw", "db"), R.temporal_affine_backward(dout, cache), grads_ref):
        assert R.rel_error(a, ref) < GRAD_TOL, name


def test_temporal_affine_finite_differences():
    rng = np.random.default_rng(2)
    args = [rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)]
    dout = rng.standard_normal((2, 3, 5))
    analytic = R.temporal_affine_backward(dout, R.temporal_affine_forward(*args)[1])
    for k, name in enumerate(("dx", "dw", "db")):
        numeric = R.eval_numerical_gradient_array(
            lambda _: R.temporal_affine_forward(*args)[0], args[k], dout
        )
        assert R.rel_error(analytic[k], numeric) < NUMERIC_TOL, name


def test_affine_forward_backward():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    dout = rng.standard_normal((3, 2))
    out, cache = R.affine_forward(x, w, b)
    assert R.rel_error(out, x @ w + b) < 1e-15
    analytic = R.affine_backward(dout, cache)
    for k, arg in enumerate((x, w, b)):
        numeric = R.eval_numerical_gradient_array(lambda _: R.affine_forward(x, w, b)[0], arg, dout)
        assert R.rel_error(analytic[k], numeric) < NUMERIC_TOL
    with pytest.raises(ValueError, match=r"w has shape \(3, 2\); expected \(D, M\) = \(4, M\)"):
        R.affine_forward(x, w[:3], b)


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 3, 5), (4, 6, 10), (3, 1, 2)])
def test_temporal_softmax_loss_matches_torch(shape):
    N, T, V = shape
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal((N, T, V)) * 3
    y = rng.integers(0, V, size=(N, T))
    mask = rng.random((N, T)) > 0.3
    mask[0, 0] = True
    loss, dx = R.temporal_softmax_loss(x, y, mask)
    loss_ref, dx_ref = oracle.temporal_softmax_loss(x, y, mask)
    assert R.rel_error(loss, loss_ref) < FORWARD_TOL
    assert R.rel_error(dx, dx_ref) < GRAD_TOL
    assert np.all(dx[~mask] == 0), "masked steps must get zero gradient"


def test_temporal_softmax_loss_known_values_and_finite_differences():
    # Uniform scores: every step costs log(V); the loss sums over unmasked steps and divides by N.
    N, T, V = 4, 5, 10
    x = np.zeros((N, T, V))
    y = np.zeros((N, T), dtype=int)
    mask = np.ones((N, T), dtype=bool)
    assert abs(R.temporal_softmax_loss(x, y, mask)[0] - T * np.log(V)) < 1e-12
    mask[:, 3:] = False
    assert abs(R.temporal_softmax_loss(x, y, mask)[0] - 3 * np.log(V)) < 1e-12

    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, T, V))
    y = rng.integers(0, V, size=(N, T))
    mask = rng.random((N, T)) > 0.5
    _, dx = R.temporal_softmax_loss(x, y, mask)
    numeric = R.eval_numerical_gradient(lambda z: R.temporal_softmax_loss(z, y, mask)[0], x)
    assert R.rel_error(dx, numeric) < NUMERIC_TOL


def test_temporal_softmax_loss_huge_scores_and_errors():
    x = np.array([[[1000.0, 0.0], [-1000.0, 1000.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dx = R.temporal_softmax_loss(x, np.array([[1, 0]]), np.ones((1, 2), dtype=bool))
    assert np.isfinite(loss) and abs(loss - 3000.0) < 1e-9
    assert np.all(np.isfinite(dx))
    with pytest.raises(ValueError, match=r"y has shape \(1, 3\); expected \(N, T\) = \(1, 2\)"):
        R.temporal_softmax_loss(x, np.zeros((1, 3), dtype=int), np.ones((1, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"mask has shape"):
        R.temporal_softmax_loss(x, np.zeros((1, 2), dtype=int), np.ones((2, 1), dtype=bool))
    with pytest.raises(ValueError, match=r"y holds values"):
        R.temporal_softmax_loss(x, np.full((1, 2), 2), np.ones((1, 2), dtype=bool))
    x32 = x.astype(np.float32)
    loss32, dx32 = R.temporal_softmax_loss(x32, np.array([[1, 0]]), np.ones((1, 2), dtype=bool))
    assert loss32.dtype == np.float32 and dx32.dtype == np.float32


def test_sigmoid_is_stable_and_accurate():
    x = np.linspace(-745, 745, 20001)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning may escape
        s = R.sigmoid(x)
        s32 = R.sigmoid(x.astype(np.float32))
    ref = torch.sigmoid(torch.tensor(x)).numpy()
    assert R.rel_error(s, ref) < 1e-13, "sigmoid loses relative precision on a tail"
    assert s32.dtype == np.float32 and np.all(np.isfinite(s32))
    assert R.sigmoid(np.array(-1e6))[()] == 0.0 and R.sigmoid(np.array(1e6))[()] == 1.0
    assert R.sigmoid(np.array([0]))[0] == 0.5  # integers are accepted
    buf = np.array([-2.0, 0.0, 2.0])
    out = R.sigmoid(buf, out=buf)
    assert out is buf and abs(buf[0] + buf[2] - 1) < 1e-15


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_in_place_on_strided_views(dtype):
    # the LSTM applies sigmoid in place to strided gate blocks; every stride must work
    for step in range(1, 17):
        for n in (1, 2, 3, 5, 17):
            base = np.linspace(-3, 3, step * n + 3).astype(dtype)
            view = base[1::step][:n]
            expected = 1 / (1 + np.exp(-view.astype(np.float64)))
            R.sigmoid(view, out=view)
            assert np.max(np.abs(view - expected)) < 1e-6, (
                f"stride {step}, length {n}, {dtype.__name__}"
            )


def test_softmax_and_log_softmax_match_torch_on_large_scores():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 4, 7)) * 400
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = R.softmax(x)
        logp = R.log_softmax(x)
        p0 = R.softmax(x, axis=0)
    t = torch.tensor(x)
    assert R.rel_error(p, torch.softmax(t, dim=-1).numpy()) < 1e-12
    assert R.rel_error(logp, torch.log_softmax(t, dim=-1).numpy()) < 1e-12
    assert R.rel_error(p0, torch.softmax(t, dim=0).numpy()) < 1e-12
    assert np.allclose(p.sum(axis=-1), 1.0)
    assert R.softmax(x.astype(np.float32)).dtype == np.float32
