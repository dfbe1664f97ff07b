"""Stable primitives and the non-recurrent layers around a recurrent network.

Each layer is a pair of pure functions in the style of the CS231n assignments:
``*_forward`` returns ``(out, cache)`` and ``*_backward(dout, cache)`` returns one
gradient per input. All arrays are batch-first: ``N`` batch size, ``T`` time steps,
``D`` input (or embedding) size, ``V`` vocabulary size, ``M`` output size.
"""

import numpy as np

from ._checks import as_float, check_index_array, check_shape, float_dtype

__all__ = [
    "sigmoid",
    "softmax",
    "log_softmax",
    "affine_forward",
    "affine_backward",
    "word_embedding_forward",
    "word_embedding_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
]


def sigmoid(x, out=None):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for any input.

    For very negative ``x`` the term ``exp(-x)`` overflows to ``inf`` and the result is
    exactly 0, the correct limit, so the overflow is silenced rather than avoided. Unlike
    the form ``0.5 * (1 + tanh(x / 2))``, this keeps full relative precision on both
    tails (``sigmoid(-30)`` is about ``9.4e-14``, not a rounding residue).

    Inputs:

    - x: array of any shape (integers are converted to float64).
    - out: optional array of the same shape and a floating dtype to write into
      (it may be ``x`` itself).

    Returns:

    - array of the same shape and dtype as ``x`` with values in [0, 1].
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if out is None:
        out = np.empty_like(x)
    with np.errstate(over="ignore"):
        # multiply by -1 rather than np.negative: on AVX-512 machines numpy's in-place
        # negative returns wrong values for some strided views (a float32 view with a
        # 16-byte stride, as the LSTM's gate blocks are when N = H = 1 and T = 4)
        np.multiply(x, -1, out=out)
        np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    return out


def log_softmax(x, axis=-1):
    """Log of the softmax along ``axis``, computed stably.

    Uses ``log_softmax(x) = (x - m) - log(sum(exp(x - m)))`` with ``m = max(x)``, so
    ``exp`` never overflows and the largest term of the sum is exactly 1.

    Inputs:

    - x: array of scores of any shape.
    - axis: the axis that holds the classes (default the last).

    Returns:

    - array of the same shape and dtype as ``x``.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """Softmax along ``axis``, ``exp(x_k) / sum_j exp(x_j)``, computed stably.

    Inputs:

    - x: array of scores of any shape.
    - axis: the axis that holds the classes (default the last).

    Returns:

    - array of the same shape and dtype as ``x``; it sums to 1 along ``axis``.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def affine_forward(x, w, b):
    """Fully connected layer ``out = x @ w + b``.

    Inputs:

    - x: (N, D) inputs.
    - w: (D, M) weights.
    - b: (M,) bias.

    Returns a tuple of:

    - out: (N, M).
    - cache: ``(x, w)`` for the backward pass.
    """
    dtype = float_dtype(x, w, b)
    x, w, b = as_float(dtype, x, w, b)
    check_shape("x", x, ("N", "D"))
    N, D = x.shape
    check_shape("w", w, ("D", "M"), (D, None), "D = x.shape[1]")
    M = w.shape[1]
    check_shape("b", b, ("M",), (M,), "M = w.shape[1]")
    out = x @ w
    out += b
    return out, (x, w)


def affine_backward(dout, cache):
    """Backward pass of :func:`affine_forward`.

    Inputs:

    - dout: (N, M) upstream gradient.
    - cache: what :func:`affine_forward` returned.

    Returns a tuple of:

    - dx: (N, D), ``dout @ w.T``.
    - dw: (D, M), ``x.T @ dout``.
    - db: (M,), ``dout`` summed over the batch.
    """
    x, w = cache
    dout = np.asarray(dout, dtype=x.dtype)
    check_shape("dout", dout, ("N", "M"), (x.shape[0], w.shape[1]),
                "N = x.shape[0] and M = w.shape[1] of the forward pass")
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def word_embedding_forward(x, W):
    """Look up word vectors: ``out[n, t] = W[x[n, t]]``.

    Inputs:

    - x: (N, T) integer word indices in ``[0, V)`` (any shape of integers works; the
      output then has shape ``x.shape + (D,)``).
    - W: (V, D) embedding matrix, one row per word.

    Returns a tuple of:

    - out: (N, T, D) in the dtype of ``W``.
    - cache: ``(x, W.shape, dtype)`` for the backward pass.
    """
    W = np.asarray(W)
    if not np.issubdtype(W.dtype, np.floating):
        W = W.astype(np.float64)
    check_shape("W", W, ("V", "D"))
    V = W.shape[0]
    x = check_index_array("x", x, V, "V")
    return W[x], (x, W.shape, W.dtype)


def word_embedding_backward(dout, cache):
    """Backward pass of :func:`word_embedding_forward`.

    A word that occurs several times collects the sum of its upstream gradients:
    ``dW[v] = sum over (n, t) with x[n, t] == v of dout[n, t]``.

    Inputs:

    - dout: (N, T, D) upstream gradient.
    - cache: what :func:`word_embedding_forward` returned.

    Returns:

    - dW: (V, D) gradient of the embedding matrix.
    """
    x, (V, D), dtype = cache
    dout = np.asarray(dout, dtype=dtype)
    check_shape("dout", dout, tuple(f"x.shape[{k}]" for k in range(x.ndim)) + ("D",),
                x.shape + (D,), "D = W.shape[1] of the forward pass")
    dW = np.zeros((V, D), dtype=dtype)
    np.add.at(dW, x.reshape(-1), dout.reshape(-1, D))
    return dW


def temporal_affine_forward(x, w, b):
    """Apply one affine map at every time step: ``out[n, t] = x[n, t] @ w + b``.

    Inputs:

    - x: (N, T, D) inputs, for example the hidden states of an RNN.
    - w: (D, M) weights.
    - b: (M,) bias.

    Returns a tuple of:

    - out: (N, T, M), computed with a single matmul over all ``N * T`` rows.
    - cache: ``(x, w)`` for the backward pass.
    """
    dtype = float_dtype(x, w, b)
    x, w, b = as_float(dtype, x, w, b)
    check_shape("x", x, ("N", "T", "D"))
    N, T, D = x.shape
    check_shape("w", w, ("D", "M"), (D, None), "D = x.shape[2]")
    M = w.shape[1]
    check_shape("b", b, ("M",), (M,), "M = w.shape[1]")
    out = (x.reshape(N * T, D) @ w).reshape(N, T, M)
    out += b
    return out, (x, w)


def temporal_affine_backward(dout, cache):
    """Backward pass of :func:`temporal_affine_forward`.

    Inputs:

    - dout: (N, T, M) upstream gradient.
    - cache: what :func:`temporal_affine_forward` returned.

    Returns a tuple of:

    - dx: (N, T, D), ``dout @ w.T``.
    - dw: (D, M), sum over ``n, t`` of ``outer(x[n, t], dout[n, t])``.
    - db: (M,), ``dout`` summed over ``n`` and ``t``.
    """
    x, w = cache
    N, T, D = x.shape
    M = w.shape[1]
    dout = np.asarray(dout, dtype=x.dtype)
    check_shape("dout", dout, ("N", "T", "M"), (N, T, M),
                "N, T = x.shape[:2] and M = w.shape[1] of the forward pass")
    dout2 = dout.reshape(N * T, M)
    dx = (dout2 @ w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T @ dout2
    db = dout2.sum(axis=0)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    """Softmax cross-entropy at every time step, summed over time, averaged over the batch.

    With ``p[n, t] = softmax(x[n, t])``, the loss is::

        L = -(1 / N) * sum over n, t of mask[n, t] * log p[n, t, y[n, t]]

    Steps where ``mask`` is False (padding after the end of a sequence) add nothing to
    the loss and receive zero gradient. The gradient is
    ``dx[n, t] = mask[n, t] * (p[n, t] - onehot(y[n, t])) / N``.

    Inputs:

    - x: (N, T, V) scores (logits) over a vocabulary of size ``V``.
    - y: (N, T) integer targets in ``[0, V)``; masked entries must still be valid indices.
    - mask: (N, T) booleans, True where the step counts.

    Returns a tuple of:

    - loss: scalar of the dtype of ``x``.
    - dx: (N, T, V) gradient of the loss with respect to ``x``.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    check_shape("x", x, ("N", "T", "V"))
    N, T, V = x.shape
    check_shape("y", y, ("N", "T"), (N, T), "N, T = x.shape[:2]")
    check_shape("mask", mask, ("N", "T"), (N, T), "N, T = x.shape[:2]")
    y = check_index_array("y", y, V, "V")
    mask = np.asarray(mask).astype(bool)

    logp = log_softmax(x.reshape(N * T, V))
    rows = np.arange(N * T)
    flat_y = y.reshape(-1)
    flat_mask = mask.reshape(-1)
    loss = -np.sum(logp[rows, flat_y][flat_mask]) / N

    dx = np.exp(logp)
    dx[rows, flat_y] -= 1
    dx *= (flat_mask / N).astype(x.dtype)[:, None]
    return x.dtype.type(loss), dx.reshape(N, T, V)
