"""Tests of rnnlib.charlm against torch float64 autograd and finite differences."""

import numpy as np
import pytest
import torch

from rnnlib import eval_numerical_gradient, rel_error
from rnnlib.charlm import (
    PARAM_NAMES,
    charlm_loss,
    charlm_scores,
    evaluate_charlm,
    fit,
    init_charlm,
    sample,
    sample_windows,
    train_charlm,
)
from rnnlib.data import CharVocab


def small_problem(seed=0, N=3, T=5, V=7, H=6, D=4):
    rng = np.random.default_rng(seed)
    params = init_charlm(V, H, rng, D=D)
    params["b"] = 0.1 * rng.standard_normal(H)  # non-zero biases exercise db, dby
    params["by"] = 0.1 * rng.standard_normal(V)
    x = rng.integers(0, V, size=(N, T))
    y = rng.integers(0, V, size=(N, T))
    h0 = 0.5 * rng.standard_normal((N, H))
    return params, x, y, h0


def torch_loss(params, x, y, h0):
    """The same model written directly in torch ops (float64), row-vector layout."""
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(h0, dtype=torch.float64)
    emb = p["W_embed"][torch.tensor(x)]
    loss = 0
    for t in range(x.shape[1]):
        h = torch.tanh(emb[:, t] @ p["Wx"] + h @ p["Wh"] + p["b"])
        scores = h @ p["Wy"] + p["by"]
        loss = loss + torch.nn.functional.cross_entropy(
            scores, torch.tensor(y[:, t]), reduction="sum"
        )
    loss = loss / x.shape[0]  # summed over time, averaged over the batch
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in p.items()}


def test_loss_and_grads_match_torch_autograd():
    params, x, y, h0 = small_problem()
    loss, grads, h_last = charlm_loss(params, x, y, h0)
    ref_loss, ref_grads = torch_loss(params, x, y, h0)
    assert rel_error(loss, ref_loss) < 1e-12
    assert set(grads) == set(PARAM_NAMES)
    for name in PARAM_NAMES:
        assert grads[name].shape == params[name].shape
        assert rel_error(grads[name], ref_grads[name]) < 1e-9, f"d{name} disagrees with torch"
    assert h_last.shape == (3, 6)


@pytest.mark.parametrize("name", ["Wh", "Wx", "W_embed", "by"])
def test_grads_match_finite_differences(name):
    params, x, y, h0 = small_problem(seed=1)
    _, grads, _ = charlm_loss(params, x, y, h0)
    numeric = eval_numerical_gradient(lambda _: charlm_loss(params, x, y, h0)[0], params[name])
    assert rel_error(grads[name], numeric) < 1e-7, f"d{name} fails the gradient check"


def test_float32_stays_float32():
    params, x, y, _ = small_problem()
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    _, grads, h_last = charlm_loss(params32, x, y)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert h_last.dtype == np.float32


def test_shape_errors_name_the_argument():
    params, x, y, _ = small_problem()
    with pytest.raises(ValueError, match="y"):
        charlm_loss(params, x, y[:, :-1])
    with pytest.raises(ValueError, match="x"):
        charlm_loss(params, x + 100, y)
    bad = dict(params, Wy=params["Wy"][:, :-1])
    with pytest.raises(ValueError, match="Wy"):
        charlm_loss(bad, x, y)
    with pytest.raises(ValueError, match="missing"):
        charlm_loss({"Wx": params["Wx"]}, x, y)


def test_sample_windows_are_shifted_by_one():
    ids = np.arange(100)
    x, y = sample_windows(ids, 8, 10, np.random.default_rng(0))
    assert x.shape == y.shape == (8, 10)
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(np.diff(x, axis=1), 1)
    with pytest.raises(ValueError):
        sample_windows(ids[:5], 2, 10, np.random.default_rng(0))


def test_evaluate_is_the_mean_loss_of_one_long_sequence():
    params, _, _, _ = small_problem()
    ids = np.random.default_rng(3).integers(0, 7, size=40)
    loss, _, _ = charlm_loss(params, ids[None, :-1], ids[None, 1:])
    assert evaluate_charlm(params, ids) == pytest.approx(loss / 39)


def test_greedy_sampling_follows_the_forward_pass():
    params, _, _, _ = small_problem(seed=2)
    prefix = np.array([1, 4])
    out = sample(params, prefix, 6, np.random.default_rng(0), temperature=0)
    # Replay: with the generated ids as inputs, every generated id must be the argmax.
    seq = np.concatenate([prefix, out])
    H = params["Wh"].shape[0]
    h = np.zeros((1, H))
    for t in range(len(seq) - 1):
        h = np.tanh(params["W_embed"][seq[t]][None] @ params["Wx"] + h @ params["Wh"] + params["b"])
        if t >= len(prefix) - 1:
            scores = h @ params["Wy"] + params["by"]
            assert seq[t + 1] == np.argmax(scores), f"generated id {t + 1} is not the argmax"


def test_sampling_frequencies_follow_the_tempered_softmax():
    params, _, _, _ = small_problem(seed=4)
    params["by"] = np.linspace(-1, 1, 7)
    temperature = 0.7
    prefix = np.array([3])
    h = np.tanh(params["W_embed"][3] @ params["Wx"] + params["b"])
    scores = (h @ params["Wy"] + params["by"]) / temperature
    expected = np.exp(scores - scores.max())
    expected /= expected.sum()
    rng = np.random.default_rng(0)
    draws = np.array([sample(params, prefix, 1, rng, temperature)[0] for _ in range(4000)])
    observed = np.bincount(draws, minlength=7) / len(draws)
    # 4000 draws: the standard error of each frequency is below 0.008
    assert np.max(np.abs(observed - expected)) < 0.035


def test_low_temperature_is_sharper():
    params, _, _, _ = small_problem(seed=5)
    params["Wy"] *= 3
    prefix = np.array([0, 1, 2])

    def entropy(temperature):
        out = sample(params, prefix, 1500, np.random.default_rng(1), temperature)
        freq = np.bincount(out, minlength=7) / len(out)
        freq = freq[freq > 0]
        return -np.sum(freq * np.log(freq))

    assert entropy(0.3) < entropy(1.0) < entropy(3.0)


def test_training_learns_a_repetitive_text():
    text = "hello world. " * 20
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    rng = np.random.default_rng(0)
    params = init_charlm(vocab.size, 32, rng, D=8)
    before = evaluate_charlm(params, ids)
    history = train_charlm(
        ids, params, 300, rng, batch_size=16, seq_len=24, learning_rate=1e-2, progress=False
    )
    after = evaluate_charlm(params, ids)
    assert len(history["loss"]) == 300 and len(history["grad_norm"]) == 300
    assert before > 2.0 and after < 0.1, f"loss went from {before:.3f} to {after:.3f} nats per char"
    greedy = vocab.decode(sample(params, vocab.encode("hello "), 26, rng, temperature=0))
    assert greedy == "world. hello world. hello "


def test_fit_clips_and_records_the_unclipped_norm():
    params = {"w": np.array([3.0, 4.0])}
    seen = []

    def loss_and_grads(params):
        seen.append(params["w"].copy())
        return float(np.sum(params["w"] ** 2)), {"w": 2 * params["w"] * 100}

    history = fit(params, loss_and_grads, lambda: (), 3, learning_rate=0.1, max_norm=1.0)
    assert history["grad_norm"][0] == pytest.approx(1000.0)
    assert history["loss"][0] == pytest.approx(25.0)
    assert np.all(np.abs(params["w"]) < [3.0, 4.0]), "the parameters did not move downhill"
    with pytest.raises(FloatingPointError):
        fit({"w": np.array([np.nan])}, loss_and_grads, lambda: (), 1)


def test_scores_match_the_loss_and_eval_history_is_recorded():
    params, x, y, h0 = small_problem(seed=6)
    scores, h_last = charlm_scores(params, x, h0)
    logp = scores - np.log(np.exp(scores).sum(axis=2, keepdims=True))
    manual = -np.take_along_axis(logp, y[..., None], axis=2).sum() / x.shape[0]
    loss, _, h_last_loss = charlm_loss(params, x, y, h0)
    assert manual == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(h_last, h_last_loss, rtol=0, atol=1e-14)

    ids = np.random.default_rng(0).integers(0, 7, size=60)
    history = train_charlm(
        ids,
        params,
        25,
        np.random.default_rng(1),
        batch_size=4,
        seq_len=8,
        progress=False,
        eval_ids=ids[:30],
        eval_every=10,
    )
    assert history["eval_step"] == [10, 20, 25]
    assert history["eval_loss"][-1] == pytest.approx(evaluate_charlm(params, ids[:30]))


def test_fit_calls_the_callback_every_step():
    params = {"w": np.array([1.0])}
    calls = []
    fit(
        params,
        lambda p: (float(p["w"][0] ** 2), {"w": 2 * p["w"]}),
        lambda: (),
        4,
        callback=lambda step, history: calls.append((step, len(history["loss"]))),
    )
    assert calls == [(1, 1), (2, 2), (3, 3), (4, 4)]
