"""Sequence to sequence with and without attention: human-written dates to ISO 8601.

Data: a calendar date between 1950-01-01 and 2049-12-31 written in one of ten human formats
("Tuesday, 3 March 1998", "03.03.98", "march 3rd 1998", ...) is the source string; its ISO 8601
form ("1998-03-03") is the target. The dates are split by day: a date whose ordinal falls in the
test split never appears, in any format, in training, so the test measures translation of unseen
dates, not recall.

Models (torch): a bidirectional GRU encoder reads the characters; a GRU decoder writes the ten
characters of the ISO date with teacher forcing. ``attention=False`` gives the decoder only the
encoder's final states (the fixed-size "thought vector" of Sutskever et al., 2014, with a GRU as in
Cho et al., 2014); ``attention=True`` adds Luong et al.'s (2015) global attention with the
"general" score: at every step the decoder state scores every encoder position, and the softmax
weights average the encoder states into a context that joins the state in the output layer.
"""

from __future__ import annotations

import datetime as _dt
from copy import deepcopy

import numpy as np

FIRST_DAY = _dt.date(1950, 1, 1)
LAST_DAY = _dt.date(2049, 12, 31)
SPLITS = ("train", "val", "test")
_SPLIT_SALT = {"train": 0, "val": 1, "test": 2}

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _ordinal_suffix(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _format(d: _dt.date, k: int) -> str:
    month, mon = _MONTHS[d.month - 1], _MONTHS[d.month - 1][:3]
    weekday = _WEEKDAYS[d.weekday()]
    yy = f"{d.year % 100:02d}"
    formats = (
        lambda: f"{d.day} {month.capitalize()} {d.year}",                    # 3 March 1998
        lambda: f"{month.capitalize()} {d.day}, {d.year}",                   # March 3, 1998
        lambda: f"{d.day:02d}/{d.month:02d}/{d.year}",                       # 03/03/1998 (D/M/Y)
        lambda: f"{d.day:02d}.{d.month:02d}.{yy}",                           # 03.03.98
        lambda: f"{mon} {d.day} {d.year}",                                   # mar 3 1998
        lambda: f"{d.day}-{mon.capitalize()}-{d.year}",                      # 3-Mar-1998
        lambda: f"{weekday.capitalize()}, {d.day} {month.capitalize()} {d.year}",
        lambda: f"{month} {d.day}{_ordinal_suffix(d.day)} {d.year}",         # march 3rd 1998
        lambda: f"{d.year}/{d.month}/{d.day}",                               # 1998/3/3
        lambda: f"the {d.day}{_ordinal_suffix(d.day)} of {month} {d.year}",  # the 3rd of march 1998
    )
    return formats[k]()


N_FORMATS = 10
FORMAT_EXAMPLES = tuple(_format(_dt.date(1998, 3, 3), k) for k in range(N_FORMATS))


def _day_split(ordinal: np.ndarray) -> np.ndarray:
    """0 train, 1 val, 2 test, fixed per calendar day (a multiplicative hash, 80/10/10)."""
    h = (ordinal.astype(np.int64) * 2654435761) % 4294967296
    bucket = (h >> 8) % 10
    return np.where(bucket < 8, 0, np.where(bucket < 9, 1, 2))


def split_days(split: str) -> np.ndarray:
    """Ordinals (``date.toordinal()``) of the days that belong to ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    days = np.arange(FIRST_DAY.toordinal(), LAST_DAY.toordinal() + 1)
    return days[_day_split(days) == _SPLIT_SALT[split]]


def make_dates(n: int, seed: int = 0, split: str = "train"):
    """``n`` (source, target, format index) triples of ``split``, reproducible from
    ``(seed, split)``."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    days = split_days(split)
    rng = np.random.default_rng([int(seed), _SPLIT_SALT[split], 5091])
    picks = rng.choice(days, size=int(n), replace=True)
    kinds = rng.integers(0, N_FORMATS, size=int(n))
    sources, targets = [], []
    for ordinal, k in zip(picks, kinds):
        d = _dt.date.fromordinal(int(ordinal))
        sources.append(_format(d, int(k)))
        targets.append(d.isoformat())
    return sources, targets, kinds


# Vocabularies: index 0 pads, 1 starts the target.
PAD, START = 0, 1
SOURCE_CHARS = sorted(set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,./-"))
TARGET_CHARS = list("0123456789-")
SOURCE_INDEX = {c: i + 2 for i, c in enumerate(SOURCE_CHARS)}
TARGET_INDEX = {c: i + 2 for i, c in enumerate(TARGET_CHARS)}
SOURCE_VOCAB = len(SOURCE_CHARS) + 2
TARGET_VOCAB = len(TARGET_CHARS) + 2
TARGET_LEN = 10


def encode_sources(sources, max_len: int | None = None) -> np.ndarray:
    """Character indices ``(N, S)``, right-padded with ``PAD``."""
    bad = {c for s in sources for c in s if c not in SOURCE_INDEX}
    if bad:
        raise ValueError(f"sources: characters {sorted(bad)} are outside the source alphabet")
    S = max_len or max(len(s) for s in sources)
    out = np.full((len(sources), S), PAD, dtype=np.int64)
    for i, s in enumerate(sources):
        if len(s) > S:
            raise ValueError(f"sources: {s!r} is longer than max_len={S}")
        out[i, :len(s)] = [SOURCE_INDEX[c] for c in s]
    return out


def encode_targets(targets) -> np.ndarray:
    """Indices ``(N, 10)`` of ISO dates."""
    for t in targets:
        if len(t) != TARGET_LEN or any(c not in TARGET_INDEX for c in t):
            raise ValueError(f"targets: expected ISO dates like '1998-03-03', got {t!r}")
    return np.array([[TARGET_INDEX[c] for c in t] for t in targets], dtype=np.int64)


def decode_targets(indices) -> list[str]:
    """ISO strings from target indices ``(N, 10)`` (pad/start shown as '?')."""
    lookup = {v: k for k, v in TARGET_INDEX.items()}
    return ["".join(lookup.get(int(i), "?") for i in row) for row in np.asarray(indices)]


# smoke: at 500 steps (training seeds 0 and 1) attention reached 0.997 and 0.999 exact match and
# beat the decoder without it by 0.94 and 0.97; at 400 seed 1 stopped at 0.944, under the 0.95
# the notebook asserts; 700 steps cost 40% more for the same lesson.
PROFILES = {
    "smoke": dict(n_train=6000, n_test=1000, embed_dim=24, hidden_dim=64, steps=500,
                  batch_size=64, lr=4e-3),
    "full": dict(n_train=40000, n_test=4000, embed_dim=32, hidden_dim=128, steps=6000,
                 batch_size=128, lr=2e-3),
}


def config(profile: str) -> dict:
    """A copy of this section's settings for ``profile`` ("smoke" or "full")."""
    if profile not in PROFILES:
        raise ValueError(f"profile: expected one of {tuple(PROFILES)}, got {profile!r}")
    return deepcopy(PROFILES[profile])


def build_model(attention: bool, embed_dim: int = 24, hidden_dim: int = 64):
    """A ``DateTranslator`` (torch module); imported lazily so the data needs no torch."""
    import torch
    from torch import nn

    class DateTranslator(nn.Module):
        """BiGRU encoder, GRU decoder, optional Luong "general" attention."""

        def __init__(self):
            super().__init__()
            self.attention = bool(attention)
            H = hidden_dim
            self.src_embed = nn.Embedding(SOURCE_VOCAB, embed_dim, padding_idx=PAD)
            self.tgt_embed = nn.Embedding(TARGET_VOCAB, embed_dim)
            self.encoder = nn.GRU(embed_dim, H, batch_first=True, bidirectional=True)
            self.bridge = nn.Linear(2 * H, H)   # both final states -> initial decoder state
            self.decoder = nn.GRU(embed_dim, H, batch_first=True)
            self.score = nn.Linear(2 * H, H, bias=False)  # e_{t,s} = h_t W_a m_s^T
            out_in = H + (2 * H if self.attention else 0)
            self.out = nn.Sequential(nn.Linear(out_in, H), nn.Tanh(), nn.Linear(H, TARGET_VOCAB))

        def encode(self, src):
            mask = src != PAD
            lengths = mask.sum(1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(self.src_embed(src), lengths,
                                                       batch_first=True, enforce_sorted=False)
            memory, h_n = self.encoder(packed)
            memory, _ = nn.utils.rnn.pad_packed_sequence(memory, batch_first=True,
                                                         total_length=src.shape[1])
            h0 = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=1))).unsqueeze(0)
            return memory, mask, h0

        def step_outputs(self, h, memory, mask):
            """Scores ``(N, T, V)`` and attention weights ``(N, T, S)`` (None without attention)."""
            if not self.attention:
                return self.out(h), None
            e = torch.bmm(h, self.score(memory).transpose(1, 2))       # (N, T, S)
            e = e.masked_fill(~mask.unsqueeze(1), float("-inf"))
            alpha = torch.softmax(e, dim=2)
            context = torch.bmm(alpha, memory)                           # (N, T, 2H)
            return self.out(torch.cat([h, context], dim=2)), alpha

        def forward(self, src, tgt):
            """Teacher forcing: scores ``(N, 10, V)`` for targets ``tgt`` ``(N, 10)``."""
            memory, mask, h0 = self.encode(src)
            start = torch.full_like(tgt[:, :1], START)
            h, _ = self.decoder(self.tgt_embed(torch.cat([start, tgt[:, :-1]], dim=1)), h0)
            return self.step_outputs(h, memory, mask)[0]

        @torch.no_grad()
        def greedy(self, src):
            """Greedy decoding: indices ``(N, 10)`` and attention maps ``(N, 10, S)`` or None."""
            memory, mask, state = self.encode(src)
            token = torch.full((src.shape[0], 1), START, dtype=torch.long, device=src.device)
            tokens, maps = [], []
            for _ in range(TARGET_LEN):
                h, state = self.decoder(self.tgt_embed(token), state)
                scores, alpha = self.step_outputs(h, memory, mask)
                scores[:, :, :2] = float("-inf")  # never emit pad or start
                token = scores.argmax(2)
                tokens.append(token)
                if alpha is not None:
                    maps.append(alpha)
            out = torch.cat(tokens, dim=1)
            return out, (torch.cat(maps, dim=1) if maps else None)

    return DateTranslator()


def train(model, src: np.ndarray, tgt: np.ndarray, steps: int, batch_size: int = 64,
          lr: float = 4e-3, seed: int = 0):
    """Adam on the cross-entropy per character; returns the loss of every step (a list)."""
    import torch
    from torch import nn

    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size: expected positive integers, "
                         f"got {steps}, {batch_size}")
    if len(src) != len(tgt):
        raise ValueError("src and tgt: expected the same number of rows, "
                         f"got {len(src)} and {len(tgt)}")
    gen = torch.Generator().manual_seed(seed)
    src_t, tgt_t = torch.as_tensor(src), torch.as_tensor(tgt)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(src_t), (batch_size,), generator=gen)
        scores = model(src_t[idx], tgt_t[idx])
        loss = loss_fn(scores.reshape(-1, TARGET_VOCAB), tgt_t[idx].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses


def evaluate(model, src: np.ndarray, tgt: np.ndarray, batch_size: int = 500) -> dict:
    """Exact-match rate, per-character accuracy, predictions and attention maps (greedy)."""
    import torch

    preds, maps = [], []
    for i in range(0, len(src), batch_size):
        p, a = model.greedy(torch.as_tensor(src[i:i + batch_size]))
        preds.append(p.numpy())
        if a is not None:
            maps.append(a.numpy())
    pred = np.concatenate(preds)
    return dict(exact=float((pred == tgt).all(1).mean()), char=float((pred == tgt).mean()),
                pred=pred, attention=np.concatenate(maps) if maps else None)
