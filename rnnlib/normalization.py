"""Layer normalisation and a layer-normalised vanilla RNN (Ba, Kiros and Hinton, 2016).

Row-vector layout. Layer normalisation rescales each row (one example at one step) over its
``H`` units, so unlike batch normalisation it needs no batch statistics and applies at every
time step of a recurrence with the same gain and bias::

    mu = mean_j a_j,   var = mean_j (a_j - mu)^2,   a_hat = (a - mu) / sqrt(var + eps)
    LN(a) = gamma * a_hat + beta

The layer-normalised RNN normalises the summed inputs before the activation::

    h_t = tanh( LN(x_t Wx + h_{t-1} Wh; gamma, beta) )

(``beta`` plays the role of the bias ``b``). Every pair follows the ``*_forward -> (out, cache)``
/ ``*_backward(dout, cache)`` convention of ``rnnlib``.
"""

import numpy as np

__all__ = [
    "layer_norm_forward",
    "layer_norm_backward",
    "ln_rnn_step_forward",
    "ln_rnn_step_backward",
    "ln_rnn_forward",
    "ln_rnn_backward",
]


def _check(name, array, shape, where):
    if np.shape(array) != tuple(shape):
        raise ValueError(f"{name} has shape {np.shape(array)}; expected {tuple(shape)} ({where})")


def layer_norm_forward(a, gamma, beta, eps=1e-5):
    """Layer normalisation over the last axis.

    Inputs:

    - a: (..., H) summed inputs.
    - gamma, beta: (H,) gain and bias.
    - eps: added to the variance.

    Returns a tuple of:

    - out: (..., H) ``gamma * a_hat + beta``.
    - cache: ``(a_hat, inv_std, gamma)`` for :func:`layer_norm_backward`.
    """
    a = np.asarray(a)
    if a.ndim < 1:
        raise ValueError(f"a has shape {a.shape}; expected (..., H) with at least one axis")
    H = a.shape[-1]
    _check("gamma", gamma, (H,), "H = a.shape[-1]")
    _check("beta", beta, (H,), "H = a.shape[-1]")
    mu = a.mean(axis=-1, keepdims=True)
    centred = a - mu
    inv_std = 1.0 / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)
    a_hat = centred * inv_std
    return gamma * a_hat + beta, (a_hat, inv_std, gamma)


def layer_norm_backward(dout, cache):
    """Backward pass of :func:`layer_norm_forward`.

    With ``d = dout * gamma``: ``da = inv_std * (d - mean(d) - a_hat * mean(d * a_hat))``,
    means over the last axis; ``dgamma`` and ``dbeta`` sum over every leading axis.

    Returns a tuple of ``(da, dgamma, dbeta)``.
    """
    a_hat, inv_std, gamma = cache
    _check("dout", dout, a_hat.shape, "the shape of the forward's output")
    d = dout * gamma
    da = inv_std * (d - d.mean(axis=-1, keepdims=True)
                    - a_hat * (d * a_hat).mean(axis=-1, keepdims=True))
    lead = tuple(range(a_hat.ndim - 1))
    return da, (dout * a_hat).sum(axis=lead), dout.sum(axis=lead)


def _check_rnn(x, h_prev, Wx, Wh, gamma, beta, prev_name):
    if np.ndim(x) < 2:
        raise ValueError(f"x has shape {np.shape(x)}; expected (N, D) or (N, T, D)")
    N, D = np.shape(x)[0], np.shape(x)[-1]
    if np.ndim(h_prev) != 2 or np.shape(h_prev)[0] != N:
        raise ValueError(f"{prev_name} has shape {np.shape(h_prev)}; expected (N, H) with N = {N}")
    H = np.shape(h_prev)[1]
    _check("Wx", Wx, (D, H), "D from x, H from " + prev_name)
    _check("Wh", Wh, (H, H), "H from " + prev_name)
    _check("gamma", gamma, (H,), "H from " + prev_name)
    _check("beta", beta, (H,), "H from " + prev_name)


def ln_rnn_step_forward(x, h_prev, Wx, Wh, gamma, beta, eps=1e-5):
    """One step of the layer-normalised RNN, ``h = tanh(LN(x Wx + h_prev Wh))``.

    Inputs: x (N, D), h_prev (N, H), Wx (D, H), Wh (H, H), gamma (H,), beta (H,).

    Returns ``(h, cache)`` with h (N, H).
    """
    _check_rnn(x, h_prev, Wx, Wh, gamma, beta, "h_prev")
    z, ln_cache = layer_norm_forward(x @ Wx + h_prev @ Wh, gamma, beta, eps)
    h = np.tanh(z)
    return h, (x, h_prev, Wx, Wh, h, ln_cache)


def ln_rnn_step_backward(dh, cache):
    """Backward pass of one step.

    Returns a tuple of ``(dx, dh_prev, dWx, dWh, dgamma, dbeta)``, each shaped like its input.
    """
    x, h_prev, Wx, Wh, h, ln_cache = cache
    _check("dh", dh, h.shape, "(N, H), like h")
    da, dgamma, dbeta = layer_norm_backward(dh * (1.0 - h * h), ln_cache)
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, dgamma, dbeta


def ln_rnn_forward(x, h0, Wx, Wh, gamma, beta, eps=1e-5):
    """Run the layer-normalised RNN over a sequence.

    Inputs: x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), gamma (H,), beta (H,).

    Returns ``(h, cache)`` with h (N, T, H).
    """
    if np.ndim(x) != 3:
        raise ValueError(f"x has shape {np.shape(x)}; expected (N, T, D)")
    _check_rnn(x, h0, Wx, Wh, gamma, beta, "h0")
    N, T, _ = np.shape(x)
    h = np.empty((N, T, np.shape(h0)[1]), dtype=np.result_type(x, h0, Wx, Wh))
    caches, h_prev = [], h0
    for t in range(T):
        h_prev, step_cache = ln_rnn_step_forward(x[:, t], h_prev, Wx, Wh, gamma, beta, eps)
        h[:, t] = h_prev
        caches.append(step_cache)
    return h, caches


def ln_rnn_backward(dh, cache):
    """Backward pass over the sequence; ``dh`` (N, T, H) is the upstream gradient of every h_t.

    Returns a tuple of ``(dx, dh0, dWx, dWh, dgamma, dbeta)``.
    """
    caches = cache
    N, T = np.shape(dh)[0], len(caches)
    _check("dh", dh, (N, T, caches[0][4].shape[1]), "(N, T, H), like h")
    x0, _, Wx, Wh, _, (_, _, gamma) = caches[0]
    dx = np.empty((N, T, Wx.shape[0]), dtype=np.result_type(dh, Wx))
    grads = [np.zeros_like(Wx, dtype=dx.dtype), np.zeros_like(Wh, dtype=dx.dtype),
             np.zeros(gamma.shape, dtype=dx.dtype), np.zeros(gamma.shape, dtype=dx.dtype)]
    dh_next = np.zeros((N, Wh.shape[0]), dtype=dx.dtype)
    for t in range(T - 1, -1, -1):
        dx[:, t], dh_next, *step = ln_rnn_step_backward(dh[:, t] + dh_next, caches[t])
        for total, g in zip(grads, step):
            total += g
    return (dx, dh_next, *grads)
