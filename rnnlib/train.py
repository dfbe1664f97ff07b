"""Small numpy training helpers for many-to-one sequence models built from rnnlib.

A model is a recurrent layer (``"rnn"``, ``"lstm"`` or ``"gru"``) followed by an affine
head on the last hidden state::

    h = recurrent_forward(x)                 x (N, T, D) -> h (N, T, H), h0 = 0
    s = h_T Wy + by                          s (N, M)

and one of two losses, both averaged over the batch:

- ``"regression"`` (M = 1): ``L = mean_n (s_n - y_n)^2``, the mean squared error;
- ``"classification"`` (M classes): ``L = -mean_n log softmax(s_n)[y_n]``.

The parameters live in one dict ``{"Wx", "Wh", "b", "Wy", "by"}`` with the shapes of the
rnnlib contract (``Wx`` (D, kH), ``Wh`` (H, kH), ``b`` (kH,), k = 1, 4, 3 for rnn, lstm,
gru; ``Wy`` (H, M), ``by`` (M,)). ``train`` runs Adam (or SGD) with global gradient-norm clipping,
and ``hidden_gradient_norms`` records how large ``dL/dh_t`` (and ``dL/dc_t`` for the LSTM)
is at every step, walking time backwards with the step functions.
"""

import contextlib

import numpy as np

from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .init import init_rnn_params
from .layers import log_softmax, sigmoid
from .lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .optim import adam, clip_grad_norm, sgd
from .rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward

__all__ = [
    "CELLS",
    "TASKS",
    "init_sequence_model",
    "recurrent_forward",
    "recurrent_backward",
    "many_to_one_loss",
    "predict",
    "evaluate",
    "train",
    "hidden_gradient_norms",
    "blas_threads",
]

CELLS = ("rnn", "lstm", "gru")
TASKS = ("regression", "classification")

_FORWARD = {"rnn": rnn_forward, "lstm": lstm_forward, "gru": gru_forward}
_BACKWARD = {"rnn": rnn_backward, "lstm": lstm_backward, "gru": gru_backward}


def _check_cell(cell):
    if cell not in CELLS:
        raise ValueError(f"cell is {cell!r}; expected one of {CELLS}")


def _check_task(task):
    if task not in TASKS:
        raise ValueError(f"task is {task!r}; expected one of {TASKS}")


def init_sequence_model(cell, D, H, M, rng, dtype=np.float64, **init_kwargs):
    """Parameters of a recurrent layer plus an affine head, as one dict.

    The recurrent weights come from ``rnnlib.init_rnn_params(D, H, rng, kind=cell)``
    (extra keyword arguments, such as the LSTM forget-gate bias, are passed on); the head
    ``Wy`` (H, M) is Glorot-uniform and ``by`` (M,) is zero.

    Inputs:

    - cell: ``"rnn"``, ``"lstm"`` or ``"gru"``
    - D, H, M: input size, hidden size, output size (M = 1 for regression)
    - rng: numpy Generator
    - dtype: float dtype of every parameter

    Returns:

    - params: dict with keys ``Wx``, ``Wh``, ``b``, ``Wy``, ``by``
    """
    _check_cell(cell)
    params = dict(init_rnn_params(D, H, rng, kind=cell, **init_kwargs))
    limit = np.sqrt(6.0 / (H + M))
    params["Wy"] = rng.uniform(-limit, limit, size=(H, M))
    params["by"] = np.zeros(M)
    return {name: np.asarray(value, dtype=dtype) for name, value in params.items()}


def recurrent_forward(cell, x, params):
    """Run the recurrent layer of ``params`` over ``x`` (N, T, D) from ``h0 = 0``.

    Returns ``(h, cache)`` with ``h`` of shape (N, T, H).
    """
    _check_cell(cell)
    x = np.asarray(x, dtype=params["Wx"].dtype)
    if x.ndim != 3:
        raise ValueError(f"x has shape {x.shape}; expected (N, T, D)")
    H = params["Wh"].shape[0]
    h0 = np.zeros((x.shape[0], H), dtype=x.dtype)
    return _FORWARD[cell](x, h0, params["Wx"], params["Wh"], params["b"])


def recurrent_backward(cell, dh, cache):
    """Backward pass of :func:`recurrent_forward`: returns ``(dx, dh0, dWx, dWh, db)``."""
    _check_cell(cell)
    return _BACKWARD[cell](dh, cache)[:5]


def _head_loss(scores, y, task):
    """Loss of the head scores (N, M) and its gradient with respect to the scores."""
    N = scores.shape[0]
    if task == "regression":
        if scores.shape[1] != 1:
            raise ValueError(f"regression needs M = 1 output; the head gives M = {scores.shape[1]}")
        y = np.asarray(y, dtype=scores.dtype).reshape(N)
        residual = scores[:, 0] - y
        loss = np.mean(residual ** 2)
        dscores = (2.0 / N) * residual[:, None]
        return loss, dscores.astype(scores.dtype)
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"classification needs integer labels y; got dtype {y.dtype}")
    logp = log_softmax(scores, axis=1)
    loss = -np.mean(logp[np.arange(N), y])
    dscores = np.exp(logp)
    dscores[np.arange(N), y] -= 1.0
    dscores /= N
    return loss, dscores


def many_to_one_loss(cell, params, x, y, task):
    """Loss of the many-to-one model and the gradient of every parameter.

    Inputs:

    - cell: ``"rnn"``, ``"lstm"`` or ``"gru"``
    - params: dict from :func:`init_sequence_model`
    - x: (N, T, D) inputs
    - y: (N,) float targets (regression) or integer labels (classification)
    - task: ``"regression"`` or ``"classification"``

    Returns a tuple of:

    - loss: float, averaged over the batch
    - grads: dict with the same keys and shapes as ``params``
    """
    _check_task(task)
    h, cache = recurrent_forward(cell, x, params)
    h_last = h[:, -1]
    scores = h_last @ params["Wy"] + params["by"]
    loss, dscores = _head_loss(scores, y, task)
    dh = np.zeros_like(h)
    dh[:, -1] = dscores @ params["Wy"].T
    _, _, dWx, dWh, db = recurrent_backward(cell, dh, cache)
    grads = {
        "Wx": dWx,
        "Wh": dWh,
        "b": db,
        "Wy": h_last.T @ dscores,
        "by": dscores.sum(axis=0),
    }
    return float(loss), grads


def predict(cell, params, x):
    """Head scores (N, M) of the model on ``x``: regression outputs or class scores."""
    h, _ = recurrent_forward(cell, x, params)
    return h[:, -1] @ params["Wy"] + params["by"]


def evaluate(cell, params, x, y, task, batch_size=1000):
    """Loss (and accuracy for classification) on a fixed data set, in batches.

    Returns a dict: ``{"loss": ...}`` for regression (the mean squared error) and
    ``{"loss": ..., "accuracy": ...}`` for classification.
    """
    _check_task(task)
    N = len(y)
    total_loss = 0.0
    correct = 0
    for start in range(0, N, batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        scores = predict(cell, params, xb)
        loss, _ = _head_loss(scores, yb, task)
        total_loss += float(loss) * len(yb)
        if task == "classification":
            correct += int(np.sum(np.argmax(scores, axis=1) == yb))
    result = {"loss": total_loss / N}
    if task == "classification":
        result["accuracy"] = correct / N
    return result


def train(cell, params, sample_batch, task, num_steps, learning_rate=1e-2, max_norm=1.0,
          optimizer="adam", eval_data=None, eval_every=100, progress=True, description=None,
          blas_threads=1):
    """Train ``params`` in place with Adam (or SGD) and global gradient-norm clipping.

    Each step draws a batch ``(x, y) = sample_batch()``, computes the loss and gradients
    with :func:`many_to_one_loss`, rescales the gradients so that their global norm is at
    most ``max_norm`` (``rnnlib.clip_grad_norm``; ``max_norm=None`` turns clipping off)
    and applies ``rnnlib.adam`` (or ``rnnlib.sgd``) to every parameter. A run whose loss
    or gradient stops being finite is stopped, and the step is recorded in the history
    as ``diverged_at`` (numpy's overflow warnings are silenced inside the loop because
    this record replaces them).

    Inputs:

    - cell, task: as in :func:`many_to_one_loss`
    - params: dict of parameters; its arrays are replaced by the updated ones
    - sample_batch: function of no arguments returning a fresh batch ``(x, y)``
    - num_steps: number of optimiser steps
    - learning_rate: step size
    - max_norm: clipping threshold of the global gradient norm, or None
    - optimizer: ``"adam"`` or ``"sgd"`` (plain gradient descent)
    - eval_data: optional ``(x, y)`` evaluated with :func:`evaluate` every ``eval_every``
      steps and after the last step
    - progress: show a ``tqdm.auto`` progress bar
    - description: label of the progress bar (default: the cell name)
    - blas_threads: number of BLAS threads while training (needs ``threadpoolctl``; None
      leaves the setting alone). The matrices of small recurrent models are too small
      to gain from threads, and on a busy machine threads waiting for each other make a
      step many times slower, hence the default of 1.

    Returns:

    - history: dict with the lists ``loss`` and ``grad_norm`` (one entry per step, the
      norm before clipping), ``eval_step`` and ``eval`` (dicts from :func:`evaluate`),
      and ``diverged_at`` (the step whose loss or gradient was not finite, else None)
    """
    _check_cell(cell)
    _check_task(task)
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer is {optimizer!r}; expected one of {tuple(_OPTIMIZERS)}")
    update = _OPTIMIZERS[optimizer]
    configs = {name: {"learning_rate": learning_rate} for name in params}
    history = {"loss": [], "grad_norm": [], "eval_step": [], "eval": [], "diverged_at": None}
    steps = range(num_steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=description or cell)
    with _limit_threads(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        for step in steps:
            x, y = sample_batch()
            loss, grads = many_to_one_loss(cell, params, x, y, task)
            if max_norm is not None:
                norm = clip_grad_norm(grads, max_norm)
            else:
                norm = _global_norm(grads)
            history["loss"].append(loss)
            history["grad_norm"].append(float(norm))
            if not (np.isfinite(loss) and np.isfinite(norm)):
                history["diverged_at"] = step
                break
            for name in params:
                params[name], configs[name] = update(params[name], grads[name], configs[name])
            last = step == num_steps - 1
            if eval_data is not None and ((step + 1) % eval_every == 0 or last):
                history["eval_step"].append(step + 1)
                history["eval"].append(evaluate(cell, params, *eval_data, task))
                if progress:
                    steps.set_postfix(eval_loss=f"{history['eval'][-1]['loss']:.4f}")
    if progress:
        steps.close()
    return history


_OPTIMIZERS = {"adam": adam, "sgd": sgd}


@contextlib.contextmanager
def blas_threads(limit=1):
    """Limit numpy's BLAS threads inside a ``with`` block, when threadpoolctl is installed.

    Small recurrent models multiply small matrices, one time step after another: threads
    do not speed these products up, and on a busy machine threads that wait for each other
    make them many times slower. ``train`` uses this by default; wrap other loops over
    many small steps (gradient-flow measurements, hand-written training loops) in it too::

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


_limit_threads = blas_threads


def _global_norm(grads):
    return float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values())))


def hidden_gradient_norms(cell, params, x, y, task):
    """How large the gradient of the loss with respect to each hidden state is.

    The many-to-one loss reads only ``h_T``; its gradient reaches earlier states only
    through the recurrence. This walks time backwards with the step functions
    (``rnn_step_backward``, ``lstm_step_backward``, ``gru_step_backward``) and records, for
    every step t, the total derivative ``dL/dh_t`` (all paths from the loss to h_t), and for
    the LSTM also the total derivative ``dL/dc_t``, which adds to the cell path the path
    through ``h_t = o_t * tanh(c_t)``::

        dL/dc_t = dc_t(from step t + 1) + dL/dh_t * o_t * (1 - tanh(c_t)^2)

    The loss is the per-sequence loss (not divided by N), so each row is the gradient of
    one sequence's loss; the norm is taken per sequence and averaged over the batch.

    Inputs: as in :func:`many_to_one_loss`.

    Returns:

    - norms: dict with ``"h"``, an array (T,) of mean ``||dL/dh_t||``, and for the LSTM
      ``"c"``, an array (T,) of mean ``||dL/dc_t||``
    """
    _check_cell(cell)
    _check_task(task)
    x = np.asarray(x, dtype=params["Wx"].dtype)
    N, T, _ = x.shape
    Wx, Wh, b = params["Wx"], params["Wh"], params["b"]
    H = Wh.shape[0]
    h = np.zeros((N, H), dtype=x.dtype)
    c = np.zeros_like(h)
    caches, cells, outputs = [], [], []
    for t in range(T):
        if cell == "rnn":
            h, cache = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        elif cell == "gru":
            h, cache = gru_step_forward(x[:, t], h, Wx, Wh, b)
        else:
            h_prev = h
            h, c, cache = lstm_step_forward(x[:, t], h_prev, c, Wx, Wh, b)
            # o_t recomputed from the step's inputs, for the path from c_t through h_t
            a_o = x[:, t] @ Wx[:, 3 * H:] + h_prev @ Wh[:, 3 * H:] + b[3 * H:]
            outputs.append(sigmoid(a_o))
            cells.append(c)
        caches.append(cache)
    scores = h @ params["Wy"] + params["by"]
    _, dscores = _head_loss(scores, y, task)
    dh = (dscores * N) @ params["Wy"].T  # per-sequence loss
    dc = np.zeros_like(dh)
    h_norms = np.zeros(T)
    c_norms = np.zeros(T)
    for t in reversed(range(T)):
        h_norms[t] = np.mean(np.linalg.norm(dh, axis=1))
        if cell == "rnn":
            dh = rnn_step_backward(dh, caches[t])[1]
        elif cell == "gru":
            dh = gru_step_backward(dh, caches[t])[1]
        else:
            tanh_c = np.tanh(cells[t])
            dc_total = dc + dh * outputs[t] * (1 - tanh_c ** 2)
            c_norms[t] = np.mean(np.linalg.norm(dc_total, axis=1))
            _, dh, dc = lstm_step_backward(dh, dc, caches[t])[:3]
    norms = {"h": h_norms}
    if cell == "lstm":
        norms["c"] = c_norms
    return norms
