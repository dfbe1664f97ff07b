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
    dtype = x.dtype
    # The same step as _cell_forward, on time-major contiguous buffers, with the bias folded
    # into the input matmul ([x_t, 1] [Wx; b] = x_t Wx + b) and every product written into
    # preallocated memory: gates[t] is the (N, 3H) block (r, z, n) of step t.
    x_aug = _time_major_with_ones(x)
    gates = (x_aug @ np.concatenate([Wx, b[None]], axis=0)).reshape(T, N, 3 * H)
    Wh_rz = np.ascontiguousarray(Wh[:, :2 * H])
    Wh_n = np.ascontiguousarray(Wh[:, 2 * H:])
    hs = np.empty((T + 1, N, H), dtype=dtype)     # hs[t] is the state entering step t
    reset_h = np.empty((T, N, H), dtype=dtype)    # r_t * h_{t-1}, the input of Wh_n
    recurrent_rz = np.empty((N, 2 * H), dtype=dtype)
    recurrent_n = np.empty((N, H), dtype=dtype)
    hs[0] = h0
    for t in range(T):
        h_prev = hs[t]
        rz = gates[t, :, :2 * H]
        rz += np.matmul(h_prev, Wh_rz, out=recurrent_rz)
        sigmoid(rz, out=rz)
        r, z, n = gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:]
        n += np.matmul(np.multiply(r, h_prev, out=reset_h[t]), Wh_n, out=recurrent_n)
        np.tanh(n, out=n)
        h = np.multiply(np.subtract(1, z, out=recurrent_n), h_prev, out=hs[t + 1])
        h += np.multiply(z, n, out=recurrent_n)        # h = (1 - z) * h_prev + z * n
    # Batch-first view of the time-major states (as torch returns for batch_first=True).
    return hs[1:].transpose(1, 0, 2), (x_aug, Wx, Wh, gates, hs, reset_h)


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
    x_aug, Wx, Wh, gates, hs, reset_h = cache
    T, N, H = reset_h.shape
    D = Wx.shape[0]
    dtype = hs.dtype
    dh = np.asarray(dh, dtype=dtype)
    check_shape("dh", dh, ("N", "T", "H"), (N, T, H), "(N, T, H) = h.shape of the forward pass")
    r, z, n = gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:]
    h_prev = hs[:-1]
    # The factors of _cell_backward that do not depend on the incoming gradient, for all
    # steps at once; the loop keeps _cell_backward's order of operations (so a sequence
    # and its steps agree to the last bits) with two matmuls and no allocation per step.
    n_deriv = 1 - n * n
    z_deriv = z * (1 - z)
    r_deriv = r * (1 - r)
    n_minus_h = n - h_prev
    keep = 1 - z
    Wh_rzT = np.ascontiguousarray(Wh[:, :2 * H].T)
    Wh_nT = np.ascontiguousarray(Wh[:, 2 * H:].T)
    dh_tm = dh.transpose(1, 0, 2)
    da = np.empty((T, N, 3 * H), dtype=dtype)    # gradients of the pre-activations (r, z, n)
    dh_t = np.empty((N, H), dtype=dtype)
    d_reset_h = np.empty((N, H), dtype=dtype)
    recurrent = np.empty((N, H), dtype=dtype)
    dh_next = np.zeros((N, H), dtype=dtype)
    for t in reversed(range(T)):
        np.add(dh_tm[t], dh_next, out=dh_t)
        da_r, da_z, da_n = da[t, :, :H], da[t, :, H:2 * H], da[t, :, 2 * H:]
        np.multiply(dh_t, z[t], out=da_n)
        da_n *= n_deriv[t]
        np.multiply(n_minus_h[t], dh_t, out=da_z)
        da_z *= z_deriv[t]
        np.matmul(da_n, Wh_nT, out=d_reset_h)
        np.multiply(d_reset_h, h_prev[t], out=da_r)
        da_r *= r_deriv[t]
        np.multiply(dh_t, keep[t], out=dh_next)
        d_reset_h *= r[t]
        dh_next += d_reset_h
        dh_next += np.matmul(da[t, :, :2 * H], Wh_rzT, out=recurrent)
    da2 = da.reshape(T * N, 3 * H)
    dx = (da2 @ Wx.T).reshape(T, N, D).transpose(1, 0, 2)
    dWb = x_aug.T @ da2                          # [dWx; db] in one matmul
    dWh = np.empty((H, 3 * H), dtype=dtype)
    dWh[:, :2 * H] = h_prev.reshape(T * N, H).T @ da2[:, :2 * H]
    dWh[:, 2 * H:] = reset_h.reshape(T * N, H).T @ da2[:, 2 * H:]
    return dx, dh_next, dWb[:D], dWh, dWb[D]


def _time_major_with_ones(x):
    """(N, T, D) -> the (T * N, D + 1) array ``[x_t, 1]`` of all steps, time-major."""
    N, T, D = x.shape
    x_aug = np.empty((T * N, D + 1), dtype=x.dtype)
    x_aug[:, :D].reshape(T, N, D)[...] = x.transpose(1, 0, 2)
    x_aug[:, D] = 1
    return x_aug
