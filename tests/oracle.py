"""Independent float64 oracle for rnnlib: the same computations in torch, differentiated by
autograd.

Where torch has a module with the same equations (``nn.RNN``, ``nn.RNNCell``, ``nn.LSTM``,
``nn.LSTMCell``) the oracle copies rnnlib's weights into it: torch stores ``W_ih`` as
(kH, D), the transpose of our ``Wx`` (D, kH), and has two biases, so ``b_ih = b`` and
``b_hh = 0``. Where torch has no such module (the sigmoid RNN, peephole LSTM, the
lecture's GRU) the equations are written once more in torch ops.

Every oracle takes numpy arrays and the upstream gradients and returns numpy arrays:
``(outputs, grads)`` with ``grads`` in the order rnnlib's backward returns them.
"""

import numpy as np
import torch

F64 = torch.float64

# The contract's tolerances for rnnlib against this oracle, in float64 (relative error):
FORWARD_TOL = 1e-9  # forward values
GRAD_TOL = 1e-7  # gradients
AGREE_TOL = 1e-12  # a step function run T times vs the sequence function: same operations
NUMERIC_TOL = 1e-6  # centered finite differences, h = 1e-5


def tensor(a, grad=True):
    """float64 leaf tensor from a numpy array."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=grad)


def numpy(t):
    return t.detach().numpy().copy()


def grads_of(outputs, upstreams, leaves):
    """Backpropagate ``upstreams`` from ``outputs``; gradients of ``leaves`` as numpy (zeros if
    unused)."""
    torch.autograd.backward(list(outputs), [tensor(u, grad=False) for u in upstreams])
    return tuple(
        np.zeros(tuple(leaf.shape)) if leaf.grad is None else numpy(leaf.grad) for leaf in leaves
    )


def _copy_into(module, suffix, Wx, Wh, b):
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(tensor(Wx, grad=False).T)
        getattr(module, "weight_hh" + suffix).copy_(tensor(Wh, grad=False).T)
        getattr(module, "bias_ih" + suffix).copy_(tensor(b, grad=False))
        getattr(module, "bias_hh" + suffix).zero_()


def _module_grads(module, suffix):
    return (
        numpy(getattr(module, "weight_ih" + suffix).grad).T,
        numpy(getattr(module, "weight_hh" + suffix).grad).T,
        numpy(getattr(module, "bias_ih" + suffix).grad),
    )


_ACT = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


# ----------------------------------------------------------------------------- vanilla RNN
def rnn_step(x, h_prev, Wx, Wh, b, dh, activation="tanh"):
    """One RNN step; ``nn.RNNCell`` for tanh and relu, torch ops for sigmoid."""
    tx, th = tensor(x), tensor(h_prev)
    D, H = np.shape(Wx)
    if activation in ("tanh", "relu"):
        cell = torch.nn.RNNCell(D, H, nonlinearity=activation, dtype=F64)
        _copy_into(cell, "", Wx, Wh, b)
        h = cell(tx, th)
        dx, dh_prev = grads_of([h], [dh], [tx, th])
        return numpy(h), (dx, dh_prev) + _module_grads(cell, "")
    tWx, tWh, tb = tensor(Wx), tensor(Wh), tensor(b)
    h = _ACT[activation](tx @ tWx + th @ tWh + tb)
    return numpy(h), grads_of([h], [dh], [tx, th, tWx, tWh, tb])


def rnn_ops(x, h0, Wx, Wh, b, activation="tanh"):
    """RNN over a sequence in torch ops on tensors (for the stacked and bidirectional oracles)."""
    h_prev, hs = h0, []
    for t in range(x.shape[1]):
        h_prev = _ACT[activation](x[:, t] @ Wx + h_prev @ Wh + b)
        hs.append(h_prev)
    return torch.stack(hs, dim=1)


def rnn_sequence(x, h0, Wx, Wh, b, dh, activation="tanh"):
    """RNN over a sequence; ``nn.RNN`` for tanh and relu, torch ops for sigmoid."""
    tx, th0 = tensor(x), tensor(h0)
    D, H = np.shape(Wx)
    if activation in ("tanh", "relu"):
        net = torch.nn.RNN(D, H, nonlinearity=activation, batch_first=True, dtype=F64)
        _copy_into(net, "_l0", Wx, Wh, b)
        h, _ = net(tx, th0[None])
        dx, dh0 = grads_of([h], [dh], [tx, th0])
        return numpy(h), (dx, dh0) + _module_grads(net, "_l0")
    tWx, tWh, tb = tensor(Wx), tensor(Wh), tensor(b)
    h = rnn_ops(tx, th0, tWx, tWh, tb, activation)
    return numpy(h), grads_of([h], [dh], [tx, th0, tWx, tWh, tb])


# ----------------------------------------------------------------------------- LSTM
def lstm_ops_step(x, h_prev, c_prev, Wx, Wh, b, peephole=None):
    """One LSTM step in torch ops, gate blocks (i, f, g, o), optional peepholes (p_i, p_f, p_o)."""
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    a_i, a_f, a_g, a_o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    if peephole is not None:
        a_i = a_i + peephole[0] * c_prev
        a_f = a_f + peephole[1] * c_prev
    i, f, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g)
    c = f * c_prev + i * g
    if peephole is not None:
        a_o = a_o + peephole[2] * c
    h = torch.sigmoid(a_o) * torch.tanh(c)
    return h, c


def lstm_ops(x, h0, Wx, Wh, b, peephole=None):
    h_prev, c_prev, hs = h0, torch.zeros_like(h0), []
    for t in range(x.shape[1]):
        h_prev, c_prev = lstm_ops_step(x[:, t], h_prev, c_prev, Wx, Wh, b, peephole)
        hs.append(h_prev)
    return torch.stack(hs, dim=1)


def lstm_step(x, h_prev, c_prev, Wx, Wh, b, dh, dc, peephole=None):
    """One LSTM step; ``nn.LSTMCell`` without peepholes, torch ops with them."""
    tx, th, tc = tensor(x), tensor(h_prev), tensor(c_prev)
    D, H4 = np.shape(Wx)
    if peephole is None:
        cell = torch.nn.LSTMCell(D, H4 // 4, dtype=F64)
        _copy_into(cell, "", Wx, Wh, b)
        h, c = cell(tx, (th, tc))
        dx, dh_prev, dc_prev = grads_of([h, c], [dh, dc], [tx, th, tc])
        return (numpy(h), numpy(c)), (dx, dh_prev, dc_prev) + _module_grads(cell, "")
    leaves = [tx, th, tc, tensor(Wx), tensor(Wh), tensor(b), tensor(peephole)]
    h, c = lstm_ops_step(tx, th, tc, *leaves[3:])
    return (numpy(h), numpy(c)), grads_of([h, c], [dh, dc], leaves)


def lstm_sequence(x, h0, Wx, Wh, b, dh, peephole=None):
    """LSTM over a sequence from ``c0 = 0``; ``nn.LSTM`` without peepholes, torch ops with them."""
    tx, th0 = tensor(x), tensor(h0)
    D, H4 = np.shape(Wx)
    if peephole is None:
        net = torch.nn.LSTM(D, H4 // 4, batch_first=True, dtype=F64)
        _copy_into(net, "_l0", Wx, Wh, b)
        h, _ = net(tx, (th0[None], torch.zeros_like(th0)[None]))
        dx, dh0 = grads_of([h], [dh], [tx, th0])
        return numpy(h), (dx, dh0) + _module_grads(net, "_l0")
    leaves = [tx, th0, tensor(Wx), tensor(Wh), tensor(b), tensor(peephole)]
    h = lstm_ops(*leaves)
    grads = grads_of([h], [dh], leaves)
    return numpy(h), grads[:5] + grads[5:]


# ----------------------------------------------------------------------------- GRU
def gru_ops_step(x, h_prev, Wx, Wh, b):
    """One GRU step in the lecture's form, gate blocks (r, z, n), reset before the matmul."""
    H = h_prev.shape[1]
    xa = x @ Wx + b
    rz = torch.sigmoid(xa[:, : 2 * H] + h_prev @ Wh[:, : 2 * H])
    r, z = rz[:, :H], rz[:, H:]
    n = torch.tanh(xa[:, 2 * H :] + (r * h_prev) @ Wh[:, 2 * H :])
    return (1 - z) * h_prev + z * n


def gru_ops(x, h0, Wx, Wh, b):
    h_prev, hs = h0, []
    for t in range(x.shape[1]):
        h_prev = gru_ops_step(x[:, t], h_prev, Wx, Wh, b)
        hs.append(h_prev)
    return torch.stack(hs, dim=1)


def gru_step(x, h_prev, Wx, Wh, b, dh):
    leaves = [tensor(a) for a in (x, h_prev, Wx, Wh, b)]
    h = gru_ops_step(*leaves)
    return numpy(h), grads_of([h], [dh], leaves)


def gru_sequence(x, h0, Wx, Wh, b, dh):
    leaves = [tensor(a) for a in (x, h0, Wx, Wh, b)]
    h = gru_ops(*leaves)
    return numpy(h), grads_of([h], [dh], leaves)


# ----------------------------------------------------------------------------- layers
def word_embedding(x, W, dout):
    tW = tensor(W)
    out = torch.nn.functional.embedding(torch.as_tensor(x), tW)
    (dW,) = grads_of([out], [dout], [tW])
    return numpy(out), dW


def temporal_affine(x, w, b, dout):
    leaves = [tensor(a) for a in (x, w, b)]
    out = torch.nn.functional.linear(leaves[0], leaves[1].T, leaves[2])
    return numpy(out), grads_of([out], [dout], leaves)


def temporal_softmax_loss(x, y, mask):
    tx = tensor(x)
    N, T, V = x.shape
    per_step = torch.nn.functional.cross_entropy(
        tx.reshape(N * T, V), torch.as_tensor(y).reshape(-1), reduction="none"
    )
    loss = (per_step * torch.as_tensor(mask, dtype=F64).reshape(-1)).sum() / N
    loss.backward()
    return float(loss.detach()), numpy(tx.grad)


# ----------------------------------------------------------------------------- multi-layer
def stacked(x, layers, dh, cell, h0=None, activation="tanh"):
    """L stacked layers; ``nn.RNN``/``nn.LSTM(num_layers=L)`` when the sizes allow, torch ops
    otherwise.

    Returns ``h, (dx, dh0_list, grads_list)`` with grads as dicts like rnnlib's.
    """
    tx = tensor(x)
    L = len(layers)
    N = x.shape[0]
    Hs = [np.shape(p["Wh"])[0] for p in layers]
    h0 = [np.zeros((N, H)) for H in Hs] if h0 is None else h0
    th0 = [tensor(h) for h in h0]
    same_size = len(set(Hs)) == 1
    if cell in ("rnn", "lstm") and same_size and activation != "sigmoid":
        D, H = x.shape[2], Hs[0]
        if cell == "rnn":
            net = torch.nn.RNN(
                D, H, num_layers=L, nonlinearity=activation, batch_first=True, dtype=F64
            )
            state = torch.stack(th0)
        else:
            net = torch.nn.LSTM(D, H, num_layers=L, batch_first=True, dtype=F64)
            state = (torch.stack(th0), torch.zeros(L, N, H, dtype=F64))
        for k, p in enumerate(layers):
            _copy_into(net, f"_l{k}", p["Wx"], p["Wh"], p["b"])
        h, _ = net(tx, state)
        dx, *dh0 = grads_of([h], [dh], [tx] + th0)
        grads = [dict(zip(("Wx", "Wh", "b"), _module_grads(net, f"_l{k}"))) for k in range(L)]
        return numpy(h), (dx, dh0, grads)
    params = [{k: tensor(v) for k, v in p.items()} for p in layers]
    h = tx
    for p, h0_l in zip(params, th0):
        h = _ops_layer(cell, h, h0_l, p, activation)
    leaves = [tx] + th0 + [p[k] for p in params for k in ("Wx", "Wh", "b")]
    dx, *rest = grads_of([h], [dh], leaves)
    dh0, flat = rest[:L], rest[L:]
    grads = [dict(zip(("Wx", "Wh", "b"), flat[3 * k : 3 * k + 3])) for k in range(L)]
    return numpy(h), (dx, dh0, grads)


def _ops_layer(cell, x, h0, p, activation):
    if cell == "rnn":
        return rnn_ops(x, h0, p["Wx"], p["Wh"], p["b"], activation)
    if cell == "lstm":
        return lstm_ops(x, h0, p["Wx"], p["Wh"], p["b"], p.get("peephole"))
    return gru_ops(x, h0, p["Wx"], p["Wh"], p["b"])


def bidirectional(x, params_fw, params_bw, dout, cell, activation="tanh"):
    """Bidirectional layer from zero initial states; ``nn.RNN``/``nn.LSTM(bidirectional=True)``
    for rnn (tanh, relu) and lstm, torch ops (two passes, the second over the flipped sequence)
    for gru and the sigmoid RNN.

    Returns ``out, (dx, grads_fw, grads_bw)``.
    """
    tx = tensor(x)
    N, T, D = x.shape
    H = np.shape(params_fw["Wh"])[0]
    if cell in ("rnn", "lstm") and activation != "sigmoid":
        if cell == "rnn":
            net = torch.nn.RNN(
                D, H, nonlinearity=activation, batch_first=True, bidirectional=True, dtype=F64
            )
        else:
            net = torch.nn.LSTM(D, H, batch_first=True, bidirectional=True, dtype=F64)
        _copy_into(net, "_l0", params_fw["Wx"], params_fw["Wh"], params_fw["b"])
        _copy_into(net, "_l0_reverse", params_bw["Wx"], params_bw["Wh"], params_bw["b"])
        out, _ = net(tx)
        (dx,) = grads_of([out], [dout], [tx])
        names = ("Wx", "Wh", "b")
        return numpy(out), (
            dx,
            dict(zip(names, _module_grads(net, "_l0"))),
            dict(zip(names, _module_grads(net, "_l0_reverse"))),
        )
    pf = {k: tensor(v) for k, v in params_fw.items()}
    pb = {k: tensor(v) for k, v in params_bw.items()}
    zeros = torch.zeros(N, H, dtype=F64)
    h_fw = _ops_layer(cell, tx, zeros, pf, activation)
    h_bw = _ops_layer(cell, torch.flip(tx, dims=[1]), zeros, pb, activation)
    out = torch.cat([h_fw, torch.flip(h_bw, dims=[1])], dim=2)
    leaves = [tx] + [pf[k] for k in ("Wx", "Wh", "b")] + [pb[k] for k in ("Wx", "Wh", "b")]
    dx, *flat = grads_of([out], [dout], leaves)
    names = ("Wx", "Wh", "b")
    return numpy(out), (dx, dict(zip(names, flat[:3])), dict(zip(names, flat[3:])))


# ----------------------------------------------------------------------------- random cases
def random_case(rng, N, T, D, H, blocks=1, scale=0.5, sequence=True):
    """Random float64 inputs and parameters: ``x`` (N, T, D) or (N, D), ``h0`` (N, H),
    ``Wx`` (D, kH), ``Wh`` (H, kH), ``b`` (kH,) with ``k = blocks``."""
    x = rng.standard_normal((N, T, D) if sequence else (N, D))
    h0 = rng.standard_normal((N, H)) * scale
    Wx = rng.standard_normal((D, blocks * H)) * scale
    Wh = rng.standard_normal((H, blocks * H)) * scale
    b = rng.standard_normal(blocks * H) * scale
    return x, h0, Wx, Wh, b
