"""Word-level LM on Python's documentation: data splits, baselines, the torch model."""

import math

import numpy as np
import pytest

from rnnlib.apps import word_lm as W

torch = pytest.importorskip("torch")

PARAS = [f"the {w} statement runs the {w} body . see also {w} ( x )" for w in
         ("for", "while", "if", "with", "try", "def", "class", "return", "yield", "import")] * 3
PARAS += [f"paragraph number {i} about lists and dicts" for i in range(60)]


def test_tokenize_and_errors():
    assert W.tokenize("x = len(A2)") == ["x", "=", "len", "(", "a", "2", ")"]
    with pytest.raises(TypeError, match="text"):
        W.tokenize(3)


def test_splits_deterministic_and_disjoint():
    a, b = W.make_lm_splits(0, 1, PARAS), W.make_lm_splits(0, 1, PARAS)
    for s in W.SPLITS:
        assert np.array_equal(a[s], b[s])
    unique = list(dict.fromkeys(PARAS))
    by_split = {s: {p for p in unique if W.split_of(p, 0) == s} for s in W.SPLITS}
    assert sum(len(v) for v in by_split.values()) == len(unique)
    assert not (by_split["train"] & by_split["test"]) and not (by_split["train"] & by_split["val"])
    assert sum(a["paragraphs"].values()) == len(unique)
    assert W.split_of(unique[0], 0) == W.split_of(unique[0], 0)
    with pytest.raises(ValueError, match="min_count"):
        W.make_lm_splits(0, 0, PARAS)


def test_real_corpus_loads():
    paragraphs = W.load_paragraphs()
    assert len(paragraphs) > 2000
    assert any("for" in p and "statement" in p for p in paragraphs)


def test_unigram_and_bigram_against_direct_formulas():
    V = 4
    train = np.array([0, 1, 2, 1, 2, 3, 1])
    test = np.array([1, 2, 3, 0])
    p_uni = (np.bincount(train, minlength=V) + 1) / (len(train) + V)
    expect = math.exp(-np.mean(np.log(p_uni[test[1:]])))
    assert abs(W.unigram_perplexity(train, test, V) - expect) < 1e-12
    lam = 0.6
    logp = []
    for a, b in zip(test[:-1], test[1:]):
        pairs = sum(1 for x, y in zip(train[:-1], train[1:]) if x == a and y == b)
        prev = sum(1 for x in train[:-1] if x == a)
        logp.append(math.log(lam * (pairs / prev if prev else 0) + (1 - lam) * p_uni[b]))
    assert abs(W.bigram_perplexity(train, test, V, lam) - math.exp(-np.mean(logp))) < 1e-12
    with pytest.raises(ValueError, match="lam"):
        W.bigram_perplexity(train, test, V, 1.0)
    with pytest.raises(ValueError, match="test_ids"):
        W.unigram_perplexity(train, np.array([0, 9]), V)


def test_model_shapes_training_and_generation():
    d = W.make_lm_splits(0, 1, PARAS)
    V = len(d["vocab"])
    torch.manual_seed(0)
    model = W.build_word_lstm(V, 16, 32)
    scores, (h, c) = model(torch.zeros(3, 5, dtype=torch.long))
    assert scores.shape == (3, 5, V) and h.shape == (1, 3, 32)
    before = W.evaluate_perplexity(model, d["train"], batch_size=4, seq_len=8)
    assert abs(before - V) / V < 0.5  # an untrained model is close to uniform
    hist = W.train_lm(model, d["train"], epochs=3, batch_size=4, seq_len=8, lr=1e-2)
    assert np.mean(hist["train_loss"][-5:]) < np.mean(hist["train_loss"][:5]) - 0.5
    assert W.evaluate_perplexity(model, d["train"], batch_size=4, seq_len=8) < before / 2
    text = W.generate(model, d["vocab"], "the for", n_words=5, seed=1)
    assert text == W.generate(model, d["vocab"], "the for", n_words=5, seed=1)
    with pytest.raises(ValueError, match="temperature"):
        W.generate(model, d["vocab"], "the", temperature=0)
    with pytest.raises(ValueError, match="hidden_dim"):
        W.build_word_lstm(V, 4, 0)


def test_profiles():
    assert W.lm_config("smoke")["epochs"] < W.lm_config("full")["epochs"]
    with pytest.raises(ValueError, match="profile"):
        W.lm_config("gpu")


def test_notebook_quotes_the_recorded_longer_run():
    import json
    from pathlib import Path

    nb = Path(__file__).parents[1] / "notebooks/ch05_applications/06_word_language_model.ipynb"
    text = "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"])
    run = W.FULL_RUN
    assert run is not None and run["test_ppl"] < run["bigram_ppl"] < run["unigram_ppl"]
    assert f"**{run['test_ppl']:.1f}**" in text and run["command"] in text
