"""Video prediction: two handwritten digits bouncing on a canvas (a small "moving MNIST").

Data: the digit images are scikit-learn's bundled 8x8 digits (``sklearn.datasets.load_digits``:
1,797 images of 8x8 pixels, 16 grey levels, from the UCI optical recognition data set, shipped
inside the scikit-learn wheel under CC BY 4.0), scaled to [0, 1]. A clip places two of them on a
``size x size`` canvas and moves each with its own constant velocity, bouncing off the walls;
where they overlap the brighter pixel wins. The images are split once, by a fixed permutation
that does not depend on the seed: the test clips use digit images training never saw. This is
Srivastava et al.'s (2015) moving-MNIST idea at a much smaller scale (8x8 digits, not 28x28), and
the motion is exactly linear with elastic bounces: what is learnt is that physics and the
digits' appearance, nothing about real video.

Model (torch): Srivastava et al.'s encoder-predictor. An encoder LSTM reads the flattened input
frames (after one linear layer); its final state ``(h, c)`` starts a predictor LSTM that runs
for the future steps without input (the "unconditioned" predictor) and emits each future frame
through a linear layer and a sigmoid. Trained with the per-pixel binary cross-entropy.

Baselines per future step: repeat the last input frame ("copy last") and the mean of the input
frames ("mean of inputs").
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np

SPLITS = ("train", "val", "test")
_SPLIT_SALT = {"train": 0, "val": 1, "test": 2}
DIGIT = 8  # side of one digit image
_SPLIT_FRACTIONS = (0.8, 0.1)  # train, val; the rest is test


def digit_images(split: str):
    """The digit images ``(n, 8, 8)`` float32 in [0, 1] of ``split`` and their sklearn indices."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    from sklearn.datasets import load_digits

    images = load_digits().images.astype(np.float32) / 16.0
    order = np.random.default_rng(20150101).permutation(len(images))  # fixed: never the seed
    a = int(_SPLIT_FRACTIONS[0] * len(images))
    b = a + int(_SPLIT_FRACTIONS[1] * len(images))
    idx = {"train": order[:a], "val": order[a:b], "test": order[b:]}[split]
    return images[idx], np.sort(idx)


def _bounce(p0: float, v: float, T: int, span: float) -> np.ndarray:
    """Positions of a point moving at speed ``v`` in [0, span], reflected at both ends."""
    raw = p0 + v * np.arange(T)
    period = 2.0 * span
    m = np.mod(raw, period)
    return np.where(m <= span, m, period - m)


def make_clips(n: int, seed: int = 0, split: str = "train", T: int = 10, size: int = 20,
               n_digits: int = 2):
    """``n`` clips ``(n, T, size, size)`` float32 in [0, 1], reproducible from ``(seed, split)``.

    Each digit starts at a random position with a random velocity of 1 to 2 pixels per frame
    along each axis; positions are rounded to whole pixels.
    """
    for name, value, low in (("n", n, 1), ("T", T, 2), ("size", size, DIGIT + 2),
                             ("n_digits", n_digits, 1)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    images, _ = digit_images(split)
    rng = np.random.default_rng([int(seed), _SPLIT_SALT[split], 2015])
    span = float(size - DIGIT)
    clips = np.zeros((n, T, size, size), dtype=np.float32)
    for i in range(n):
        for _ in range(n_digits):
            img = images[rng.integers(len(images))]
            y = _bounce(rng.uniform(0, span), rng.uniform(1, 2) * rng.choice((-1, 1)), T, span)
            x = _bounce(rng.uniform(0, span), rng.uniform(1, 2) * rng.choice((-1, 1)), T, span)
            for t in range(T):
                r, c = int(round(y[t])), int(round(x[t]))
                window = clips[i, t, r:r + DIGIT, c:c + DIGIT]
                np.maximum(window, img, out=window)
    return clips


def copy_last(inputs: np.ndarray, horizon: int) -> np.ndarray:
    """Baseline: the last input frame repeated ``horizon`` times, ``(N, horizon, S, S)``."""
    return np.repeat(inputs[:, -1:], horizon, axis=1)


def mean_of_inputs(inputs: np.ndarray, horizon: int) -> np.ndarray:
    """Baseline: the mean input frame repeated ``horizon`` times."""
    return np.repeat(inputs.mean(1, keepdims=True), horizon, axis=1)


def mse_per_step(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean squared error per pixel for each future step, ``(horizon,)``."""
    if pred.shape != target.shape:
        raise ValueError("pred and target: expected the same shape, "
                         f"got {pred.shape} and {target.shape}")
    return ((pred - target) ** 2).mean(axis=tuple(i for i in range(pred.ndim) if i != 1))


PROFILES = {
    "smoke": dict(n_train=3000, n_test=500, t_in=6, t_out=4, size=20, proj_dim=256,
                  hidden_dim=256, steps=900, batch_size=32, lr=2e-3),
    "full": dict(n_train=20000, n_test=2000, t_in=10, t_out=10, size=28, proj_dim=512,
                 hidden_dim=1024, steps=20000, batch_size=64, lr=1e-3),
}


def config(profile: str) -> dict:
    """A copy of this section's settings for ``profile`` ("smoke" or "full")."""
    if profile not in PROFILES:
        raise ValueError(f"profile: expected one of {tuple(PROFILES)}, got {profile!r}")
    return deepcopy(PROFILES[profile])


def build_model(size: int = 20, proj_dim: int = 256, hidden_dim: int = 256):
    """An encoder-predictor LSTM for ``size x size`` frames (torch module)."""
    import torch
    from torch import nn

    class EncoderPredictor(nn.Module):
        def __init__(self):
            super().__init__()
            self.size = size
            P = size * size
            self.inp = nn.Sequential(nn.Linear(P, proj_dim), nn.ReLU())
            self.encoder = nn.LSTM(proj_dim, hidden_dim, batch_first=True)
            self.predictor = nn.LSTM(1, hidden_dim, batch_first=True)
            self.out = nn.Linear(hidden_dim, P)

        def forward(self, frames, horizon: int):
            """Logits of the next ``horizon`` frames ``(N, horizon, S, S)`` given ``frames``."""
            if frames.dim() != 4 or frames.shape[2:] != (self.size, self.size):
                raise ValueError(f"frames: expected (N, T, {self.size}, {self.size}), "
                                 f"got {tuple(frames.shape)}")
            N, T = frames.shape[:2]
            _, state = self.encoder(self.inp(frames.reshape(N, T, -1)))
            h, _ = self.predictor(frames.new_zeros(N, horizon, 1), state)
            return self.out(h).reshape(N, horizon, self.size, self.size)

        @torch.no_grad()
        def predict(self, frames: np.ndarray, horizon: int) -> np.ndarray:
            return torch.sigmoid(self(torch.as_tensor(frames), horizon)).numpy()

    return EncoderPredictor()


def train(model, clips: np.ndarray, t_in: int, steps: int, batch_size: int = 32,
          lr: float = 2e-3, seed: int = 0):
    """Adam on the per-pixel binary cross-entropy of frames ``t_in:`` given ``:t_in``."""
    import torch
    from torch import nn

    if not 1 <= t_in < clips.shape[1]:
        raise ValueError(f"t_in: expected 1 <= t_in < T = {clips.shape[1]}, got {t_in}")
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size: expected positive integers, "
                         f"got {steps}, {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(clips)
    horizon = x.shape[1] - t_in
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        batch = x[torch.randint(0, len(x), (batch_size,), generator=gen)]
        logits = model(batch[:, :t_in], horizon)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, batch[:, t_in:])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses
