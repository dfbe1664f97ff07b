"""Gradient checking: relative error and centered finite differences.

A backward pass is trusted once it matches a numerical gradient. For a step ``h`` the
centered difference ``(f(x + h) - f(x - h)) / (2 h)`` has an error of order ``h**2``,
so in float64 with ``h = 1e-5`` a correct analytic gradient typically agrees to a
relative error below ``1e-7``.
"""

import numpy as np

__all__ = [
    "rel_error",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
]


def rel_error(x, y):
    """Largest elementwise relative error between two arrays.

    Computed as ``max |x - y| / max(1e-8, |x| + |y|)`` with the ratio taken element by
    element, so a single wrong entry shows even when the arrays are large. The floor
    ``1e-8`` keeps entries that are both (near) zero from dividing by zero.

    Inputs:

    - x, y: arrays of the same shape (or broadcastable shapes), or scalars.

    Returns:

    - float, 0.0 for identical arrays; 0.0 for empty arrays.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ratio = np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))
    return float(np.max(ratio)) if ratio.size else 0.0


def eval_numerical_gradient(f, x, verbose=False, h=1e-5):
    """Numerical gradient of a scalar function by centered differences.

    ``grad[k] = (f(x + h e_k) - f(x - h e_k)) / (2 h)`` for every index ``k`` of ``x``.
    ``x`` is changed in place during the evaluation and restored afterwards, so ``f``
    may read it through a closure.

    Inputs:

    - f: function of one argument (the array ``x``) returning a scalar.
    - x: float array (use float64 for meaningful results).
    - verbose: print each index and its gradient when True.
    - h: step size.

    Returns:

    - grad: array of the shape of ``x``.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numerical gradient of ``sum(f(x) * df)`` for an array-valued function.

    This is the gradient that a backward pass returns when ``df`` is the upstream
    gradient of ``f(x)``: ``grad[k] = sum((f(x + h e_k) - f(x - h e_k)) * df) / (2 h)``.
    ``x`` is changed in place during the evaluation and restored afterwards.

    Inputs:

    - f: function of one argument (the array ``x``) returning an array shaped like ``df``.
    - x: float array.
    - df: upstream gradient, same shape as ``f(x)``.
    - h: step size.

    Returns:

    - grad: array of the shape of ``x``.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), copy=True)
        x[ix] = old - h
        neg = np.array(f(x), copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=0):
    """Compare an analytic gradient with centered differences at a few random entries.

    Useful when ``x`` is too large to check every entry. The entries are drawn with
    ``numpy.random.default_rng(seed)``, so the check is reproducible.

    Inputs:

    - f: function of one argument (the array ``x``) returning a scalar.
    - x: float array; changed in place during the check and restored.
    - analytic_grad: the gradient to check, same shape as ``x``.
    - num_checks: how many entries to check.
    - h: step size.
    - seed: seed of the random choice of entries.

    Returns:

    - list of ``num_checks`` relative errors, one per checked entry, computed as in
      :func:`rel_error`.
    """
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        numeric = (f_plus - f_minus) / (2 * h)
        errors.append(rel_error(numeric, analytic_grad[ix]))
    return errors
