"""Tests of rnnlib.apps.video_prediction: bouncing sklearn digits, baselines and the model."""

import numpy as np
import pytest

from rnnlib.apps import video_prediction as vp

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")


def test_same_seed_and_split_give_the_same_clips():
    a = vp.make_clips(5, seed=1, split="train", T=6)
    assert np.array_equal(a, vp.make_clips(5, seed=1, split="train", T=6))
    assert not np.array_equal(a, vp.make_clips(5, seed=2, split="train", T=6))


def test_digit_images_are_split_without_overlap():
    parts = {s: vp.digit_images(s) for s in vp.SPLITS}
    ids = [set(idx.tolist()) for _, idx in parts.values()]
    assert sum(map(len, ids)) == 1797 and len(set().union(*ids)) == 1797
    # the split does not depend on any seed
    assert np.array_equal(vp.digit_images("test")[1], parts["test"][1])


def test_test_clips_are_made_of_test_digits():
    images, _ = vp.digit_images("test")
    clip = vp.make_clips(1, seed=0, split="test", T=2, size=20, n_digits=1)[0, 0]
    r, c = np.argwhere(clip > 0).min(0)
    # the 8x8 window that contains the digit equals one of the test images
    found = any(np.allclose(clip[r0:r0 + 8, c0:c0 + 8], img)
                for r0 in range(max(0, r - 7), r + 1) for c0 in range(max(0, c - 7), c + 1)
                if r0 + 8 <= 20 and c0 + 8 <= 20 for img in images)
    assert found


def test_shapes_range_and_bounces_keep_digits_on_the_canvas():
    clips = vp.make_clips(20, seed=0, split="val", T=30, size=16)
    assert clips.shape == (20, 30, 16, 16) and clips.dtype == np.float32
    assert 0 <= clips.min() and clips.max() <= 1
    ink = clips.sum(axis=(2, 3))
    assert (ink > 0).all(), "a digit left the canvas"
    pos = vp._bounce(0.5, 1.5, 40, 8.0)
    assert pos.min() >= 0 and pos.max() <= 8.0
    assert np.allclose(np.abs(np.diff(pos))[:4], 1.5)


def test_baselines_and_error_per_step():
    clips = vp.make_clips(4, seed=0, split="train", T=8)
    inputs, future = clips[:, :5], clips[:, 5:]
    copy, mean = vp.copy_last(inputs, 3), vp.mean_of_inputs(inputs, 3)
    assert copy.shape == mean.shape == future.shape
    assert np.array_equal(copy[:, 2], inputs[:, -1])
    assert np.allclose(mean[:, 0], inputs.mean(1))
    err = vp.mse_per_step(copy, future)
    assert err.shape == (3,)
    assert np.isclose(err[1], ((copy[:, 1] - future[:, 1]) ** 2).mean())
    with pytest.raises(ValueError, match="same shape"):
        vp.mse_per_step(copy[:, :2], future)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="split"):
        vp.digit_images("dev")
    with pytest.raises(ValueError, match="size: expected"):
        vp.make_clips(2, size=8)
    with pytest.raises(ValueError, match="profile"):
        vp.config("huge")
    model = vp.build_model(size=12, proj_dim=8, hidden_dim=8)
    with pytest.raises(ValueError, match="frames: expected"):
        model(torch.zeros(2, 3, 20, 20), 2)
    with pytest.raises(ValueError, match="t_in"):
        vp.train(model, np.zeros((2, 4, 12, 12), np.float32), t_in=4, steps=1)


def test_model_shapes_and_training_lowers_the_loss():
    torch.manual_seed(0)
    clips = vp.make_clips(64, seed=0, split="train", T=6, size=12)
    model = vp.build_model(size=12, proj_dim=32, hidden_dim=32)
    assert model(torch.as_tensor(clips[:3, :4]), 5).shape == (3, 5, 12, 12)
    pred = model.predict(clips[:3, :4], 2)
    assert pred.shape == (3, 2, 12, 12) and 0 <= pred.min() and pred.max() <= 1
    losses = vp.train(model, clips, t_in=4, steps=40, batch_size=16, lr=1e-2, seed=0)
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
