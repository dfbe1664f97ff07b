"""Higher-order ("more taps") recurrences and their companion form.

Column convention of chapter 3's first sections. A recurrence with ``K`` taps,

    h(t) = f( W_1 h(t-1) + W_2 h(t-2) + ... + W_K h(t-K) + C x(t) ),

is a first-order recurrence on the stacked state ``s(t) = [h(t), h(t-1), ..., h(t-K+1)]``
with the block *companion matrix*

    A = [[W_1, W_2, ..., W_K],
         [ I,   0,  ...,  0 ],
         [ 0,   I,  ...,  0 ],
         ...               ]

so in the linear case its modes are the ``n K`` eigenvalues of ``A``: every extra tap adds
``n`` modes. For a scalar recurrence they are the roots of
``z^K - w_1 z^(K-1) - ... - w_K``.
"""

import numpy as np

__all__ = ["companion_matrix", "higher_order_recurrence"]

_ACTIVATIONS = {
    "identity": lambda a: a,
    "tanh": np.tanh,
    "sigmoid": lambda a: 0.5 * (1.0 + np.tanh(0.5 * a)),
    "relu": lambda a: np.maximum(a, 0.0),
}


def _as_taps(weights):
    taps = [np.atleast_2d(np.asarray(w, dtype=float)) for w in weights]
    if not taps:
        raise ValueError("weights is empty; expected a list of K >= 1 matrices W_1 ... W_K")
    n = taps[0].shape[0]
    for j, w in enumerate(taps, start=1):
        if w.shape != (n, n):
            raise ValueError(
                f"weights[{j - 1}] (W_{j}) has shape {w.shape}; expected ({n}, {n}) like W_1"
            )
    return taps, n


def companion_matrix(weights):
    """Block companion matrix of ``h(t) = sum_j W_j h(t-j)``.

    Inputs:

    - weights: list of K square (n, n) matrices ``[W_1, ..., W_K]`` (scalars allowed for n = 1).

    Returns:

    - A: (n K, n K) matrix with ``s(t) = A s(t-1)`` for ``s(t) = [h(t), ..., h(t-K+1)]``.
    """
    taps, n = _as_taps(weights)
    K = len(taps)
    A = np.zeros((n * K, n * K))
    A[:n, :] = np.concatenate(taps, axis=1)
    A[n:, :-n] = np.eye(n * (K - 1))
    return A


def higher_order_recurrence(weights, C, x, activation="identity", h_init=None):
    """Run ``h(t) = f(sum_j W_j h(t-j) + C x(t))`` from zero (or given) past states.

    Inputs:

    - weights: list of K (n, n) matrices ``[W_1, ..., W_K]``.
    - C: (n, m) input matrix.
    - x: (T, m) inputs, ``x[t] = x(t)``.
    - activation: identity, tanh, sigmoid or relu.
    - h_init: optional (K, n) past states ``[h(-1), h(-2), ..., h(-K)]``; zeros by default.

    Returns:

    - h: (T, n) states, ``h[t] = h(t)``.
    """
    taps, n = _as_taps(weights)
    K = len(taps)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation is {activation!r}; expected one of {sorted(_ACTIVATIONS)}")
    f = _ACTIVATIONS[activation]
    C = np.atleast_2d(np.asarray(C, dtype=float))
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if C.shape != (n, x.shape[1]):
        raise ValueError(
            f"C has shape {C.shape}; expected (n, m) = {(n, x.shape[1])} from W_1 and x"
        )
    past = np.zeros((K, n)) if h_init is None else np.array(h_init, dtype=float)
    if past.shape != (K, n):
        raise ValueError(f"h_init has shape {past.shape}; expected (K, n) = {(K, n)}")
    h = np.empty((x.shape[0], n))
    for t in range(x.shape[0]):
        a = C @ x[t]
        for j in range(K):
            a = a + taps[j] @ past[j]
        h[t] = f(a)
        past = np.concatenate([h[t][None], past[:-1]], axis=0)
    return h
