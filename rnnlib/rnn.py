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

#: The activations the vanilla RNN accepts (a subset of :data:`rnnlib.activations.NAMES`).
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
    x_proj = (x.reshape(N * T, D) @ Wx).reshape(N, T, H)
    x_proj += b
    h = np.empty((N, T, H), dtype=x.dtype)
    h_prev = h0
    for t in range(T):
        a = h_prev @ Wh
        a += x_proj[:, t]
        h[:, t] = _activate(a, activation)
        h_prev = h[:, t]
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
    da = np.empty((N, T, H), dtype=h.dtype)
    dh_next = np.zeros((N, H), dtype=h.dtype)
    for t in reversed(range(T)):
        da[:, t] = (dh[:, t] + dh_next) * _activation_grad(h[:, t], activation)
        dh_next = da[:, t] @ Wh.T
    da2 = da.reshape(N * T, H)
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1).reshape(N * T, H)
    dx = (da2 @ Wx.T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ da2
    dWh = h_prev.T @ da2
    db = da2.sum(axis=0)
    return dx, dh_next, dWx, dWh, db
