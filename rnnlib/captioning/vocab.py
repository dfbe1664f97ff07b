"""Word-level vocabulary of the shapes grammar, with the special tokens the decoders need."""

from __future__ import annotations

import numpy as np

from .data import COLOURS, RELATIONS, SHAPES, SIZES

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"


class Vocabulary:
    """Maps words to ids and back. Id 0 is padding, then <start>, <end>, <unk>, then the words."""

    def __init__(self, words):
        self.tokens = [PAD, START, END, UNK]
        for word in words:
            if word not in self.tokens:
                self.tokens.append(word)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self.pad_id, self.start_id, self.end_id, self.unk_id = 0, 1, 2, 3

    @classmethod
    def for_shapes(cls) -> "Vocabulary":
        """Every word the grammar of ``rnnlib.captioning.data`` can produce."""
        words = ["a", *SIZES, *COLOURS, *SHAPES]
        for rel in RELATIONS:
            words += rel.split()
        return cls(words)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, caption: str) -> list[int]:
        """<start> w1 ... wn <end> as ids."""
        ids = [self.index.get(word, self.unk_id) for word in caption.split()]
        return [self.start_id, *ids, self.end_id]

    def encode_batch(self, captions: list[str], length: int | None = None) -> np.ndarray:
        """Encoded captions padded with <pad> to a common length: int64 array (N, length)."""
        encoded = [self.encode(c) for c in captions]
        longest = max(len(e) for e in encoded)
        length = longest if length is None else length
        if length < longest:
            raise ValueError(
                f"length: expected at least {longest} to fit every caption, got {length}"
            )
        out = np.full((len(encoded), length), self.pad_id, dtype=np.int64)
        for i, ids in enumerate(encoded):
            out[i, : len(ids)] = ids
        return out

    def decode(self, ids) -> str:
        """Words up to the first <end>, skipping <start> and <pad>."""
        words = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i in (self.pad_id, self.start_id):
                continue
            words.append(self.tokens[i])
        return " ".join(words)
