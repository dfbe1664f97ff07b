"""Jacobians of an RNN's hidden states and the gradients carried back through them.

Row-vector convention of rnnlib: ``h_t = f(x_t Wx + h_{t-1} Wh + b)``, so
``dh_t / dh_{t-1} = D_t Wh^T`` with ``D_t = diag(f'(a_t))``, and the norm bound
``||dL/dh_t|| <= ||dL/dh_T|| prod_k sigma_max(D_k) sigma_max(Wh)``.
"""

import numpy as np

from .._checks import check_shape
from ..activations import derivative_from_output
from .spectra import max_singular_value

__all__ = ["hidden_state_jacobians", "backprop_through_jacobians", "gradient_norm_bound"]


def hidden_state_jacobians(h, Wh, activation="tanh"):
    """Jacobians ``J_t = dh_t / dh_{t-1}`` of an RNN's hidden states (row-vector convention).

    For ``h_t = f(x_t Wx + h_{t-1} Wh + b)`` the chain rule gives
    ``J_t[i, j] = dh_t[i] / dh_{t-1}[j] = f'(a_t[i]) Wh[j, i]``, that is
    ``J_t = D_t Wh^T`` with ``D_t = diag(f'(a_t))``. In the column convention
    (``W = Wh^T``) this is the familiar ``diag(f'(a_t)) W``. ``f'`` is computed from
    ``h_t`` alone (see ``derivative_from_output``).

    Inputs:

    - h: (N, T, H) hidden states, as returned by ``rnn_forward``.
    - Wh: (H, H) recurrent weights.
    - activation: ``"tanh"``, ``"sigmoid"``, ``"relu"``, ``"elu"`` or ``"identity"``.

    Returns:

    - J: (N, T, H, H) with ``J[n, t] = dh_t / dh_{t-1}`` (``J[n, 0]`` is ``dh_0 / dh0``).
    """
    check_shape("h", h, ("N", "T", "H"))
    H = np.shape(h)[2]
    check_shape("Wh", Wh, ("H", "H"), (H, H), "H = h.shape[2]")
    d = derivative_from_output(activation, h)
    return d[..., :, None] * np.asarray(Wh).T


def backprop_through_jacobians(J, dh_last):
    """Carry ``dL/dh_{T-1}`` back through the Jacobians: ``dL/dh_{t-1} = dL/dh_t J_t``.

    The loss is assumed to depend on the last hidden state only, so the gradient of every
    earlier state is the row vector ``dL/dh_t = dL/dh_{T-1} J_{T-1} J_{T-2} ... J_{t+1}``.

    Inputs:

    - J: (N, T, H, H) Jacobians from ``hidden_state_jacobians``.
    - dh_last: (N, H) the gradient ``dL/dh_{T-1}``.

    Returns a tuple of:

    - dh: (N, T, H) with ``dh[:, t] = dL/dh_t``.
    - dh0: (N, H) the gradient of the initial state ``h0``.
    """
    check_shape("J", J, ("N", "T", "H", "H"))
    N, T, H, _ = np.shape(J)
    check_shape("dh_last", dh_last, ("N", "H"), (N, H), "N, H = J.shape[0], J.shape[2]")
    dh = np.empty((N, T, H), dtype=np.result_type(J, dh_last))
    g = np.asarray(dh_last, dtype=dh.dtype)
    for t in range(T - 1, -1, -1):
        dh[:, t] = g
        g = np.einsum("ni,nij->nj", g, J[:, t])
    return dh, g


def gradient_norm_bound(h, Wh, dh_last_norm, activation="tanh"):
    """Upper bound on ``||dL/dh_t||`` from the singular values of the Jacobian factors.

    Since ``dL/dh_{t-1} = dL/dh_t D_t Wh^T`` and the 2-norm is sub-multiplicative,

        ``||dL/dh_t|| <= ||dL/dh_{T-1}|| prod_{k=t+1}^{T-1} sigma_max(D_k) sigma_max(Wh)``

    with ``sigma_max(D_k) = max_i |f'(a_k[i])| <= gamma`` (``rnnlib.activations.BOUND``). Hence
    ``sigma_max(Wh) < 1 / gamma`` is sufficient for the gradient to vanish geometrically.

    Inputs:

    - h: (N, T, H) hidden states; Wh: (H, H); dh_last_norm: (N,) or scalar ``||dL/dh_{T-1}||``.

    Returns:

    - bound: (N, T) with ``bound[:, t]`` the right-hand side above.
    """
    check_shape("h", h, ("N", "T", "H"))
    N, T, H = np.shape(h)
    check_shape("Wh", Wh, ("H", "H"), (H, H), "H = h.shape[2]")
    factor = np.abs(derivative_from_output(activation, h)).max(axis=2) * max_singular_value(Wh)
    bound = np.empty((N, T))
    bound[:, T - 1] = dh_last_norm
    for t in range(T - 1, 0, -1):
        bound[:, t - 1] = bound[:, t] * factor[:, t]
    return bound
