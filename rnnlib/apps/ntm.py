"""Neural Turing machine (Graves et al., 2014) on the copy task, and an LSTM baseline.

Data: random binary vectors of ``bits`` bits, ``T`` of them, followed by a delimiter step; the
network must then write the ``T`` vectors back, in order, while reading blank inputs. Training
sequences have lengths ``1..max_len``; the test split draws from another seed stream and the
notebook evaluates at twice the longest training length, which no training sequence has.

Model (row vectors, one example per row; ``M`` is the memory, ``(N, S, W)``: ``S`` slots of
``W`` numbers): an LSTM controller reads ``[x_t, r_{t-1}]``; from its state ``h_t`` every head
emits a key ``k``, a strength ``beta``, an interpolation gate ``g``, a shift distribution ``s``
over ``(-1, 0, +1)`` and a sharpening exponent ``gamma``, and its weighting over slots is

    w_c = softmax(beta * cos(k, M_i)),   w_g = g w_c + (1 - g) w_{t-1},
    w~_i = sum_j w_g[j] s[(i - j) mod S],  w_i = w~_i^gamma / sum_j w~_j^gamma.

The write head also emits an erase vector ``e`` and an add vector ``a``:
``M_i <- M_i * (1 - w_i e) + w_i a``; the read head returns ``r = sum_i w_i M_i``.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SPLITS = ("train", "val", "test")

# Settings of the seeded pretraining run (python -m rnnlib.pretrain ntm-copy --seed 0).
NTM_COPY_CONFIG = dict(bits=8, min_len=1, max_len=8, slots=32, width=16, controller=100,
                       lstm_hidden=256, steps=3200, batch_size=32, lr=3e-3, clip=10.0)


def _rng(seed: int, split: str) -> np.random.Generator:
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    return np.random.default_rng([int(seed), SPLITS.index(split), 7])


def copy_batch(n: int, length: int, bits: int = 8, rng: np.random.Generator | None = None,
               seed: int = 0, split: str = "train"):
    """A batch of copy sequences of one ``length``.

    Returns ``(x, y)``: ``x`` (N, 2 length + 1, bits + 1) float32 -- the vectors, then the
    delimiter (last channel), then blanks; ``y`` (N, length, bits) float32, the vectors to write
    back during the last ``length`` steps.
    """
    if n < 1:
        raise ValueError(f"n: expected a positive batch size, got {n}")
    if length < 1:
        raise ValueError(f"length: expected a positive sequence length, got {length}")
    if bits < 1:
        raise ValueError(f"bits: expected a positive number of bits, got {bits}")
    if rng is None:
        rng = _rng(seed, split)
    seq = rng.integers(0, 2, size=(n, length, bits)).astype(np.float32)
    x = np.zeros((n, 2 * length + 1, bits + 1), dtype=np.float32)
    x[:, :length, :bits] = seq
    x[:, length, bits] = 1.0
    return x, seq


class NTM(nn.Module):
    """An NTM with an LSTM controller, one read head and one write head."""

    def __init__(self, bits: int = 8, slots: int = 32, width: int = 16, controller: int = 100):
        super().__init__()
        for name, value in (("bits", bits), ("slots", slots), ("width", width),
                            ("controller", controller)):
            if value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value}")
        self.bits, self.slots, self.width = bits, slots, width
        self.cell = nn.LSTMCell(bits + 1 + width, controller)
        # per head: key (W), beta, g, shift (3), gamma; the write head adds erase (W), add (W)
        self.read_head = nn.Linear(controller, width + 6)
        self.write_head = nn.Linear(controller, 3 * width + 6)
        self.out = nn.Linear(controller + width, bits)
        self.r0 = nn.Parameter(torch.zeros(width))

    def _address(self, params, w_prev, memory):
        W = self.width
        k = params[:, :W]
        beta = F.softplus(params[:, W])
        g = torch.sigmoid(params[:, W + 1])
        s = torch.softmax(params[:, W + 2:W + 5], dim=1)
        gamma = 1.0 + F.softplus(params[:, W + 5])
        sim = F.cosine_similarity(memory, k[:, None, :], dim=2, eps=1e-8)
        w_c = torch.softmax(beta[:, None] * sim, dim=1)
        w_g = g[:, None] * w_c + (1 - g[:, None]) * w_prev
        # circular convolution with the shift distribution over offsets (-1, 0, +1)
        w_s = (s[:, 0:1] * torch.roll(w_g, -1, dims=1) + s[:, 1:2] * w_g
               + s[:, 2:3] * torch.roll(w_g, 1, dims=1))
        w_p = (w_s + 1e-12) ** gamma[:, None]
        return w_p / w_p.sum(1, keepdim=True)

    def forward(self, x, return_weights: bool = False):
        """x (N, T, bits + 1) -> logits (N, T, bits); with ``return_weights`` also the read and
        write weightings, each (N, T, slots)."""
        if x.dim() != 3 or x.shape[2] != self.bits + 1:
            raise ValueError(f"x: expected shape (N, T, {self.bits + 1}), got {tuple(x.shape)}")
        N, T, _ = x.shape
        W = self.width
        memory = torch.full((N, self.slots, W), 1e-6, device=x.device, dtype=x.dtype)
        w_read = torch.zeros(N, self.slots, device=x.device, dtype=x.dtype)
        w_read[:, 0] = 1.0
        w_write = w_read.clone()
        r = self.r0.expand(N, W)
        h = x.new_zeros(N, self.cell.hidden_size)
        c = x.new_zeros(N, self.cell.hidden_size)
        logits, reads, writes = [], [], []
        for t in range(T):
            h, c = self.cell(torch.cat([x[:, t], r], dim=1), (h, c))
            wp = self.write_head(h)
            w_write = self._address(wp[:, :W + 6], w_write, memory)
            erase = torch.sigmoid(wp[:, W + 6:2 * W + 6])
            add = torch.tanh(wp[:, 2 * W + 6:])
            memory = (memory * (1 - w_write[:, :, None] * erase[:, None, :])
                      + w_write[:, :, None] * add[:, None, :])
            w_read = self._address(self.read_head(h), w_read, memory)
            r = torch.bmm(w_read[:, None, :], memory)[:, 0]
            logits.append(self.out(torch.cat([h, r], dim=1)))
            reads.append(w_read)
            writes.append(w_write)
        out = torch.stack(logits, 1)
        if return_weights:
            return out, torch.stack(reads, 1), torch.stack(writes, 1)
        return out


class LSTMCopier(nn.Module):
    """The baseline: one LSTM layer and a linear read-out, the same inputs and outputs."""

    def __init__(self, bits: int = 8, hidden: int = 256):
        super().__init__()
        if bits < 1 or hidden < 1:
            raise ValueError(f"bits and hidden: expected positive integers, got {bits}, {hidden}")
        self.bits = bits
        self.lstm = nn.LSTM(bits + 1, hidden, batch_first=True)
        self.out = nn.Linear(hidden, bits)

    def forward(self, x):
        if x.dim() != 3 or x.shape[2] != self.bits + 1:
            raise ValueError(f"x: expected shape (N, T, {self.bits + 1}), got {tuple(x.shape)}")
        h, _ = self.lstm(x)
        return self.out(h)


def copy_loss(model, x, y):
    """Binary cross-entropy (mean per bit) over the answer steps only."""
    length = y.shape[1]
    logits = model(x)[:, -length:]
    return F.binary_cross_entropy_with_logits(logits, y)


def bit_error(model, length: int, n: int = 200, seed: int = 0, split: str = "test",
              bits: int = 8) -> float:
    """Fraction of wrong bits on ``n`` fresh sequences of one ``length``."""
    x, y = copy_batch(n, length, bits, seed=seed, split=split)
    with torch.no_grad():
        logits = model(torch.from_numpy(x))[:, -length:]
    return float(((logits > 0).float() != torch.from_numpy(y)).float().mean())


def train_copy(model, steps: int, batch_size: int = 32, lr: float = 1e-3, min_len: int = 1,
               max_len: int = 10, bits: int = 8, clip: float = 10.0, seed: int = 0,
               log_every: int = 50, callback=None):
    """Adam on random-length copy batches from the train split. Returns a history dict;
    ``callback(step, loss)`` is called every ``log_every`` steps."""
    if steps < 1:
        raise ValueError(f"steps: expected a positive number of steps, got {steps}")
    if not 1 <= min_len <= max_len:
        raise ValueError(f"min_len, max_len: expected 1 <= min_len <= max_len, got {min_len}, "
                         f"{max_len}")
    rng = _rng(seed, "train")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"step": [], "loss": [], "seconds": 0.0}
    started = time.perf_counter()
    running = []
    for step in range(1, steps + 1):
        length = int(rng.integers(min_len, max_len + 1))
        x, y = copy_batch(batch_size, length, bits, rng=rng)
        loss = copy_loss(model, torch.from_numpy(x), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        running.append(loss.item())
        if step % log_every == 0 or step == steps:
            history["step"].append(step)
            history["loss"].append(float(np.mean(running)))
            running = []
            if callback is not None:
                callback(step, history["loss"][-1])
    history["seconds"] = time.perf_counter() - started
    return history
