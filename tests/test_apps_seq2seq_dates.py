"""Tests of rnnlib.apps.seq2seq_dates: the date data, its day split and the two translators."""

import datetime as dt

import numpy as np
import pytest

from rnnlib.apps import seq2seq_dates as sd

torch = pytest.importorskip("torch")


def test_same_seed_and_split_give_the_same_dates():
    a = sd.make_dates(50, seed=3, split="val")
    b = sd.make_dates(50, seed=3, split="val")
    c = sd.make_dates(50, seed=4, split="val")
    assert a[0] == b[0] and a[1] == b[1] and np.array_equal(a[2], b[2])
    assert a[0] != c[0]


def test_every_source_names_its_target_date():
    sources, targets, kinds = sd.make_dates(400, seed=0, split="train")
    assert set(np.unique(kinds)) == set(range(sd.N_FORMATS))
    for s, t, k in zip(sources, targets, kinds):
        d = dt.date.fromisoformat(t)
        assert sd.FIRST_DAY <= d <= sd.LAST_DAY
        assert s == sd._format(d, int(k))
        assert str(d.day) in s and f"{d.year % 100:02d}" in s, (s, t)


def test_splits_are_disjoint_by_day_and_cover_the_calendar():
    days = {split: set(sd.split_days(split).tolist()) for split in sd.SPLITS}
    assert not days["train"] & days["test"] and not days["train"] & days["val"]
    assert not days["val"] & days["test"]
    total = sd.LAST_DAY.toordinal() - sd.FIRST_DAY.toordinal() + 1
    assert sum(len(v) for v in days.values()) == total
    assert 0.07 < len(days["test"]) / total < 0.13
    _, test_targets, _ = sd.make_dates(500, seed=0, split="test")
    train_ordinals = days["train"]
    assert all(dt.date.fromisoformat(t).toordinal() not in train_ordinals for t in test_targets)


def test_encoding_shapes_and_round_trip():
    sources, targets, _ = sd.make_dates(20, seed=1, split="test")
    X, Y = sd.encode_sources(sources), sd.encode_targets(targets)
    assert X.shape == (20, max(map(len, sources))) and Y.shape == (20, sd.TARGET_LEN)
    assert sd.decode_targets(Y) == targets
    assert (X[0, len(sources[0]):] == sd.PAD).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="split"):
        sd.make_dates(5, split="dev")
    with pytest.raises(ValueError, match="n: expected"):
        sd.make_dates(0)
    with pytest.raises(ValueError, match="alphabet"):
        sd.encode_sources(["3 März 1998"])
    with pytest.raises(ValueError, match="ISO"):
        sd.encode_targets(["1998-3-3"])
    with pytest.raises(ValueError, match="profile"):
        sd.config("huge")


@pytest.mark.parametrize("attention", [False, True])
def test_model_shapes_attention_weights_and_padding(attention):
    torch.manual_seed(0)
    model = sd.build_model(attention, embed_dim=8, hidden_dim=16).eval()
    sources, targets, _ = sd.make_dates(6, seed=0, split="train")
    X = torch.as_tensor(sd.encode_sources(sources, max_len=40))
    Y = torch.as_tensor(sd.encode_targets(targets))
    assert model(X, Y).shape == (6, sd.TARGET_LEN, sd.TARGET_VOCAB)
    pred, maps = model.greedy(X)
    assert pred.shape == (6, sd.TARGET_LEN) and (pred >= 2).all()
    if not attention:
        assert maps is None
        return
    assert maps.shape == (6, sd.TARGET_LEN, 40)
    assert torch.allclose(maps.sum(2), torch.ones(6, sd.TARGET_LEN), atol=1e-5)
    lengths = (X != sd.PAD).sum(1)
    for i in range(6):
        assert (maps[i, :, lengths[i]:] == 0).all(), "padding must get no attention"
    # extra padding changes nothing
    X_short = torch.as_tensor(sd.encode_sources(sources))
    with torch.no_grad():
        assert torch.allclose(model(X, Y), model(X_short, Y), atol=1e-5)


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    sources, targets, _ = sd.make_dates(256, seed=0, split="train")
    X, Y = sd.encode_sources(sources), sd.encode_targets(targets)
    model = sd.build_model(True, embed_dim=8, hidden_dim=16)
    losses = sd.train(model, X, Y, steps=40, batch_size=32, lr=1e-2, seed=0)
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    result = sd.evaluate(model, X[:50], Y[:50])
    assert 0 <= result["exact"] <= result["char"] <= 1
    with pytest.raises(ValueError, match="steps"):
        sd.train(model, X, Y, steps=0)
    with pytest.raises(ValueError, match="same number of rows"):
        sd.train(model, X, Y[:-1], steps=1)
