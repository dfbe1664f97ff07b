"""Stacked (multi-layer) and bidirectional recurrent networks built from the single layers.

A layer's parameters are a dict ``{"Wx", "Wh", "b"}`` (an LSTM layer may add
``"peephole"``), as returned by :func:`rnnlib.init.init_rnn_params`; ``cell`` is one of
``"rnn"``, ``"lstm"``, ``"gru"``.

Stacked network of ``L`` layers, each layer's hidden states being the next layer's input::

    h^(0) = x,    h^(l) = layer_l(h^(l-1), h0^(l))   for l = 1 .. L,    output h^(L)

Bidirectional layer: one network reads the sequence forwards, another reads it
backwards, and their states are concatenated at every time step::

    out[:, t] = [h_fw[:, t], h_bw[:, t]]      (N, T, 2H)

where ``h_bw[:, t]`` has read ``x_T, ..., x_t`` (as ``torch.nn.RNN(bidirectional=True)``).
"""

import numpy as np

from ._checks import check_shape
from .cells import CELLS, get_cell

__all__ = [
    "CELLS",
    "layer_forward",
    "layer_backward",
    "stacked_forward",
    "stacked_backward",
    "bidirectional_forward",
    "bidirectional_backward",
]

def _check_params(name, params):
    if not isinstance(params, dict) or not {"Wx", "Wh", "b"} <= set(params):
        raise ValueError(f"{name} must be a dict with the keys 'Wx', 'Wh' and 'b'")


def _zeros_h0(x, params):
    x = np.asarray(x)
    H = np.shape(params["Wh"])[0]
    dtype = np.result_type(x, params["Wx"])
    if not np.issubdtype(dtype, np.floating):
        dtype = np.float64
    return np.zeros((x.shape[0], H), dtype=dtype)


def layer_forward(x, h0, params, cell="rnn", activation="tanh"):
    """Run one recurrent layer of the given cell over a sequence.

    Inputs:

    - x: (N, T, D) input sequence.
    - h0: (N, H) initial hidden state, or None for zeros.
    - params: dict with ``Wx``, ``Wh``, ``b`` (and optionally ``peephole`` for an LSTM).
    - cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
    - activation: activation of the vanilla RNN (ignored by the gated cells).

    Returns a tuple of:

    - h: (N, T, H).
    - cache: for :func:`layer_backward`.
    """
    spec = get_cell(cell)
    _check_params("params", params)
    if h0 is None:
        h0 = _zeros_h0(x, params)
    h, cache = spec.layer_forward(x, h0, params, activation)
    return h, (cell, cache)


def layer_backward(dh, cache):
    """Backward pass of :func:`layer_forward`.

    Returns a tuple of:

    - dx: (N, T, D)
    - dh0: (N, H)
    - grads: dict with ``Wx``, ``Wh``, ``b`` (and ``peephole`` when it was used).
    """
    cell, inner = cache
    return get_cell(cell).layer_backward(dh, inner)


def stacked_forward(x, h0, layers, cell="rnn", activation="tanh"):
    """Run ``L`` recurrent layers on top of each other.

    Layer ``l`` reads the hidden states of layer ``l - 1`` (layer 1 reads ``x``); its
    ``Wx`` therefore has shape (H_{l-1}, kH_l).

    Inputs:

    - x: (N, T, D) input sequence.
    - h0: list of ``L`` initial states (N, H_l), an (L, N, H) array, or None for zeros.
    - layers: list of ``L`` parameter dicts ``{"Wx", "Wh", "b"}``.
    - cell: ``"rnn"``, ``"lstm"`` or ``"gru"`` (the same for every layer).
    - activation: activation of the vanilla RNN.

    Returns a tuple of:

    - h: (N, T, H_L) hidden states of the top layer.
    - cache: for :func:`stacked_backward`; ``cache[1]`` is the list of every
      layer's hidden states.
    """
    get_cell(cell)
    if not isinstance(layers, (list, tuple)) or len(layers) == 0:
        raise ValueError("layers must be a non-empty list of parameter dicts")
    for k, params in enumerate(layers):
        _check_params(f"layers[{k}]", params)
    L = len(layers)
    if h0 is None:
        h0 = [None] * L
    elif len(h0) != L:
        raise ValueError(f"h0 holds {len(h0)} initial states; expected one per layer, L = {L}")
    caches, outputs = [], []
    h = x
    for k in range(L):
        h, cache = layer_forward(h, h0[k], layers[k], cell, activation)
        caches.append(cache)
        outputs.append(h)
    return h, (caches, outputs)


def stacked_backward(dh, cache):
    """Backward pass of :func:`stacked_forward`.

    The gradient of the top layer's output goes through the top layer; the ``dx`` it
    returns is the upstream gradient of the layer below, and so on down to ``x``.

    Inputs:

    - dh: (N, T, H_L) upstream gradient of the top layer's hidden states.
    - cache: what :func:`stacked_forward` returned.

    Returns a tuple of:

    - dx: (N, T, D)
    - dh0: list of ``L`` arrays (N, H_l)
    - grads: list of ``L`` dicts with ``Wx``, ``Wh``, ``b``
    """
    caches, outputs = cache
    check_shape("dh", dh, ("N", "T", "H"), outputs[-1].shape,
                "(N, T, H) = the top layer's output shape")
    L = len(caches)
    dh0, grads = [None] * L, [None] * L
    for k in reversed(range(L)):
        dh, dh0[k], grads[k] = layer_backward(dh, caches[k])
    return dh, dh0, grads


def bidirectional_forward(x, h0, params_fw, params_bw, cell="rnn", activation="tanh"):
    """A bidirectional recurrent layer: outputs of a forward and a backward pass, concatenated.

    The backward network runs over ``x[:, ::-1]``; its states are reversed again so
    that ``out[:, t] = [h_fw[:, t], h_bw[:, t]]``.

    Inputs:

    - x: (N, T, D) input sequence.
    - h0: pair ``(h0_fw, h0_bw)`` of (N, H) initial states (either may be None), or
      None for zeros.
    - params_fw, params_bw: parameter dicts of the two directions.
    - cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
    - activation: activation of the vanilla RNN.

    Returns a tuple of:

    - out: (N, T, H_fw + H_bw), usually (N, T, 2H).
    - cache: for :func:`bidirectional_backward`.
    """
    get_cell(cell)
    h0_fw, h0_bw = (None, None) if h0 is None else h0
    x = np.asarray(x)
    check_shape("x", x, ("N", "T", "D"))
    h_fw, cache_fw = layer_forward(x, h0_fw, params_fw, cell, activation)
    h_bw, cache_bw = layer_forward(x[:, ::-1], h0_bw, params_bw, cell, activation)
    out = np.concatenate([h_fw, h_bw[:, ::-1]], axis=2)
    return out, (cache_fw, cache_bw, h_fw.shape[2], out.shape)


def bidirectional_backward(dout, cache):
    """Backward pass of :func:`bidirectional_forward`.

    Inputs:

    - dout: (N, T, H_fw + H_bw) upstream gradient.
    - cache: what :func:`bidirectional_forward` returned.

    Returns a tuple of:

    - dx: (N, T, D), the sum of both directions' input gradients.
    - dh0: pair ``(dh0_fw, dh0_bw)`` of (N, H) arrays.
    - grads_fw, grads_bw: dicts with ``Wx``, ``Wh``, ``b`` of each direction.
    """
    cache_fw, cache_bw, H_fw, out_shape = cache
    dout = np.asarray(dout)
    check_shape("dout", dout, ("N", "T", "2H"), out_shape,
                "N, T = x.shape[:2] and 2H = H_fw + H_bw of the forward pass")
    dx_fw, dh0_fw, grads_fw = layer_backward(dout[:, :, :H_fw], cache_fw)
    dx_bw, dh0_bw, grads_bw = layer_backward(dout[:, ::-1, H_fw:], cache_bw)
    return dx_fw + dx_bw[:, ::-1], (dh0_fw, dh0_bw), grads_fw, grads_bw
