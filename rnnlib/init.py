"""Weight initialisation for recurrent networks.

Every function takes a ``numpy.random.Generator`` (``numpy.random.default_rng(seed)``)
where it draws random numbers, so results are reproducible.
"""

import numpy as np

from .cells import get_cell

__all__ = [
    "glorot_uniform",
    "glorot_normal",
    "orthogonal",
    "scaled_identity",
    "init_rnn_params",
]

def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng is {type(rng).__name__}; expected a numpy.random.Generator, "
            "for example numpy.random.default_rng(0)"
        )


def glorot_uniform(fan_in, fan_out, rng, dtype=np.float64):
    """Glorot (Xavier) uniform initialisation (Glorot and Bengio, 2010).

    Draws from ``U(-limit, limit)`` with ``limit = sqrt(6 / (fan_in + fan_out))``, so the
    variance is ``2 / (fan_in + fan_out)``.

    Inputs:

    - fan_in, fan_out: the matrix is (fan_in, fan_out).
    - rng: a ``numpy.random.Generator``.
    - dtype: floating dtype of the result.

    Returns:

    - (fan_in, fan_out) array.
    """
    _check_rng(rng)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(dtype)


def glorot_normal(fan_in, fan_out, rng, dtype=np.float64):
    """Glorot (Xavier) normal initialisation: ``N(0, 2 / (fan_in + fan_out))``.

    Inputs:

    - fan_in, fan_out: the matrix is (fan_in, fan_out).
    - rng: a ``numpy.random.Generator``.
    - dtype: floating dtype of the result.

    Returns:

    - (fan_in, fan_out) array.
    """
    _check_rng(rng)
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (std * rng.standard_normal((fan_in, fan_out))).astype(dtype)


def orthogonal(shape, rng, gain=1.0, dtype=np.float64):
    """Random orthogonal matrix (Saxe et al., 2014), scaled by ``gain``.

    Takes the QR decomposition of a standard normal matrix and fixes the signs of the
    columns of ``Q`` with the signs of ``diag(R)``, which makes the result uniformly
    distributed over orthogonal matrices. For a square matrix ``W``,
    ``W^T W = gain**2 * I``: every singular value equals ``gain``, so repeated
    multiplication by ``W`` neither shrinks nor grows a vector. For a non-square
    shape the rows or the columns (whichever are fewer) are orthonormal.

    Inputs:

    - shape: ``(rows, cols)``.
    - rng: a ``numpy.random.Generator``.
    - gain: scale factor.
    - dtype: floating dtype of the result.

    Returns:

    - array of the given shape.
    """
    _check_rng(rng)
    rows, cols = shape
    big, small = max(rows, cols), min(rows, cols)
    a = rng.standard_normal((big, small))
    q, r = np.linalg.qr(a)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1
    q *= signs
    if rows < cols:
        q = q.T
    return (gain * q).astype(dtype)


def scaled_identity(n, scale=1.0, dtype=np.float64):
    """``scale`` times the (n, n) identity matrix.

    The recurrent initialisation of the IRNN (Le, Jaitly and Hinton, 2015): a relu RNN
    whose hidden-to-hidden matrix starts as the identity copies its state forward.

    Returns:

    - (n, n) array.
    """
    return (scale * np.eye(n)).astype(dtype)


def init_rnn_params(D, H, rng, kind="rnn", forget_bias=1.0, dtype=np.float64):
    """Initial parameters ``{"Wx", "Wh", "b"}`` for a recurrent layer.

    Each gate block (one for ``"rnn"``, three for ``"gru"``, four for ``"lstm"``) gets
    its own Glorot-uniform (D, H) input matrix and its own orthogonal (H, H) recurrent
    matrix; biases start at zero, except the LSTM forget-gate bias, which starts at
    ``forget_bias`` (1.0 by default, as recommended by Jozefowicz et al., 2015) so that
    the cell remembers by default.

    Inputs:

    - D: input size.
    - H: hidden size.
    - rng: a ``numpy.random.Generator``.
    - kind: ``"rnn"``, ``"gru"`` or ``"lstm"``.
    - forget_bias: initial LSTM forget-gate bias (ignored for the other kinds).
    - dtype: floating dtype of the parameters.

    Returns:

    - dict with ``Wx`` (D, kH), ``Wh`` (H, kH) and ``b`` (kH,), where ``k`` is the
      number of gate blocks; gate blocks follow the order of :mod:`rnnlib.lstm`
      (i, f, g, o) and :mod:`rnnlib.gru` (r, z, n).
    """
    k = get_cell(kind, "kind").blocks
    _check_rng(rng)
    Wx = np.concatenate([glorot_uniform(D, H, rng) for _ in range(k)], axis=1)
    Wh = np.concatenate([orthogonal((H, H), rng) for _ in range(k)], axis=1)
    b = np.zeros(k * H)
    if kind == "lstm":
        b[H:2 * H] = forget_bias
    return {"Wx": Wx.astype(dtype), "Wh": Wh.astype(dtype), "b": b.astype(dtype)}
