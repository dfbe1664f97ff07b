"""Sentence classification: generated reviews whose label depends on word order.

A review is one or two clauses about a film, ``the plot was not good`` or ``the music was
dull``, joined by ``but``, ``although`` or ``and``. The label follows three rules a reader applies
without thinking: ``not``/``never`` flips the polarity of the adjective after it; in ``A but B``
the clause after ``but`` decides; with ``although`` the other clause (the main clause) decides,
wherever ``although`` stands. The two clauses of a contrast have opposite polarities, so the same
bag of words occurs with both labels (``A but B`` versus ``B but A``), which is what defeats a
bag-of-words classifier.

* ``generate_reviews(n, seed, split)`` -- texts, labels (1 = positive) and the construction.
* ``ReviewVocab``, ``encode_batch`` -- word ids, padded, with lengths.
* ``bag_of_words``, ``bow_baseline`` -- the logistic-regression baseline (scikit-learn).
* ``build_classifier``, ``train_classifier``, ``predict`` -- a GRU or LSTM read-out (torch).

Splits are disjoint: a review's split is a hash of its text, and a generator for one split
rejects every text that hashes to another, so no test review occurs in training for any seed.
"""

from __future__ import annotations

import time
import zlib
from copy import deepcopy
from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "val", "test")
_SHARES = {"train": (0, 80), "val": (80, 90), "test": (90, 100)}
_SPLIT_CODE = {"train": 11, "val": 12, "test": 13}

ASPECTS = ("plot", "acting", "music", "ending", "dialogue", "script", "cast", "pacing", "story",
           "camera work", "soundtrack", "humour")
VERBS = ("was", "is", "felt", "seemed")
POSITIVE = ("good", "great", "brilliant", "moving", "clever", "funny", "charming", "superb")
NEGATIVE = ("bad", "dull", "boring", "weak", "awful", "clumsy", "bland", "tedious")
NEGATORS = ("not", "never")
INTENSIFIERS = ("very", "really", "quite")
# Construction -> share of the generated reviews.
FORMS = {"single": 0.2, "but": 0.3, "although_first": 0.2, "although_second": 0.2, "and": 0.1}
PAD, UNK = "<pad>", "<unk>"

_PROFILES = {
    "smoke": dict(n_train=4000, n_val=500, n_test=1000, cell="gru", embed_dim=32, hidden_dim=64,
                  epochs=5, batch_size=64, lr=5e-3),
    "full": dict(n_train=20000, n_val=2000, n_test=4000, cell="lstm", embed_dim=64, hidden_dim=128,
                 epochs=20, batch_size=64, lr=3e-3),
}


def classification_config(profile: str) -> dict:
    """A copy of the notebook's settings for ``profile`` ("smoke" or "full")."""
    if profile not in _PROFILES:
        raise ValueError(f"profile: expected one of {tuple(_PROFILES)}, got {profile!r}")
    return deepcopy(_PROFILES[profile])


def split_of(text: str) -> str:
    """The split a review text belongs to (a fixed hash of the text)."""
    bucket = zlib.crc32(text.encode()) % 100
    return next(s for s, (lo, hi) in _SHARES.items() if lo <= bucket < hi)


def _clause(rng: np.random.Generator, polarity: int) -> str:
    """One clause whose meaning has ``polarity`` (+1 or -1)."""
    negated = rng.random() < 0.4
    adjective_polarity = -polarity if negated else polarity
    adjectives = POSITIVE if adjective_polarity > 0 else NEGATIVE
    words = ["the", ASPECTS[rng.integers(len(ASPECTS))], VERBS[rng.integers(len(VERBS))]]
    if negated:
        words.append(NEGATORS[rng.integers(len(NEGATORS))])
    if rng.random() < 0.3:
        words.append(INTENSIFIERS[rng.integers(len(INTENSIFIERS))])
    words.append(adjectives[rng.integers(len(adjectives))])
    return " ".join(words)


def _review(rng: np.random.Generator, form: str, label: int) -> str:
    pol = 1 if label == 1 else -1
    if form == "single":
        return f"{_clause(rng, pol)} ."
    if form == "and":
        return f"{_clause(rng, pol)} and {_clause(rng, pol)} ."
    if form == "but":  # the clause after "but" decides
        return f"{_clause(rng, -pol)} but {_clause(rng, pol)} ."
    if form == "although_first":  # "although A , B": B (the main clause) decides
        return f"although {_clause(rng, -pol)} , {_clause(rng, pol)} ."
    if form == "although_second":  # "B , although A": B decides
        return f"{_clause(rng, pol)} , although {_clause(rng, -pol)} ."
    raise ValueError(f"form: expected one of {tuple(FORMS)}, got {form!r}")


@dataclass
class Reviews:
    texts: list[str]
    labels: np.ndarray  # (n,) int64, 1 = positive
    forms: list[str]

    def __len__(self):
        return len(self.texts)


def generate_reviews(n: int, seed: int = 0, split: str = "train") -> Reviews:
    """``n`` distinct reviews of ``split``: balanced labels, constructions in FORMS's shares."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    rng = np.random.default_rng([int(seed), _SPLIT_CODE[split]])
    forms, shares = list(FORMS), np.array(list(FORMS.values()))
    texts, labels, kinds, seen = [], [], [], set()
    attempts = 0
    while len(texts) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise RuntimeError(f"could not generate {n} distinct reviews for split {split!r}")
        form = forms[rng.choice(len(forms), p=shares)]
        label = int(rng.integers(2))
        text = _review(rng, form, label)
        if text in seen or split_of(text) != split:
            continue
        seen.add(text)
        texts.append(text)
        labels.append(label)
        kinds.append(form)
    return Reviews(texts, np.asarray(labels, dtype=np.int64), kinds)


class ReviewVocab:
    """Every word of the review grammar (so no word is unknown), plus padding and ``<unk>``."""

    def __init__(self):
        words = {"the", ",", ".", "but", "although", "and", *VERBS, *POSITIVE, *NEGATIVE,
                 *NEGATORS, *INTENSIFIERS}
        for aspect in ASPECTS:
            words.update(aspect.split())
        self.itos = [PAD, UNK, *sorted(words)]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(w, 1) for w in text.split()]


def encode_batch(texts: list[str], vocab: ReviewVocab) -> tuple[np.ndarray, np.ndarray]:
    """Word ids padded on the right with 0, shape (N, T_max), and the lengths (N,)."""
    if len(texts) == 0:
        raise ValueError("texts: expected at least one text")
    ids = [vocab.encode(t) for t in texts]
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    out = np.zeros((len(ids), lengths.max()), dtype=np.int64)
    for row, x in zip(out, ids):
        row[: len(x)] = x
    return out, lengths


def bag_of_words(texts: list[str], vocab: ReviewVocab) -> np.ndarray:
    """Word counts, shape (N, V): the order of the words is thrown away."""
    ids, lengths = encode_batch(texts, vocab)
    counts = np.zeros((len(texts), len(vocab)))
    for n in range(len(texts)):
        np.add.at(counts[n], ids[n, : lengths[n]], 1.0)
    counts[:, 0] = 0.0
    return counts


def bow_baseline(train: Reviews, test: Reviews, vocab: ReviewVocab, C: float = 1.0) -> np.ndarray:
    """Predictions on ``test`` of a logistic regression on bag-of-words counts of ``train``."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(bag_of_words(train.texts, vocab), train.labels)
    return clf.predict(bag_of_words(test.texts, vocab))


def build_classifier(V: int, embed_dim: int = 32, hidden_dim: int = 64, cell: str = "gru"):
    """Embedding -> GRU or LSTM -> the last real step's state h_T -> two scores (torch)."""
    import torch
    import torch.nn as nn

    if cell not in ("gru", "lstm"):
        raise ValueError(f"cell: expected 'gru' or 'lstm', got {cell!r}")
    for name, value in (("V", V), ("embed_dim", embed_dim), ("hidden_dim", hidden_dim)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, embed_dim, padding_idx=0)
            rnn = nn.GRU if cell == "gru" else nn.LSTM
            self.rnn = rnn(embed_dim, hidden_dim, batch_first=True)
            self.out = nn.Linear(hidden_dim, 2)

        def states(self, words):
            """h_t for every step, (N, T, H); padding comes after the words, so it never
            changes the states of the real steps."""
            h, _ = self.rnn(self.embed(words))
            return h

        def forward(self, words, lengths):
            h = self.states(words)
            last = h[torch.arange(h.shape[0]), lengths - 1]
            return self.out(last)

    return Classifier()


def train_classifier(model, train: Reviews, vocab: ReviewVocab, *, epochs: int, batch_size: int,
                     lr: float, val: Reviews | None = None, seed: int = 0) -> dict:
    """Adam on the cross-entropy; returns per-epoch train loss and validation accuracy."""
    import torch
    import torch.nn.functional as F

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size: expected >= 1, got {epochs} and {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    ids, lengths = encode_batch(train.texts, vocab)
    X, L, y = torch.from_numpy(ids), torch.from_numpy(lengths), torch.from_numpy(train.labels)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist = {"epoch": [], "train_loss": [], "val_acc": [], "step_loss": []}
    started = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=gen)
        losses = []
        for start in range(0, len(y), batch_size):
            idx = order[start:start + batch_size]
            T = int(L[idx].max())
            loss = F.cross_entropy(model(X[idx, :T], L[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            losses.append(loss.item())
        hist["step_loss"].extend(losses)
        hist["epoch"].append(epoch + 1)
        hist["train_loss"].append(float(np.mean(losses)))
        if val is not None:
            hist["val_acc"].append(float(np.mean(predict(model, val.texts, vocab) == val.labels)))
    hist["seconds"] = time.perf_counter() - started
    return hist


def predict(model, texts: list[str], vocab: ReviewVocab) -> np.ndarray:
    """Predicted labels (N,) of ``texts``."""
    import torch

    ids, lengths = encode_batch(texts, vocab)
    model.eval()
    with torch.no_grad():
        scores = model(torch.from_numpy(ids), torch.from_numpy(lengths))
    return scores.argmax(-1).numpy()


def running_sentiment(model, text: str, vocab: ReviewVocab) -> np.ndarray:
    """P(positive) read out from h_t after every word of ``text``: shape (T,)."""
    import torch

    ids, _ = encode_batch([text], vocab)
    model.eval()
    with torch.no_grad():
        h = model.states(torch.from_numpy(ids))
        return torch.softmax(model.out(h[0]), dim=-1)[:, 1].numpy()
