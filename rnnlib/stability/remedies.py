"""Remedies for vanishing and exploding gradients: leaky units and skip connections through time.

Row-vector convention of rnnlib (``x`` (N, T, D), ``h0`` (N, H), ``Wx`` (D, H), ``Wh`` (H, H),
``b`` (H,)). Both layers are rnnlib-style forward/backward pairs, built on the activation
table of :mod:`rnnlib.activations` and the argument checks of the vanilla RNN;
:func:`train_last_step_regressor` trains any such pair with a linear readout of the last state.
"""

import numpy as np

from .._checks import check_recurrent_args, check_shape, float_dtype
from ..activations import apply, check_activation, derivative_from_output
from ..training import fit

__all__ = ["leaky_rnn_forward", "leaky_rnn_backward", "skip_rnn_forward", "skip_rnn_backward",
           "train_last_step_regressor"]


def leaky_rnn_forward(x, h0, Wx, Wh, b, alpha, activation="tanh"):
    """Forward pass of an RNN of leaky units with time constants ``tau = 1 / alpha``.

    ``h_t = (1 - alpha) * h_{t-1} + alpha * f(x_t Wx + h_{t-1} Wh + b)`` (row-vector
    convention, elementwise products). With ``alpha = 1`` this is the vanilla RNN. The
    Jacobian is ``dh_t / dh_{t-1} = (1 - alpha) I + alpha D_t Wh^T``: for small ``alpha``
    it stays close to the identity, so a unit forgets over about ``tau`` steps instead of
    at the rate set by ``Wh``.

    Inputs:

    - x: (N, T, D); h0: (N, H); Wx: (D, H); Wh: (H, H); b: (H,).
    - alpha: scalar or (H,) array with values in (0, 1], one leak rate per unit.
    - activation: ``"tanh"``, ``"sigmoid"``, ``"relu"``, ``"elu"`` or ``"identity"``.

    Returns a tuple of:

    - h: (N, T, H) hidden states.
    - cache: what ``leaky_rnn_backward`` needs.
    """
    check_activation(activation)
    x, h0, Wx, Wh, b = check_recurrent_args(x, h0, Wx, Wh, b, 1, True, "h0")
    N, T, D = x.shape
    H = h0.shape[1]
    dtype = x.dtype
    alpha = np.asarray(alpha, dtype=dtype)
    if alpha.shape not in ((), (H,)):
        raise ValueError(f"alpha has shape {alpha.shape}; expected a scalar or (H,) = ({H},)")
    if np.any(alpha <= 0) or np.any(alpha > 1):
        raise ValueError("alpha must lie in (0, 1]")
    drive = (x.reshape(N * T, D) @ Wx).reshape(N, T, H) + b
    h = np.empty((N, T, H), dtype)
    u = np.empty((N, T, H), dtype)  # f(a_t), kept for the backward pass
    h_prev = h0
    for t in range(T):
        u[:, t] = apply(activation, drive[:, t] + h_prev @ Wh)
        h_prev = h[:, t] = (1 - alpha) * h_prev + alpha * u[:, t]
    return h, (x, h0, Wx, Wh, h, u, alpha, activation)


def leaky_rnn_backward(dh, cache):
    """Backward pass of ``leaky_rnn_forward``.

    Walking time in reverse with ``g_t = dh[:, t] + (gradient from step t+1)``:
    ``da_t = g_t * alpha * f'(a_t)``, ``dh_{t-1} += g_t * (1 - alpha) + da_t Wh^T``.

    Inputs:

    - dh: (N, T, H) upstream gradient of every ``h_t``.
    - cache: from ``leaky_rnn_forward``.

    Returns a tuple ``(dx, dh0, dWx, dWh, db)`` with the shapes of ``x, h0, Wx, Wh, b``.
    """
    x, h0, Wx, Wh, h, u, alpha, activation = cache
    N, T, H = h.shape
    dh = np.asarray(dh, dtype=h.dtype)
    check_shape("dh", dh, ("N", "T", "H"), (N, T, H), "N, T, H = h.shape")
    fprime = derivative_from_output(activation, u)
    da = np.empty_like(h)
    g_next = np.zeros((N, H), h.dtype)
    for t in range(T - 1, -1, -1):
        g = dh[:, t] + g_next
        da[:, t] = g * alpha * fprime[:, t]
        g_next = g * (1 - alpha) + da[:, t] @ Wh.T
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    return _weight_grads(x, Wx, Wh, da, h_prev, g_next)


def skip_rnn_forward(x, h0, Wx, Wh, Ws, b, skip, activation="tanh"):
    """Forward pass of an RNN with a skip connection through time of length ``skip``.

    ``h_t = f(x_t Wx + h_{t-1} Wh + h_{t-s} Ws + b)`` with ``s = skip`` (row-vector
    convention); every state before the sequence starts (``h_k`` for ``k < 0``) is ``h0``.
    A gradient from step ``T`` reaches step ``t`` through only about ``(T - t) / s``
    Jacobian factors along the skip path instead of ``T - t``.

    Inputs:

    - x: (N, T, D); h0: (N, H); Wx: (D, H); Wh: (H, H); Ws: (H, H) skip weights; b: (H,).
    - skip: integer ``s >= 1``.
    - activation: ``"tanh"``, ``"sigmoid"``, ``"relu"``, ``"elu"`` or ``"identity"``.

    Returns a tuple of:

    - h: (N, T, H) hidden states.
    - cache: what ``skip_rnn_backward`` needs.
    """
    check_activation(activation)
    dtype = float_dtype(x, h0, Wx, Wh, Ws, b)
    x, h0, Wx, Wh, b = check_recurrent_args(x, h0, Wx, Wh, b, 1, True, "h0", dtype=dtype)
    Ws = np.asarray(Ws, dtype)
    N, T, D = x.shape
    H = h0.shape[1]
    check_shape("Ws", Ws, ("H", "H"), (H, H), "H = h0.shape[1]")
    if int(skip) != skip or skip < 1:
        raise ValueError(f"skip is {skip!r}; expected an integer >= 1")
    skip = int(skip)
    drive = (x.reshape(N * T, D) @ Wx).reshape(N, T, H) + b
    h = np.empty((N, T, H), dtype)
    for t in range(T):
        h_prev = h[:, t - 1] if t >= 1 else h0
        h_skip = h[:, t - skip] if t >= skip else h0
        h[:, t] = apply(activation, drive[:, t] + h_prev @ Wh + h_skip @ Ws)
    return h, (x, h0, Wx, Wh, Ws, h, skip, activation)


def skip_rnn_backward(dh, cache):
    """Backward pass of ``skip_rnn_forward``.

    In reverse time, ``da_t = (dh[:, t] + carried_t) * f'(a_t)``; then ``da_t Wh^T`` is carried
    to step ``t-1`` and ``da_t Ws^T`` to step ``t-s`` (to ``h0`` when that step is before 0).

    Inputs:

    - dh: (N, T, H) upstream gradient of every ``h_t``.
    - cache: from ``skip_rnn_forward``.

    Returns a tuple ``(dx, dh0, dWx, dWh, dWs, db)`` with the shapes of the inputs.
    """
    x, h0, Wx, Wh, Ws, h, skip, activation = cache
    N, T, H = h.shape
    dh = np.asarray(dh, dtype=h.dtype)
    check_shape("dh", dh, ("N", "T", "H"), (N, T, H), "N, T, H = h.shape")
    fprime = derivative_from_output(activation, h)
    carried = np.zeros((N, T, H), h.dtype)
    dh0 = np.zeros((N, H), h.dtype)
    da = np.empty_like(h)
    for t in range(T - 1, -1, -1):
        da[:, t] = (dh[:, t] + carried[:, t]) * fprime[:, t]
        to_prev, to_skip = da[:, t] @ Wh.T, da[:, t] @ Ws.T
        if t >= 1:
            carried[:, t - 1] += to_prev
        else:
            dh0 += to_prev
        if t >= skip:
            carried[:, t - skip] += to_skip
        else:
            dh0 += to_skip
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    before_start = np.repeat(h0[:, None], min(skip, T), axis=1)  # h_{t-s} = h0 for t < s
    h_skip = np.concatenate([before_start, h[:, : max(T - skip, 0)]], axis=1)
    dx, _, dWx, dWh, db = _weight_grads(x, Wx, Wh, da, h_prev, dh0)
    dWs = h_skip.reshape(N * T, H).T @ da.reshape(N * T, H)
    return dx, dh0, dWx, dWh, dWs, db


def _weight_grads(x, Wx, Wh, da, h_prev, dh0):
    """Gradients of the input projection and recurrent weights from the stacked ``da``."""
    N, T, D = x.shape
    H = Wh.shape[0]
    da2 = da.reshape(N * T, H)
    dx = (da2 @ Wx.T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ da2
    dWh = h_prev.reshape(N * T, H).T @ da2
    db = da2.sum(axis=0)
    return dx, dh0, dWx, dWh, db


def train_last_step_regressor(forward, backward, params, sample_batch, num_steps,
                              learning_rate=3e-3, max_norm=None, weight_decay=0.0,
                              divergence_loss=np.inf, blas_threads=1):
    """Train a recurrent layer with a linear readout of its last state, with Adam.

    This is :func:`rnnlib.training.fit` with the loss below. The prediction is
    ``y_hat = h_{T-1} Wy + by`` and the loss the mean squared error
    ``L = mean_n (y_hat_n - y_n)^2``. The recurrent layer is any forward/backward pair in the
    rnnlib style, so the same loop trains a vanilla RNN, leaky units or a skip RNN. Options
    for the remedies of chapter 3:

    - ``max_norm``: clip the global gradient norm to this value (``rnnlib.clip_grad_norm``);
    - ``weight_decay``: add the L2 penalty ``(weight_decay / 2) ||Wh||_F^2`` to the loss.

    Training stops early when the loss or the gradient stops being finite, or the loss exceeds
    ``divergence_loss`` (infinite by default: a clipped run may recover from a huge loss), and
    marks the run as diverged; floating-point overflow warnings are silenced.

    Inputs:

    - forward: ``forward(x, params) -> (h, cache)`` with ``h`` (N, T, H).
    - backward: ``backward(dh, cache) -> dict`` of gradients of the recurrent parameters.
    - params: dict with the recurrent parameters (including ``"Wh"``) and ``"Wy"`` (H, 1),
      ``"by"`` (1,); updated in place.
    - sample_batch: function of no arguments returning ``(x, y)`` with ``y`` of shape (N,).
    - num_steps, learning_rate: the Adam loop.
    - blas_threads: number of BLAS threads while training (``rnnlib.training.blas_threads``;
      the matrices are small, and on a busy machine waiting threads slow every step down).

    Returns:

    - history: dict of lists ``loss`` (data loss per step), ``grad_norm`` (global norm before
      clipping) and the flag ``diverged``.
    """
    def loss_and_grads(params, x, y):
        h, cache = forward(x, params)
        last = h[:, -1]
        error = (last @ params["Wy"] + params["by"])[:, 0] - y
        loss = float(np.mean(error**2))
        dpred = (2 * error / error.shape[0])[:, None]
        grads = {"Wy": last.T @ dpred, "by": dpred.sum(axis=0)}
        dh = np.zeros_like(h)
        dh[:, -1] = dpred @ params["Wy"].T
        grads.update(backward(dh, cache))
        if weight_decay:
            grads["Wh"] = grads["Wh"] + weight_decay * params["Wh"]
        return loss, grads

    history = fit(params, loss_and_grads, sample_batch, num_steps, learning_rate=learning_rate,
                  max_norm=max_norm, in_place=False, divergence_loss=divergence_loss,
                  blas_threads=blas_threads)
    return {"loss": history["loss"], "grad_norm": history["grad_norm"],
            "diverged": history["diverged_at"] is not None}
