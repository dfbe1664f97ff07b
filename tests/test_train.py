"""Tests of rnnlib.train: many-to-one models, their gradients, the training loop and the
gradient-flow recorder.

Oracles: torch autograd in float64 (``nn.RNNCell`` and ``nn.LSTMCell`` stepped by hand, the
lecture's GRU written in torch ops) and centered finite differences.
"""

import warnings

import numpy as np
import pytest
import torch

from rnnlib import eval_numerical_gradient, rel_error
from rnnlib.tasks import adding_problem
from rnnlib.train import (
    CELLS,
    evaluate,
    hidden_gradient_norms,
    init_sequence_model,
    many_to_one_loss,
    predict,
    train,
)

BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}


def _random_model(cell, D, H, M, seed, scale=0.5):
    """A model with every parameter random (biases included), float64."""
    rng = np.random.default_rng(seed)
    params = init_sequence_model(cell, D, H, M, rng)
    params["b"] = rng.normal(scale=scale, size=params["b"].shape)
    params["by"] = rng.normal(scale=scale, size=params["by"].shape)
    return params


def _data(task, N, T, D, M, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, D))
    y = rng.normal(size=N) if task == "regression" else rng.integers(0, M, size=N)
    return x, y


def _torch_model(cell, params, x, y, task):
    """Per-sequence losses in torch, with every h_t (and c_t) kept for its gradient."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x, dtype=torch.float64)
    N, T, D = x.shape
    H = params["Wh"].shape[0]
    h = torch.zeros(N, H, dtype=torch.float64)
    c = torch.zeros(N, H, dtype=torch.float64)
    hs, cs = [], []
    if cell == "rnn":
        module = torch.nn.RNNCell(D, H).double()
    elif cell == "lstm":
        module = torch.nn.LSTMCell(D, H).double()
    for step in range(T):
        if cell == "gru":
            Wx, Wh, b = t["Wx"], t["Wh"], t["b"]
            r = torch.sigmoid(xt[:, step] @ Wx[:, :H] + h @ Wh[:, :H] + b[:H])
            z = torch.sigmoid(xt[:, step] @ Wx[:, H : 2 * H] + h @ Wh[:, H : 2 * H] + b[H : 2 * H])
            n = torch.tanh(xt[:, step] @ Wx[:, 2 * H :] + (r * h) @ Wh[:, 2 * H :] + b[2 * H :])
            h = (1 - z) * h + z * n
        else:
            # functional call of the torch cell with our (transposed) weights
            weights = {
                "weight_ih": t["Wx"].T,
                "weight_hh": t["Wh"].T,
                "bias_ih": t["b"],
                "bias_hh": torch.zeros_like(t["b"]),
            }
            state = h if cell == "rnn" else (h, c)
            out = torch.func.functional_call(module, weights, (xt[:, step], state))
            if cell == "rnn":
                h = out
            else:
                h, c = out
                c.retain_grad()
                cs.append(c)
        h.retain_grad()
        hs.append(h)
    scores = h @ t["Wy"] + t["by"]
    if task == "regression":
        per_sequence = (scores[:, 0] - torch.tensor(y)) ** 2
    else:
        per_sequence = -torch.log_softmax(scores, dim=1)[torch.arange(N), torch.tensor(y)]
    return t, per_sequence, hs, cs


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_loss_and_gradients_match_torch(cell, task):
    N, T, D, H = 4, 6, 3, 5
    M = 1 if task == "regression" else 3
    params = _random_model(cell, D, H, M, seed=1)
    x, y = _data(task, N, T, D, M, seed=2)
    loss, grads = many_to_one_loss(cell, params, x, y, task)
    t, per_sequence, _, _ = _torch_model(cell, params, x, y, task)
    loss_torch = per_sequence.mean()
    loss_torch.backward()
    assert rel_error(np.array(loss), loss_torch.detach().numpy()) < 1e-12
    for name in params:
        assert grads[name].shape == params[name].shape
        err = rel_error(grads[name], t[name].grad.numpy())
        assert err < 1e-9, (
            f"{cell}/{task}: d{name} differs from torch autograd (rel_error {err:.1e})"
        )


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_match_finite_differences(cell):
    N, T, D, H, M = 3, 5, 2, 4, 3
    params = _random_model(cell, D, H, M, seed=3)
    x, y = _data("classification", N, T, D, M, seed=4)
    _, grads = many_to_one_loss(cell, params, x, y, "classification")
    for name in params:

        def f(value, name=name):
            trial = dict(params)
            trial[name] = value
            return many_to_one_loss(cell, trial, x, y, "classification")[0]

        numeric = eval_numerical_gradient(f, params[name].copy())
        err = rel_error(grads[name], numeric)
        assert err < 1e-7, f"{cell}: d{name} differs from finite differences (rel_error {err:.1e})"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_hidden_gradient_norms_match_torch(cell, task):
    N, T, D, H = 5, 7, 3, 4
    M = 1 if task == "regression" else 2
    params = _random_model(cell, D, H, M, seed=5)
    x, y = _data(task, N, T, D, M, seed=6)
    norms = hidden_gradient_norms(cell, params, x, y, task)
    _, per_sequence, hs, cs = _torch_model(cell, params, x, y, task)
    per_sequence.sum().backward()  # rows are the gradients of each sequence's own loss
    expected_h = np.array([np.mean(np.linalg.norm(h.grad.numpy(), axis=1)) for h in hs])
    assert norms["h"].shape == (T,)
    assert rel_error(norms["h"], expected_h) < 1e-10
    if cell == "lstm":
        expected_c = np.array([np.mean(np.linalg.norm(c.grad.numpy(), axis=1)) for c in cs])
        assert rel_error(norms["c"], expected_c) < 1e-10, "dL/dc_t should be the total derivative"
    else:
        assert "c" not in norms


def test_hidden_gradient_norms_show_vanishing_in_a_contracting_rnn():
    """With a small W_h every step multiplies the gradient by less than ||W_h|| < 1."""
    N, T, D, H = 4, 12, 2, 6
    params = init_sequence_model("rnn", D, H, 1, np.random.default_rng(0))
    params["Wh"] = 0.3 * params["Wh"]  # orthogonal times 0.3: spectral norm 0.3
    x, y = _data("regression", N, T, D, 1, seed=1)
    h = hidden_gradient_norms("rnn", params, x, y, "regression")["h"]
    ratios = h[:-1] / h[1:]
    assert np.all(ratios <= 0.3 + 1e-12), "each step back shrinks the gradient by at most ||W_h||"


@pytest.mark.parametrize("cell", CELLS)
def test_init_sequence_model_shapes_and_dtype(cell):
    params = init_sequence_model(cell, 3, 5, 2, np.random.default_rng(0), dtype=np.float32)
    k = BLOCKS[cell]
    expected = {"Wx": (3, k * 5), "Wh": (5, k * 5), "b": (k * 5,), "Wy": (5, 2), "by": (2,)}
    assert {name: p.shape for name, p in params.items()} == expected
    assert all(p.dtype == np.float32 for p in params.values())
    loss, grads = many_to_one_loss(
        cell, params, np.ones((2, 4, 3), np.float32), np.array([0, 1]), "classification"
    )
    assert all(g.dtype == np.float32 for g in grads.values()), (
        "float32 parameters give float32 gradients"
    )


def test_lstm_forget_bias_is_passed_on():
    params = init_sequence_model("lstm", 2, 4, 1, np.random.default_rng(0), forget_bias=2.5)
    np.testing.assert_array_equal(params["b"][4:8], 2.5)


def test_predict_and_evaluate_agree_with_the_loss():
    params = _random_model("gru", 3, 4, 3, seed=7)
    x, y = _data("classification", 25, 5, 3, 3, seed=8)
    scores = predict("gru", params, x)
    assert scores.shape == (25, 3)
    result = evaluate("gru", params, x, y, "classification", batch_size=7)
    loss, _ = many_to_one_loss("gru", params, x, y, "classification")
    assert result["loss"] == pytest.approx(loss, rel=1e-12)
    assert result["accuracy"] == pytest.approx(np.mean(np.argmax(scores, axis=1) == y))
    reg = evaluate(
        "rnn", _random_model("rnn", 3, 4, 1, seed=9), x, np.linspace(0, 1, 25), "regression"
    )
    assert set(reg) == {"loss"}


def test_bad_arguments_raise_value_errors():
    params = init_sequence_model("rnn", 2, 3, 1, np.random.default_rng(0))
    x, y = _data("regression", 2, 3, 2, 1, seed=0)
    with pytest.raises(ValueError, match="cell"):
        many_to_one_loss("transformer", params, x, y, "regression")
    with pytest.raises(ValueError, match="task"):
        many_to_one_loss("rnn", params, x, y, "ranking")
    with pytest.raises(ValueError, match="x"):
        many_to_one_loss("rnn", params, x[0], y, "regression")
    with pytest.raises(ValueError, match="integer labels"):
        many_to_one_loss(
            "rnn",
            init_sequence_model("rnn", 2, 3, 2, np.random.default_rng(0)),
            x,
            y,
            "classification",
        )
    with pytest.raises(ValueError, match="M = 1"):
        many_to_one_loss(
            "rnn", init_sequence_model("rnn", 2, 3, 2, np.random.default_rng(0)), x, y, "regression"
        )
    with pytest.raises(ValueError, match="optimizer"):
        train("rnn", params, lambda: (x, y), "regression", 1, optimizer="lbfgs", progress=False)


def test_train_learns_a_short_adding_problem():
    rng = np.random.default_rng(0)
    params = init_sequence_model("lstm", 2, 16, 1, rng)
    data_rng = np.random.default_rng(1)
    eval_data = adding_problem(300, 6, rng=np.random.default_rng(2))
    history = train(
        "lstm",
        params,
        lambda: adding_problem(32, 6, rng=data_rng),
        "regression",
        num_steps=250,
        learning_rate=1e-2,
        max_norm=1.0,
        eval_data=eval_data,
        eval_every=50,
        progress=False,
    )
    assert len(history["loss"]) == len(history["grad_norm"]) == 250
    assert history["eval_step"] == [50, 100, 150, 200, 250]
    assert history["diverged_at"] is None
    assert history["eval"][-1]["loss"] < 0.03, "an LSTM should solve the adding problem with T = 6"
    assert history["eval"][-1]["loss"] < history["eval"][0]["loss"]


def test_train_clips_every_sgd_step():
    params = _random_model("rnn", 2, 4, 1, seed=10, scale=2.0)
    before = {k: v.copy() for k, v in params.items()}
    x, y = _data("regression", 8, 5, 2, 1, seed=11)
    y = 100 * y  # large targets: a large gradient
    history = train(
        "rnn",
        params,
        lambda: (x, y),
        "regression",
        num_steps=1,
        learning_rate=0.5,
        max_norm=0.01,
        optimizer="sgd",
        progress=False,
    )
    assert history["grad_norm"][0] > 1.0, "the recorded norm is the one before clipping"
    step = np.sqrt(sum(np.sum((params[k] - before[k]) ** 2) for k in params))
    assert step == pytest.approx(0.5 * 0.01, rel=1e-4), (
        "an SGD step has length learning_rate * max_norm"
    )


def test_train_records_divergence_without_warnings():
    params = init_sequence_model("rnn", 2, 8, 1, np.random.default_rng(0))
    data_rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning would fail the test
        history = train(
            "rnn",
            params,
            lambda: adding_problem(16, 5, rng=data_rng),
            "regression",
            num_steps=500,
            learning_rate=1e6,
            max_norm=None,
            optimizer="sgd",
            progress=False,
        )
    assert history["diverged_at"] is not None, "plain SGD with a huge step should diverge"
    assert len(history["loss"]) == history["diverged_at"] + 1
    assert not np.isfinite(history["loss"][-1]) or not np.isfinite(history["grad_norm"][-1])


def test_train_progress_bar_runs(capsys):
    params = init_sequence_model("gru", 2, 3, 1, np.random.default_rng(0))
    x, y = _data("regression", 4, 3, 2, 1, seed=0)
    history = train(
        "gru",
        params,
        lambda: (x, y),
        "regression",
        num_steps=3,
        progress=True,
        eval_data=(x, y),
        eval_every=2,
        description="gru test",
    )
    assert len(history["loss"]) == 3 and history["eval_step"] == [2, 3]


def test_blas_threads_limits_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from rnnlib.train import blas_threads

    def blas_thread_counts():
        return [
            info["num_threads"]
            for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas"
        ]

    before = blas_thread_counts()
    with blas_threads(1):
        assert all(n == 1 for n in blas_thread_counts())
    assert blas_thread_counts() == before
    with blas_threads(None):
        assert blas_thread_counts() == before
