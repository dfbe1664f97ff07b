"""Action recognition from generated clips whose classes come in time-reversal pairs.

Data: a clip is ``T`` grey frames of ``S x S`` pixels showing one shape (a square, a disc or a
cross) that moves left or right, moves up or down, or grows or shrinks, over a noisy background
(six classes). Class ``2k + 1`` is class ``2k`` played backwards: the start and end of a motion
are drawn from one symmetric distribution, so the *set* of frames of a clip says nothing about
its direction -- only their order does. A model that pools per-frame features without order can
therefore tell the axis of motion (three pairs) but must guess the direction, a ceiling of 50%
accuracy. The test split uses a shape (the cross) that training never shows, and different
brightness, so the test asks for generalisation across appearance, not recall.

Models (torch): one small CNN applied to every frame (as in Donahue et al.'s 2015 LRCN), then
either an LSTM over the frame features (its last state classifies the clip) or the mean of the
features over time (order-free pooling), followed by the same linear classifier.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np

CLASSES = ("move right", "move left", "move down", "move up", "grow", "shrink")
SPLITS = ("train", "val", "test")
_SPLIT_SALT = {"train": 0, "val": 1, "test": 2}
SHAPES = {"train": ("square", "disc"), "val": ("square", "disc"), "test": ("cross",)}


def _draw(shape: str, S: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32) + 0.5
    dy, dx = yy - cy, xx - cx
    if shape == "square":
        inside = np.maximum(np.abs(dy), np.abs(dx)) <= r
    elif shape == "disc":
        inside = dy ** 2 + dx ** 2 <= r ** 2
    else:  # cross: two bars of half-width r / 2.5
        w = max(r / 2.5, 0.6)
        inside = ((np.abs(dy) <= r) & (np.abs(dx) <= w)) | ((np.abs(dx) <= r) & (np.abs(dy) <= w))
    return inside.astype(np.float32)


def make_clips(n: int, seed: int = 0, split: str = "train", T: int = 8, size: int = 16):
    """``n`` clips ``(n, T, 1, size, size)`` float32 in [0, 1] and labels ``(n,)`` in 0..5.

    Reproducible from ``(seed, split)``; labels are balanced (``n`` a multiple of 6 gives exact
    balance). Each clip has a random speed, start, size, brightness and noise.
    """
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    for name, value, low in (("n", n, 1), ("T", T, 3), ("size", size, 12)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    rng = np.random.default_rng([int(seed), _SPLIT_SALT[split], 7373])
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    clips = np.empty((n, T, 1, size, size), dtype=np.float32)
    S = float(size)
    bright = (0.6, 1.0) if split != "test" else (0.45, 0.75)
    for i, label in enumerate(labels):
        shape = rng.choice(SHAPES[split])
        pair = label // 2
        if pair < 2:   # translation along x (pair 0) or y (pair 1)
            r = rng.uniform(1.5, 2.5)
            travel = rng.uniform(0.35, 0.6) * S
            a = rng.uniform(r + 0.5, S - r - 0.5 - travel)
            path = np.linspace(a, a + travel, T)
            other = np.full(T, rng.uniform(r + 0.5, S - r - 0.5))
            radius = np.full(T, r)
            pos = (other, path) if pair == 0 else (path, other)   # (cy, cx)
        else:          # scale change about a fixed centre
            r0 = rng.uniform(1.0, 2.0)
            r1 = r0 + rng.uniform(2.5, 4.0)
            radius = np.linspace(r0, r1, T)
            c = rng.uniform(r1 + 0.5, S - r1 - 0.5, size=2)
            pos = (np.full(T, c[0]), np.full(T, c[1]))
        order = slice(None) if label % 2 == 0 else slice(None, None, -1)
        cy, cx, radius = pos[0][order], pos[1][order], radius[order]
        level = rng.uniform(*bright)
        for t in range(T):
            clips[i, t, 0] = level * _draw(shape, size, cy[t], cx[t], radius[t])
        clips[i] += rng.normal(0.0, 0.08, size=clips[i].shape).astype(np.float32)
    np.clip(clips, 0.0, 1.0, out=clips)
    return clips, labels.astype(np.int64)


PROFILES = {
    "smoke": dict(n_train=1800, n_test=600, channels=(8, 16), feature_dim=32, hidden_dim=32,
                  steps=600, batch_size=32, lr=3e-3),
    "full": dict(n_train=12000, n_test=3000, channels=(16, 32), feature_dim=64, hidden_dim=64,
                 steps=3000, batch_size=64, lr=2e-3),
}


def config(profile: str) -> dict:
    """A copy of this section's settings for ``profile`` ("smoke" or "full")."""
    if profile not in PROFILES:
        raise ValueError(f"profile: expected one of {tuple(PROFILES)}, got {profile!r}")
    return deepcopy(PROFILES[profile])


def build_model(temporal: str, channels=(8, 16), feature_dim: int = 32, hidden_dim: int = 32,
                size: int = 16):
    """A clip classifier: ``temporal="lstm"`` or ``"pool"`` (mean over time), same per-frame CNN."""
    from torch import nn

    if temporal not in ("lstm", "pool"):
        raise ValueError(f"temporal: expected 'lstm' or 'pool', got {temporal!r}")

    class ClipClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            c1, c2 = channels
            self.temporal = temporal
            self.cnn = nn.Sequential(
                nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(c2 * (size // 4) ** 2, feature_dim), nn.ReLU())
            if temporal == "lstm":
                self.lstm = nn.LSTM(feature_dim, hidden_dim, batch_first=True)
                self.head = nn.Linear(hidden_dim, len(CLASSES))
            else:  # a hidden layer after pooling, so the head can combine pooled moments
                self.head = nn.Sequential(nn.Linear(feature_dim, hidden_dim), nn.Tanh(),
                                          nn.Linear(hidden_dim, len(CLASSES)))

        def frame_features(self, clips):
            N, T = clips.shape[:2]
            return self.cnn(clips.reshape(N * T, *clips.shape[2:])).reshape(N, T, -1)

        def forward(self, clips):
            if clips.dim() != 5:
                raise ValueError(f"clips: expected (N, T, 1, S, S), got {tuple(clips.shape)}")
            x = self.frame_features(clips)
            if self.temporal == "lstm":
                h, _ = self.lstm(x)
                return self.head(h[:, -1])
            return self.head(x.mean(1))

    return ClipClassifier()


def train(model, clips: np.ndarray, labels: np.ndarray, steps: int, batch_size: int = 32,
          lr: float = 3e-3, seed: int = 0):
    """Adam on the cross-entropy; returns the loss of every step."""
    import torch
    from torch import nn

    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size: expected positive integers, "
                         f"got {steps}, {batch_size}")
    if len(clips) != len(labels):
        raise ValueError("clips and labels: expected the same length, "
                         f"got {len(clips)} and {len(labels)}")
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(clips), torch.as_tensor(labels)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=gen)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses


def predict(model, clips: np.ndarray, batch_size: int = 200) -> np.ndarray:
    """Predicted classes ``(N,)``."""
    import torch

    with torch.no_grad():
        return np.concatenate([model(torch.as_tensor(clips[i:i + batch_size])).argmax(1).numpy()
                               for i in range(0, len(clips), batch_size)])
