"""Assignment 1, ``rnn_bptt``: the vanilla RNN step and sequence, their backward passes, and
the temporal softmax loss. Inputs are drawn per case shape; the references are rnnlib's. How a
wrong value is read (its layout, the named mistakes) comes from the self-check's description of
the same function (``grader_view``), so both sides give the same reason."""

import rnnlib

from ..check import rnn as checks
from ..check.grader import grader_view
from ..spec import SOFTMAX_SHAPES, STEP_SHAPES, Part, random_weights

STEP_ARGS = ("x", "h_prev", "Wx", "Wh", "b")
SEQUENCE_ARGS = ("x", "h0", "Wx", "Wh", "b")
STEP_GRADS = ("dx", "dh_prev", "dWx", "dWh", "db")
SEQUENCE_GRADS = ("dx", "dh0", "dWx", "dWh", "db")


# ----------------------------------------------------------------------------- inputs
def make_rnn_step(rng, N, D, H, **_):
    inputs = {"x": rng.normal(size=(N, D)), "h_prev": rng.normal(0.0, 0.5, (N, H))}
    inputs.update(random_weights(rng, D, H, 1))
    inputs["dh"] = rng.normal(size=(N, H))
    return inputs


def make_rnn_sequence(rng, N, T, D, H, **_):
    inputs = {"x": rng.normal(size=(N, T, D)), "h0": rng.normal(0.0, 0.5, (N, H))}
    inputs.update(random_weights(rng, D, H, 1))
    inputs["dh"] = rng.normal(size=(N, T, H))
    return inputs


def make_softmax(rng, N, T, V, **_):
    mask = rng.random((N, T)) < 0.75
    mask.flat[0] = True  # at least one step counts
    return {"x": rng.normal(0.0, 2.0, (N, T, V)), "y": rng.integers(0, V, (N, T)),
            "mask": mask}


# ----------------------------------------------------------------------------- references
def _step(a):
    return rnnlib.rnn_step_forward(a["x"], a["h_prev"], a["Wx"], a["Wh"], a["b"])


def _sequence(a):
    return rnnlib.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])


def rnn_step_forward_reference(a):
    return (_step(a)[0],)


def rnn_step_backward_reference(a):
    return rnnlib.rnn_step_backward(a["dh"], _step(a)[1])


def rnn_forward_reference(a):
    return (_sequence(a)[0],)


def rnn_backward_reference(a):
    return rnnlib.rnn_backward(a["dh"], _sequence(a)[1])


def temporal_softmax_loss_reference(a):
    return rnnlib.temporal_softmax_loss(a["x"], a["y"], a["mask"])


PARTS = (
    Part("rnn_step_forward", STEP_ARGS, ("h", "cache"), ("h",), make_rnn_step,
         rnn_step_forward_reference, shapes=STEP_SHAPES, **grader_view(checks.RNN_STEP_FORWARD)),
    Part("rnn_step_backward", ("dh",), STEP_GRADS, STEP_GRADS, make_rnn_step,
         rnn_step_backward_reference, forward="rnn_step_forward", forward_args=STEP_ARGS,
         shapes=STEP_SHAPES, **grader_view(checks.RNN_STEP_BACKWARD)),
    Part("rnn_forward", SEQUENCE_ARGS, ("h", "cache"), ("h",), make_rnn_sequence,
         rnn_forward_reference, **grader_view(checks.RNN_FORWARD)),
    Part("rnn_backward", ("dh",), SEQUENCE_GRADS, SEQUENCE_GRADS, make_rnn_sequence,
         rnn_backward_reference, forward="rnn_forward", forward_args=SEQUENCE_ARGS,
         **grader_view(checks.RNN_BACKWARD)),
    Part("temporal_softmax_loss", ("x", "y", "mask"), ("loss", "dx"), ("loss", "dx"),
         make_softmax, temporal_softmax_loss_reference, shapes=SOFTMAX_SHAPES,
         **grader_view(checks.TEMPORAL_SOFTMAX_LOSS)),
)
