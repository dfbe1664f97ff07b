"""Tests of rnnlib.apps.action_recognition: clips in time-reversal pairs and the two classifiers."""

import numpy as np
import pytest

from rnnlib.apps import action_recognition as ar

torch = pytest.importorskip("torch")


def test_same_seed_and_split_give_the_same_clips():
    a, la = ar.make_clips(12, seed=2, split="train")
    b, lb = ar.make_clips(12, seed=2, split="train")
    c, _ = ar.make_clips(12, seed=3, split="train")
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c)


def test_shapes_range_and_balance():
    clips, labels = ar.make_clips(60, seed=0, split="val", T=6, size=20)
    assert clips.shape == (60, 6, 1, 20, 20) and clips.dtype == np.float32
    assert clips.min() >= 0 and clips.max() <= 1
    assert np.array_equal(np.bincount(labels), np.full(6, 10))


def _centre_and_area(frame, threshold=0.3):
    mask = frame > threshold
    ys, xs = np.nonzero(mask)
    return ys.mean(), xs.mean(), mask.sum()


def test_motion_matches_the_label():
    clips, labels = ar.make_clips(60, seed=1, split="train")
    for clip, label in zip(clips, labels):
        y0, x0, a0 = _centre_and_area(clip[0, 0])
        y1, x1, a1 = _centre_and_area(clip[-1, 0])
        expected = {0: x1 > x0 + 2, 1: x1 < x0 - 2, 2: y1 > y0 + 2, 3: y1 < y0 - 2,
                    4: a1 > a0, 5: a1 < a0}[int(label)]
        assert expected, f"clip of class {ar.CLASSES[label]!r} does not move that way"


def test_test_split_uses_an_unseen_shape():
    assert not set(ar.SHAPES["test"]) & set(ar.SHAPES["train"])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="split"):
        ar.make_clips(6, split="dev")
    with pytest.raises(ValueError, match="T: expected"):
        ar.make_clips(6, T=1)
    with pytest.raises(ValueError, match="temporal"):
        ar.build_model("attention")
    with pytest.raises(ValueError, match="clips: expected"):
        ar.build_model("lstm")(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match="profile"):
        ar.config("huge")


def test_pooling_is_blind_to_time_order_and_lstm_is_not():
    torch.manual_seed(0)
    clips, _ = ar.make_clips(6, seed=0, split="test")
    x = torch.as_tensor(clips)
    rev = torch.flip(x, dims=[1])
    pool, lstm = ar.build_model("pool").eval(), ar.build_model("lstm").eval()
    with torch.no_grad():
        assert pool(x).shape == (6, 6) and lstm(x).shape == (6, 6)
        assert torch.allclose(pool(x), pool(rev), atol=1e-5)
        assert not torch.allclose(lstm(x), lstm(rev), atol=1e-5)


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    clips, labels = ar.make_clips(120, seed=0, split="train")
    model = ar.build_model("lstm")
    losses = ar.train(model, clips, labels, steps=40, batch_size=24, lr=1e-2, seed=0)
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert ar.predict(model, clips).shape == (120,)
    with pytest.raises(ValueError, match="same length"):
        ar.train(model, clips, labels[:-1], steps=1)
