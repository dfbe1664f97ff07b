"""Where the gradient of a vanilla RNN comes from: temporal contributions and Pascanu's regulariser.

Row-vector layout of ``rnnlib.rnn``: ``a_t = x_t Wx + h_{t-1} Wh + b``, ``h_t = f(a_t)``.

Pascanu, Mikolov and Bengio (2013) write the gradient of a loss ``E = sum_t E_t`` as a sum of
*temporal contributions*, one for every pair of a loss step ``t`` and an earlier step ``k``::

    dE/dWh = sum_t sum_{k <= t} (dE_t/dh_t) (dh_t/dh_k) (d+h_k/dWh),

where ``d+`` is the *immediate* derivative (``h_{k-1}`` held constant). In our layout the
``(t, k)`` term is ``h_{k-1}^T g_{t,k}`` with ``g_{t,k} = (dE_t/dh_k) * f'(a_k)``, the
pre-activation gradient at step ``k`` of the loss at step ``t`` alone. Terms with ``t - k``
large are the long-term contributions; when they vanish, the gradient only ever sees short
dependencies.

Their regulariser asks every backward step to preserve the norm of the gradient::

    Omega = sum_k mean_n ( ||delta_k J_k|| / ||delta_k|| - 1 )^2,
    delta_k = dE/dh_k,  delta_k J_k = (delta_k * f'(a_k)) Wh^T = dE/dh_{k-1} through step k,

and, as in the paper, its gradient treats ``delta_k`` and ``f'(a_k)`` as constants, so only the
explicit ``Wh`` is differentiated.
"""

import numpy as np

__all__ = [
    "activation_derivative",
    "hidden_state_gradients",
    "temporal_contributions",
    "gradient_flow_regulariser",
]

_DERIVATIVES = {
    "tanh": lambda h: 1.0 - h * h,
    "sigmoid": lambda h: h * (1.0 - h),
    "relu": lambda h: (h > 0).astype(h.dtype),
    "identity": lambda h: np.ones_like(h),
}


def activation_derivative(activation, h):
    """``f'(a)`` computed from the output ``h = f(a)`` for tanh, sigmoid, relu or identity."""
    if activation not in _DERIVATIVES:
        raise ValueError(
            f"activation is {activation!r}; expected one of {sorted(_DERIVATIVES)}"
        )
    return _DERIVATIVES[activation](np.asarray(h))


def _check_states(h, h0, Wh, dh=None):
    h = np.asarray(h)
    if h.ndim != 3:
        raise ValueError(f"h has shape {h.shape}; expected (N, T, H), the states of rnn_forward")
    N, T, H = h.shape
    if np.shape(h0) != (N, H):
        raise ValueError(f"h0 has shape {np.shape(h0)}; expected (N, H) = {(N, H)} from h")
    if np.shape(Wh) != (H, H):
        raise ValueError(f"Wh has shape {np.shape(Wh)}; expected (H, H) = {(H, H)} from h")
    if dh is not None and np.shape(dh) != h.shape:
        raise ValueError(f"dh has shape {np.shape(dh)}; expected (N, T, H) = {h.shape}, like h")
    return N, T, H


def hidden_state_gradients(h, h0, Wh, dh, activation="tanh"):
    """Total gradient reaching every hidden state, ``delta_t = dL/dh_t``.

    ``dh[:, t]`` is the direct upstream gradient of ``h_t`` (from its own loss); the result
    adds what arrives from later steps: ``delta_t = dh_t + (delta_{t+1} * f'(a_{t+1})) Wh^T``.

    Inputs:

    - h: (N, T, H) states from ``rnn_forward``.
    - h0: (N, H) initial state.
    - Wh: (H, H) recurrent weights.
    - dh: (N, T, H) direct upstream gradients.
    - activation: the RNN's activation.

    Returns a tuple of:

    - delta: (N, T, H) total gradients ``dL/dh_t``.
    - fprime: (N, T, H) activation derivatives ``f'(a_t)``.
    - dh0: (N, H) gradient of the initial state.
    """
    N, T, H = _check_states(h, h0, Wh, dh)
    fprime = activation_derivative(activation, np.asarray(h))
    delta = np.empty(np.shape(h), dtype=np.result_type(h, dh, Wh))
    carry = np.zeros((N, H), dtype=delta.dtype)
    for t in range(T - 1, -1, -1):
        delta[:, t] = dh[:, t] + carry
        carry = (delta[:, t] * fprime[:, t]) @ Wh.T
    return delta, fprime, carry


def temporal_contributions(h, h0, Wh, dh, activation="tanh"):
    """Pascanu's temporal contributions ``C[t, k]`` to ``dL/dWh``.

    ``C[t, k] = h_{k-1}^T g_{t,k}`` (summed over the batch), with ``g_{t,k}`` the
    pre-activation gradient at step ``k`` caused by the loss at step ``t`` alone; zero for
    ``k > t``. ``C.sum(axis=(0, 1))`` is the ``dWh`` of ``rnn_backward`` with upstream ``dh``.

    Inputs:

    - h: (N, T, H) states from ``rnn_forward``; h0: (N, H); Wh: (H, H).
    - dh: (N, T, H) direct upstream gradient of each state (the per-step losses).
    - activation: the RNN's activation.

    Returns:

    - C: (T, T, H, H) with ``C[t, k]`` the contribution of loss ``t`` through step ``k``.
    """
    N, T, H = _check_states(h, h0, Wh, dh)
    fprime = activation_derivative(activation, np.asarray(h))
    h_prev = np.concatenate([np.asarray(h0)[:, None, :], np.asarray(h)[:, :-1]], axis=1)
    C = np.zeros((T, T, H, H), dtype=np.result_type(h, dh, Wh))
    for t in range(T):
        delta = np.asarray(dh[:, t])
        for k in range(t, -1, -1):
            g = delta * fprime[:, k]
            C[t, k] = h_prev[:, k].T @ g
            delta = g @ Wh.T
    return C


def gradient_flow_regulariser(delta, fprime, Wh, eps=1e-12):
    """Pascanu's regulariser ``Omega`` and its gradient with respect to ``Wh``.

    ``Omega = sum_k mean_n (||u_{n,k}|| / ||delta_{n,k}|| - 1)^2`` with
    ``u_{n,k} = (delta_{n,k} * fprime_{n,k}) Wh^T``: the gradient passed from ``h_k`` to
    ``h_{k-1}``. ``delta`` and ``fprime`` are constants, as in the paper, so::

        dOmega/dWh = sum_k mean_n 2 (r - 1) / ||delta|| * outer(u / ||u||, v),  v = delta * fprime.

    Inputs:

    - delta: (N, T, H) gradients ``dL/dh_k`` (from :func:`hidden_state_gradients`).
    - fprime: (N, T, H) activation derivatives ``f'(a_k)``.
    - Wh: (H, H) recurrent weights.
    - eps: guards the norms against division by zero.

    Returns a tuple of:

    - omega: float, the regulariser.
    - dWh: (H, H) its gradient.
    """
    delta, fprime, Wh = np.asarray(delta), np.asarray(fprime), np.asarray(Wh)
    if delta.ndim != 3:
        raise ValueError(f"delta has shape {delta.shape}; expected (N, T, H)")
    if fprime.shape != delta.shape:
        raise ValueError(f"fprime has shape {fprime.shape}; expected (N, T, H) = {delta.shape}")
    H = delta.shape[2]
    if Wh.shape != (H, H):
        raise ValueError(f"Wh has shape {Wh.shape}; expected (H, H) = {(H, H)} from delta")
    N = delta.shape[0]
    v = delta * fprime
    u = v @ Wh.T
    norm_u = np.sqrt(np.sum(u * u, axis=2)) + eps
    norm_delta = np.sqrt(np.sum(delta * delta, axis=2)) + eps
    ratio = norm_u / norm_delta
    omega = float(np.sum(np.mean((ratio - 1.0) ** 2, axis=0)))
    weight = 2.0 * (ratio - 1.0) / (norm_delta * norm_u) / N  # (N, T)
    dWh = np.einsum("nt,nti,ntj->ij", weight, u, v)
    return omega, dWh
