"""Tools for studying the stability of recurrent networks (chapter 3).

Two conventions appear, and every function says which one it uses:

- **Column convention** of the linear-algebra lectures: the state is a column vector and a
  recurrence reads ``h_t = f(W h_{t-1} + C x_t + b)`` with ``W`` of shape (n, n) and ``C`` of
  shape (n, m). Arrays of states are returned as ``(T, n)``, one state per row.
- **Row-vector convention** of the rest of rnnlib (batch-first): ``a_t = x_t Wx + h_{t-1} Wh + b``,
  ``h_t = f(a_t)`` with ``x`` (N, T, D), ``h0`` (N, H), ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,).
  A column-convention ``W`` corresponds to the row-convention ``Wh = W.T``.

Contents:

- activations and their derivatives, with the bound ``gamma`` on ``|f'|``;
- spectral helpers: spectral radius, largest singular value, matrices with chosen eigenvalues;
- simulation of linear and non-linear recurrences (scalar and vector) and impulse responses;
- Jacobians of hidden states, gradients carried back through them, and the norm bound
  ``||dL/dh_t|| <= ||dL/dh_T|| prod_k sigma_max(D_k) sigma_max(W)``;
- remedies: leaky units with time constants, skip connections through time and an echo
  state network with a trained linear readout;
- a deep feed-forward network's per-layer gradient norms at initialisation.
"""

import numpy as np

from ._checks import as_float, check_shape, float_dtype
from .layers import sigmoid
from .optim import adam, clip_grad_norm
from .train import blas_threads as limit_blas_threads

__all__ = [
    "ACTIVATIONS",
    "DERIVATIVE_BOUND",
    "activation_function",
    "activation_derivative",
    "derivative_from_output",
    "spectral_radius",
    "max_singular_value",
    "scale_to_spectral_radius",
    "matrix_with_eigenvalues",
    "simulate_recurrence",
    "impulse_response",
    "scalar_recurrence",
    "hidden_state_jacobians",
    "backprop_through_jacobians",
    "gradient_norm_bound",
    "leaky_rnn_forward",
    "leaky_rnn_backward",
    "skip_rnn_forward",
    "skip_rnn_backward",
    "EchoStateNetwork",
    "train_last_step_regressor",
    "mlp_init",
    "mlp_gradient_norms",
]

ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu", "elu")

DERIVATIVE_BOUND = {"identity": 1.0, "tanh": 1.0, "sigmoid": 0.25, "relu": 1.0, "elu": 1.0}
"""The bound ``gamma`` with ``|f'(a)| <= gamma`` for every ``a``, per activation."""


def _check_activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation is {name!r}; expected one of {ACTIVATIONS}")


def _elu(a):
    return np.where(a > 0, a, np.expm1(np.minimum(a, 0)))


def activation_function(name):
    """Return the activation ``f`` called ``name`` as a function of the pre-activation.

    ``name`` is one of ``"identity"``, ``"tanh"``, ``"sigmoid"``, ``"relu"``, ``"elu"``
    (ELU with ``alpha = 1``: ``f(a) = a`` for ``a > 0`` and ``exp(a) - 1`` otherwise).
    """
    _check_activation(name)
    return {
        "identity": lambda a: np.array(a, copy=True),
        "tanh": np.tanh,
        "sigmoid": sigmoid,
        "relu": lambda a: np.maximum(a, 0),
        "elu": _elu,
    }[name]


def activation_derivative(name, a):
    """Return ``f'(a)`` for the activation ``name`` at the pre-activation ``a``.

    The derivative of ReLU at 0 is taken as 0 (as torch does).
    """
    _check_activation(name)
    a = np.asarray(a)
    if name == "identity":
        return np.ones_like(a)
    if name == "tanh":
        return 1 - np.tanh(a) ** 2
    if name == "sigmoid":
        s = sigmoid(a)
        return s * (1 - s)
    if name == "relu":
        return (a > 0).astype(a.dtype if np.issubdtype(a.dtype, np.floating) else float)
    return np.where(a > 0, 1.0, np.exp(np.minimum(a, 0))).astype(np.result_type(a, 1.0))


def derivative_from_output(name, h):
    """Return ``f'(a)`` computed from the output ``h = f(a)`` alone.

    This works for the activations whose derivative is a function of their output:
    tanh (``1 - h**2``), sigmoid (``h (1 - h)``), ReLU (``1`` where ``h > 0``), ELU
    (``1`` where ``h > 0``, ``h + 1`` elsewhere) and the identity.
    """
    _check_activation(name)
    h = np.asarray(h)
    if name == "identity":
        return np.ones_like(h)
    if name == "tanh":
        return 1 - h * h
    if name == "sigmoid":
        return h * (1 - h)
    if name == "relu":
        return (h > 0).astype(h.dtype)
    return np.where(h > 0, 1, h + 1).astype(h.dtype)


# ----------------------------------------------------------------------------------------
# Spectral helpers
# ----------------------------------------------------------------------------------------


def spectral_radius(W):
    """Largest absolute eigenvalue ``rho(W) = max_i |lambda_i(W)|`` of a square matrix."""
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W has shape {W.shape}; expected a square matrix (n, n)")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def max_singular_value(W):
    """Largest singular value ``sigma_max(W)``, the operator 2-norm ``max ||W v|| / ||v||``.

    It bounds the spectral radius from above: ``rho(W) <= sigma_max(W)``, with equality for
    normal (for example symmetric or orthogonal) matrices.
    """
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W has shape {W.shape}; expected a matrix (n, m)")
    return float(np.linalg.norm(W, 2))


def scale_to_spectral_radius(W, rho):
    """Return ``W * rho / rho(W)``, the matrix rescaled to spectral radius ``rho``."""
    return np.asarray(W) * (rho / spectral_radius(W))


def matrix_with_eigenvalues(eigenvalues, rng=None, basis="orthogonal"):
    """Build a real matrix ``W = U B U^-1`` with the given eigenvalues.

    ``B`` is block diagonal: a real eigenvalue ``lambda`` gives a 1x1 block and a complex pair
    ``r e^{+-i theta}`` gives the rotation-scaling block ``[[a, -b], [b, a]]`` with
    ``a + i b = r e^{i theta}`` (so the response to it oscillates with period
    ``2 pi / theta`` while its size changes by ``r`` per step).

    Inputs:

    - eigenvalues: sequence of n numbers; complex ones must come with their conjugate.
    - rng: ``numpy.random.Generator`` used to draw ``U`` (not needed for ``basis="identity"``).
    - basis: ``"orthogonal"`` (``U`` orthogonal, so ``W`` is normal: symmetric when all
      eigenvalues are real, and ``sigma_max(W) = rho(W)``), ``"random"`` (``U`` with Gaussian
      entries, so ``W`` is in general not normal) or ``"identity"`` (``W = B``).

    Returns:

    - W: (n, n) float64 array.
    """
    values = np.asarray(eigenvalues, dtype=complex)
    n = values.size
    B = np.zeros((n, n))
    used = np.zeros(n, dtype=bool)
    i = 0
    for k in range(n):
        if used[k]:
            continue
        lam = values[k]
        if abs(lam.imag) < 1e-12:
            B[i, i] = lam.real
            used[k] = True
            i += 1
            continue
        partner = [j for j in range(n) if not used[j] and j != k and abs(values[j] - lam.conj()) < 1e-9]
        if not partner:
            raise ValueError(f"eigenvalues: complex value {lam} has no conjugate partner")
        used[k] = used[partner[0]] = True
        B[i : i + 2, i : i + 2] = [[lam.real, -abs(lam.imag)], [abs(lam.imag), lam.real]]
        i += 2
    if basis == "identity":
        return B
    if rng is None:
        raise ValueError("rng is None; a numpy.random.Generator is needed to draw the basis U")
    if basis == "orthogonal":
        U, R = np.linalg.qr(rng.standard_normal((n, n)))
        U = U * np.sign(np.diag(R))
        return U @ B @ U.T
    if basis == "random":
        U = rng.standard_normal((n, n)) / np.sqrt(n)
        return U @ B @ np.linalg.inv(U)
    raise ValueError(f"basis is {basis!r}; expected 'orthogonal', 'random' or 'identity'")


# ----------------------------------------------------------------------------------------
# Simulating recurrences (column convention)
# ----------------------------------------------------------------------------------------


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
    f = activation_function(activation)
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
    f = activation_function(activation)
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


# ----------------------------------------------------------------------------------------
# Jacobians of hidden states (row-vector convention of rnnlib)
# ----------------------------------------------------------------------------------------


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

    with ``sigma_max(D_k) = max_i |f'(a_k[i])| <= gamma`` (``DERIVATIVE_BOUND``). Hence
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


# ----------------------------------------------------------------------------------------
# Remedies: leaky units and skip connections through time (row-vector convention)
# ----------------------------------------------------------------------------------------


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
    f = activation_function(activation)
    dtype = float_dtype(x, h0, Wx, Wh, b)
    x, h0, Wx, Wh, b = as_float(dtype, x, h0, Wx, Wh, b)
    N, T, D, H = _check_rnn_shapes(x, h0, Wx, Wh, b)
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
        u[:, t] = f(drive[:, t] + h_prev @ Wh)
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
    f = activation_function(activation)
    dtype = float_dtype(x, h0, Wx, Wh, Ws, b)
    x, h0, Wx, Wh, Ws, b = as_float(dtype, x, h0, Wx, Wh, Ws, b)
    N, T, D, H = _check_rnn_shapes(x, h0, Wx, Wh, b)
    check_shape("Ws", Ws, ("H", "H"), (H, H), "H = h0.shape[1]")
    if int(skip) != skip or skip < 1:
        raise ValueError(f"skip is {skip!r}; expected an integer >= 1")
    skip = int(skip)
    drive = (x.reshape(N * T, D) @ Wx).reshape(N, T, H) + b
    h = np.empty((N, T, H), dtype)
    for t in range(T):
        h_prev = h[:, t - 1] if t >= 1 else h0
        h_skip = h[:, t - skip] if t >= skip else h0
        h[:, t] = f(drive[:, t] + h_prev @ Wh + h_skip @ Ws)
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
    h_skip = np.concatenate([np.repeat(h0[:, None], min(skip, T), axis=1), h[:, : max(T - skip, 0)]], axis=1)
    dx, _, dWx, dWh, db = _weight_grads(x, Wx, Wh, da, h_prev, dh0)
    dWs = h_skip.reshape(N * T, H).T @ da.reshape(N * T, H)
    return dx, dh0, dWx, dWh, dWs, db


def _check_rnn_shapes(x, h0, Wx, Wh, b):
    check_shape("x", x, ("N", "T", "D"))
    N, T, D = x.shape
    check_shape("h0", h0, ("N", "H"), (N, None), "N = x.shape[0]")
    H = h0.shape[1]
    check_shape("Wx", Wx, ("D", "H"), (D, H), "D = x.shape[2], H = h0.shape[1]")
    check_shape("Wh", Wh, ("H", "H"), (H, H), "H = h0.shape[1]")
    check_shape("b", b, ("H",), (H,), "H = h0.shape[1]")
    return N, T, D, H


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


# ----------------------------------------------------------------------------------------
# A small training loop for the remedies (many-to-one regression from the last state)
# ----------------------------------------------------------------------------------------


def train_last_step_regressor(forward, backward, params, sample_batch, num_steps,
                              learning_rate=3e-3, max_norm=None, weight_decay=0.0,
                              divergence_loss=np.inf, blas_threads=1):
    """Train a recurrent layer with a linear readout of its last state, with Adam.

    The prediction is ``y_hat = h_{T-1} Wy + by`` and the loss the mean squared error
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
    - blas_threads: number of BLAS threads while training (``rnnlib.train.blas_threads``;
      the matrices are small, and on a busy machine waiting threads slow every step down).

    Returns:

    - history: dict of lists ``loss`` (data loss per step), ``grad_norm`` (global norm before
      clipping) and the flag ``diverged``.
    """
    configs = {name: {"learning_rate": learning_rate} for name in params}
    history = {"loss": [], "grad_norm": [], "diverged": False}
    with limit_blas_threads(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        for _ in range(num_steps):
            x, y = sample_batch()
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
            if max_norm is None:
                norm = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads.values())))
            else:
                norm = clip_grad_norm(grads, max_norm)
            history["loss"].append(loss)
            history["grad_norm"].append(norm)
            if not np.isfinite(loss) or not np.isfinite(norm) or loss > divergence_loss:
                history["diverged"] = True
                break
            for name in params:
                params[name], configs[name] = adam(params[name], grads[name], configs[name])
    return history


# ----------------------------------------------------------------------------------------
# Echo state network (row-vector convention)
# ----------------------------------------------------------------------------------------


class EchoStateNetwork:
    """An echo state network: a fixed random reservoir and a trained linear readout.

    The reservoir state follows (row-vector convention)

        ``r_t = (1 - leak) r_{t-1} + leak * tanh(u_t W_in + r_{t-1} W + b)``

    with ``W`` random and rescaled to the chosen spectral radius (near but below 1, so the
    reservoir forgets its initial state while it keeps a fading memory of the input). Only
    the readout ``y_t = [r_t, 1] W_out`` is trained, by ridge regression in closed form:

        ``W_out = (S^T S + ridge I)^-1 S^T Y``  with ``S`` the rows ``[r_t, 1]`` after the washout.

    No gradient flows through time, so nothing can vanish or explode.

    Inputs:

    - input_size: D; reservoir_size: R.
    - spectral_radius: ``rho(W)`` after rescaling.
    - input_scale: entries of ``W_in`` are uniform in ``[-input_scale, input_scale]``.
    - leak: leak rate in (0, 1].
    - bias_scale: entries of ``b`` are uniform in ``[-bias_scale, bias_scale]``.
    - rng: ``numpy.random.Generator``.
    """

    def __init__(self, input_size, reservoir_size, spectral_radius=0.95, input_scale=1.0,
                 leak=1.0, bias_scale=0.0, rng=None):
        if rng is None:
            raise ValueError("rng is None; pass a numpy.random.Generator")
        if not 0 < leak <= 1:
            raise ValueError(f"leak is {leak}; expected a value in (0, 1]")
        self.leak = float(leak)
        self.W_in = rng.uniform(-input_scale, input_scale, (input_size, reservoir_size))
        W = rng.standard_normal((reservoir_size, reservoir_size))
        self.W = scale_to_spectral_radius(W, spectral_radius)
        self.b = rng.uniform(-bias_scale, bias_scale, reservoir_size)
        self.W_out = None

    def run(self, u, r0=None):
        """Return the reservoir states ``(T, R)`` driven by the inputs ``u`` of shape ``(T, D)``."""
        u = np.asarray(u, dtype=float)
        check_shape("u", u, ("T", "D"), (None, self.W_in.shape[0]), "D = input_size")
        R = self.W.shape[0]
        r = np.zeros(R) if r0 is None else np.asarray(r0, dtype=float)
        drive = u @ self.W_in + self.b
        states = np.empty((u.shape[0], R))
        for t in range(u.shape[0]):
            r = states[t] = self._step(r, drive[t])
        return states

    def _step(self, r, drive):
        """One reservoir update from the state ``r`` and the input drive ``u_t W_in + b``."""
        return (1 - self.leak) * r + self.leak * np.tanh(drive + r @ self.W)

    @staticmethod
    def _design(states):
        return np.hstack([states, np.ones((states.shape[0], 1))])

    def _solve_readout(self, states, y, ridge):
        """``W_out = (S^T S + ridge I)^-1 S^T y`` with ``S`` the rows ``[r, 1]``."""
        S = self._design(states)
        self.W_out = np.linalg.solve(S.T @ S + ridge * np.eye(S.shape[1]), S.T @ y)

    def fit(self, u, y, washout=100, ridge=1e-6):
        """Fit the readout on inputs ``u`` (T, D) and targets ``y`` (T, K); return ``self``.

        The first ``washout`` steps, where the state still depends on ``r_{-1} = 0``, are
        left out of the regression.
        """
        y = np.asarray(y, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        check_shape("y", y, ("T", "K"), (np.shape(u)[0], None), "T = u.shape[0]")
        self._solve_readout(self.run(u)[washout:], y[washout:], ridge)
        return self

    def predict(self, u):
        """Readout ``(T, K)`` for the inputs ``u`` (T, D), starting from ``r_{-1} = 0``."""
        if self.W_out is None:
            raise ValueError("the readout is not trained yet; call fit first")
        return self._design(self.run(u)) @ self.W_out

    def final_states(self, x):
        """Reservoir states after the last step, ``(N, R)``, for a batch ``x`` of shape (N, T, D).

        Every sequence starts from ``r_{-1} = 0``; row ``n`` equals ``run(x[n])[-1]``. Only the
        last state is kept, so memory stays ``O(N R)`` whatever the length ``T``.
        """
        x = np.asarray(x, dtype=float)
        check_shape("x", x, ("N", "T", "D"), (None, None, self.W_in.shape[0]), "D = input_size")
        r = np.zeros((x.shape[0], self.W.shape[0]))
        for t in range(x.shape[1]):
            r = self._step(r, x[:, t] @ self.W_in + self.b)
        return r

    def fit_final(self, x, y, ridge=1e-6):
        """Fit the readout for a many-to-one task: from the last state of each sequence in ``x``
        (N, T, D) to its target ``y`` (N,) or (N, K), by ridge regression; return ``self``."""
        y = np.asarray(y, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        check_shape("y", y, ("N", "K"), (np.shape(x)[0], None), "N = x.shape[0]")
        self._solve_readout(self.final_states(x), y, ridge)
        return self

    def predict_final(self, x):
        """Readout ``(N, K)`` from the last state of each sequence in ``x`` (N, T, D)."""
        if self.W_out is None:
            raise ValueError("the readout is not trained yet; call fit_final first")
        return self._design(self.final_states(x)) @ self.W_out


# ----------------------------------------------------------------------------------------
# Deep feed-forward network at initialisation (row-vector convention)
# ----------------------------------------------------------------------------------------


def mlp_init(sizes, rng, scheme="lecun", dtype=np.float32):
    """Weights and biases of a multi-layer perceptron with layer widths ``sizes``.

    Layer ``l`` maps ``sizes[l]`` inputs to ``sizes[l+1]`` outputs with ``W_l`` of shape
    ``(fan_in, fan_out)``. Schemes:

    - ``"torch"``: the default of ``torch.nn.Linear``, ``W`` and ``b`` uniform in
      ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` (variance ``1 / (3 fan_in)``);
    - ``"lecun"``: ``W ~ N(0, 1/fan_in)``, ``b = 0`` (variance preserving for tanh near 0);
    - ``"he"``: ``W ~ N(0, 2/fan_in)``, ``b = 0`` (variance preserving for ReLU).

    Returns a list of ``(W, b)`` pairs.
    """
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        if scheme == "torch":
            bound = 1 / np.sqrt(fan_in)
            W = rng.uniform(-bound, bound, (fan_in, fan_out))
            b = rng.uniform(-bound, bound, fan_out)
        elif scheme in ("lecun", "he"):
            gain = 1.0 if scheme == "lecun" else 2.0
            W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(gain / fan_in)
            b = np.zeros(fan_out)
        else:
            raise ValueError(f"scheme is {scheme!r}; expected 'torch', 'lecun' or 'he'")
        params.append((W.astype(dtype), b.astype(dtype)))
    return params


def mlp_gradient_norms(x, y, params, activation):
    """Per-layer gradient norms ``||dL/dW_l||_F`` of an MLP with softmax cross-entropy loss.

    Hidden layers compute ``z_l = a_{l-1} W_l + b_l``, ``a_l = f(z_l)``; the last layer gives
    class scores and ``L`` is the mean cross-entropy over the batch. The backward pass
    multiplies the gradient by ``W_l^T`` and by ``f'(z_l)`` once per layer, which is the
    feed-forward analogue of the ``D_k W`` products through time.

    Inputs:

    - x: (N, D) inputs; y: (N,) integer class labels.
    - params: list of ``(W, b)`` pairs from ``mlp_init``.
    - activation: one of ``ACTIVATIONS``.

    Returns a tuple of:

    - norms: (L,) float64 array, ``norms[l] = ||dL/dW_l||_F`` (layer 0 is the input layer).
    - loss: the loss value.
    """
    f = activation_function(activation)
    x = np.asarray(x)
    y = np.asarray(y)
    inputs, pre = [], []
    a = x
    for W, b in params[:-1]:
        inputs.append(a)
        z = a @ W + b
        pre.append(z)
        a = f(z)
    inputs.append(a)
    scores = a @ params[-1][0] + params[-1][1]
    scores = scores - scores.max(axis=1, keepdims=True)
    log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    N = x.shape[0]
    loss = float(-log_p[np.arange(N), y].mean())
    g = np.exp(log_p)
    g[np.arange(N), y] -= 1
    g /= N
    norms = np.empty(len(params))
    for layer in range(len(params) - 1, -1, -1):
        norms[layer] = np.linalg.norm(inputs[layer].T @ g)
        if layer > 0:
            g = (g @ params[layer][0].T) * activation_derivative(activation, pre[layer - 1])
    return norms, loss
