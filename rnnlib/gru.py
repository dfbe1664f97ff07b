"""Gated recurrent unit (GRU): one step and a whole sequence, forward and backward.

The lecture's form (Cho et al., 2014), row vectors, batch-first, gate blocks ordered
(r, z, n) in ``Wx`` (D, 3H), ``Wh`` (H, 3H) and ``b`` (3H,): the reset gate in
columns ``0:H``, the update gate in ``H:2H`` and the candidate in ``2H:3H``::

    r = sigma(x Wx_r + h_prev Wh_r + b_r)
    z = sigma(x Wx_z + h_prev Wh_z + b_z)
    n = tanh(x Wx_n + (r * h_prev) Wh_n + b_n)      (reset applied before the matmul)
    h = (1 - z) * h_prev + z * n

Differences from ``torch.nn.GRU``, which uses the same block order (r, z, n):

- torch keeps the old state where ``z`` is 1: ``h = (1 - z) * n + z * h_prev``, so its
  ``z`` is our ``1 - z`` (negate the z pre-activation weights and bias to convert);
- torch applies the reset gate after the matmul and to the hidden bias:
  ``n = tanh(x W_in + b_in + r * (h_prev W_hn + b_hn))``. This form cannot be converted
  exactly into ours; the two are different models with the same gates.
"""

import numpy as np

from ._checks import check_recurrent_args, check_shape
from .layers import sigmoid

__all__ = [
    "gru_step_forward",
    "gru_step_backward",
    "gru_forward",
    "gru_backward",
]


def _cell_forward(gates, h_prev, Wh, h):
    """Finish one GRU step.

    ``gates`` (N, 3H) holds the input projection ``x Wx + b`` on entry and the gate
    values (r, z, n) on exit; ``h`` (N, H) is written in place.
    """
    H = h_prev.shape[1]
    rz = gates[:, :2 * H]
    rz += h_prev @ Wh[:, :2 * H]
    sigmoid(rz, out=rz)
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    n += (r * h_prev) @ Wh[:, 2 * H:]
    np.tanh(n, out=n)
    np.multiply(1 - z, h_prev, out=h)
    h += z * n


def _cell_backward(dh, gates, h_prev, Wh, da):
    """Backward pass of one GRU step.

    Writes the gradient of the pre-activations ``[da_r, da_z, da_n]`` into ``da``
    (N, 3H) and returns the gradient of ``h_prev``.
    """
    H = h_prev.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    da_r, da_z, da_n = da[:, :H], da[:, H:2 * H], da[:, 2 * H:]
    # h = (1 - z) * h_prev + z * n
    np.multiply(dh, z, out=da_n)
    da_n *= 1 - n * n
    np.subtract(n, h_prev, out=da_z)
    da_z *= dh
    da_z *= z * (1 - z)
    dh_prev = dh * (1 - z)
    # n = tanh(... + (r * h_prev) Wh_n + ...)
    d_reset_h = da_n @ Wh[:, 2 * H:].T
    np.multiply(d_reset_h, h_prev, out=da_r)
    da_r *= r * (1 - r)
    d_reset_h *= r
    dh_prev += d_reset_h
    dh_prev += da[:, :2 * H] @ Wh[:, :2 * H].T
    return dh_prev


def _weight_grads(x, h_prev, gates, da, H):
    """dWx, dWh, db from inputs and pre-activation gradients with any leading axes."""
    D = x.shape[-1]
    x2 = x.reshape(-1, D)
    h2 = h_prev.reshape(-1, H)
    g2 = gates.reshape(-1, 3 * H)
    da2 = da.reshape(-1, 3 * H)
    dWh = np.empty((H, 3 * H), dtype=da.dtype)
    dWh[:, :2 * H] = h2.T @ da2[:, :2 * H]
    dWh[:, 2 * H:] = (g2[:, :H] * h2).T @ da2[:, 2 * H:]
    return x2.T @ da2, dWh, da2.sum(axis=0)


def gru_step_forward(x, h_prev, Wx, Wh, b):
    """One time step of a GRU (lecture form, reset before the matmul).

    Equations (row vectors, gate blocks ordered r, z, n)::

        r = sigma(x Wx_r + h_prev Wh_r + b_r)
        z = sigma(x Wx_z + h_prev Wh_z + b_z)
        n = tanh(x Wx_n + (r * h_prev) Wh_n + b_n)
        h = (1 - z) * h_prev + z * n

    Inputs:

    - x: (N, D) input at this step.
    - h_prev: (N, H) previous hidden state.
    - Wx: (D, 3H) input-to-hidden weights.
    - Wh: (H, 3H) hidden-to-hidden weights.
    - b: (3H,) bias.

    Returns a tuple of:

    - h: (N, H) new hidden state.
    - cache: ``(x, h_prev, Wx, Wh, gates)`` for :func:`gru_step_backward`.
    """
    x, h_prev, Wx, Wh, b = check_recurrent_args(x, h_prev, Wx, Wh, b, 3, False, "h_prev")
    gates = x @ Wx
    gates += b
    h = np.empty_like(h_prev)
    _cell_forward(gates, h_prev, Wh, h)
    return h, (x, h_prev, Wx, Wh, gates)


def gru_step_backward(dh, cache):
    """Backward pass of one GRU step.

    Equations, with ``da_*`` the gradients of the pre-activations::

        da_n = dh * z * (1 - n**2)
        da_z = dh * (n - h_prev) * z * (1 - z)
        da_r = ((da_n Wh_n^T) * h_prev) * r * (1 - r)
        dh_prev = dh * (1 - z) + (da_n Wh_n^T) * r + [da_r, da_z] [Wh_r, Wh_z]^T

    and ``dx = da Wx^T``, ``dWx = x^T da``, ``dWh_rz = h_prev^T [da_r, da_z]``,
    ``dWh_n = (r * h_prev)^T da_n``, ``db = sum da``.

    Inputs:

    - dh: (N, H) upstream gradient of the new hidden state.
    - cache: what :func:`gru_step_forward` returned.

    Returns a tuple of:

    - dx: (N, D)
    - dh_prev: (N, H)
    - dWx: (D, 3H)
    - dWh: (H, 3H)
    - db: (3H,)
    """
    x, h_prev, Wx, Wh, gates = cache
    dh = np.asarray(dh, dtype=gates.dtype)
    check_shape("dh", dh, ("N", "H"), h_prev.shape, "(N, H) = h.shape of the forward pass")
    H = h_prev.shape[1]
    da = np.empty_like(gates)
    dh_prev = _cell_backward(dh, gates, h_prev, Wh, da)
    dWx, dWh, db = _weight_grads(x, h_prev, gates, da, H)
    return da @ Wx.T, dh_prev, dWx, dWh, db


def gru_forward(x, h0, Wx, Wh, b):
    """Run a GRU over a whole sequence.

    Each step follows :func:`gru_step_forward`; the input projection ``x_t Wx + b`` of
    all time steps is one matmul before the loop.

    Inputs:

    - x: (N, T, D) input sequence.
    - h0: (N, H) initial hidden state.
    - Wx: (D, 3H) input-to-hidden weights.
    - Wh: (H, 3H) hidden-to-hidden weights.
    - b: (3H,) bias.

    Returns a tuple of:

    - h: (N, T, H) hidden states of all time steps.
    - cache: everything :func:`gru_backward` needs.
    """
    x, h0, Wx, Wh, b = check_recurrent_args(x, h0, Wx, Wh, b, 3, True, "h0")
    N, T, D = x.shape
    H = h0.shape[1]
    gates = (x.reshape(N * T, D) @ Wx).reshape(N, T, 3 * H)
    gates += b
    h = np.empty((N, T, H), dtype=x.dtype)
    h_prev = h0
    for t in range(T):
        _cell_forward(gates[:, t], h_prev, Wh, h[:, t])
        h_prev = h[:, t]
    return h, (x, h0, Wx, Wh, gates, h)


def gru_backward(dh, cache):
    """Backpropagation through time for :func:`gru_forward`.

    Walking time backwards, step ``t`` receives ``dh[:, t]`` plus the gradient flowing
    back from step ``t + 1`` and applies :func:`gru_step_backward`; the weight gradients
    are accumulated with one matmul per block after the loop.

    Inputs:

    - dh: (N, T, H) upstream gradient of every hidden state.
    - cache: what :func:`gru_forward` returned.

    Returns a tuple of:

    - dx: (N, T, D)
    - dh0: (N, H)
    - dWx: (D, 3H)
    - dWh: (H, 3H)
    - db: (3H,)
    """
    x, h0, Wx, Wh, gates, h = cache
    N, T, D = x.shape
    H = h0.shape[1]
    dh = np.asarray(dh, dtype=h.dtype)
    check_shape("dh", dh, ("N", "T", "H"), h.shape, "(N, T, H) = h.shape of the forward pass")
    da = np.empty_like(gates)
    dh_next = np.zeros((N, H), dtype=h.dtype)
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        dh_next = _cell_backward(dh[:, t] + dh_next, gates[:, t], h_prev, Wh, da[:, t])
    h_prev_all = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    dWx, dWh, db = _weight_grads(x, h_prev_all, gates, da, H)
    dx = (da.reshape(N * T, 3 * H) @ Wx.T).reshape(N, T, D)
    return dx, dh_next, dWx, dWh, db
