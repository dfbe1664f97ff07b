"""Caption metrics: corpus BLEU (Papineni et al., 2002), exact match, attention on objects."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np


def _tokens(text) -> list[str]:
    return text.split() if isinstance(text, str) else list(text)


def _references(ref) -> list[list[str]]:
    """One reference (a string) or several (a list of strings or of token lists) -> token lists."""
    if isinstance(ref, str):
        return [ref.split()]
    return [_tokens(r) for r in ref]


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu_statistics(hypotheses, references, max_n: int = 4):
    """Clipped n-gram matches and totals for n = 1..max_n, hypothesis length, reference length.

    For each hypothesis the count of every n-gram is clipped at its largest count in any one
    reference; the reference length is that of the reference closest in length (the shorter one
    on a tie), as in the original definition.
    """
    if len(hypotheses) != len(references):
        raise ValueError(
            f"references: expected {len(hypotheses)} entries (one per hypothesis), "
            f"got {len(references)}"
        )
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hyp, ref in zip(hypotheses, references):
        hyp, refs = _tokens(hyp), _references(ref)
        hyp_len += len(hyp)
        ref_len += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, max_n + 1):
            counts = _ngrams(hyp, n)
            best = Counter()
            for r in refs:
                best |= _ngrams(r, n)  # element-wise max over references
            matches[n - 1] += sum(min(c, best[g]) for g, c in counts.items())
            totals[n - 1] += max(0, len(hyp) - n + 1)
    return matches, totals, hyp_len, ref_len


def corpus_bleu(hypotheses, references, max_n: int = 4, smooth: bool = False) -> float:
    """Corpus BLEU-``max_n`` in [0, 1]: brevity penalty x geometric mean of n-gram precisions.

    ``hypotheses`` are strings (or token lists); ``references[i]`` is one reference string or a
    list of references (strings or token lists) for hypothesis i. With ``smooth`` (add-one on
    n >= 2, Lin and Och, 2004) a missing higher-order match lowers the score instead of zeroing it.
    """
    matches, totals, hyp_len, ref_len = bleu_statistics(hypotheses, references, max_n)
    if hyp_len == 0:
        return 0.0
    log_p = 0.0
    for n in range(max_n):
        m, t = matches[n], totals[n]
        if smooth and n > 0:
            m, t = m + 1, t + 1
        if m == 0 or t == 0:
            return 0.0
        log_p += math.log(m / t) / max_n
    brevity = 1.0 if hyp_len > ref_len else math.exp(1.0 - ref_len / hyp_len)
    return brevity * math.exp(log_p)


def sentence_bleu(hypothesis, reference, max_n: int = 4, smooth: bool = True) -> float:
    """BLEU of one caption (smoothed by default: short captions often lack 4-gram matches)."""
    return corpus_bleu([hypothesis], [reference], max_n, smooth)


def exact_match(hypotheses, references) -> float:
    """Fraction of hypotheses equal, word for word, to (one of) their reference(s)."""
    if len(hypotheses) != len(references):
        raise ValueError(
            f"references: expected {len(hypotheses)} entries (one per hypothesis), "
            f"got {len(references)}"
        )
    if not hypotheses:
        return 0.0
    hits = sum(_tokens(h) in _references(r) for h, r in zip(hypotheses, references))
    return hits / len(hypotheses)


OBJECT_WORDS = {
    "a": "a",
    "small": "size",
    "large": "size",
    "red": "colour",
    "green": "colour",
    "blue": "colour",
    "yellow": "colour",
    "purple": "colour",
    "circle": "shape",
    "square": "shape",
    "triangle": "shape",
}


def object_masks(scene, grid: int):
    """For each object of ``scene``, a (grid, grid) boolean mask of the feature-map locations whose
    centre lies within the object's box widened by half a location (the object's border counts).
    """
    step = scene.image_size / grid
    centres = (np.arange(grid) + 0.5) * step
    masks = []
    for obj in scene.objects:
        reach = obj.radius + step / 2
        masks.append(
            (np.abs(centres[:, None] - obj.cy) <= reach)
            & (np.abs(centres[None, :] - obj.cx) <= reach)
        )
    return masks


def attention_on_objects(captions, alphas, scenes, grid: int):
    """Attention mass on the object a word describes, for the words of correct captions.

    ``alphas[i][t]`` is the attention map (grid * grid) used to emit word t of ``captions[i]``.
    Each "a" starts the next object of the scene (mention order); size, colour and shape words
    belong to the current object. Returns {word kind: [(mass on the object, mass a uniform map
    would put there), ...]} for the kinds "a", "size", "colour" and "shape".
    """
    result = {kind: [] for kind in ("a", "size", "colour", "shape")}
    for caption, maps, scene in zip(captions, alphas, scenes):
        if caption != scene.caption:
            continue  # a wrong caption may describe objects in another order
        masks = object_masks(scene, grid)
        k = -1
        for t, word in enumerate(caption.split()):
            kind = OBJECT_WORDS.get(word)
            if kind is None:
                continue
            k += kind == "a"
            alpha = np.asarray(maps[t], dtype=float).reshape(grid, grid)
            result[kind].append((float(alpha[masks[k]].sum()), float(masks[k].mean())))
    return result
