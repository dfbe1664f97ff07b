"""Teacher-forced training, evaluation and checkpoints for the captioning models.

Teacher forcing: the decoder reads the *true* caption shifted right (<start> w1 ... wn) and is
trained to predict it shifted left (w1 ... wn <end>), with the cross-entropy averaged over the
non-padding words. On CUDA, training runs in mixed precision (``torch.autocast`` with float16 and
a gradient scaler); on the CPU it runs in float32 -- the mixed-precision code is only entered when
the device is CUDA.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .decoding import beam_search, greedy_decode, tokens_to_captions
from .metrics import corpus_bleu, exact_match
from .models import ImageCaptioner, build_captioner, images_to_tensor, sequence_loss

CHECKPOINT_ENV = "RNNLIB_CHECKPOINT_DIR"
PROGRESS_ENV = "RNNLIB_PROGRESS"


def default_checkpoint_dir() -> Path:
    """``$RNNLIB_CHECKPOINT_DIR``, else ``checkpoints/`` at the repository root (git-ignored),
    else a temp dir."""
    if os.environ.get(CHECKPOINT_ENV):
        path = Path(os.environ[CHECKPOINT_ENV])
    else:
        root = Path(__file__).resolve().parents[2]
        path = (
            root / "checkpoints"
            if (root / "pyproject.toml").is_file()
            else Path(tempfile.gettempdir()) / "rnnlib-checkpoints"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / "rnnlib-checkpoints"
        path.mkdir(parents=True, exist_ok=True)
    return path


def _progress(total: int, desc: str, mode):
    """A tqdm bar: ``True``/"auto" -> tqdm.auto (a widget in Jupyter), "text" -> plain text on
    stdout, ``False`` -> none. ``$RNNLIB_PROGRESS`` (auto|text|off) overrides ``True``."""
    if mode is True:
        mode = os.environ.get(PROGRESS_ENV, "auto").strip().lower() or "auto"
    if mode in (False, None, "off"):
        return None
    if mode == "text":
        from tqdm import tqdm

        # an explicit request for a text bar wins over TQDM_DISABLE (which `make` sets)
        return tqdm(
            total=total, desc=desc, file=sys.stdout, ascii=True, mininterval=2.0, disable=False
        )
    if mode == "auto":
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc)
    raise ValueError(f"progress: expected True, False, 'auto', 'text' or 'off', got {mode!r}")


def encode_dataset(dataset, vocab, device=None):
    """Images (N, 3, S, S) float32 and tokens (N, T) int64 of a CaptionDataset, on ``device``."""
    images = images_to_tensor(dataset.images, device)
    tokens = torch.as_tensor(vocab.encode_batch(dataset.captions), device=device)
    return images, tokens


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def save_checkpoint(
    path,
    model: ImageCaptioner,
    optimizer=None,
    scheduler=None,
    scaler=None,
    epoch: int | None = None,
    history: dict | None = None,
    vocab=None,
) -> Path:
    """Write model weights and config (and optimiser, schedule, epoch, history, vocabulary) to
    ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "config": dict(model.config),
        "epoch": epoch,
        "history": history or {},
        "vocab": list(vocab.tokens) if vocab is not None else None,
    }
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if scaler is not None:
        state["scaler"] = scaler.state_dict()
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint behind
    return path


def load_checkpoint(
    path,
    model: ImageCaptioner | None = None,
    optimizer=None,
    scheduler=None,
    scaler=None,
    map_location="cpu",
):
    """Read a checkpoint. With ``model`` None, a model is rebuilt from the stored config.

    Returns (model, checkpoint dict). Optimiser, schedule and scaler states are restored into
    the objects given.
    """
    state = torch.load(Path(path), map_location=map_location, weights_only=True)
    if model is None:
        model = build_captioner(**state["config"])
    model.load_state_dict(state["model"])
    for obj, key in ((optimizer, "optimizer"), (scheduler, "scheduler"), (scaler, "scaler")):
        if obj is not None and key in state:
            obj.load_state_dict(state[key])
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)
    return model, state


def _train_mode(model, freeze_encoder: bool) -> None:
    model.train()
    if freeze_encoder:
        model.encoder.eval()  # keep the batch-norm statistics the encoder was trained with


def _cosine_with_warmup(total_steps: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


@torch.no_grad()
def validation_loss(model, images, tokens, batch_size: int = 256, pad_id: int = 0) -> float:
    """Teacher-forced cross-entropy per word on held-out data (eval mode)."""
    was_training = model.training
    model.eval()
    total, words = 0.0, 0
    for i in range(0, len(images), batch_size):
        batch = tokens[i : i + batch_size]
        logits, _ = model(images[i : i + batch_size], batch[:, :-1])
        n = int((batch[:, 1:] != pad_id).sum())
        total += float(sequence_loss(logits, batch[:, 1:], pad_id)) * n
        words += n
    if was_training:
        model.train()
    return total / max(1, words)


def train_captioner(
    model: ImageCaptioner,
    train,
    vocab,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    grad_clip: float = 5.0,
    attention_reg: float = 0.0,
    val=None,
    device=None,
    amp: bool | None = None,
    seed: int = 0,
    freeze_encoder: bool = False,
    checkpoint=None,
    resume: bool = False,
    until_epoch: int | None = None,
    progress=True,
) -> dict:
    """Train with teacher forcing, Adam and a warm-up + cosine learning-rate schedule.

    Inputs: ``train`` (and optional ``val``) CaptionDatasets; ``amp`` None means "on CUDA only";
    ``attention_reg`` is the weight of the doubly stochastic penalty of "Show, Attend and Tell",
    sum_i (1 - sum_t alpha_ti)^2 averaged over the batch (attention decoders only);
    ``freeze_encoder`` keeps the CNN fixed (weights and batch-norm statistics) and trains the
    decoder alone, as with a pretrained CNN; ``checkpoint`` a file written after every epoch,
    from which ``resume=True`` continues; ``until_epoch`` ends this call after that many epochs
    (as an interrupted session would; the schedule still spans ``epochs``).
    Batch order is drawn from ``seed`` and the epoch number, so a resumed run sees the same batches.

    Returns the history: per-epoch ``train_loss`` and ``val_loss``, per-step ``step_loss``,
    ``seconds`` of training and the ``epochs`` done.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    use_amp = (device.type == "cuda") if amp is None else bool(amp and device.type == "cuda")
    model.to(device)
    images, tokens = encode_dataset(train, vocab, device)
    lengths = (tokens != vocab.pad_id).sum(dim=1)
    val_tensors = encode_dataset(val, vocab, device) if val is not None else None

    steps_per_epoch = math.ceil(len(images) / batch_size)
    for p in model.encoder.parameters():
        p.requires_grad_(not freeze_encoder)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        _cosine_with_warmup(epochs * steps_per_epoch, warmup=max(1, steps_per_epoch // 2)),
    )
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    history = {"train_loss": [], "val_loss": [], "step_loss": [], "seconds": 0.0, "epochs": 0}
    first_epoch = 0
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        _, state = load_checkpoint(
            checkpoint, model, optimizer, scheduler, scaler, map_location=device
        )
        history = state["history"]
        first_epoch = int(state["epoch"]) + 1

    last_epoch = epochs if until_epoch is None else min(epochs, until_epoch)
    bar = _progress(max(0, last_epoch - first_epoch) * steps_per_epoch, "training", progress)
    start = time.perf_counter()
    _train_mode(model, freeze_encoder)
    for epoch in range(first_epoch, last_epoch):
        order = torch.randperm(
            len(images), generator=torch.Generator().manual_seed(seed * 100003 + epoch)
        )
        epoch_losses = []
        for s in range(steps_per_epoch):
            idx = order[s * batch_size : (s + 1) * batch_size].to(device)
            length = int(lengths[idx].max())  # drop columns that are padding for the whole batch
            batch = tokens[idx, :length]
            with _autocast(device, use_amp):
                with torch.set_grad_enabled(not freeze_encoder):
                    encoded = model.encode(images[idx])
                logits, aux = model.decoder(encoded, batch[:, :-1])
                loss = sequence_loss(logits, batch[:, 1:], vocab.pad_id)
                if attention_reg and "alphas" in aux:
                    mask = (batch[:, 1:] != vocab.pad_id).unsqueeze(-1).to(aux["alphas"].dtype)
                    coverage = (aux["alphas"] * mask).sum(dim=1)
                    loss = loss + attention_reg * ((1.0 - coverage.float()) ** 2).sum(dim=1).mean()
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(trainable, grad_clip)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, grad_clip)
                optimizer.step()
            scheduler.step()
            epoch_losses.append(float(loss.detach()))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{epoch_losses[-1]:.3f}", refresh=False)
        history["step_loss"] += epoch_losses
        history["train_loss"].append(float(np.mean(epoch_losses)))
        if val_tensors is not None:
            history["val_loss"].append(validation_loss(model, *val_tensors, pad_id=vocab.pad_id))
            _train_mode(model, freeze_encoder)
        history["epochs"] = epoch + 1
        history["seconds"] = history.get("seconds", 0.0) + (time.perf_counter() - start)
        start = time.perf_counter()
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimizer, scheduler, scaler, epoch, history, vocab)
    if bar is not None:
        bar.close()
    model.eval()
    return history


@torch.no_grad()
def caption_images(
    model, images, vocab, device=None, beam_size: int = 1, batch_size: int = 256, max_len: int = 20
) -> list[str]:
    """Captions of (N, S, S, 3) numpy images: greedy when ``beam_size`` is 1, else beam search."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    captions = []
    for i in range(0, len(images), batch_size):
        x = images_to_tensor(images[i : i + batch_size], device)
        if beam_size == 1:
            seqs = greedy_decode(model, x, vocab.start_id, vocab.end_id, max_len)
        else:
            seqs = beam_search(model, x, vocab.start_id, vocab.end_id, beam_size, max_len)
        captions += tokens_to_captions(seqs, vocab)
    return captions


def evaluate_captioner(
    model, dataset, vocab, device=None, beam_size: int = 1, max_len: int = 20
) -> dict:
    """Exact match and corpus BLEU-4 on a CaptionDataset, overall and for each difficulty level.

    Returns {"predictions", "exact_match", "bleu",
    "by_level": {level: {"exact_match", "bleu", "n"}}}.
    """
    predictions = caption_images(model, dataset.images, vocab, device, beam_size, max_len=max_len)
    result = {
        "predictions": predictions,
        "exact_match": exact_match(predictions, dataset.captions),
        "bleu": corpus_bleu(predictions, dataset.captions),
        "by_level": {},
    }
    for level in sorted(set(int(v) for v in dataset.levels)):
        idx = np.flatnonzero(dataset.levels == level)
        preds = [predictions[i] for i in idx]
        refs = [dataset.captions[i] for i in idx]
        result["by_level"][level] = {
            "exact_match": exact_match(preds, refs),
            "bleu": corpus_bleu(preds, refs),
            "n": len(idx),
        }
    return result
