"""What is graded: the parts (graded functions) of each assignment and their hidden cases.

A part names the graded function (which is also the ``grade_id`` of its solution cell), the
inputs it takes, what it returns and which of those values are compared with rnnlib. A
backward function is evaluated the way a student would use it: the student's own forward
builds the cache on the same inputs, then the student's backward gets the upstream
gradients. Inputs are drawn fresh for every grading run from a secret seed; only the shapes
of the cases are fixed (they are listed in the feedback, the values never are).
"""

from dataclasses import dataclass

import numpy as np

import rnnlib

# The cases of every part: small, with N = 1 and T = 1 edge cases, a square case (D = H,
# where a transposed weight has the right shape and only its values give it away) and
# D != H cases (where it has the wrong shape).
RNN_SHAPES = (
    {"N": 3, "T": 4, "D": 5, "H": 6},
    {"N": 1, "T": 1, "D": 3, "H": 2},
    {"N": 4, "T": 6, "D": 4, "H": 4},
    {"N": 2, "T": 9, "D": 7, "H": 3},
)
SOFTMAX_SHAPES = (
    {"N": 3, "T": 4, "V": 7},
    {"N": 1, "T": 1, "V": 5},
    {"N": 5, "T": 6, "V": 4},
    {"N": 2, "T": 9, "V": 11},
)
RELATIVE_TOLERANCE = 1e-6  # rnnlib.rel_error in float64


@dataclass(frozen=True)
class Part:
    name: str                  # graded function; grade_id of its solution cell
    args: tuple                # inputs passed to it (after the cache, for a backward)
    returns: tuple             # names of everything it returns, in order
    checked: tuple             # returned values compared with the reference
    forward: str = ""          # the student's forward that builds the cache
    forward_args: tuple = ()
    shapes: tuple = RNN_SHAPES
    make: str = ""             # name of the input maker below
    time_axis: tuple = ()      # checked values whose axis 1 is time (for hints)
    bonus: bool = False        # extra credit: added to the total, which is capped at the max

    def plan_entry(self):
        """The part as the sandbox harness sees it (no references, no values)."""
        return {"name": self.name, "call": self.name, "args": list(self.args),
                "forward": self.forward or None, "forward_args": list(self.forward_args),
                "returns": len(self.returns), "return_names": list(self.returns),
                "take": [self.returns.index(name) for name in self.checked],
                "cases": len(self.shapes)}

    def describe_case(self, case):
        step = self.make.startswith(("rnn_step", "lstm_step"))
        return ", ".join(f"{key}={value}" for key, value in self.shapes[case].items()
                         if not (step and key == "T"))


def _weights(rng, D, H, gates):
    return {"Wx": rng.normal(0.0, 1.0 / np.sqrt(D), (D, gates * H)),
            "Wh": rng.normal(0.0, 1.0 / np.sqrt(H), (H, gates * H)),
            "b": rng.normal(0.0, 0.3, (gates * H,))}


def make_rnn_step(rng, N, D, H, **_):
    inputs = {"x": rng.normal(size=(N, D)), "h_prev": rng.normal(0.0, 0.5, (N, H))}
    inputs.update(_weights(rng, D, H, 1))
    inputs["dh"] = rng.normal(size=(N, H))
    return inputs


def make_rnn_sequence(rng, N, T, D, H, **_):
    inputs = {"x": rng.normal(size=(N, T, D)), "h0": rng.normal(0.0, 0.5, (N, H))}
    inputs.update(_weights(rng, D, H, 1))
    inputs["dh"] = rng.normal(size=(N, T, H))
    return inputs


def make_lstm_step(rng, N, D, H, peephole=False, **_):
    inputs = {"x": rng.normal(size=(N, D)), "h_prev": rng.normal(0.0, 0.5, (N, H)),
              "c_prev": rng.normal(0.0, 1.0, (N, H))}
    inputs.update(_weights(rng, D, H, 4))
    if peephole:
        inputs["peephole"] = rng.normal(0.0, 0.5, (3, H))
    inputs["dh"] = rng.normal(size=(N, H))
    inputs["dc"] = rng.normal(size=(N, H))
    return inputs


def make_lstm_sequence(rng, N, T, D, H, **_):
    inputs = {"x": rng.normal(size=(N, T, D)), "h0": rng.normal(0.0, 0.5, (N, H))}
    inputs.update(_weights(rng, D, H, 4))
    inputs["dh"] = rng.normal(size=(N, T, H))
    return inputs


def make_softmax(rng, N, T, V, **_):
    mask = rng.random((N, T)) < 0.75
    mask.flat[0] = True  # at least one step counts
    return {"x": rng.normal(0.0, 2.0, (N, T, V)), "y": rng.integers(0, V, (N, T)),
            "mask": mask}


MAKERS = {
    "rnn_step": make_rnn_step,
    "rnn_sequence": make_rnn_sequence,
    "lstm_step": make_lstm_step,
    "lstm_step_peephole": lambda rng, **shape: make_lstm_step(rng, peephole=True, **shape),
    "lstm_sequence": make_lstm_sequence,
    "softmax": make_softmax,
}


def reference(part, inputs):
    """rnnlib's values for everything ``part`` checks, computed in the grader's process."""
    a = inputs
    name = part.name
    if name == "rnn_step_forward":
        h, _ = rnnlib.rnn_step_forward(a["x"], a["h_prev"], a["Wx"], a["Wh"], a["b"])
        values = (h,)
    elif name == "rnn_step_backward":
        _, cache = rnnlib.rnn_step_forward(a["x"], a["h_prev"], a["Wx"], a["Wh"], a["b"])
        values = rnnlib.rnn_step_backward(a["dh"], cache)
    elif name == "rnn_forward":
        h, _ = rnnlib.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
        values = (h,)
    elif name == "rnn_backward":
        _, cache = rnnlib.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
        values = rnnlib.rnn_backward(a["dh"], cache)
    elif name == "temporal_softmax_loss":
        values = rnnlib.temporal_softmax_loss(a["x"], a["y"], a["mask"])
    elif name in ("lstm_step_forward", "lstm_step_forward_peephole"):
        h, c, _ = rnnlib.lstm_step_forward(a["x"], a["h_prev"], a["c_prev"], a["Wx"], a["Wh"],
                                           a["b"], peephole=a.get("peephole"))
        values = (h, c)
    elif name in ("lstm_step_backward", "lstm_step_backward_peephole"):
        _, _, cache = rnnlib.lstm_step_forward(a["x"], a["h_prev"], a["c_prev"], a["Wx"],
                                               a["Wh"], a["b"], peephole=a.get("peephole"))
        backward = (rnnlib.lstm_step_backward_peephole if name.endswith("_peephole")
                    else rnnlib.lstm_step_backward)
        values = backward(a["dh"], a["dc"], cache)
    elif name == "lstm_forward":
        h, _ = rnnlib.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
        values = (h,)
    elif name == "lstm_backward":
        _, cache = rnnlib.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
        values = rnnlib.lstm_backward(a["dh"], cache)
    else:
        raise KeyError(f"no reference for part {name!r}")
    if len(values) != len(part.checked):
        raise RuntimeError(f"rnnlib returned {len(values)} values for {name}, the part "
                           f"checks {len(part.checked)}")
    return {key: np.asarray(value, dtype=np.float64) for key, value in
            zip(part.checked, values)}


_RNN_STEP = ("x", "h_prev", "Wx", "Wh", "b")
_RNN_SEQ = ("x", "h0", "Wx", "Wh", "b")
_LSTM_STEP = ("x", "h_prev", "c_prev", "Wx", "Wh", "b")
_RNN_GRADS = ("dx", "dh_prev", "dWx", "dWh", "db")
_LSTM_STEP_GRADS = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")

ASSIGNMENTS = {
    "rnn_bptt": (
        Part("rnn_step_forward", _RNN_STEP, ("h", "cache"), ("h",), make="rnn_step"),
        Part("rnn_step_backward", ("dh",), _RNN_GRADS, _RNN_GRADS, forward="rnn_step_forward",
             forward_args=_RNN_STEP, make="rnn_step"),
        Part("rnn_forward", _RNN_SEQ, ("h", "cache"), ("h",), make="rnn_sequence",
             time_axis=("h",)),
        Part("rnn_backward", ("dh",), ("dx", "dh0", "dWx", "dWh", "db"),
             ("dx", "dh0", "dWx", "dWh", "db"), forward="rnn_forward", forward_args=_RNN_SEQ,
             make="rnn_sequence", time_axis=("dx",)),
        Part("temporal_softmax_loss", ("x", "y", "mask"), ("loss", "dx"), ("loss", "dx"),
             shapes=SOFTMAX_SHAPES, make="softmax", time_axis=("dx",)),
    ),
    "lstm_backward": (
        Part("lstm_step_forward", _LSTM_STEP, ("h", "c", "cache"), ("h", "c"),
             make="lstm_step"),
        Part("lstm_step_backward", ("dh", "dc"), _LSTM_STEP_GRADS, _LSTM_STEP_GRADS,
             forward="lstm_step_forward", forward_args=_LSTM_STEP, make="lstm_step"),
        Part("lstm_forward", _RNN_SEQ, ("h", "cache"), ("h",), make="lstm_sequence",
             time_axis=("h",)),
        Part("lstm_backward", ("dh",), ("dx", "dh0", "dWx", "dWh", "db"),
             ("dx", "dh0", "dWx", "dWh", "db"), forward="lstm_forward",
             forward_args=_RNN_SEQ, make="lstm_sequence", time_axis=("dx",)),
        Part("lstm_step_forward_peephole", _LSTM_STEP + ("peephole",), ("h", "c", "cache"),
             ("h", "c"), make="lstm_step_peephole", bonus=True),
        Part("lstm_step_backward_peephole", ("dh", "dc"), _LSTM_STEP_GRADS + ("dpeephole",),
             _LSTM_STEP_GRADS + ("dpeephole",), forward="lstm_step_forward_peephole",
             forward_args=_LSTM_STEP + ("peephole",), make="lstm_step_peephole", bonus=True),
    ),
}


def parts_of(assignment):
    try:
        return ASSIGNMENTS[assignment]
    except KeyError:
        raise KeyError(f"unknown assignment {assignment!r}; the grader knows "
                       f"{', '.join(sorted(ASSIGNMENTS))}") from None


def hidden_cases(parts, seed):
    """Inputs for every part and case (``"part/case/name" -> array``) and the references
    (``(part, case) -> {name: array}``), both from one secret seed."""
    inputs, references = {}, {}
    for index, part in enumerate(parts):
        for case, shape in enumerate(part.shapes):
            rng = np.random.default_rng([seed, index, case])
            values = MAKERS[part.make](rng, **shape)
            for key in set(part.args) | set(part.forward_args):
                inputs[f"{part.name}/{case}/{key}"] = values[key]
            references[(part.name, case)] = reference(part, values)
    return inputs, references
