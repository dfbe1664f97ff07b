"""Assignment 2, ``lstm_backward``: the LSTM step and sequence with their backward passes,
and (extra credit) the peephole step. Inputs are drawn per case shape; the references are
rnnlib's. How a wrong value is read (its layout, the named mistakes) comes from the self-check's
description of the same function (``grader_view``), so both sides give the same reason."""

from functools import partial

import rnnlib

from ..check import lstm as checks
from ..check.grader import grader_view
from ..spec import RNN_SHAPES, STEP_SHAPES, Part, random_weights

STEP_ARGS = ("x", "h_prev", "c_prev", "Wx", "Wh", "b")
SEQUENCE_ARGS = ("x", "h0", "Wx", "Wh", "b")
STEP_GRADS = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")
SEQUENCE_GRADS = ("dx", "dh0", "dWx", "dWh", "db")


# ----------------------------------------------------------------------------- inputs
def make_lstm_step(rng, N, D, H, peephole=False, **_):
    inputs = {"x": rng.normal(size=(N, D)), "h_prev": rng.normal(0.0, 0.5, (N, H)),
              "c_prev": rng.normal(0.0, 1.0, (N, H))}
    inputs.update(random_weights(rng, D, H, 4))
    if peephole:
        inputs["peephole"] = rng.normal(0.0, 0.5, (3, H))
    inputs["dh"] = rng.normal(size=(N, H))
    inputs["dc"] = rng.normal(size=(N, H))
    return inputs


def make_lstm_sequence(rng, N, T, D, H, **_):
    inputs = {"x": rng.normal(size=(N, T, D)), "h0": rng.normal(0.0, 0.5, (N, H))}
    inputs.update(random_weights(rng, D, H, 4))
    inputs["dh"] = rng.normal(size=(N, T, H))
    return inputs


make_lstm_step_peephole = partial(make_lstm_step, peephole=True)


# ----------------------------------------------------------------------------- references
def _step(a):
    return rnnlib.lstm_step_forward(a["x"], a["h_prev"], a["c_prev"], a["Wx"], a["Wh"],
                                    a["b"], peephole=a.get("peephole"))


def _sequence(a):
    return rnnlib.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])


def lstm_step_forward_reference(a):
    h, c, _ = _step(a)
    return h, c


def lstm_step_backward_reference(a):
    return rnnlib.lstm_step_backward(a["dh"], a["dc"], _step(a)[2])


def lstm_step_backward_peephole_reference(a):
    return rnnlib.lstm_step_backward_peephole(a["dh"], a["dc"], _step(a)[2])


def lstm_forward_reference(a):
    return (_sequence(a)[0],)


def lstm_backward_reference(a):
    return rnnlib.lstm_backward(a["dh"], _sequence(a)[1])


PARTS = (
    Part("lstm_step_forward", STEP_ARGS, ("h", "c", "cache"), ("h", "c"), make_lstm_step,
         lstm_step_forward_reference, shapes=STEP_SHAPES,
         **grader_view(checks.LSTM_STEP_FORWARD)),
    Part("lstm_step_backward", ("dh", "dc"), STEP_GRADS, STEP_GRADS, make_lstm_step,
         lstm_step_backward_reference, forward="lstm_step_forward", forward_args=STEP_ARGS,
         shapes=STEP_SHAPES, **grader_view(checks.LSTM_STEP_BACKWARD)),
    Part("lstm_forward", SEQUENCE_ARGS, ("h", "cache"), ("h",), make_lstm_sequence,
         lstm_forward_reference, shapes=RNN_SHAPES, **grader_view(checks.LSTM_FORWARD)),
    Part("lstm_backward", ("dh",), SEQUENCE_GRADS, SEQUENCE_GRADS, make_lstm_sequence,
         lstm_backward_reference, forward="lstm_forward", forward_args=SEQUENCE_ARGS,
         **grader_view(checks.LSTM_BACKWARD)),
    Part("lstm_step_forward_peephole", STEP_ARGS + ("peephole",), ("h", "c", "cache"),
         ("h", "c"), make_lstm_step_peephole, lstm_step_forward_reference,
         shapes=STEP_SHAPES, bonus=True, **grader_view(checks.LSTM_STEP_FORWARD_PEEPHOLE)),
    Part("lstm_step_backward_peephole", ("dh", "dc"), STEP_GRADS + ("dpeephole",),
         STEP_GRADS + ("dpeephole",), make_lstm_step_peephole,
         lstm_step_backward_peephole_reference, forward="lstm_step_forward_peephole",
         forward_args=STEP_ARGS + ("peephole",), shapes=STEP_SHAPES, bonus=True,
         **grader_view(checks.LSTM_STEP_BACKWARD_PEEPHOLE)),
)
