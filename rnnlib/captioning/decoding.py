"""Greedy and beam-search decoding for any decoder with ``init_state`` and ``step``.

Both work on a batch of images at once. A caption ends at <end>; after that a sequence is padded
with <end> at no cost, so finished and unfinished hypotheses compare by the sum of log
probabilities of the words they actually emitted (including the final <end>).
"""

from __future__ import annotations

import torch


def _as_state_stepper(model):
    """(init_state(images), step(tokens, state)) for an ImageCaptioner or a (init, step) pair."""
    if isinstance(model, tuple):
        return model
    return (lambda images: model.decoder.init_state(model.encode(images))), model.decoder.step


@torch.no_grad()
def greedy_decode(
    model,
    images: torch.Tensor,
    start_id: int,
    end_id: int,
    max_len: int = 20,
    return_attention: bool = False,
):
    """The most probable word at every step, fed back as the next input.

    ``model`` is an ImageCaptioner, or a pair (init_state, step) of functions (the tests use a toy
    model with known probabilities). Returns tokens (N, L) with L <= max_len (the <end> included,
    padded with <end>), and with ``return_attention`` also the attention maps (N, L, locations) of
    an attention decoder (None otherwise).
    """
    init_state, step = _as_state_stepper(model)
    state = init_state(images)
    n = images.shape[0]
    device = images.device
    tokens = torch.full((n,), start_id, dtype=torch.long, device=device)
    finished = torch.zeros(n, dtype=torch.bool, device=device)
    out, alphas = [], []
    for _ in range(max_len):
        logits, state, aux = step(tokens, state)
        tokens = logits.argmax(dim=-1)
        tokens = torch.where(finished, torch.full_like(tokens, end_id), tokens)
        out.append(tokens)
        if "alpha" in aux:
            alphas.append(aux["alpha"].float())
        finished |= tokens == end_id
        if bool(finished.all()):
            break
    seqs = torch.stack(out, dim=1)
    if return_attention:
        return seqs, (torch.stack(alphas, dim=1) if alphas else None)
    return seqs


def _reorder(state, index: torch.Tensor):
    return tuple(s.index_select(0, index) for s in state)


@torch.no_grad()
def beam_search(
    model,
    images: torch.Tensor,
    start_id: int,
    end_id: int,
    beam_size: int = 3,
    max_len: int = 20,
    length_penalty: float = 0.0,
    return_scores: bool = False,
):
    """Beam search: keep the ``beam_size`` most probable partial captions of every image.

    At each step every live hypothesis is extended by every word, and the ``beam_size`` best
    extensions (by total log probability) survive. With ``length_penalty`` alpha > 0 the final
    choice among the beam divides each total by (length ** alpha); alpha = 0 picks the most
    probable caption found. ``beam_size=1`` is greedy decoding.

    Returns tokens (N, L) as ``greedy_decode`` does, and with ``return_scores`` also the total log
    probability of each returned caption.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size: expected at least 1, got {beam_size}")
    init_state, step = _as_state_stepper(model)
    state = init_state(images)
    n, k = images.shape[0], beam_size
    device = images.device
    state = _reorder(state, torch.arange(n, device=device).repeat_interleave(k))  # (N*K, ...)
    # only the first copy of each image is live at the start, so the K beams differ
    scores = torch.full((n, k), float("-inf"), device=device)
    scores[:, 0] = 0.0
    tokens = torch.full((n * k,), start_id, dtype=torch.long, device=device)
    finished = torch.zeros(n, k, dtype=torch.bool, device=device)
    lengths = torch.zeros(n, k, device=device)
    history = torch.zeros(n, k, 0, dtype=torch.long, device=device)
    base = (torch.arange(n, device=device) * k).unsqueeze(1)
    for _ in range(max_len):
        logits, state, _ = step(tokens, state)
        logp = torch.log_softmax(logits.float(), dim=-1).view(n, k, -1)
        vocab = logp.shape[-1]
        # a finished hypothesis can only continue with <end>, at no cost
        done_row = torch.full((vocab,), float("-inf"), device=device)
        done_row[end_id] = 0.0
        logp = torch.where(finished.unsqueeze(-1), done_row, logp)
        total = (scores.unsqueeze(-1) + logp).view(n, k * vocab)
        scores, flat = total.topk(k, dim=1)
        parent = torch.div(flat, vocab, rounding_mode="floor")
        word = flat % vocab
        lengths = lengths.gather(1, parent) + (~finished.gather(1, parent)).float()
        finished = finished.gather(1, parent) | (word == end_id)
        history = torch.cat(
            [
                history.gather(1, parent.unsqueeze(-1).expand(-1, -1, history.shape[2])),
                word.unsqueeze(-1),
            ],
            dim=2,
        )
        state = _reorder(state, (base + parent).view(-1))
        tokens = word.view(-1)
        if bool(finished.all()):
            break
    final = scores / lengths.clamp(min=1) ** length_penalty if length_penalty else scores
    best = final.argmax(dim=1)
    seqs = history[torch.arange(n, device=device), best]
    if return_scores:
        return seqs, scores[torch.arange(n, device=device), best]
    return seqs


def tokens_to_captions(tokens: torch.Tensor, vocab) -> list[str]:
    """Decode rows of token ids to strings (stopping at <end>)."""
    return [vocab.decode(row) for row in tokens.tolist()]
