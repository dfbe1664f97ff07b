"""Simulating linear and non-linear recurrences and their impulse responses (column convention).

The state is a column vector: ``h_t = f(W h_{t-1} + C x_t + b)`` with ``W`` (n, n) and ``C``
(n, m); arrays of states are returned as ``(T, n)``, one state per row.
"""

import numpy as np

from .. import activations
from .._checks import as_float, check_shape, float_dtype

__all__ = ["simulate_recurrence", "impulse_response", "scalar_recurrence"]


def simulate_recurrence(W, C, x, b=None, h0=None, activation="identity"):
    """Run ``h_t = f(W h_{t-1} + C x_t + b)`` for ``t = 0 .. T-1`` (column convention).

    With ``activation="identity"`` this is the linear recurrence ``h_t = W h_{t-1} + C x_t``.

    Inputs:

    - W: (n, n) recurrent matrix.
    - C: (n, m) input matrix.
    - x: (T, m) inputs, one per row.
    - b: optional (n,) bias, default 0.
    - h0: optional (n,) state before the first input (``h_{-1}``), default 0.
    - activation: one of ``ACTIVATIONS``.

    Returns:

    - h: (T, n) states, ``h[t] = h_t``.
    """
    f = activations.function(activation)
    dtype = float_dtype(W, C, x)
    W, C, x = as_float(dtype, W, C, x)
    check_shape("W", W, ("n", "n"))
    n = W.shape[0]
    check_shape("x", x, ("T", "m"))
    T, m = x.shape
    check_shape("C", C, ("n", "m"), (n, m), "n = W.shape[0], m = x.shape[1]")
    b = np.zeros(n, dtype) if b is None else np.asarray(b, dtype)
    check_shape("b", b, ("n",), (n,), "n = W.shape[0]")
    h_prev = np.zeros(n, dtype) if h0 is None else np.asarray(h0, dtype)
    check_shape("h0", h_prev, ("n",), (n,), "n = W.shape[0]")
    drive = x @ C.T + b  # C x_t + b for every t at once
    h = np.empty((T, n), dtype)
    for t in range(T):
        h_prev = h[t] = f(W @ h_prev + drive[t])
    return h


def impulse_response(W, C, x0, T):
    """Response of the linear recurrence ``h_t = W h_{t-1} + C x_t`` to one input at ``t = 0``.

    With ``h_{-1} = 0`` and ``x_t = 0`` for ``t > 0`` the state is ``h_t = W^t C x_0``
    (column convention). Writing ``W = U Lambda U^-1`` gives
    ``h_t = U Lambda^t U^-1 C x_0``: each eigen-direction grows or shrinks by its
    ``|lambda_i|`` per step, so the largest ``|lambda_i|`` decides growth or decay.

    Inputs:

    - W: (n, n); C: (n, m); x0: (m,) the single input; T: number of steps.

    Returns:

    - h: (T, n) with ``h[t] = W^t C x0``.
    """
    x0 = np.asarray(x0)
    check_shape("x0", x0, ("m",))
    x = np.zeros((T, x0.shape[0]), dtype=np.result_type(x0, 1.0))
    x[0] = x0
    return simulate_recurrence(W, C, x)


def scalar_recurrence(w, b, x, activation="tanh", c=1.0, h_init=0.0):
    """Run the scalar recurrence ``h(t) = f(w h(t-1) + c x(t) + b)`` for many settings at once.

    ``w``, ``b``, ``c`` and ``h_init`` broadcast against ``x[..., 0]``, so a grid of
    settings runs in one call: for example ``w`` of shape (3, 1, 1), ``x`` of shape
    (1, 3, 1, T) and ``b`` of shape (3,) give states of shape (3, 3, 3, T).

    Inputs:

    - w, b, c: the recurrent weight, the bias and the input weight (scalars or arrays).
    - x: (..., T) inputs; ``x[..., t]`` is ``x(t)``.
    - activation: one of ``ACTIVATIONS``.
    - h_init: the state ``h(-1)`` before the first input, default 0.

    Returns:

    - h: (..., T) float64 states with ``h[..., t] = h(t)``.
    """
    f = activations.function(activation)
    x = np.asarray(x, dtype=float)
    if x.ndim < 1:
        raise ValueError(f"x has shape {x.shape}; expected (..., T) with at least one axis")
    w, b, c = (np.asarray(v, dtype=float) for v in (w, b, c))
    shape = np.broadcast_shapes(x.shape[:-1], w.shape, b.shape, c.shape, np.shape(h_init))
    h = np.empty(shape + (x.shape[-1],))
    h_prev = np.broadcast_to(np.asarray(h_init, dtype=float), shape)
    for t in range(x.shape[-1]):
        h_prev = h[..., t] = f(w * h_prev + c * x[..., t] + b)
    return h
