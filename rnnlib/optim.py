"""Optimisers and gradient clipping.

Update rules in the CS231n style: ``next_w, config = rule(w, dw, config)``, where
``config`` is a dict holding the hyperparameters and the rule's state (momentum
buffer, Adam moments), created with defaults on the first call. The small classes
:class:`SGD` and :class:`Adam` apply a rule to every array of a dict of parameters.
The rules follow ``torch.optim.SGD`` and ``torch.optim.Adam`` step for step.
"""

import numpy as np

__all__ = ["sgd", "adam", "SGD", "Adam", "clip_grad_norm", "global_norm"]


def _check_same_shape(w, dw):
    if np.shape(dw) != np.shape(w):
        raise ValueError(f"dw has shape {np.shape(dw)}; expected the shape of w, {np.shape(w)}")


def sgd(w, dw, config=None):
    """Stochastic gradient descent with optional momentum and weight decay.

    With ``g = dw + weight_decay * w`` and momentum ``mu`` (as ``torch.optim.SGD``)::

        v = mu * v + g          (v = g on the first step)
        w = w - learning_rate * v

    With ``momentum = 0`` this is plain ``w - learning_rate * g``.

    Inputs:

    - w: parameter array.
    - dw: gradient, same shape as ``w``.
    - config: dict or None. Keys: ``learning_rate`` (default 1e-2), ``momentum``
      (default 0.0), ``weight_decay`` (default 0.0) and the state ``velocity``.

    Returns a tuple of:

    - next_w: the updated parameters (a new array).
    - config: the dict, with the state updated.
    """
    _check_same_shape(w, dw)
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.0)
    config.setdefault("weight_decay", 0.0)
    g = dw + config["weight_decay"] * w if config["weight_decay"] else dw
    if config["momentum"]:
        v = config.get("velocity")
        v = np.array(g, copy=True) if v is None else config["momentum"] * v + g
        config["velocity"] = v
        g = v
    return w - config["learning_rate"] * g, config


def adam(w, dw, config=None):
    """Adam (Kingma and Ba, 2015) with bias correction.

    At step ``t = 1, 2, ...``::

        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw**2
        m_hat = m / (1 - beta1**t)      v_hat = v / (1 - beta2**t)
        w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)

    Inputs:

    - w: parameter array.
    - dw: gradient, same shape as ``w``.
    - config: dict or None. Keys: ``learning_rate`` (default 1e-3), ``beta1`` (0.9),
      ``beta2`` (0.999), ``epsilon`` (1e-8) and the state ``m``, ``v``, ``t``.

    Returns a tuple of:

    - next_w: the updated parameters (a new array).
    - config: the dict, with the state updated.
    """
    _check_same_shape(w, dw)
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    config["m"] = beta1 * config["m"] + (1 - beta1) * dw
    config["v"] = beta2 * config["v"] + (1 - beta2) * (dw * dw)
    m_hat = config["m"] / (1 - beta1 ** t)
    v_hat = config["v"] / (1 - beta2 ** t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    return next_w.astype(np.result_type(w), copy=False), config


class _Optimizer:
    """Apply an update rule to every array of a dict of parameters, in place."""

    rule = None

    def __init__(self, params, **hyperparameters):
        self.params = params
        self.hyperparameters = hyperparameters
        self.configs = {name: dict(hyperparameters) for name in params}

    def step(self, grads):
        """Update every parameter that has a gradient in ``grads`` (a dict of arrays)."""
        for name, dw in grads.items():
            if name not in self.params:
                raise ValueError(f"grads has the key {name!r}, which is not a parameter")
            w = self.params[name]
            next_w, self.configs[name] = type(self).rule(w, dw, self.configs[name])
            w[...] = next_w


class SGD(_Optimizer):
    """SGD over a dict of parameter arrays, updated in place.

    Example::

        opt = SGD(params, learning_rate=0.1, momentum=0.9)
        opt.step(grads)      # grads has the same keys as params

    Hyperparameters are those of :func:`sgd`.
    """

    rule = staticmethod(sgd)


class Adam(_Optimizer):
    """Adam over a dict of parameter arrays, updated in place.

    Example::

        opt = Adam(params, learning_rate=1e-3)
        opt.step(grads)

    Hyperparameters are those of :func:`adam`.
    """

    rule = staticmethod(adam)


def clip_grad_norm(grads, max_norm, eps=1e-6):
    """Rescale gradients in place so that their global 2-norm is at most ``max_norm``.

    The global norm is ``sqrt(sum over arrays of sum(g**2))``. When it exceeds
    ``max_norm`` every array is multiplied by ``max_norm / (norm + eps)``, which keeps
    the direction of the whole gradient (Pascanu et al., 2013). This is what
    ``torch.nn.utils.clip_grad_norm_`` does.

    Inputs:

    - grads: dict or list of float arrays, changed in place.
    - max_norm: the largest norm allowed.
    - eps: added to the norm to avoid dividing by zero.

    Returns:

    - float, the global norm before clipping.
    """
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    for k, g in enumerate(arrays):
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            raise ValueError(
                f"grads[{k}] is a {type(g).__name__}; expected a float numpy array "
                "(gradients are rescaled in place)"
            )
    total = global_norm(arrays)
    scale = max_norm / (total + eps)
    if scale < 1:
        for g in arrays:
            g *= scale
    return total


def global_norm(grads):
    """Global 2-norm ``sqrt(sum over arrays of sum(g**2))`` of a dict or list of arrays.

    The sum runs in float64 whatever the arrays' dtype. This is the norm
    :func:`clip_grad_norm` compares with ``max_norm``.
    """
    arrays = grads.values() if isinstance(grads, dict) else grads
    return float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in arrays)))
