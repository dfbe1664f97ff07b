"""A deep feed-forward network at initialisation: per-layer gradient norms (row-vector convention).

The feed-forward analogue of the products of Jacobians through time: the gradient is multiplied
by ``W_l^T`` and ``f'(z_l)`` once per layer.
"""

import numpy as np

from .. import activations

__all__ = ["mlp_init", "mlp_gradient_norms"]


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
    f = activations.function(activation)
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
            g = (g @ params[layer][0].T) * activations.derivative(activation, pre[layer - 1])
    return norms, loss
