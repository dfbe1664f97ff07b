"""Deep-transition RNN (Pascanu, Gulcehre, Cho and Bengio, 2014), with an optional shortcut.

Row-vector layout. Where the vanilla RNN computes the new state with one layer, the
deep-transition RNN (DT-RNN) puts an intermediate layer ``z_t`` between ``h_{t-1}`` and
``h_t``; the DT(S)-RNN adds a shortcut ``h_{t-1} Ws`` that skips the intermediate layer::

    z_t = tanh(x_t Wx + h_{t-1} W1 + b1)
    h_t = tanh(z_t W2 + h_{t-1} Ws + b2)

``Ws = 0`` gives the plain DT-RNN. The backward pass walks time in reverse carrying
``dh_next``, as ``rnnlib.rnn_backward`` does, with one extra layer per step.
"""

import numpy as np

__all__ = ["dt_rnn_forward", "dt_rnn_backward"]


def _check(name, array, shape, where):
    if np.shape(array) != tuple(shape):
        raise ValueError(f"{name} has shape {np.shape(array)}; expected {tuple(shape)} ({where})")


def dt_rnn_forward(x, h0, Wx, W1, b1, W2, b2, Ws):
    """Run a deep-transition RNN over a sequence.

    Inputs:

    - x: (N, T, D) inputs.
    - h0: (N, H) initial state.
    - Wx: (D, H) input weights of the intermediate layer.
    - W1: (H, H) recurrent weights into the intermediate layer; b1: (H,).
    - W2: (H, H) weights from the intermediate layer to the state; b2: (H,).
    - Ws: (H, H) shortcut weights ``h_{t-1} -> h_t`` (zeros for the plain DT-RNN).

    Returns a tuple of:

    - h: (N, T, H) states.
    - cache: ``(x, h0, Wx, W1, W2, Ws, z, h)`` for :func:`dt_rnn_backward`.
    """
    if np.ndim(x) != 3:
        raise ValueError(f"x has shape {np.shape(x)}; expected (N, T, D)")
    N, T, D = np.shape(x)
    if np.ndim(h0) != 2 or np.shape(h0)[0] != N:
        raise ValueError(f"h0 has shape {np.shape(h0)}; expected (N, H) with N = {N} from x")
    H = np.shape(h0)[1]
    _check("Wx", Wx, (D, H), "D from x, H from h0")
    for name, value in (("W1", W1), ("W2", W2), ("Ws", Ws)):
        _check(name, value, (H, H), "H from h0")
    _check("b1", b1, (H,), "H from h0")
    _check("b2", b2, (H,), "H from h0")
    dtype = np.result_type(x, h0, Wx, W1, W2, Ws)
    z = np.empty((N, T, H), dtype=dtype)
    h = np.empty((N, T, H), dtype=dtype)
    x_proj = x @ Wx + b1
    h_prev = h0
    for t in range(T):
        z[:, t] = np.tanh(x_proj[:, t] + h_prev @ W1)
        h[:, t] = np.tanh(z[:, t] @ W2 + h_prev @ Ws + b2)
        h_prev = h[:, t]
    return h, (x, h0, Wx, W1, W2, Ws, z, h)


def dt_rnn_backward(dh, cache):
    """Backward pass of :func:`dt_rnn_forward`.

    Per step, with ``g_t = (dh_t + dh_next) * (1 - h_t^2)`` and
    ``q_t = (g_t W2^T) * (1 - z_t^2)``::

        dh_next = g_t Ws^T + q_t W1^T,   dW2 += z_t^T g_t,   dWs += h_{t-1}^T g_t,
        dW1 += h_{t-1}^T q_t,   dWx += x_t^T q_t,   dx_t = q_t Wx^T.

    Inputs:

    - dh: (N, T, H) upstream gradient of every state.
    - cache: from :func:`dt_rnn_forward`.

    Returns a tuple of ``(dx, dh0, dWx, dW1, db1, dW2, db2, dWs)``.
    """
    x, h0, Wx, W1, W2, Ws, z, h = cache
    _check("dh", dh, h.shape, "(N, T, H), like h")
    N, T, H = h.shape
    h_prev_all = np.concatenate([h0[:, None, :], h[:, :-1]], axis=1)
    g = np.empty_like(h)
    q = np.empty_like(h)
    dh_next = np.zeros((N, H), dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        g[:, t] = (dh[:, t] + dh_next) * (1 - h[:, t] ** 2)
        q[:, t] = (g[:, t] @ W2.T) * (1 - z[:, t] ** 2)
        dh_next = g[:, t] @ Ws.T + q[:, t] @ W1.T
    q2, g2 = q.reshape(-1, H), g.reshape(-1, H)
    hp2, z2, x2 = h_prev_all.reshape(-1, H), z.reshape(-1, H), x.reshape(-1, x.shape[2])
    return (q @ Wx.T, dh_next, x2.T @ q2, hp2.T @ q2, q2.sum(axis=0),
            z2.T @ g2, g2.sum(axis=0), hp2.T @ g2)
