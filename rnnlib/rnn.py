"""The vanilla (Elman) recurrent network: one step and a whole sequence, forward and backward.

Row-vector, batch-first layout. With ``phi`` the activation (tanh by default)::

    a_t = x_t Wx + h_{t-1} Wh + b
    h_t = phi(a_t)

Shapes: ``x`` (N, T, D), ``h0`` (N, H), ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,),
``h`` (N, T, H).
"""

import numpy as np

from . import activations
from ._checks import check_recurrent_args, check_shape

__all__ = [
    "ACTIVATIONS",
    "rnn_step_forward",
    "rnn_step_backward",
    "rnn_forward",
    "rnn_backward",
]

#: The activations the vanilla RNN accepts (a subset of ``rnnlib.activations.NAMES``).
ACTIVATIONS = ("tanh", "sigmoid", "relu")


def _activate(a, activation):
    """Apply the activation to the pre-activation ``a`` in place and return it."""
    return activations.apply(activation, a, out=a)


def _activation_grad(h, activation):
    """Derivative of the activation, written in terms of its output ``h = phi(a)``."""
    return activations.derivative_from_output(activation, h)


def _check_activation(activation):
    activations.check_activation(activation, ACTIVATIONS)


def rnn_step_forward(x, h_prev, Wx, Wh, b, activation="tanh"):
    """One time step of a vanilla RNN.

    Equations (row vectors)::

        a = x Wx + h_prev Wh + b
        h = phi(a)

    where ``phi`` is tanh, the logistic sigmoid or relu.

    Inputs:

    - x: (N, D) input at this step.
    - h_prev: (N, H) hidden state of the previous step.
    - Wx: (D, H) input-to-hidden weights.
    - Wh: (H, H) hidden-to-hidden weights.
    - b: (H,) bias.
    - activation: ``"tanh"`` (default), ``"sigmoid"`` or ``"relu"``.

    Returns a tuple of:

    - h: (N, H) the new hidden state.
    - cache: ``(x, h_prev, Wx, Wh, h, activation)`` for :func:`rnn_step_backward`.
    """
    _check_activation(activation)
    x, h_prev, Wx, Wh, b = check_recurrent_args(x, h_prev, Wx, Wh, b, 1, False, "h_prev")
    # Same order of additions as rnn_forward, so a step and a sequence agree.
    a = x @ Wx
    a += b
    a += h_prev @ Wh
    h = _activate(a, activation)
    return h, (x, h_prev, Wx, Wh, h, activation)


def rnn_step_backward(dh, cache):
    """Backward pass of one vanilla RNN step.

    With ``da = dh * phi'(a)`` (for tanh ``phi'(a) = 1 - h**2``)::

        dx = da Wx^T        dh_prev = da Wh^T
        dWx = x^T da        dWh = h_prev^T da        db = sum over the batch of da

    Inputs:

    - dh: (N, H) upstream gradient of the step's output ``h``.
    - cache: what :func:`rnn_step_forward` returned.

    Returns a tuple of:

    - dx: (N, D)
    - dh_prev: (N, H)
    - dWx: (D, H)
    - dWh: (H, H)
    - db: (H,)
    """
    x, h_prev, Wx, Wh, h, activation = cache
    dh = np.asarray(dh, dtype=h.dtype)
    check_shape("dh", dh, ("N", "H"), h.shape, "(N, H) = h.shape of the forward pass")
    da = dh * _activation_grad(h, activation)
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b, activation="tanh"):
    """Run a vanilla RNN over a whole sequence.

    For ``t = 1 .. T`` (row vectors)::

        h_t = phi(x_t Wx + h_{t-1} Wh + b)

    The input projection ``x_t Wx + b`` of all time steps is one matmul over the
    ``N * T`` rows before the loop; the loop only adds ``h_{t-1} Wh``.

    Inputs:

    - x: (N, T, D) input sequence.
    - h0: (N, H) initial hidden state.
    - Wx: (D, H) input-to-hidden weights.
    - Wh: (H, H) hidden-to-hidden weights.
    - b: (H,) bias.
    - activation: ``"tanh"`` (default), ``"sigmoid"`` or ``"relu"``.

    Returns a tuple of:

    - h: (N, T, H) hidden states of all time steps.
    - cache: ``(x, h0, Wx, Wh, h, activation)`` for :func:`rnn_backward`.
    """
    _check_activation(activation)
    x, h0, Wx, Wh, b = check_recurrent_args(x, h0, Wx, Wh, b, 1, True, "h0")
    N, T, D = x.shape
    H = h0.shape[1]
    # Time-major inside (hs[t] is the contiguous (N, H) state entering step t) and the bias
    # folded into the input matmul: [x_t, 1] [Wx; b] = x_t Wx + b, as in lstm_forward.
    x_proj = (_time_major_with_ones(x) @ np.concatenate([Wx, b[None]], axis=0)).reshape(T, N, H)
    hs = np.empty((T + 1, N, H), dtype=x.dtype)
    hs[0] = h0
    for t in range(T):
        a = np.matmul(hs[t], Wh, out=hs[t + 1])
        a += x_proj[t]
        _activate(a, activation)
    # Batch-first view of the time-major states (as torch returns for batch_first=True);
    # the cache keeps the documented layout, which chapter 2 unpacks.
    h = hs[1:].transpose(1, 0, 2)
    return h, (x, h0, Wx, Wh, h, activation)


def rnn_backward(dh, cache):
    """Backpropagation through time for :func:`rnn_forward`.

    ``dh[:, t]`` is the gradient that reaches ``h_t`` from outside the recurrence (for
    example from an output layer). Walking time backwards, step ``t`` receives
    ``dh[:, t]`` plus the gradient ``dh_next`` flowing back from step ``t + 1``::

        da_t = (dh[:, t] + dh_next) * phi'(a_t)
        dh_next = da_t Wh^T

    The weight gradients are sums over time, computed after the loop with one matmul
    each: ``dWx = sum_t x_t^T da_t``, ``dWh = sum_t h_{t-1}^T da_t``.

    Inputs:

    - dh: (N, T, H) upstream gradient of every hidden state.
    - cache: what :func:`rnn_forward` returned.

    Returns a tuple of:

    - dx: (N, T, D)
    - dh0: (N, H)
    - dWx: (D, H)
    - dWh: (H, H)
    - db: (H,)
    """
    x, h0, Wx, Wh, h, activation = cache
    N, T, D = x.shape
    H = h0.shape[1]
    dh = np.asarray(dh, dtype=h.dtype)
    check_shape("dh", dh, ("N", "T", "H"), h.shape, "(N, T, H) = h.shape of the forward pass")
    # Time-major inside: h from rnn_forward is a batch-first view of a time-major array, so
    # h_tm costs no copy.
    h_tm = np.ascontiguousarray(h.transpose(1, 0, 2))
    # phi'(a_t) of all steps in one call; then da_t = dh_t phi'(a_t) + (da_{t+1} Wh^T) phi'(a_t)
    deriv = _activation_grad(h_tm, activation)
    da = np.multiply(dh.transpose(1, 0, 2), deriv, out=np.empty((T, N, H), dtype=h.dtype))
    WhT = Wh.T
    dh_next = np.empty((N, H), dtype=h.dtype)
    for t in range(T - 1, 0, -1):
        np.matmul(da[t], WhT, out=dh_next)
        dh_next *= deriv[t - 1]
        da[t - 1] += dh_next
    dh0 = da[0] @ WhT
    da2 = da.reshape(T * N, H)
    dx = (da2 @ Wx.T).reshape(T, N, D).transpose(1, 0, 2)
    dWx = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(T * N, D).T @ da2
    # dWh = sum_t h_{t-1}^T da_t, with h_{-1} = h0: the first step apart, the rest in one matmul
    dWh = h0.T @ da[0]
    if T > 1:
        dWh += h_tm[:-1].reshape((T - 1) * N, H).T @ da[1:].reshape((T - 1) * N, H)
    return dx, dh0, dWx, dWh, da2.sum(axis=0)

def _time_major_with_ones(x):
    """(N, T, D) -> the (T * N, D + 1) array ``[x_t, 1]`` of all steps, time-major."""
    N, T, D = x.shape
    x_aug = np.empty((T * N, D + 1), dtype=x.dtype)
    x_aug[:, :D].reshape(T, N, D)[...] = x.transpose(1, 0, 2)
    x_aug[:, D] = 1
    return x_aug

