"""The activation functions of rnnlib, in one table: the function and its derivative.

Each activation ``f`` is listed once with three things:

- ``apply(name, a, out=None)``: ``f(a)`` of the pre-activation ``a`` (written into ``out``
  when given, so the RNN step can update its buffer in place); ``function(name)`` is the
  same as a function of ``a`` alone;
- ``derivative(name, a)``: ``f'(a)`` from the pre-activation;
- ``derivative_from_output(name, h)``: ``f'(a)`` computed from the output ``h = f(a)`` alone,
  which is what a backward pass keeps: tanh ``1 - h**2``, sigmoid ``h (1 - h)``, ReLU ``1``
  where ``h > 0``, ELU ``1`` where ``h > 0`` and ``h + 1`` elsewhere, identity ``1``.

``BOUND[name]`` is the constant ``gamma`` with ``|f'(a)| <= gamma`` for every ``a`` (chapter 3's
bound on gradient norms). The vanilla RNN (:mod:`rnnlib.rnn`) accepts the subset
``rnnlib.rnn.ACTIVATIONS``; the stability tools accept every name in :data:`NAMES`.
"""

import numpy as np

from .layers import sigmoid

__all__ = [
    "NAMES", "BOUND", "check_activation", "apply", "function", "derivative",
    "derivative_from_output",
]


def _identity(a, out=None):
    if out is None:
        return np.array(a, copy=True)
    out[...] = a
    return out


def _relu(a, out=None):
    return np.maximum(a, 0, out=out)


def _elu(a, out=None):
    value = np.where(a > 0, a, np.expm1(np.minimum(a, 0)))
    if out is None:
        return value
    out[...] = value
    return out


def _sigmoid_derivative(a):
    s = sigmoid(a)
    return s * (1 - s)


def _float_like(mask, like):
    dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.dtype(float)
    return mask.astype(dtype)


# name: (f(a, out), f'(a), f'(a) from h = f(a), bound on |f'|)
_TABLE = {
    "identity": (_identity, lambda a: np.ones_like(a), lambda h: np.ones_like(h), 1.0),
    "tanh": (lambda a, out=None: np.tanh(a, out=out), lambda a: 1 - np.tanh(a) ** 2,
             lambda h: 1 - h * h, 1.0),
    "sigmoid": (sigmoid, _sigmoid_derivative, lambda h: h * (1 - h), 0.25),
    "relu": (_relu, lambda a: _float_like(a > 0, a), lambda h: (h > 0).astype(h.dtype), 1.0),
    "elu": (_elu,
            lambda a: np.where(a > 0, 1.0, np.exp(np.minimum(a, 0))).astype(np.result_type(a, 1.0)),
            lambda h: np.where(h > 0, 1, h + 1).astype(h.dtype), 1.0),
}

#: Every activation rnnlib knows.
NAMES = tuple(_TABLE)

#: ``gamma`` with ``|f'(a)| <= gamma`` for every ``a``, per activation.
BOUND = {name: entry[3] for name, entry in _TABLE.items()}


def check_activation(name, allowed=NAMES):
    """Raise ``ValueError`` naming the accepted activations when ``name`` is not one of them."""
    if name not in allowed:
        raise ValueError(f"activation is {name!r}; expected one of {tuple(allowed)}")


def apply(name, a, out=None):
    """``f(a)`` for the activation ``name``; written into ``out`` (which may be ``a``) if given.

    ELU uses ``alpha = 1``: ``f(a) = a`` for ``a > 0`` and ``exp(a) - 1`` otherwise.
    """
    check_activation(name)
    return _TABLE[name][0](a, out=out)


def function(name):
    """The activation ``name`` as a function of the pre-activation alone, ``a -> f(a)``."""
    check_activation(name)
    return _TABLE[name][0]


def derivative(name, a):
    """``f'(a)`` for the activation ``name`` at the pre-activation ``a``.

    The derivative of ReLU at 0 is taken as 0 (as torch does).
    """
    check_activation(name)
    return _TABLE[name][1](np.asarray(a))


def derivative_from_output(name, h):
    """``f'(a)`` computed from the output ``h = f(a)`` alone (see the module docstring)."""
    check_activation(name)
    return _TABLE[name][2](np.asarray(h))
