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

The cells come from :mod:`rnnlib.cells` and the loop from :mod:`rnnlib.training`
(``CELLS`` and ``blas_threads`` are re-exported here).
"""

import numpy as np

from .cells import CELLS, get_cell
from .init import init_rnn_params
from .layers import log_softmax, sigmoid
from .training import blas_threads, fit

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

TASKS = ("regression", "classification")


def _check_cell(cell):
    return get_cell(cell)


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
    spec = _check_cell(cell)
    x = np.asarray(x, dtype=params["Wx"].dtype)
    if x.ndim != 3:
        raise ValueError(f"x has shape {x.shape}; expected (N, T, D)")
    H = params["Wh"].shape[0]
    h0 = np.zeros((x.shape[0], H), dtype=x.dtype)
    return spec.forward(x, h0, params["Wx"], params["Wh"], params["b"])


def recurrent_backward(cell, dh, cache):
    """Backward pass of :func:`recurrent_forward`: returns ``(dx, dh0, dWx, dWh, db)``."""
    return _check_cell(cell).backward(dh, cache)


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

    This is :func:`rnnlib.training.fit` with the loss of :func:`many_to_one_loss`. Each
    step draws a batch ``(x, y) = sample_batch()``, computes the loss and gradients
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
    evaluations = {"eval_step": [], "eval": []}

    def evaluate_now(step, history):
        if eval_data is not None and (step % eval_every == 0 or step == num_steps):
            evaluations["eval_step"].append(step)
            evaluations["eval"].append(evaluate(cell, params, *eval_data, task))
            return {"eval_loss": f"{evaluations['eval'][-1]['loss']:.4f}"}
        return None

    history = fit(params, lambda params, x, y: many_to_one_loss(cell, params, x, y, task),
                  sample_batch, num_steps, learning_rate=learning_rate, max_norm=max_norm,
                  optimizer=optimizer, in_place=False, callback=evaluate_now, progress=progress,
                  description=description or cell, blas_threads=blas_threads)
    return {"loss": history["loss"], "grad_norm": history["grad_norm"], **evaluations,
            "diverged_at": history["diverged_at"]}


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
    spec = _check_cell(cell)
    _check_task(task)
    x = np.asarray(x, dtype=params["Wx"].dtype)
    N, T, _ = x.shape
    Wx, Wh, b = params["Wx"], params["Wh"], params["b"]
    H = Wh.shape[0]
    h = np.zeros((N, H), dtype=x.dtype)
    c = np.zeros_like(h)
    caches, cells, outputs = [], [], []
    for t in range(T):
        if not spec.has_cell_state:
            h, cache = spec.step_forward(x[:, t], h, Wx, Wh, b)
        else:
            h_prev = h
            h, c, cache = spec.step_forward(x[:, t], h_prev, c, Wx, Wh, b)
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
        if not spec.has_cell_state:
            dh = spec.step_backward(dh, caches[t])[1]
        else:
            tanh_c = np.tanh(cells[t])
            dc_total = dc + dh * outputs[t] * (1 - tanh_c ** 2)
            c_norms[t] = np.mean(np.linalg.norm(dc_total, axis=1))
            _, dh, dc = spec.step_backward(dh, dc, caches[t])[:3]
    norms = {"h": h_norms}
    if spec.has_cell_state:
        norms["c"] = c_norms
    return norms
