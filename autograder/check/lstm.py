"""Self-check descriptions of Assignment 2 (``lstm_backward``): the LSTM, and the peephole
step of the extra credit.

Each description names the function's fixed cases and its typical mistakes (what a buggy
version computes, with the message that names the bug); ``core`` does the rest.
"""

import itertools

import numpy as np

import rnnlib
from rnnlib import sigmoid

from . import isolation
from .core import Backward, Forward, grid

#: The grader's setup for this assignment: the source notebook's ``setup_imports`` cell.
SETUP = "import numpy as np\nfrom rnnlib import sigmoid\n"

GATES = ("i", "f", "g", "o")
_GATE_HELP = ("Wx[:, 0:H] input gate i, [H:2H] forget gate f, [2H:3H] candidate g, "
              "[3H:4H] output gate o")
_LSTM_STEP_ARGS = ("x", "h_prev", "c_prev", "Wx", "Wh", "b")
SEQUENCE_ARGS = ("x", "h0", "Wx", "Wh", "b")


def _order_name(order):
    return "(" + ", ".join(order) + ")"


# ----------------------------------------------------------------------------- cases
def _lstm_step_cases(peephole=False):
    """Two cases (N=3, D=5, H=4), with a (3, H) peephole array when asked."""
    N, D, H = 3, 5, 4
    fixed = dict(
        x=grid((N, D), -0.7, 0.9), h_prev=grid((N, H), 0.4, -0.5),
        c_prev=grid((N, H), -0.8, 0.6), Wx=grid((D, 4 * H), -0.6, 0.8),
        Wh=grid((H, 4 * H), 0.7, -0.5), b=grid((4 * H,), -0.3, 0.5),
    )
    rng = np.random.default_rng(1997)
    random = dict(
        x=rng.normal(size=(N, D)), h_prev=rng.normal(size=(N, H)),
        c_prev=rng.normal(size=(N, H)), Wx=0.5 * rng.normal(size=(D, 4 * H)),
        Wh=0.5 * rng.normal(size=(H, 4 * H)), b=0.3 * rng.normal(size=4 * H),
    )
    if peephole:
        fixed["peephole"] = grid((3, H), -0.5, 0.7)
        random["peephole"] = 0.5 * rng.normal(size=(3, H))
    return [fixed, random]


def _lstm_seq_cases():
    """Two cases (N=3, T=4, D=5, H=4)."""
    N, T, D, H = 3, 4, 5, 4
    fixed = dict(
        x=grid((N, T, D), -0.8, 0.7), h0=grid((N, H), 0.5, -0.4),
        Wx=grid((D, 4 * H), -0.6, 0.7), Wh=grid((H, 4 * H), 0.6, -0.5),
        b=grid((4 * H,), -0.2, 0.6),
    )
    rng = np.random.default_rng(2015)
    random = dict(
        x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)),
        Wx=0.5 * rng.normal(size=(D, 4 * H)), Wh=0.5 * rng.normal(size=(H, 4 * H)),
        b=0.3 * rng.normal(size=4 * H),
    )
    return [fixed, random]



# ----------------------------------------------------------------------------- mistake models
def _lstm_step_variant(x, h_prev, c_prev, Wx, Wh, b, order=GATES, peephole=None,
                       tanh_of_c=True, keep_c_prev=True, g_sigmoid=False,
                       output_peeks_at_c_prev=False, bias=True, o_tanh=False,
                       h_from_c_prev=False, roles=("f", "i", "g"), no_peephole=None):
    """One LSTM step with switches for the usual mistakes; defaults give the right answer.

    order: which gate each column block holds, as the student's code reads them.
    roles: the gates (A, B, C) of the cell update c = A * c_prev + B * C.
    no_peephole: the index (0 i, 1 f, 2 o) of a peephole term left out.
    Returns (h, c, values) where values holds the gates and cell state for the backward.
    """
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + (b if bias else 0.0)
    blocks = {gate: a[:, k * H:(k + 1) * H] for k, gate in enumerate(order)}
    p_i, p_f, p_o = peephole if peephole is not None else (0.0, 0.0, 0.0)
    if no_peephole is not None:
        p_i, p_f, p_o = [0.0 if k == no_peephole else p for k, p in enumerate((p_i, p_f, p_o))]
    gate = dict(i=sigmoid(blocks["i"] + p_i * c_prev), f=sigmoid(blocks["f"] + p_f * c_prev),
                g=sigmoid(blocks["g"]) if g_sigmoid else np.tanh(blocks["g"]))
    c_in = blocks["o"] + p_o * c_prev
    gate["o"] = np.tanh(c_in) if o_tanh else sigmoid(c_in)  # only read through ``roles``
    A, B, C = (gate[r] for r in roles)
    c = (A * c_prev if keep_c_prev else 0.0) + B * C
    o_in = blocks["o"] + p_o * (c_prev if output_peeks_at_c_prev else c)
    o = np.tanh(o_in) if o_tanh else sigmoid(o_in)
    h = o * ((np.tanh(c_prev) if h_from_c_prev else np.tanh(c)) if tanh_of_c else c)
    return h, c, dict(i=gate["i"], f=gate["f"], g=gate["g"], o=o, c=c, tanh_c=np.tanh(c))


def _lstm_step_backward_variant(x, h_prev, c_prev, Wx, Wh, b, dh, dc, peephole=None,
                                use_dc=True, dh_to_c=True, order=GATES, forget_factor=True,
                                peephole_into_dc=True, peephole_into_dc_prev=True,
                                dp_o_uses_c_prev=False):
    """Backward pass of one LSTM step with switches for the usual mistakes.

    Returns (dx, dh_prev, dc_prev, dWx, dWh, db, dpeephole).
    """
    _, _, v = _lstm_step_variant(x, h_prev, c_prev, Wx, Wh, b, peephole=peephole)
    i, f, g, o, c, tanh_c = (v[k] for k in ("i", "f", "g", "o", "c", "tanh_c"))
    p_i, p_f, p_o = peephole if peephole is not None else (0.0, 0.0, 0.0)
    da_o = dh * tanh_c * o * (1 - o)
    dc_total = (dc if use_dc else 0.0) + (dh * o * (1 - tanh_c ** 2) if dh_to_c else 0.0)
    if peephole_into_dc:
        dc_total = dc_total + da_o * p_o
    da_gate = dict(
        i=dc_total * g * i * (1 - i),
        f=dc_total * c_prev * f * (1 - f),
        g=dc_total * i * (1 - g ** 2),
        o=da_o,
    )
    da = np.concatenate([da_gate[gate] for gate in order], axis=1)
    dc_prev = dc_total * f if forget_factor else dc_total
    if peephole_into_dc_prev:
        dc_prev = dc_prev + da_gate["i"] * p_i + da_gate["f"] * p_f
    dpeephole = np.stack([
        (da_gate["i"] * c_prev).sum(axis=0),
        (da_gate["f"] * c_prev).sum(axis=0),
        (da_gate["o"] * (c_prev if dp_o_uses_c_prev else c)).sum(axis=0),
    ])
    return (da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0), dpeephole)


def _wrong_orders():
    return [order for order in itertools.permutations(GATES) if order != GATES]


def _lstm_forward_variant(x, h0, Wx, Wh, b, carry_c=True, c0_from_h0=False):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    h_prev, c_prev = h0, (h0 if c0_from_h0 else np.zeros_like(h0))
    for t in range(T):
        h_prev, c_prev, _ = _lstm_step_variant(x[:, t], h_prev,
                                               c_prev if carry_c else np.zeros_like(h0),
                                               Wx, Wh, b)
        h[:, t] = h_prev
    return h


def _lstm_backward_variant(x, h0, Wx, Wh, b, dh, carry_dc=True, add_next=True,
                           every_upstream=True, accumulate=True):
    N, T, _ = x.shape
    H = h0.shape[1]
    hs, cs = [h0], [np.zeros_like(h0)]
    for t in range(T):
        h_t, c_t, _ = _lstm_step_variant(x[:, t], hs[-1], cs[-1], Wx, Wh, b)
        hs.append(h_t)
        cs.append(c_t)
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        upstream = dh[:, t] if (every_upstream or t == T - 1) else 0.0
        dh_t = upstream + (dh_next if add_next else 0.0)
        dc_t = dc_next if carry_dc else np.zeros((N, H))
        dx[:, t], dh_next, dc_next, dWx_t, dWh_t, db_t, _ = _lstm_step_backward_variant(
            x[:, t], hs[t], cs[t], Wx, Wh, b, dh_t, dc_t)
        if accumulate:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
    return dx, dh_next, dWx, dWh, db


def _gate_order_message(order):
    return (f"gate blocks in the wrong order: expected (i, f, g, o), that is {_GATE_HELP}; "
            f"your code uses the order {_order_name(order)}")

def _lstm_step_forward_mistakes(case, peephole=None):
    args = [case[k] for k in _LSTM_STEP_ARGS]
    h_mistakes, c_mistakes = [], []

    def add(message, **switches):
        h, c, _ = _lstm_step_variant(*args, peephole=peephole, **switches)
        h_mistakes.append((h, message))
        c_mistakes.append((c, message))

    for order in _wrong_orders():
        add(_gate_order_message(order), order=order)
    add("h = o * tanh(c): the tanh of the cell state is missing", tanh_of_c=False)
    add("c = f * c_prev + i * g: the f * c_prev term is missing", keep_c_prev=False)
    add("the candidate g uses tanh, not the sigmoid", g_sigmoid=True)
    add("the output gate o uses the sigmoid, not tanh (i, f and o are sigmoids, g is tanh)",
        o_tanh=True)
    add("the bias b is not added: a = x @ Wx + h_prev @ Wh + b", bias=False)
    add("h uses tanh(c_prev); it needs this step's new cell state: h = o * tanh(c)",
        h_from_c_prev=True)
    for roles in itertools.product(GATES, repeat=3):
        if roles != ("f", "i", "g"):
            add(f"the cell update uses the wrong gates: c = {roles[0]} * c_prev + {roles[1]} "
                f"* {roles[2]}; it is c = f * c_prev + i * g", roles=roles)
    if peephole is not None:
        for k, gate_name in enumerate(("i", "f", "o")):
            add(f"the peephole term of gate {gate_name} is missing: its pre-activation gets "
                f"p_{gate_name} * {'c' if gate_name == 'o' else 'c_prev'}", no_peephole=k)
    return h_mistakes, c_mistakes


def _lstm_step_backward_mistakes(case, dh, dc, names, peephole=None):
    args = [case[k] for k in _LSTM_STEP_ARGS]
    variants = []

    def add(message, **switches):
        variants.append((_lstm_step_backward_variant(*args, dh, dc, peephole=peephole,
                                                     **switches), message))

    add("dc from the next step is forgotten: the cell-state gradient is "
        "dc + dh * o * (1 - tanh(c)**2), where dc is the incoming gradient", use_dc=False)
    add("the path from h to c is missing: add dh * o * (1 - tanh(c)**2) to the incoming dc",
        dh_to_c=False)
    add("dc_prev misses the forget gate: dc_prev = (dc + dh * o * (1 - tanh(c)**2)) * f",
        forget_factor=False)
    for order in _wrong_orders():
        add(_gate_order_message(order) + " when stacking the gate gradients da", order=order)
    plain = dict(zip(names, _lstm_step_backward_variant(*args, dh, dc, peephole=peephole)))
    variants.append((tuple(plain[n] for n in names[:5]) + (plain["db"] / len(dh),)
                     + tuple(plain[n] for n in names[6:]),
                     "db is averaged over the batch; it must be summed: db = da.sum(axis=0)"))
    if peephole is not None:
        add("the output gate's peephole sends gradient into c: add da_o * p_o to the "
            "cell-state gradient before using it", peephole_into_dc=False)
        add("dc_prev misses the peephole terms: add da_i * p_i + da_f * p_f",
            peephole_into_dc_prev=False)
        add("dp_o uses c_prev; the output gate peeks at the new cell state: "
            "dp_o = (da_o * c).sum(axis=0)", dp_o_uses_c_prev=True)
    return {term: [(v[k], message) for v, message in variants] for k, term in enumerate(names)}



def _step_forward_mistakes(case):
    h_mistakes, c_mistakes = _lstm_step_forward_mistakes(case)
    return {"h": h_mistakes, "c": c_mistakes}


def _step_backward_mistakes(case, upstream):
    dh, dc = upstream
    return _lstm_step_backward_mistakes(case, dh, dc, LSTM_STEP_BACKWARD.returns)


def _lstm_forward_mistakes(case):
    x, h0, Wx, Wh, b = (case[k] for k in SEQUENCE_ARGS)
    expected, _ = rnnlib.lstm_forward(x, h0, Wx, Wh, b)
    from_zero, _ = rnnlib.lstm_forward(x, np.zeros_like(h0), Wx, Wh, b)
    shifted = np.concatenate([h0[:, None], expected[:, :-1]], axis=1)
    return {"h": [
        (from_zero, "h0 is ignored: the first step must start from h0"),
        (_lstm_forward_variant(x, h0, Wx, Wh, b, carry_c=False),
         "the cell state is not carried from step to step: step t starts from the c of "
         "step t-1 (and c0 = 0)"),
        (_lstm_forward_variant(x, h0, Wx, Wh, b, c0_from_h0=True),
         "c0 must be zeros, not h0"),
        (shifted, "h[:, t] holds the state before step t; store the new h at h[:, t]"),
    ]}


def _lstm_backward_mistakes(case, upstream):
    args = tuple(case[k] for k in SEQUENCE_ARGS) + tuple(upstream)
    no_dc = _lstm_backward_variant(*args, carry_dc=False)
    no_next = _lstm_backward_variant(*args, add_next=False)
    last_only = _lstm_backward_variant(*args, every_upstream=False)
    overwritten = _lstm_backward_variant(*args, accumulate=False)
    return {term: [
        (no_dc[k], "dc from the next step is forgotten: pass the dc_prev returned by "
                   "step t+1 as the dc of step t (it starts at zero after the last step)"),
        (no_next[k], "the gradient from step t+1 is not added to dh: step t must "
                     "receive dh[:, t] + dh_next"),
        (last_only[k], "only the upstream gradient of the last step is used: add "
                       "dh[:, t] at every step t"),
        (overwritten[k], f"{term} is overwritten at every step; the weights are shared "
                         f"over time, so sum their gradients: {term} += ..."),
    ] for k, term in enumerate(LSTM_BACKWARD.returns)}


def _peephole_cases():
    return _lstm_step_cases(peephole=True)


def _peephole_forward_mistakes(case):
    args = [case[k] for k in _LSTM_STEP_ARGS]
    P = case["peephole"]
    h_mistakes, c_mistakes = _lstm_step_forward_mistakes(case, peephole=P)
    plain_h, plain_c, _ = _lstm_step_variant(*args)
    peeks_back, _, _ = _lstm_step_variant(*args, peephole=P, output_peeks_at_c_prev=True)
    rows = []
    for perm in itertools.permutations(range(3)):
        if perm != (0, 1, 2):
            h_p, c_p, _ = _lstm_step_variant(*args, peephole=P[list(perm)])
            rows.append((h_p, c_p))
    row_message = "the rows of peephole are (p_i, p_f, p_o) in this order"
    c_mistakes = [(plain_c, "the peephole terms are missing (this is the plain LSTM)")] + \
        [(c_p, row_message) for _, c_p in rows] + c_mistakes
    h_mistakes = [(plain_h, "the peephole terms are missing (this is the plain LSTM)"),
                  (peeks_back, "the output gate peeks at the new cell state: "
                               "o = sigmoid(a_o + p_o * c) with this step's c, not c_prev")] + \
        [(h_p, row_message) for h_p, _ in rows] + h_mistakes
    return {"h": h_mistakes, "c": c_mistakes}


def _peephole_backward_mistakes(case, upstream):
    dh, dc = upstream
    return _lstm_step_backward_mistakes(case, dh, dc, LSTM_STEP_BACKWARD_PEEPHOLE.returns,
                                        peephole=case["peephole"])


# ----------------------------------------------------------------------------- descriptions
_STEP_TRANSPOSED = {"dWh": "use h_prev.T @ da", "dWx": "use x.T @ da"}
_STEP_GRADS = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")
_GATED = {"dWx": {"gates": 4}, "dWh": {"gates": 4}, "db": {"gates": 4}}

LSTM_STEP_FORWARD = Forward(
    "lstm_step_forward", _LSTM_STEP_ARGS, ("h", "c", "cache"), ("c", "h"), _lstm_step_cases,
    rnnlib.lstm_step_forward, _step_forward_mistakes, "h and c match",
    doc="Self-check of ``lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b) -> (h, c, cache)``.")

LSTM_STEP_BACKWARD = Backward(
    "lstm_step_backward", "lstm_step_forward", _LSTM_STEP_ARGS, ("h", "c", "cache"),
    _STEP_GRADS, _lstm_step_cases, rnnlib.lstm_step_forward, rnnlib.lstm_step_backward,
    _step_backward_mistakes, seeds=(20, 30), transposed=_STEP_TRANSPOSED, layout=_GATED,
    doc="Self-check of ``lstm_step_backward(dh, dc, cache) -> "
        "(dx, dh_prev, dc_prev, dWx, dWh, db)``.")

LSTM_FORWARD = Forward(
    "lstm_forward", SEQUENCE_ARGS, ("h", "cache"), ("h",), _lstm_seq_cases,
    rnnlib.lstm_forward, _lstm_forward_mistakes, "h matches", layout={"h": {"time_axis": True}},
    doc="Self-check of ``lstm_forward(x, h0, Wx, Wh, b) -> (h, cache)`` with c0 = 0.")

LSTM_BACKWARD = Backward(
    "lstm_backward", "lstm_forward", SEQUENCE_ARGS, ("h", "cache"),
    ("dx", "dh0", "dWx", "dWh", "db"), _lstm_seq_cases, rnnlib.lstm_forward,
    rnnlib.lstm_backward, _lstm_backward_mistakes, seeds=(40,),
    transposed={"dWh": "use h_prev.T @ da", "dWx": "use x[:, t].T @ da"},
    layout={"dx": {"time_axis": True}, **_GATED},
    doc="Self-check of ``lstm_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)``.")

LSTM_STEP_FORWARD_PEEPHOLE = Forward(
    "lstm_step_forward_peephole", _LSTM_STEP_ARGS + ("peephole",), ("h", "c", "cache"),
    ("c", "h"), _peephole_cases, rnnlib.lstm_step_forward, _peephole_forward_mistakes,
    "h and c match",
    doc="Self-check of ``lstm_step_forward_peephole(x, h_prev, c_prev, Wx, Wh, b, "
        "peephole)``.")

LSTM_STEP_BACKWARD_PEEPHOLE = Backward(
    "lstm_step_backward_peephole", "lstm_step_forward_peephole",
    _LSTM_STEP_ARGS + ("peephole",), ("h", "c", "cache"), _STEP_GRADS + ("dpeephole",),
    _peephole_cases, rnnlib.lstm_step_forward, rnnlib.lstm_step_backward_peephole,
    _peephole_backward_mistakes, seeds=(50, 60), transposed=_STEP_TRANSPOSED, layout=_GATED,
    doc="Self-check of ``lstm_step_backward_peephole(dh, dc, cache)``: plain gradients + "
        "dpeephole.")

DESCRIPTIONS = (LSTM_STEP_FORWARD, LSTM_STEP_BACKWARD, LSTM_FORWARD, LSTM_BACKWARD,
                LSTM_STEP_FORWARD_PEEPHOLE, LSTM_STEP_BACKWARD_PEEPHOLE)
#: The bonus part (the source notebook gives these extra credit; a test keeps the two equal).
EXTRA_CREDIT = (LSTM_STEP_FORWARD_PEEPHOLE.name, LSTM_STEP_BACKWARD_PEEPHOLE.name)
isolation.register([d.name for d in DESCRIPTIONS], SETUP)
