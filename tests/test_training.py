"""Tests of rnnlib.training.fit, the one training loop behind train.train, charlm.fit and
stability.train_last_step_regressor.

Oracle: a plain loop written here (draw a batch, loss and gradients, clip, record, Adam or SGD
on every parameter), the loop each of the three functions ran before they shared ``fit``.
With the same seeds the wrappers must give bit-identical losses, norms and parameters.
"""

import numpy as np
import pytest

from rnnlib import adam, clip_grad_norm, global_norm, rnn_backward, rnn_forward, sgd
from rnnlib.charlm import charlm_loss, init_charlm
from rnnlib.charlm import fit as charlm_fit
from rnnlib.stability import train_last_step_regressor
from rnnlib.tasks import adding_problem
from rnnlib.train import init_sequence_model, many_to_one_loss, train
from rnnlib.training import fit


def reference_loop(params, loss_and_grads, sample_batch, num_steps, learning_rate, max_norm,
                   rule=adam):
    configs = {name: {"learning_rate": learning_rate} for name in params}
    losses, norms = [], []
    for _ in range(num_steps):
        loss, grads = loss_and_grads(params, *sample_batch())
        norm = global_norm(grads) if max_norm is None else clip_grad_norm(grads, max_norm)
        losses.append(float(loss))
        norms.append(norm)
        if not (np.isfinite(loss) and np.isfinite(norm)):
            break
        for name in params:
            params[name], configs[name] = rule(params[name], grads[name], configs[name])
    return losses, norms


def regression_batches(seed, N=8, T=6, D=3):
    rng = np.random.default_rng(seed)

    def sample():
        x = rng.standard_normal((N, T, D))
        return x, x[:, :, 0].sum(axis=1)
    return sample


def assert_same_params(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("optimizer, max_norm", [("adam", 0.5), ("sgd", None)])
def test_train_equals_the_plain_loop(cell, optimizer, max_norm):
    def make():
        return init_sequence_model(cell, 3, 5, 1, np.random.default_rng(1))
    ours, theirs = make(), make()
    history = train(cell, ours, regression_batches(2), "regression", 15, learning_rate=3e-2,
                    max_norm=max_norm, optimizer=optimizer, progress=False)
    losses, norms = reference_loop(
        theirs, lambda p, x, y: many_to_one_loss(cell, p, x, y, "regression"),
        regression_batches(2), 15, 3e-2, max_norm, rule={"adam": adam, "sgd": sgd}[optimizer])
    assert history["loss"] == losses and history["grad_norm"] == norms
    assert history["diverged_at"] is None
    assert_same_params(ours, theirs)


def test_charlm_fit_equals_the_plain_loop_and_updates_in_place():
    ids = np.random.default_rng(4).integers(0, 7, size=200)

    def batches():
        rng = np.random.default_rng(6)

        def sample():
            starts = rng.integers(0, 180, size=4)
            offsets = starts[:, None] + np.arange(10)
            return ids[offsets], ids[offsets + 1]
        return sample

    def loss_and_grads(p, x, y):
        loss, grads, _ = charlm_loss(p, x, y)
        return loss, grads

    ours = init_charlm(7, 6, np.random.default_rng(5), D=4)
    theirs = init_charlm(7, 6, np.random.default_rng(5), D=4)
    arrays = dict(ours)
    steps = []
    history = charlm_fit(ours, loss_and_grads, batches(), 12, learning_rate=1e-2, max_norm=5.0,
                         callback=lambda step, h: steps.append((step, len(h["loss"]))))
    losses, norms = reference_loop(theirs, loss_and_grads, batches(), 12, 1e-2, 5.0)
    assert history == {"loss": losses, "grad_norm": norms}
    assert_same_params(ours, theirs)
    assert all(ours[name] is arrays[name] for name in ours)     # in place
    assert steps == [(k, k) for k in range(1, 13)]


def test_train_last_step_regressor_equals_the_plain_loop_with_weight_decay():
    H, decay = 6, 1e-2

    def make():
        rng = np.random.default_rng(11)
        return {"Wx": rng.standard_normal((2, H)) * 0.5, "Wh": rng.standard_normal((H, H)) * 0.3,
                "b": np.zeros(H), "Wy": rng.standard_normal((H, 1)) * 0.1, "by": np.zeros(1)}

    def forward(x, p):
        return rnn_forward(x, np.zeros((x.shape[0], H)), p["Wx"], p["Wh"], p["b"])

    def backward(dh, cache):
        _, _, dWx, dWh, db = rnn_backward(dh, cache)
        return {"Wx": dWx, "Wh": dWh, "b": db}

    def loss_and_grads(p, x, y):
        h, cache = forward(x, p)
        error = (h[:, -1] @ p["Wy"] + p["by"])[:, 0] - y
        dpred = (2 * error / error.shape[0])[:, None]
        dh = np.zeros_like(h)
        dh[:, -1] = dpred @ p["Wy"].T
        grads = {"Wy": h[:, -1].T @ dpred, "by": dpred.sum(axis=0), **backward(dh, cache)}
        grads["Wh"] = grads["Wh"] + decay * p["Wh"]
        return float(np.mean(error ** 2)), grads

    ours, theirs = make(), make()
    rng_a, rng_b = np.random.default_rng(12), np.random.default_rng(12)
    history = train_last_step_regressor(forward, backward, ours,
                                        lambda: adding_problem(16, 10, rng_a), 20, max_norm=1.0,
                                        weight_decay=decay)
    losses, norms = reference_loop(theirs, loss_and_grads, lambda: adding_problem(16, 10, rng_b),
                                   20, 3e-3, 1.0)
    assert history == {"loss": losses, "grad_norm": norms, "diverged": False}
    assert_same_params(ours, theirs)


def _quadratic(params, target):
    diff = params["w"] - target
    return float(np.sum(diff ** 2)), {"w": 2 * diff}


def test_fit_stops_and_records_divergence():
    params = {"w": np.array([1.0, -2.0])}
    # w <- w - lr * 2w = -99 w: the loss overflows to inf after about 77 steps
    history = fit(params, _quadratic, lambda: (np.zeros(2),), 200, learning_rate=50.0,
                  optimizer="sgd")
    assert history["diverged_at"] is not None
    assert not (np.isfinite(history["loss"][-1]) and np.isfinite(history["grad_norm"][-1]))
    assert np.isfinite(history["loss"][-2]) and np.isfinite(history["grad_norm"][-2])
    assert len(history["loss"]) == history["diverged_at"] + 1
    params = {"w": np.array([1.0])}
    history = fit(params, _quadratic, lambda: (np.zeros(1),), 10, learning_rate=1.5,
                  optimizer="sgd", divergence_loss=100.0)
    assert history["loss"][-1] > 100.0 and history["diverged_at"] == len(history["loss"]) - 1


def test_fit_raise_mode_and_in_place_choice():
    with pytest.raises(FloatingPointError, match="the loss became nan at step 0"):
        fit({"w": np.zeros(1)}, lambda p: (np.nan, {"w": np.zeros(1)}), lambda: (), 3,
            on_divergence="raise")
    w = np.array([3.0])
    params = {"w": w}
    fit(params, _quadratic, lambda: (np.zeros(1),), 5, learning_rate=0.1, optimizer="sgd",
        in_place=False)
    assert w[0] == 3.0 and params["w"] is not w and params["w"][0] < 3.0
    params = {"w": w}
    fit(params, _quadratic, lambda: (np.zeros(1),), 5, learning_rate=0.1, optimizer="sgd")
    assert params["w"] is w and w[0] < 3.0


def test_fit_rejects_bad_arguments():
    params = {"w": np.zeros(1)}
    with pytest.raises(ValueError, match="optimizer is 'rmsprop'"):
        fit(params, _quadratic, lambda: (np.zeros(1),), 1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="on_divergence is 'ignore'"):
        fit(params, _quadratic, lambda: (np.zeros(1),), 1, on_divergence="ignore")
    with pytest.raises(ValueError, match="num_steps is -1"):
        fit(params, _quadratic, lambda: (np.zeros(1),), -1)
    with pytest.raises(ValueError, match=r"grads has the keys \['v'\], which are not parameters"):
        fit(params, lambda p, t: (0.0, {"w": np.zeros(1), "v": np.zeros(1)}),
            lambda: (np.zeros(1),), 1)
