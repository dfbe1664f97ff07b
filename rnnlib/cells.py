"""The recurrent cells of rnnlib in one registry: what every cell kind is made of.

Every helper that takes ``cell="rnn" | "lstm" | "gru"`` (stacked and bidirectional networks,
the many-to-one training helpers, the initialisation) looks the cell up here, so adding a
cell kind means adding one entry.

A :class:`Cell` lists:

- ``gates``: the names of its gate blocks, in the order of the columns of ``Wx`` (D, kH),
  ``Wh`` (H, kH) and ``b`` (kH,), with ``k = blocks = len(gates)``;
- ``has_cell_state``: whether a step also carries a cell state ``c`` (the LSTM);
- ``step_forward``, ``step_backward``, ``forward``, ``backward``: its functions;
- ``layer_forward(x, h0, params, activation)`` and ``layer_backward(dh, cache)``: the
  sequence pair on a parameter dict ``{"Wx", "Wh", "b"}`` (plus ``"peephole"`` for a
  peephole LSTM); the backward returns ``(dx, dh0, grads)`` with ``grads`` a dict.
"""

from dataclasses import dataclass
from typing import Callable

from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .lstm import (
    lstm_backward,
    lstm_backward_peephole,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)
from .rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward

__all__ = ["Cell", "REGISTRY", "CELLS", "get_cell", "blocks"]


@dataclass(frozen=True)
class Cell:
    """One recurrent cell kind (see the module docstring for the fields)."""

    name: str
    gates: tuple
    has_cell_state: bool
    step_forward: Callable
    step_backward: Callable
    forward: Callable
    backward: Callable
    layer_forward: Callable
    layer_backward: Callable

    @property
    def blocks(self):
        """Number of gate blocks ``k``: ``Wx`` is (D, kH)."""
        return len(self.gates)


def _weights(params):
    return params["Wx"], params["Wh"], params["b"]


def _grads(dWx, dWh, db, **extra):
    return {"Wx": dWx, "Wh": dWh, "b": db, **extra}


def _rnn_layer_forward(x, h0, params, activation="tanh"):
    return rnn_forward(x, h0, *_weights(params), activation=activation)


def _rnn_layer_backward(dh, cache):
    dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)
    return dx, dh0, _grads(dWx, dWh, db)


def _lstm_layer_forward(x, h0, params, activation=None):
    return lstm_forward(x, h0, *_weights(params), peephole=params.get("peephole"))


def _lstm_layer_backward(dh, cache):
    if cache[3] is None:      # the forward pass's peephole weights
        dx, dh0, dWx, dWh, db = lstm_backward(dh, cache)
        return dx, dh0, _grads(dWx, dWh, db)
    dx, dh0, dWx, dWh, db, dpeephole = lstm_backward_peephole(dh, cache)
    return dx, dh0, _grads(dWx, dWh, db, peephole=dpeephole)


def _gru_layer_forward(x, h0, params, activation=None):
    return gru_forward(x, h0, *_weights(params))


def _gru_layer_backward(dh, cache):
    dx, dh0, dWx, dWh, db = gru_backward(dh, cache)
    return dx, dh0, _grads(dWx, dWh, db)


#: Every cell kind, by name.
REGISTRY = {
    "rnn": Cell("rnn", ("h",), False, rnn_step_forward, rnn_step_backward, rnn_forward,
                rnn_backward, _rnn_layer_forward, _rnn_layer_backward),
    "lstm": Cell("lstm", ("i", "f", "g", "o"), True, lstm_step_forward, lstm_step_backward,
                 lstm_forward, lstm_backward, _lstm_layer_forward, _lstm_layer_backward),
    "gru": Cell("gru", ("r", "z", "n"), False, gru_step_forward, gru_step_backward, gru_forward,
                gru_backward, _gru_layer_forward, _gru_layer_backward),
}

#: The names of the cell kinds, ``("rnn", "lstm", "gru")``.
CELLS = tuple(REGISTRY)


def get_cell(cell, argument="cell"):
    """The :class:`Cell` called ``cell``; ``ValueError`` naming ``argument`` if there is none."""
    if not isinstance(cell, str) or cell not in REGISTRY:
        raise ValueError(f"{argument} is {cell!r}; expected one of {CELLS}")
    return REGISTRY[cell]


def blocks(cell, argument="cell"):
    """Number of gate blocks of the cell kind: 1 (rnn), 4 (lstm), 3 (gru)."""
    return get_cell(cell, argument).blocks
