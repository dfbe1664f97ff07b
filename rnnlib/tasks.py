"""Synthetic long-range tasks for recurrent networks.

Two seeded generators whose difficulty is set by how long something must be remembered:

- ``adding_problem``: add the two values marked in a stream of random numbers (regression).
- ``brace_matching``: name the bracket that must close next in a string of nested brackets
  (classification).

Both return plain numpy arrays and draw all randomness from a ``numpy.random.Generator``
(pass ``rng=np.random.default_rng(seed)`` or an integer seed), so a notebook that fixes the
seed sees the same data on every machine.
"""

import numpy as np

from .data import one_hot as _one_hot

__all__ = [
    "ADDING_BASELINE_MSE",
    "adding_problem",
    "brace_vocabulary",
    "brace_matching",
    "decode_braces",
    "innermost_open_bracket",
    "one_hot",
]

ADDING_BASELINE_MSE = 1.0 / 6.0
"""Mean squared error of always predicting 1 on the adding problem.

The target is the sum of two independent uniform[0, 1] values, so its mean is 1 and its
variance is 2 * (1 / 12) = 1 / 6, about 0.167.
"""

_OPENERS = "([{<"
_CLOSERS = ")]}>"
_FILLER = "."


def _as_rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None; got {type(rng).__name__}")


def adding_problem(num_samples, T, rng=None, dtype=np.float64):
    """The adding problem (Hochreiter and Schmidhuber, 1997), with one marker in each half.

    Each input step carries two channels: a value drawn uniformly from [0, 1] and a marker
    that is 1 at exactly two steps and 0 elsewhere. One marker falls in the first half of the
    sequence and the other in the second half, so the first marked value must be held for at
    least about T / 2 steps. The target is the sum of the two marked values. Predicting the
    constant 1 gives a mean squared error of 1/6 (``ADDING_BASELINE_MSE``).

    Inputs:

    - num_samples: N, the number of sequences
    - T: sequence length, at least 2
    - rng: numpy Generator or integer seed
    - dtype: floating dtype of the returned arrays

    Returns a tuple of:

    - x: inputs of shape (N, T, 2); ``x[:, :, 0]`` values, ``x[:, :, 1]`` markers
    - y: targets of shape (N,)
    """
    if T < 2:
        raise ValueError(f"T must be at least 2 so that two steps can be marked; got T = {T}")
    if num_samples < 1:
        raise ValueError(f"num_samples must be positive; got {num_samples}")
    rng = _as_rng(rng)
    values = rng.random((num_samples, T))
    half = T // 2
    first = rng.integers(0, half, size=num_samples)
    second = rng.integers(half, T, size=num_samples)
    rows = np.arange(num_samples)
    markers = np.zeros((num_samples, T))
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)
    y = (values[rows, first] + values[rows, second]).astype(dtype)
    return x, y


def brace_vocabulary(num_types=2):
    """Token strings of the brace-matching task.

    Token 0 is the filler ``.``; tokens ``1 .. K`` open brackets of types ``0 .. K-1``
    (``( [ { <``) and tokens ``K+1 .. 2K`` close them (``) ] } >``), so V = 2K + 1.
    """
    if not 1 <= num_types <= len(_OPENERS):
        raise ValueError(f"num_types must be between 1 and {len(_OPENERS)}; got {num_types}")
    return [_FILLER] + list(_OPENERS[:num_types]) + list(_CLOSERS[:num_types])


def decode_braces(tokens, num_types=2):
    """Turn one token sequence of shape (T,) (or a batch (N, T)) into a string (or a list)."""
    vocab = brace_vocabulary(num_types)
    tokens = np.asarray(tokens)
    if tokens.ndim == 1:
        return "".join(vocab[t] for t in tokens)
    return [decode_braces(row, num_types) for row in tokens]


def brace_matching(num_samples, T, num_types=2, max_depth=3, min_gap=None, p_filler=0.2, rng=None):
    """Brace matching: which bracket must close next?

    Each sequence is a prefix of a well-nested bracket string over ``num_types`` bracket
    types with filler tokens ``.``. It is built as

    ``random prefix (may leave brackets open) + key opener + balanced segment``

    where the balanced segment has length at least ``min_gap`` and opens and closes brackets
    of every type (nested up to ``max_depth`` open at once) but ends at the depth where it
    started. The label is the type of the key opener: it is the innermost bracket still open
    at the end, so it is the bracket that must close next. To answer, a model has to keep
    the key's type across the whole balanced segment while tracking the brackets opened and
    closed in between (a stack). Chance accuracy is ``1 / num_types``.

    The prefix leaves at most ``max_depth - 2`` brackets open, so the balanced segment can
    always nest at least one level deeper than the key.

    Inputs:

    - num_samples: N
    - T: sequence length; needs T >= min_gap + 1
    - num_types: K bracket types, 1 to 4
    - max_depth: most brackets open at once, at least 2
    - min_gap: least number of steps after the key opener (default T // 2)
    - p_filler: probability of a filler step where a bracket could also open or close
    - rng: numpy Generator or integer seed

    Returns a tuple of:

    - tokens: integer array (N, T) with values in ``0 .. 2K`` (see ``brace_vocabulary``)
    - y: integer array (N,) with the key's type in ``0 .. K-1``
    """
    brace_vocabulary(num_types)  # validates num_types
    if min_gap is None:
        min_gap = T // 2
    if max_depth < 2:
        raise ValueError(f"max_depth must be at least 2; got {max_depth}")
    if not 0 <= min_gap <= T - 1:
        raise ValueError(
            f"min_gap must be between 0 and T - 1 = {T - 1}; got min_gap = {min_gap}, T = {T}")
    if not 0.0 <= p_filler < 1.0:
        raise ValueError(f"p_filler must be in [0, 1); got {p_filler}")
    rng = _as_rng(rng)
    N = num_samples
    rows = np.arange(N)
    key_position = rng.integers(0, T - min_gap, size=N)
    key_type = rng.integers(0, num_types, size=N)
    coin = rng.random((N, T))
    kinds = rng.integers(0, num_types, size=(N, T))

    tokens = np.zeros((N, T), dtype=np.int64)
    stack = np.zeros((N, max_depth), dtype=np.int64)  # types of the open brackets, bottom first
    depth = np.zeros(N, dtype=np.int64)
    key_depth = np.zeros(N, dtype=np.int64)  # depth just after the key opener
    for t in range(T):
        before = t < key_position
        at_key = t == key_position
        remaining = T - t  # steps left, this one included
        above = depth - key_depth  # brackets opened after the key and still open
        # Before the key: a free walk that leaves room for the key and one more level.
        # After the key: a walk that never closes the key and can return to it in time.
        can_open = np.where(before, depth < max_depth - 2,
                            (depth < max_depth) & (above + 1 <= remaining - 1))
        can_close = np.where(before, depth > 0, above > 0)
        can_fill = np.where(before, True, above < remaining)
        w_open = can_open * (1.0 - p_filler) / 2
        w_close = can_close * (1.0 - p_filler) / 2
        w_fill = can_fill * p_filler
        total = w_open + w_close + w_fill
        u = coin[:, t] * total
        opens = (u < w_open) & ~at_key
        closes = (u >= w_open) & (u < w_open + w_close) & ~at_key
        # p_filler = 0 with no other move left cannot happen: closing is always allowed then
        opened_type = np.where(at_key, key_type, kinds[:, t])
        push = opens | at_key
        tokens[push, t] = 1 + opened_type[push]
        stack[rows[push], depth[push]] = opened_type[push]
        depth[push] += 1
        depth[closes] -= 1
        tokens[closes, t] = 1 + num_types + stack[rows[closes], depth[closes]]
        key_depth[at_key] = depth[at_key]
    labels = key_type.astype(np.int64)
    return tokens, labels


def innermost_open_bracket(tokens, num_types=2):
    """Solve brace matching exactly with a stack: the innermost bracket still open at the end.

    This is the rule a model has to learn, written out; it is also how to find where the
    key of each sequence of :func:`brace_matching` sits (how far back the model must look).

    Inputs:

    - tokens: integer array (N, T) as returned by :func:`brace_matching`
    - num_types: K, the number of bracket types

    Returns a tuple of:

    - kinds: integer array (N,), the type of the innermost open bracket, -1 if none is open
    - positions: integer array (N,), the step where that bracket opened, -1 if none is open
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2:
        raise ValueError(f"tokens has shape {tokens.shape}; expected (N, T)")
    kinds = np.full(tokens.shape[0], -1, dtype=np.int64)
    positions = np.full(tokens.shape[0], -1, dtype=np.int64)
    for n, row in enumerate(tokens):
        stack = []
        for t, token in enumerate(row):
            if 1 <= token <= num_types:
                stack.append((int(token) - 1, t))
            elif token > num_types:
                if not stack or stack[-1][0] != token - 1 - num_types:
                    raise ValueError(f"sequence {n} closes a bracket it did not open at step {t}")
                stack.pop()
        if stack:
            kinds[n], positions[n] = stack[-1]
    return kinds, positions


def one_hot(tokens, V, dtype=np.float64):
    """One-hot encode integer tokens of any shape into shape ``tokens.shape + (V,)``.

    The same function as :func:`rnnlib.data.one_hot` (tokens are ids), under this module's name.
    """
    return _one_hot(tokens, V, dtype=dtype)
