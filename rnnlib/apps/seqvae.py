"""A sequence VAE for behaviour segmentation, in the manner of VAME (Luxem et al., 2022).

Data: generated "pose" trajectories -- ``J`` keypoints in 2-D, ``D = 2 J`` coordinates per time
step -- that switch between ``K`` motifs. A motif is a periodic movement: every coordinate
oscillates at the motif's frequency with the motif's amplitude, phase and waveform (a second
harmonic) around the motif's mean posture (shared by all motifs by default), so a motif is a
closed loop in pose space. Each segment lasts a random number of steps, starts at a random
point of its cycle, and carries a random amplitude factor and tempo; observation noise is added.
The motifs themselves (frequencies, amplitude and phase patterns) depend on ``motif_seed`` only
and are shared by all splits; the sequences of each split come from their own seed stream.

What the data is not: real animal pose. There are no camera artefacts, no missing keypoints, no
transitions with their own dynamics, and the number of motifs is known.

Model: a bidirectional GRU encoder reads a window of ``T`` poses; the mean of its states over the
window gives the mean and log-variance of a Gaussian latent ``z``; a GRU decoder unrolled from
``z`` and the window's first ``given`` poses reconstructs the window. Loss: squared error summed
over the window plus ``kl_weight`` times the KL term.

Why those two choices: a window's latent should say *which* movement it holds, not *where in its
cycle* the window starts. A decoder that is shown the first pose does not need the phase from
``z``, so the KL term squeezes it out; averaging the encoder's states over the window blurs the
phase further. Without the first pose the latent keeps much of the phase (measured in the
section's notebook).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

SPLITS = ("train", "val", "test")

PROFILES = {
    "smoke": dict(n_train=24, n_test=8, seq_len=400, window=32, latent=8, hidden=32, given=1,
                  epochs=12, batch_size=64, lr=3e-3, kl_weight=1.0, stride=4, smooth=5),
    "full": dict(n_train=96, n_test=24, seq_len=600, window=32, latent=8, hidden=128, given=1,
                 epochs=30, batch_size=128, lr=2e-3, kl_weight=1.0, stride=4, smooth=5),
}


def seqvae_config(profile: str) -> dict:
    """A copy of the settings for ``profile`` ("smoke" or "full")."""
    if profile not in PROFILES:
        raise ValueError(f"profile: expected one of {tuple(PROFILES)}, got {profile!r}")
    return dict(PROFILES[profile])


def motif_bank(n_motifs: int = 4, n_keypoints: int = 4, motif_seed: int = 0,
               posture: float = 0.0, harmonic: float = 0.4) -> dict:
    """The motifs: ``freq`` (K,) cycles per step, ``amp``, ``phase``, ``second`` (the weight of
    the second harmonic, so a motif's waveform is its own, not a plain sine) and ``offset`` (a
    mean posture of norm ``posture``; 0 by default, so that the motifs share the mean posture and
    differ only in their dynamics, and no smoothing of raw windows can find them), each (K, D)."""
    if n_motifs < 2:
        raise ValueError(f"n_motifs: expected at least 2 motifs, got {n_motifs}")
    if n_keypoints < 1:
        raise ValueError(f"n_keypoints: expected a positive number, got {n_keypoints}")
    rng = np.random.default_rng([motif_seed, 99])
    D = 2 * n_keypoints
    freq = np.geomspace(1 / 24, 1 / 6, n_motifs)[rng.permutation(n_motifs)]
    # each motif moves its own keypoints most (legs for walking, head for grooming, ...)
    amp = rng.uniform(0.05, 0.3, size=(n_motifs, D))
    for m in range(n_motifs):
        lead = (m * 2 + np.arange(2)) % D
        amp[m, lead] = rng.uniform(0.8, 1.2, size=2)
    phase = rng.uniform(0, 2 * np.pi, size=(n_motifs, D))
    offset = rng.standard_normal((n_motifs, D))
    offset *= posture / np.linalg.norm(offset, axis=1, keepdims=True)
    second = rng.uniform(-harmonic, harmonic, size=(n_motifs, D))
    return dict(freq=freq, amp=amp, phase=phase, second=second, offset=offset)


def generate_sequences(n: int, seq_len: int = 400, n_motifs: int = 4, n_keypoints: int = 4,
                       seed: int = 0, split: str = "train", motif_seed: int = 0,
                       min_segment: int = 40, max_segment: int = 120, noise: float = 0.05):
    """``n`` pose sequences. Returns ``(x, labels)``: x (n, seq_len, 2 n_keypoints) float32 and
    the motif of every step, labels (n, seq_len) int64."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    if n < 1 or seq_len < 1:
        raise ValueError(f"n and seq_len: expected positive integers, got {n}, {seq_len}")
    if not 1 <= min_segment <= max_segment:
        raise ValueError(f"min_segment, max_segment: expected 1 <= min <= max, got "
                         f"{min_segment}, {max_segment}")
    bank = motif_bank(n_motifs, n_keypoints, motif_seed)
    rng = np.random.default_rng([seed, SPLITS.index(split), 11])
    D = 2 * n_keypoints
    x = np.zeros((n, seq_len, D))
    labels = np.zeros((n, seq_len), dtype=np.int64)
    for i in range(n):
        t, prev = 0, -1
        while t < seq_len:
            m = int(rng.integers(n_motifs - 1))
            m = m + (m >= prev) if prev >= 0 else int(rng.integers(n_motifs))
            length = min(int(rng.integers(min_segment, max_segment + 1)), seq_len - t)
            tempo = rng.uniform(0.95, 1.05)
            scale = rng.uniform(0.8, 1.2)
            start = rng.uniform(0, 2 * np.pi)
            steps = np.arange(length)[:, None]
            angle = 2 * np.pi * bank["freq"][m] * tempo * steps + start + bank["phase"][m]
            wave = np.sin(angle) + bank["second"][m] * np.sin(2 * angle)
            x[i, t:t + length] = bank["offset"][m] + scale * bank["amp"][m] * wave
            labels[i, t:t + length] = m
            t, prev = t + length, m
    x += noise * rng.standard_normal(x.shape)
    return x.astype(np.float32), labels


def standardise(train, *others):
    """Scale every coordinate to mean 0 and variance 1 with the training split's statistics,
    so that no keypoint dominates the reconstruction error: returns the arrays, same shapes."""
    flat = train.reshape(-1, train.shape[-1])
    mean, std = flat.mean(0), flat.std(0) + 1e-8
    return tuple((a - mean) / std for a in (train, *others))


def make_windows(x, labels, window: int, stride: int = 1):
    """Sliding windows: (M, window, D) and the motif at each window's centre, (M,)."""
    if x.ndim != 3 or labels.shape != x.shape[:2]:
        raise ValueError(f"x, labels: expected shapes (n, T, D) and (n, T), got {x.shape}, "
                         f"{labels.shape}")
    if not 1 <= window <= x.shape[1] or stride < 1:
        raise ValueError(f"window: expected 1 <= window <= {x.shape[1]} and stride >= 1, got "
                         f"{window}, {stride}")
    starts = np.arange(0, x.shape[1] - window + 1, stride)
    idx = starts[:, None] + np.arange(window)
    wins = x[:, idx].reshape(-1, window, x.shape[2])
    centre = labels[:, starts + window // 2].reshape(-1)
    return wins, centre


def smooth_windows(features, n_sequences: int, width: int):
    """Average every window's feature vector with its neighbours in the same sequence
    (``width`` windows centred on it, fewer at the ends): (M, F) -> (M, F)."""
    if width < 1 or len(features) % n_sequences:
        raise ValueError(f"width: expected >= 1 and features divisible into {n_sequences} "
                         f"sequences, got width {width} and {len(features)} rows")
    z = features.reshape(n_sequences, -1, features.shape[1])
    csum = np.concatenate([np.zeros_like(z[:, :1]), np.cumsum(z, axis=1)], axis=1)
    idx = np.arange(z.shape[1])
    lo, hi = np.maximum(0, idx - width // 2), np.minimum(z.shape[1], idx + width // 2 + 1)
    out = (csum[:, hi] - csum[:, lo]) / (hi - lo)[None, :, None]
    return out.reshape(features.shape)


def spectral_features(windows):
    """A hand-made, phase-free feature: the magnitude of each coordinate's Fourier transform
    over the window, (M, D * (window // 2 + 1))."""
    spec = np.abs(np.fft.rfft(windows, axis=1))
    return spec.reshape(len(windows), -1)


class SequenceVAE(nn.Module):
    """BiGRU encoder, averaged over the window -> Gaussian latent z -> GRU decoder that unrolls
    the window from z and the window's first ``given`` poses (0: from z alone)."""

    def __init__(self, input_dim: int, hidden: int = 64, latent: int = 8, given: int = 1):
        super().__init__()
        for name, value in (("input_dim", input_dim), ("hidden", hidden), ("latent", latent)):
            if value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value}")
        if given < 0:
            raise ValueError(f"given: expected a number of poses >= 0, got {given}")
        self.input_dim, self.given = input_dim, given
        self.encoder = nn.GRU(input_dim, hidden, batch_first=True, bidirectional=True)
        self.to_stats = nn.Linear(2 * hidden, 2 * latent)
        self.z_to_h = nn.Linear(latent + given * input_dim, hidden)
        self.decoder = nn.GRU(latent, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, input_dim)

    def encode(self, x):
        """x (N, T, D) -> mean and log-variance of q(z | x), each (N, latent)."""
        if x.dim() != 3 or x.shape[2] != self.input_dim:
            raise ValueError(f"x: expected shape (N, T, {self.input_dim}), got {tuple(x.shape)}")
        states, _ = self.encoder(x)  # (N, T, 2H): forward and backward state at every step
        mu, logvar = self.to_stats(states.mean(dim=1)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z, first, steps: int):
        """z (N, latent) and the first ``given`` poses (N, given, D) -> (N, steps, D)."""
        if first.shape[1:] != (self.given, self.input_dim):
            raise ValueError(f"first: expected shape (N, {self.given}, {self.input_dim}), got "
                             f"{tuple(first.shape)}")
        h0 = torch.tanh(self.z_to_h(torch.cat([z, first.flatten(1)], dim=1)))[None]
        out, _ = self.decoder(z[:, None, :].expand(-1, steps, -1).contiguous(), h0)
        return self.readout(out)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z, x[:, :self.given], x.shape[1]), mu, logvar


def vae_loss(model, x, kl_weight: float = 0.1):
    """(total, reconstruction, KL), each averaged over the batch."""
    recon, mu, logvar = model(x)
    rec = ((recon - x) ** 2).sum(dim=(1, 2)).mean()
    kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)).mean()
    return rec + kl_weight * kl, rec, kl


def train_vae(model, windows, epochs: int, batch_size: int = 64, lr: float = 3e-3,
              kl_weight: float = 0.1, seed: int = 0):
    """Adam over shuffled windows. Returns a history with the loss of every epoch."""
    if epochs < 1:
        raise ValueError(f"epochs: expected a positive integer, got {epochs}")
    data = torch.as_tensor(windows)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"loss": [], "recon": [], "kl": [], "seconds": 0.0}
    started = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=gen)
        totals = np.zeros(3)
        for start in range(0, len(data), batch_size):
            batch = data[order[start:start + batch_size]]
            loss, rec, kl = vae_loss(model, batch, kl_weight)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            totals += np.array([loss.item(), rec.item(), kl.item()]) * len(batch)
        for key, value in zip(("loss", "recon", "kl"), totals / len(data)):
            history[key].append(float(value))
    history["seconds"] = time.perf_counter() - started
    model.eval()
    return history


def latent_means(model, windows, batch_size: int = 512):
    """The encoder's mean for every window, (M, latent) numpy."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            mu, _ = model.encode(torch.as_tensor(windows[start:start + batch_size]))
            out.append(mu.numpy())
    return np.concatenate(out)
