"""Adaptive computation time (Graves, 2016) on the parity of short vectors.

Data: vectors of ``bits`` entries; a random number ``k`` (1..bits) of random positions hold +1
or -1, the rest 0; the target is the parity of the number of +1 entries. The test split comes
from its own seed stream. Difficulty = ``k``, the number of non-zero entries.

Model: a tanh RNN cell (row vectors, ``s = tanh(x Wx + s_prev Wh + b)``) reads the whole vector
at once and may *ponder*: it takes ponder steps ``n = 1, 2, ...`` on the same input (with a flag
marking the first step), each with a halting probability ``p_n = sigmoid(s_n w_h + b_h)``, and
stops at the first ``N`` where ``sum_{n<=N} p_n >= 1 - eps`` (or at ``max_steps``). With the
remainder ``R = 1 - sum_{n<N} p_n`` the output is ``sum_{n<N} p_n y_n + R y_N`` and the ponder
cost ``N + R`` is added to the loss with weight ``tau``. ``act=False`` gives the same cell with
exactly one step.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SPLITS = ("train", "val", "test")

PROFILES = {
    "smoke": dict(bits=6, hidden=64, max_steps=8, steps=3000, batch_size=128, lr=3e-3,
                  tau=1e-3),
    "full": dict(bits=16, hidden=128, max_steps=16, steps=20000, batch_size=128, lr=1e-3,
                 tau=1e-3),
}


def act_config(profile: str) -> dict:
    """A copy of the settings for ``profile`` ("smoke" or "full")."""
    if profile not in PROFILES:
        raise ValueError(f"profile: expected one of {tuple(PROFILES)}, got {profile!r}")
    return dict(PROFILES[profile])


def _rng(seed, split):
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    return np.random.default_rng([int(seed), SPLITS.index(split), 13])


def parity_batch(n: int, bits: int = 8, rng=None, seed: int = 0, split: str = "train"):
    """Returns ``(x, y, k)``: x (n, bits) float32, parity y (n,) float32, difficulty k (n,)."""
    if n < 1 or bits < 1:
        raise ValueError(f"n and bits: expected positive integers, got {n}, {bits}")
    if rng is None:
        rng = _rng(seed, split)
    k = rng.integers(1, bits + 1, size=n)
    # row i keeps k[i] positions drawn uniformly without replacement: the positions whose random
    # keys rank below k[i] (one batch of draws, not two per row: training asks for a batch at
    # every step, and per-row draws took most of the training time)
    rank = rng.random((n, bits)).argsort(axis=1).argsort(axis=1)
    signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(n, bits))
    x = np.where(rank < k[:, None], signs, np.float32(0.0))
    y = ((x == 1).sum(1) % 2).astype(np.float32)
    return x, y, k


class ACTParity(nn.Module):
    """A tanh RNN cell with (``act=True``) or without adaptive computation time."""

    def __init__(self, bits: int = 8, hidden: int = 64, act: bool = True, max_steps: int = 8,
                 eps: float = 0.01):
        super().__init__()
        if bits < 1 or hidden < 1 or max_steps < 1:
            raise ValueError(f"bits, hidden, max_steps: expected positive integers, got "
                             f"{bits}, {hidden}, {max_steps}")
        self.bits, self.act, self.max_steps, self.eps = bits, act, max_steps, eps
        self.cell = nn.RNNCell(bits + 1, hidden)
        self.halt = nn.Linear(hidden, 1)
        self.out = nn.Linear(hidden, 1)
        nn.init.constant_(self.halt.bias, 1.0)  # start by halting early, as Graves (2016)

    def forward(self, x):
        """x (N, bits) -> (logits (N,), ponder cost N + R (N,), number of steps N (N,))."""
        if x.dim() != 2 or x.shape[1] != self.bits:
            raise ValueError(f"x: expected shape (N, {self.bits}), got {tuple(x.shape)}")
        n = x.shape[0]
        s = x.new_zeros(n, self.cell.hidden_size)
        flag = torch.cat([x, x.new_ones(n, 1)], 1)
        plain = torch.cat([x, x.new_zeros(n, 1)], 1)
        if not self.act:
            s = self.cell(flag, s)
            return self.out(s)[:, 0], x.new_ones(n), x.new_ones(n)
        total = x.new_zeros(n)          # sum of halting probabilities so far
        running = x.new_ones(n, dtype=torch.bool)
        out = x.new_zeros(n)
        remainder = x.new_zeros(n)
        steps = x.new_zeros(n)
        for step in range(self.max_steps):
            s = self.cell(flag if step == 0 else plain, s)
            p = torch.sigmoid(self.halt(s))[:, 0]
            last = step == self.max_steps - 1
            halting = running & ((total + p >= 1 - self.eps) | last)
            weight = torch.where(halting, 1 - total, p) * running
            remainder = torch.where(halting, 1 - total, remainder)
            out = out + weight * self.out(s)[:, 0]
            steps = steps + running.float()
            total = total + torch.where(halting, 1 - total, p) * running
            running = running & ~halting
            if not running.any():
                break
        return out, steps + remainder, steps


def train_parity(model, steps: int, batch_size: int = 128, lr: float = 3e-3, tau: float = 1e-3,
                 seed: int = 0, log_every: int = 50):
    """Adam on fresh parity batches; loss = BCE + tau * mean ponder cost. Returns a history."""
    if steps < 1:
        raise ValueError(f"steps: expected a positive number of steps, got {steps}")
    rng = _rng(seed, "train")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"step": [], "loss": [], "seconds": 0.0}
    started, running = time.perf_counter(), []
    model.train()
    for step in range(1, steps + 1):
        x, y, _ = parity_batch(batch_size, model.bits, rng=rng)
        logits, ponder, _ = model(torch.from_numpy(x))
        loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(y))
        total = loss + tau * ponder.mean()
        opt.zero_grad()
        total.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        running.append(loss.item())
        if step % log_every == 0 or step == steps:
            history["step"].append(step)
            history["loss"].append(float(np.mean(running)))
            running = []
    history["seconds"] = time.perf_counter() - started
    model.eval()
    return history


def parity_accuracy(model, n: int = 2000, seed: int = 0, split: str = "test"):
    """(accuracy, mean ponder steps, and per-example k, steps, correct arrays)."""
    x, y, k = parity_batch(n, model.bits, seed=seed, split=split)
    with torch.no_grad():
        logits, _, steps = model(torch.from_numpy(x))
    correct = ((logits > 0).float() == torch.from_numpy(y)).numpy()
    return float(correct.mean()), float(steps.mean()), dict(k=k, steps=steps.numpy(),
                                                             correct=correct)
