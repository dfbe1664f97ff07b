"""One training loop for every numpy model of the course: :func:`fit`.

A model is given as a function ``loss_and_grads(params, *batch) -> (loss, grads)``; ``fit``
draws batches, optionally clips the global gradient norm, and applies Adam (or SGD) to every
parameter. The chapters' loops are this one with a model plugged in:
``rnnlib.train.train`` (a recurrent layer with a head on its last state), ``rnnlib.charlm.fit``
and ``train_charlm`` (the character model) and
``rnnlib.stability.train_last_step_regressor`` (chapter 3's remedies).

One step, in this order::

    batch = sample_batch()
    loss, grads = loss_and_grads(params, *batch)
    norm = ||grads||  (then grads *= max_norm / (norm + eps) when norm > max_norm)
    record loss and norm; stop (or raise) when either is not finite or loss > divergence_loss
    params[name] <- update(params[name], grads[name])      for every name
    callback(step + 1, history)

:func:`blas_threads` limits numpy's BLAS threads for loops over many small products.
"""

import contextlib

import numpy as np

from .optim import adam, clip_grad_norm, global_norm, sgd

__all__ = ["OPTIMIZERS", "fit", "blas_threads"]

#: The update rules ``fit`` accepts, by name.
OPTIMIZERS = {"adam": adam, "sgd": sgd}

_ON_DIVERGENCE = ("stop", "raise")


@contextlib.contextmanager
def blas_threads(limit=1):
    """Limit numpy's BLAS threads inside a ``with`` block, when threadpoolctl is installed.

    Small recurrent models multiply small matrices, one time step after another: threads
    do not speed these products up, and on a busy machine threads that wait for each other
    make them many times slower. ``fit`` uses this; wrap other loops over many small steps
    (gradient-flow measurements, hand-written training loops) in it too::

        with blas_threads(1):
            norms = hidden_gradient_norms(cell, params, x, y, task)

    ``limit=None`` leaves the setting alone. Without threadpoolctl the block runs unchanged.
    """
    if limit is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield


def fit(params, loss_and_grads, sample_batch, num_steps, learning_rate=1e-2, max_norm=None,
        optimizer="adam", in_place=True, on_divergence="stop", divergence_loss=np.inf,
        callback=None, progress=False, description="training", blas_threads=None):
    """Train ``params`` with Adam (or SGD) and optional global gradient-norm clipping.

    Inputs:

    - params: dict of float arrays; the updated values end up in it
    - loss_and_grads: function ``(params, *batch) -> (loss, grads)``, ``grads`` a dict with
      keys of ``params`` (a parameter without a gradient is left alone; a penalty such as
      weight decay can be added to the loss and the gradients there)
    - sample_batch: function of no arguments returning the tuple ``batch``
    - num_steps: number of optimiser steps
    - learning_rate: step size of the update rule
    - max_norm: clipping threshold of the global gradient norm
      (:func:`rnnlib.optim.clip_grad_norm`), or None for no clipping
    - optimizer: ``"adam"`` or ``"sgd"`` (:data:`OPTIMIZERS`)
    - in_place: write the new values into the arrays of ``params`` (True: every reference
      to them sees the update) or put new arrays into the dict (False: arrays the caller
      kept, such as the initial weights, stay as they were)
    - on_divergence: what to do when the loss or the norm is not finite or the loss exceeds
      ``divergence_loss``: ``"stop"`` records the step in ``history["diverged_at"]`` and
      returns, with numpy's overflow warnings silenced (this record replaces them);
      ``"raise"`` raises ``FloatingPointError`` when the loss is not finite
    - divergence_loss: a loss above this counts as diverged (``"stop"`` only)
    - callback: optional ``callback(step, history)`` after every update (``step`` counts
      from 1); a dict it returns is shown on the progress bar
    - progress: show a ``tqdm.auto`` progress bar labelled ``description``
    - blas_threads: number of BLAS threads while training (:func:`blas_threads`), or None to
      leave the setting alone

    Returns:

    - history: dict with the lists ``loss`` and ``grad_norm`` (one entry per step, the norm
      before clipping) and ``diverged_at`` (the step that diverged, else None)
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer is {optimizer!r}; expected one of {tuple(OPTIMIZERS)}")
    if on_divergence not in _ON_DIVERGENCE:
        raise ValueError(f"on_divergence is {on_divergence!r}; expected one of {_ON_DIVERGENCE}")
    if int(num_steps) != num_steps or num_steps < 0:
        raise ValueError(f"num_steps is {num_steps!r}; expected an integer >= 0")
    update = OPTIMIZERS[optimizer]
    configs = {name: {"learning_rate": learning_rate} for name in params}
    history = {"loss": [], "grad_norm": [], "diverged_at": None}
    stop = on_divergence == "stop"
    steps = range(num_steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=description)
    silence = np.errstate(over="ignore", invalid="ignore") if stop else contextlib.nullcontext()
    with _blas_threads(blas_threads), silence:
        for step in steps:
            loss, grads = loss_and_grads(params, *sample_batch())
            loss = float(loss)
            if not stop and not np.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss} at step {step}; lower the learning rate")
            norm = global_norm(grads) if max_norm is None else clip_grad_norm(grads, max_norm)
            history["loss"].append(loss)
            history["grad_norm"].append(norm)
            if stop and not (np.isfinite(loss) and np.isfinite(norm) and loss <= divergence_loss):
                history["diverged_at"] = step
                break
            unknown = grads.keys() - params.keys()
            if unknown:
                raise ValueError(f"grads has the keys {sorted(unknown)}, which are not parameters; "
                                 f"expected keys among {list(params)}")
            for name in params:
                if name not in grads:
                    continue
                new_value, configs[name] = update(params[name], grads[name], configs[name])
                if in_place:
                    params[name][...] = new_value
                else:
                    params[name] = new_value
            if callback is not None:
                postfix = callback(step + 1, history)
                if progress and isinstance(postfix, dict):
                    steps.set_postfix(postfix)
    if progress:
        steps.close()
    return history


_blas_threads = blas_threads
