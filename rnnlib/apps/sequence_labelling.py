"""Sequence labelling: one tag per word, for names never seen in training and for homographs.

Generated English-like sentences carry two tag sequences: named entities in the BIO scheme
(``B-PER I-PER`` for a person's first and last name, ``B-LOC`` for a place) and parts of speech,
where ten words (``book``, ``watch``, ``plan``, ...) are nouns in some sentences and verbs in
others ("she bought a **book**" / "they will **book** a room"). Two thirds of their uses are
nouns, so tagging each word with its most frequent tag is right about two times in three.

Person and place names are made of syllables and sent to a split by a hash of the name, so the
names of the test sentences never occur in training: a tagger that looks words up finds none of
them, and one that reads the context can still tag them.

* ``generate_sentences(n, seed, split)`` -- tokens, POS tags and NER tags.
* ``TagVocab``/``build_vocabs`` -- word and tag indices (words seen once in training -> ``<unk>``).
* ``lookup_tagger`` -- the most-frequent-tag baseline.
* ``entity_spans``, ``ner_f1``, ``pos_accuracy`` -- the scores.
* ``build_bilstm_tagger``, ``train_tagger``, ``predict_tags`` -- the torch BiLSTM with two heads.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter, defaultdict
from copy import deepcopy

import numpy as np

SPLITS = ("train", "val", "test")
_SHARES = {"train": (0, 70), "val": (70, 80), "test": (80, 100)}
_SPLIT_CODE = {"train": 21, "val": 22, "test": 23}
PAD, UNK = "<pad>", "<unk>"

HOMOGRAPHS = ("book", "watch", "plan", "train", "ship", "call", "play", "walk", "work", "visit")
PLAIN_NOUNS = ("room", "ticket", "letter", "table", "car", "house", "garden", "river", "bag")
PLAIN_VERBS = ("see", "leave", "meet", "find", "like", "help", "paint")
ADJECTIVES = ("old", "new", "small", "red", "quiet", "long")
_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr",
           "kl", "sh", "ch")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ei")
_CODAS = ("", "n", "r", "l", "s", "th", "m", "k")
_CODE = {"PER": 31, "LOC": 32}

# Templates: words, or slots PER (a person, two tokens), LOC (a place), HN (homograph used as a
# noun), HV (homograph used as a verb), N (plain noun), V (plain verb), A (adjective). The weights
# make two thirds of the homograph uses nouns.
_TEMPLATES = (
    (2, "PER met PER in LOC ."),
    (2, "PER lives near LOC ."),
    (2, "the HN from LOC was A ."),
    (2, "PER bought a A HN in LOC ."),
    (2, "her HN is in the N ."),
    (2, "PER said the HN was A ."),
    (2, "PER will HV the N ."),
    (2, "they HV in LOC every day ."),
    (2, "we want to HV with PER ."),
    (1, "PER and PER V the HN ."),
    (1, "a A HN arrived from LOC ."),
    (1, "you should V PER in LOC ."),
)
_WORD_POS = {"met": "VERB", "in": "ADP", "lives": "VERB", "near": "ADP", "the": "DET",
             "from": "ADP",
             "was": "AUX", "bought": "VERB", "a": "DET", "her": "PRON", "is": "AUX", "said": "VERB",
             "will": "AUX", "they": "PRON", "every": "DET", "day": "NOUN", "we": "PRON",
             "want": "VERB", "to": "PART", "with": "ADP", "and": "CCONJ", "arrived": "VERB",
             "you": "PRON", "should": "AUX", ".": "PUNCT"}
POS_TAGS = ("ADJ", "ADP", "AUX", "CCONJ", "DET", "NOUN", "PART", "PRON", "PROPN", "PUNCT", "VERB")
NER_TAGS = ("O", "B-PER", "I-PER", "B-LOC")

_PROFILES = {
    "smoke": dict(n_train=3000, n_val=300, n_test=1000, embed_dim=32, hidden_dim=48, epochs=5,
                  batch_size=32, lr=5e-3, word_dropout=0.1),
    "full": dict(n_train=20000, n_val=1000, n_test=4000, embed_dim=64, hidden_dim=128, epochs=15,
                 batch_size=64, lr=3e-3, word_dropout=0.1),
}


def labelling_config(profile: str) -> dict:
    """A copy of the notebook's settings for ``profile`` ("smoke" or "full")."""
    if profile not in _PROFILES:
        raise ValueError(f"profile: expected one of {tuple(_PROFILES)}, got {profile!r}")
    return deepcopy(_PROFILES[profile])


def _bucket_split(kind: str, name: str) -> str:
    bucket = zlib.crc32(f"{kind}:{name}".encode()) % 100
    return next(s for s, (lo, hi) in _SHARES.items() if lo <= bucket < hi)


def name_split(kind: str, name: str) -> str:
    """The split a person's name or a place belongs to (``kind`` "PER" or "LOC"), by a hash."""
    if kind not in _CODE:
        raise ValueError(f"kind: expected 'PER' or 'LOC', got {kind!r}")
    return _bucket_split(kind, name)


def _make_name(rng: np.random.Generator, syllables: int) -> str:
    parts = [_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
             + _CODAS[rng.integers(len(_CODAS))] for _ in range(syllables)]
    return "".join(parts).capitalize()


def _name(rng: np.random.Generator, kind: str, split: str) -> str:
    while True:
        name = _make_name(rng, int(rng.integers(2, 4)))
        if name_split(kind, name) == split:
            return name


def generate_sentences(n: int, seed: int = 0, split: str = "train") -> dict:
    """``n`` tagged sentences: ``{"tokens", "pos", "ner", "homograph"}``, lists of lists (the last
    marks the homograph positions with True)."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    rng = np.random.default_rng([int(seed), _SPLIT_CODE[split]])
    weights = np.array([w for w, _ in _TEMPLATES], dtype=float)
    out = {"tokens": [], "pos": [], "ner": [], "homograph": []}
    for _ in range(n):
        template = _TEMPLATES[rng.choice(len(_TEMPLATES), p=weights / weights.sum())][1]
        toks, pos, ner, hom = [], [], [], []
        for slot in template.split():
            if slot == "PER":
                first, last = _name(rng, "PER", split), _name(rng, "PER", split)
                toks += [first, last]
                pos += ["PROPN", "PROPN"]
                ner += ["B-PER", "I-PER"]
                hom += [False, False]
                continue
            if slot == "LOC":
                word, p, e = _name(rng, "LOC", split), "PROPN", "B-LOC"
            elif slot in ("HN", "HV"):
                word, e = HOMOGRAPHS[rng.integers(len(HOMOGRAPHS))], "O"
                p = "NOUN" if slot == "HN" else "VERB"
            elif slot == "N":
                word, p, e = PLAIN_NOUNS[rng.integers(len(PLAIN_NOUNS))], "NOUN", "O"
            elif slot == "V":
                word, p, e = PLAIN_VERBS[rng.integers(len(PLAIN_VERBS))], "VERB", "O"
            elif slot == "A":
                word, p, e = ADJECTIVES[rng.integers(len(ADJECTIVES))], "ADJ", "O"
            else:
                word, p, e = slot, _WORD_POS[slot], "O"
            toks.append(word)
            pos.append(p)
            ner.append(e)
            hom.append(slot in ("HN", "HV"))
        toks[0] = toks[0][0].upper() + toks[0][1:]
        out["tokens"].append(toks)
        out["pos"].append(pos)
        out["ner"].append(ner)
        out["homograph"].append(hom)
    return out


class TagVocab:
    """An index of strings with ``<pad>`` = 0 (and ``<unk>`` = 1 when ``unk``)."""

    def __init__(self, items, unk: bool = True):
        self.itos = [PAD, *([UNK] if unk else []), *items]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.unk = unk

    def __len__(self):
        return len(self.itos)

    def encode(self, seq) -> list[int]:
        if self.unk:
            return [self.stoi.get(w, 1) for w in seq]
        return [self.stoi[w] for w in seq]


def build_vocabs(train: dict, min_count: int = 2) -> dict:
    """Word vocabulary from ``train`` (words seen fewer than ``min_count`` times are unknown, so the
    model meets ``<unk>`` in training where rare names stand), and the two tag vocabularies."""
    freq = Counter(w.lower() for s in train["tokens"] for w in s)
    words = sorted(w for w, c in freq.items() if c >= min_count)
    return {"word": TagVocab(words), "pos": TagVocab(POS_TAGS, unk=False),
            "ner": TagVocab(NER_TAGS, unk=False)}


def encode_sentences(data: dict, vocabs: dict):
    """Padded arrays (N, T_max): word ids (lower-cased words), POS ids, NER ids; and lengths."""
    tokens = data["tokens"]
    lengths = np.array([len(s) for s in tokens], dtype=np.int64)
    shape = (len(tokens), int(lengths.max()))
    words, pos, ner = (np.zeros(shape, np.int64) for _ in range(3))
    for n, s in enumerate(tokens):
        words[n, : len(s)] = vocabs["word"].encode([w.lower() for w in s])
        pos[n, : len(s)] = vocabs["pos"].encode(data["pos"][n])
        ner[n, : len(s)] = vocabs["ner"].encode(data["ner"][n])
    return words, pos, ner, lengths


def lookup_tagger(train: dict):
    """The most frequent tag of each word in ``train``; an unseen word gets the most frequent tag
    overall (``O`` and ``NOUN``). Returns ``tag(tokens) -> (pos, ner)``."""
    tables = {}
    for key in ("pos", "ner"):
        counts = defaultdict(Counter)
        overall = Counter()
        for toks, tags in zip(train["tokens"], train[key]):
            for w, t in zip(toks, tags):
                counts[w.lower()][t] += 1
                overall[t] += 1
        most = max((c, t) for t, c in overall.items() if t != "PUNCT")[1]
        default = "O" if key == "ner" else most
        tables[key] = ({w: c.most_common(1)[0][0] for w, c in counts.items()}, default)

    def tag(tokens):
        return tuple([tables[k][0].get(w.lower(), tables[k][1]) for w in tokens]
                     for k in ("pos", "ner"))

    return tag


def entity_spans(tags) -> set:
    """The entities of one BIO sequence as (start, end, type); an I- without its B- starts one."""
    spans, start, kind = set(), None, None
    for i, t in enumerate([*tags, "O"]):
        if t.startswith("I-") and kind == t[2:]:
            continue
        if start is not None:
            spans.add((start, i, kind))
            start, kind = None, None
        if t != "O":
            start, kind = i, t[2:]
    return spans


def ner_f1(true_seqs, pred_seqs) -> dict:
    """Entity-level precision, recall and F1 (an entity counts only with exact span and type)."""
    if len(true_seqs) != len(pred_seqs):
        raise ValueError(f"pred_seqs: expected {len(true_seqs)} sequences, got {len(pred_seqs)}")
    tp = n_true = n_pred = 0
    for t, p in zip(true_seqs, pred_seqs):
        if len(t) != len(p):
            raise ValueError(f"pred_seqs: a sequence has {len(p)} tags, expected {len(t)}")
        st, sp = entity_spans(t), entity_spans(p)
        tp += len(st & sp)
        n_true += len(st)
        n_pred += len(sp)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def pos_accuracy(true_seqs, pred_seqs, mask_seqs=None) -> float:
    """Share of correct POS tags, over every word or over the words where ``mask_seqs`` is True."""
    right = total = 0
    for n, (t, p) in enumerate(zip(true_seqs, pred_seqs)):
        for i, (a, b) in enumerate(zip(t, p)):
            if mask_seqs is None or mask_seqs[n][i]:
                right += a == b
                total += 1
    if total == 0:
        raise ValueError("mask_seqs: selects no word")
    return right / total


def build_bilstm_tagger(V: int, n_pos: int, n_ner: int, embed_dim: int = 32, hidden_dim: int = 48):
    """Embedding -> bidirectional LSTM -> [h_fwd, h_bwd] -> two linear heads (POS, NER)."""
    import torch.nn as nn

    for name, value in (("V", V), ("n_pos", n_pos), ("n_ner", n_ner), ("embed_dim", embed_dim),
                        ("hidden_dim", hidden_dim)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")

    class BiLSTMTagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, embed_dim, padding_idx=0)
            self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
            self.pos_head = nn.Linear(2 * hidden_dim, n_pos)
            self.ner_head = nn.Linear(2 * hidden_dim, n_ner)

        def forward(self, words, lengths):
            from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

            packed = pack_padded_sequence(self.embed(words), lengths.cpu(), batch_first=True,
                                          enforce_sorted=False)
            h, _ = self.lstm(packed)
            h, _ = pad_packed_sequence(h, batch_first=True, total_length=words.shape[1])
            return self.pos_head(h), self.ner_head(h)

    return BiLSTMTagger()


def train_tagger(model, train: dict, vocabs: dict, *, epochs: int, batch_size: int, lr: float,
                 word_dropout: float = 0.1, seed: int = 0) -> dict:
    """Adam on the sum of the two heads' cross-entropies (padding ignored). ``word_dropout``
    replaces that share of training words by ``<unk>`` so the model learns to use context."""
    import torch
    import torch.nn.functional as F

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size: expected >= 1, got {epochs} and {batch_size}")
    if not 0.0 <= word_dropout < 1.0:
        raise ValueError(f"word_dropout: expected 0 <= word_dropout < 1, got {word_dropout!r}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    words, pos, ner, lengths = (torch.from_numpy(a) for a in encode_sentences(train, vocabs))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist = {"step_loss": [], "epoch_loss": []}
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(lengths), generator=gen)
        losses = []
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            T = int(lengths[idx].max())
            w = words[idx, :T].clone()
            drop = (torch.rand(w.shape, generator=gen) < word_dropout) & (w > 0)
            w[drop] = 1
            pos_scores, ner_scores = model(w, lengths[idx])
            loss = (F.cross_entropy(pos_scores.flatten(0, 1), pos[idx, :T].flatten(),
                                    ignore_index=0)
                    + F.cross_entropy(ner_scores.flatten(0, 1), ner[idx, :T].flatten(),
                                      ignore_index=0))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            losses.append(loss.item())
        hist["step_loss"].extend(losses)
        hist["epoch_loss"].append(float(np.mean(losses)))
    hist["seconds"] = time.perf_counter() - started
    return hist


def predict_tags(model, data: dict, vocabs: dict):
    """The model's POS and NER tag sequences (lists of lists of tag strings)."""
    import torch

    words, _, _, lengths = encode_sentences(data, vocabs)
    model.eval()
    with torch.no_grad():
        pos_scores, ner_scores = model(torch.from_numpy(words), torch.from_numpy(lengths))
    pos_ids, ner_ids = pos_scores[..., 1:].argmax(-1) + 1, ner_scores[..., 1:].argmax(-1) + 1
    pos_out = [[vocabs["pos"].itos[i] for i in row[:L]]
               for row, L in zip(pos_ids.tolist(), lengths)]
    ner_out = [[vocabs["ner"].itos[i] for i in row[:L]]
               for row, L in zip(ner_ids.tolist(), lengths)]
    return pos_out, ner_out
