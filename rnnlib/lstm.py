"""Long short-term memory (LSTM): one step and a whole sequence, forward and backward.

Row-vector, batch-first layout with the four gate blocks ordered (i, f, g, o) as in
torch: ``Wx`` (D, 4H), ``Wh`` (H, 4H) and ``b`` (4H,) hold the input gate in columns
``0:H``, the forget gate in ``H:2H``, the candidate in ``2H:3H`` and the output gate in
``3H:4H``. One bias plays the role of torch's ``b_ih + b_hh``. With ``sigma`` the
logistic sigmoid::

    a = x_t Wx + h_{t-1} Wh + b          split into blocks a_i, a_f, a_g, a_o
    i = sigma(a_i)    f = sigma(a_f)    g = tanh(a_g)    o = sigma(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Optional peephole connections (Gers and Schmidhuber, 2000) let the gates look at the
cell state through a ``peephole`` array of shape (3, H) holding ``(p_i, p_f, p_o)``::

    i = sigma(a_i + p_i * c_{t-1})
    f = sigma(a_f + p_f * c_{t-1})
    o = sigma(a_o + p_o * c_t)           (the output gate sees the new cell state)
"""

import threading

import numpy as np

from ._checks import check_recurrent_args, check_shape, float_dtype
from .layers import sigmoid

__all__ = [
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_step_backward_peephole",
    "lstm_cell_backward",
    "lstm_forward",
    "lstm_backward",
    "lstm_backward_peephole",
]


def _check_lstm_args(x, h_prev, c_prev, Wx, Wh, b, peephole, sequence, h_name):
    """Validate the arguments of the LSTM functions and bring them to one dtype."""
    extra = [a for a in (c_prev, peephole) if a is not None]
    dtype = float_dtype(x, h_prev, Wx, Wh, b, *extra)
    x, h_prev, Wx, Wh, b = check_recurrent_args(
        x, h_prev, Wx, Wh, b, 4, sequence, h_name, dtype=dtype
    )
    H = h_prev.shape[1]
    if c_prev is not None:
        c_prev = np.asarray(c_prev, dtype=dtype)
        check_shape("c_prev", c_prev, ("N", "H"), h_prev.shape, f"(N, H) = {h_name}.shape")
    if peephole is not None:
        peephole = np.asarray(peephole, dtype=dtype)
        check_shape("peephole", peephole, ("3", "H"), (3, H), f"H = {h_name}.shape[1]")
    return x, h_prev, c_prev, Wx, Wh, b, peephole


_workspace = threading.local()


def _scratch(shape, dtype):
    """A per-thread scratch array, reused between calls while shape and dtype repeat.

    For large arrays that never leave a function: reusing them spares the operating
    system from handing out (and zeroing) fresh memory pages on every call, which costs
    as much as a good part of the arithmetic here.
    """
    buf = getattr(_workspace, "buf", None)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = _workspace.buf = np.empty(shape, dtype=dtype)
    return buf


def _by_gate(a):
    """View an (N, 4H) array as (4, N, H): ``i, f, g, o = _by_gate(a)``."""
    N, H4 = a.shape
    return a.reshape(N, 4, H4 // 4).transpose(1, 0, 2)


def _cell_forward(a, c_prev, peephole, c, tanh_c, h):
    """Finish one LSTM step from the pre-activations.

    ``a`` (4, N, H) holds the pre-activations of the gates (i, f, g, o) on entry and
    the gate values on exit; ``c``, ``tanh_c`` and ``h`` (N, H) are written in place.
    """
    i, f, g, o = a
    if peephole is not None:
        i += peephole[0] * c_prev
        f += peephole[1] * c_prev
    sigmoid(a[:2], out=a[:2])          # i and f in one call
    np.tanh(g, out=g)
    np.multiply(f, c_prev, out=c)
    c += i * g
    if peephole is not None:
        o += peephole[2] * c           # the output gate peeks at the new cell state
    sigmoid(o, out=o)
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)


def lstm_cell_backward(dh, dc, gates, c_prev, tanh_c, peephole=None, out=None):
    """The gate gradients of one LSTM step, from the gradients of its ``h`` and ``c``.

    This is the per-step core that :func:`lstm_step_backward` and :func:`lstm_backward`
    share, written to be read against the equations of the step. Going backwards through
    ``h = o * tanh(c)`` and ``c = f * c_prev + i * g``::

        da_o     = dh * tanh(c) * o * (1 - o)
        dc_total = dc + dh * o * (1 - tanh(c)**2)        (+ da_o * p_o with peepholes)
        da_i     = dc_total * g * i * (1 - i)
        da_f     = dc_total * c_prev * f * (1 - f)
        da_g     = dc_total * i * (1 - g**2)
        dc_prev  = dc_total * f                           (+ da_i * p_i + da_f * p_f)

    The weight and input gradients follow from ``da`` by the matmuls of the affine map
    ``a = x Wx + h_prev Wh + b`` (done by the callers, once per step or once per sequence).

    Inputs:

    - dh: (N, H) gradient reaching the step's ``h``.
    - dc: (N, H) gradient reaching the step's ``c`` from outside the step (from step t + 1).
    - gates: (4, N, H) the gate values ``(i, f, g, o)`` of the forward step.
    - c_prev: (N, H) the previous cell state.
    - tanh_c: (N, H) ``tanh(c)`` of the forward step.
    - peephole: (3, H) peephole weights ``(p_i, p_f, p_o)`` of the forward step, or None.
    - out: optional (4, N, H) array the gate gradients are written into (for example a
      view of a preallocated buffer); a new array when None.

    Returns a tuple of:

    - da: (4, N, H) gradients of the gate pre-activations ``(da_i, da_f, da_g, da_o)``.
    - dc_prev: (N, H) gradient of ``c_prev``.
    """
    i, f, g, o = gates
    da = np.empty_like(gates) if out is None else out
    da_i, da_f, da_g, da_o = da
    # h = o * tanh(c)
    np.multiply(dh * tanh_c, o * (1 - o), out=da_o)
    dc_total = dh * o
    dc_total *= 1 - tanh_c * tanh_c
    dc_total += dc
    if peephole is not None:
        dc_total += da_o * peephole[2]
    # c = f * c_prev + i * g
    np.multiply(dc_total * g, i * (1 - i), out=da_i)
    np.multiply(dc_total * c_prev, f * (1 - f), out=da_f)
    np.multiply(dc_total * i, 1 - g * g, out=da_g)
    dc_prev = dc_total * f
    if peephole is not None:
        dc_prev += da_i * peephole[0]
        dc_prev += da_f * peephole[1]
    return da, dc_prev


def _peephole_grad(da, c_prev, c):
    """Gradient of the (3, H) peephole weights from ``da`` (..., 4H), summed over leading axes."""
    H = c.shape[-1]
    axes = tuple(range(c.ndim - 1))
    return np.stack([
        np.sum(da[..., :H] * c_prev, axis=axes),
        np.sum(da[..., H:2 * H] * c_prev, axis=axes),
        np.sum(da[..., 3 * H:] * c, axis=axes),
    ])


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b, peephole=None):
    """One time step of an LSTM.

    Equations (row vectors, gate blocks ordered i, f, g, o)::

        a = x Wx + h_prev Wh + b
        i = sigma(a_i)    f = sigma(a_f)    g = tanh(a_g)    o = sigma(a_o)
        c = f * c_prev + i * g
        h = o * tanh(c)

    With ``peephole = (p_i, p_f, p_o)`` the gates become
    ``i = sigma(a_i + p_i * c_prev)``, ``f = sigma(a_f + p_f * c_prev)`` and
    ``o = sigma(a_o + p_o * c)``.

    Inputs:

    - x: (N, D) input at this step.
    - h_prev: (N, H) previous hidden state.
    - c_prev: (N, H) previous cell state.
    - Wx: (D, 4H) input-to-hidden weights.
    - Wh: (H, 4H) hidden-to-hidden weights.
    - b: (4H,) bias.
    - peephole: optional (3, H) peephole weights ``(p_i, p_f, p_o)``; None (default)
      means no peepholes.

    Returns a tuple of:

    - h: (N, H) new hidden state.
    - c: (N, H) new cell state.
    - cache: everything :func:`lstm_step_backward` needs.
    """
    x, h_prev, c_prev, Wx, Wh, b, peephole = _check_lstm_args(
        x, h_prev, c_prev, Wx, Wh, b, peephole, False, "h_prev"
    )
    # The same sums as lstm_forward (which folds b into its input matmul), so a step and
    # a sequence agree to rounding.
    a = x @ Wx
    a += b
    a += h_prev @ Wh
    c = np.empty_like(h_prev)
    tanh_c = np.empty_like(h_prev)
    h = np.empty_like(h_prev)
    gates = _by_gate(a)
    _cell_forward(gates, c_prev, peephole, c, tanh_c, h)
    return h, c, (x, h_prev, c_prev, Wx, Wh, peephole, gates, c, tanh_c)


def lstm_step_backward(dh, dc, cache):
    """Backward pass of one LSTM step.

    With ``dc_total = dc + dh * o * (1 - tanh(c)**2)`` (plus ``da_o * p_o`` with
    peepholes), the gate gradients are::

        da_o = dh * tanh(c) * o * (1 - o)
        da_i = dc_total * g * i * (1 - i)
        da_f = dc_total * c_prev * f * (1 - f)
        da_g = dc_total * i * (1 - g**2)
        dc_prev = dc_total * f        (plus da_i * p_i + da_f * p_f with peepholes)

    and, with ``da = [da_i, da_f, da_g, da_o]``, ``dx = da Wx^T``,
    ``dh_prev = da Wh^T``, ``dWx = x^T da``, ``dWh = h_prev^T da``, ``db = sum da``.

    Inputs:

    - dh: (N, H) upstream gradient of the new hidden state.
    - dc: (N, H) upstream gradient of the new cell state.
    - cache: what :func:`lstm_step_forward` returned.

    Returns a tuple of:

    - dx: (N, D)
    - dh_prev: (N, H)
    - dc_prev: (N, H)
    - dWx: (D, 4H)
    - dWh: (H, 4H)
    - db: (4H,)

    The arity is fixed: with a peephole forward pass these are still the six gradients above
    (the peepholes' effect on them included); :func:`lstm_step_backward_peephole` also
    returns the gradient of the peephole weights.
    """
    return _lstm_step_backward(dh, dc, cache)[:6]


def lstm_step_backward_peephole(dh, dc, cache):
    """Backward pass of one peephole LSTM step: :func:`lstm_step_backward` plus ``dpeephole``.

    Inputs are those of :func:`lstm_step_backward`; the cache must come from
    :func:`lstm_step_forward` called with ``peephole``.

    Returns ``(dx, dh_prev, dc_prev, dWx, dWh, db, dpeephole)`` with ``dpeephole`` of shape
    (3, H), the gradients of ``(p_i, p_f, p_o)``.
    """
    if cache[5] is None:
        raise ValueError("lstm_step_backward_peephole: the cache comes from a forward pass "
                         "without peephole; call lstm_step_forward(..., peephole=P) first, or "
                         "use lstm_step_backward")
    return _lstm_step_backward(dh, dc, cache)


def _lstm_step_backward(dh, dc, cache):
    x, h_prev, c_prev, Wx, Wh, peephole, gates, c, tanh_c = cache
    dtype = c.dtype
    dh = np.asarray(dh, dtype=dtype)
    dc = np.asarray(dc, dtype=dtype)
    check_shape("dh", dh, ("N", "H"), c.shape, "(N, H) = h.shape of the forward pass")
    check_shape("dc", dc, ("N", "H"), c.shape, "(N, H) = c.shape of the forward pass")
    da = np.empty((x.shape[0], 4 * c.shape[1]), dtype=dtype)
    _, dc_prev = lstm_cell_backward(dh, dc, gates, c_prev, tanh_c, peephole, out=_by_gate(da))
    grads = (da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0))
    if peephole is not None:
        grads += (_peephole_grad(da, c_prev, c),)
    return grads


def lstm_forward(x, h0, Wx, Wh, b, peephole=None):
    """Run an LSTM over a whole sequence, starting from ``h0`` and ``c0 = 0``.

    Each step follows :func:`lstm_step_forward` (the same cell code runs in both). The
    input projection ``x_t Wx + b`` of all time steps is one matmul before the loop; the
    loop adds ``h_{t-1} Wh`` and writes into preallocated, time-major arrays, so that
    every array it touches is contiguous.

    Inputs:

    - x: (N, T, D) input sequence.
    - h0: (N, H) initial hidden state.
    - Wx: (D, 4H) input-to-hidden weights.
    - Wh: (H, 4H) hidden-to-hidden weights.
    - b: (4H,) bias.
    - peephole: optional (3, H) peephole weights ``(p_i, p_f, p_o)``.

    Returns a tuple of:

    - h: (N, T, H) hidden states of all time steps (a batch-first view of the
      time-major array the loop fills, as torch returns for ``batch_first=True``).
    - cache: everything :func:`lstm_backward` needs.
    """
    x, h0, _, Wx, Wh, b, peephole = _check_lstm_args(
        x, h0, None, Wx, Wh, b, peephole, True, "h0"
    )
    N, T, D = x.shape
    H = h0.shape[1]
    dtype = x.dtype
    # Internally time-major and grouped by gate, so that the elementwise work of a step
    # runs on contiguous blocks: gates[k, t] is the (N, H) block of gate k = (i, f, g, o)
    # at step t.
    # The bias trick: with x_aug = [x_t, 1], x_aug [Wx; b] = x_t Wx + b, so one matmul
    # projects the inputs of all steps and adds the bias (and the backward pass gets
    # dWx and db from one matmul as well).
    x_aug = np.empty((T * N, D + 1), dtype=dtype)
    x_aug[:, :D].reshape(T, N, D)[...] = x.transpose(1, 0, 2)
    x_aug[:, D] = 1
    Wb = np.concatenate([Wx, b[None]], axis=0)                    # (D + 1, 4H)
    Wb_by_gate = Wb.reshape(D + 1, 4, H).transpose(1, 0, 2)       # (4, D + 1, H) view
    gates = np.matmul(x_aug, Wb_by_gate).reshape(4, T, N, H)
    hs = np.empty((T + 1, N, H), dtype=dtype)   # hs[t] is the state entering step t
    cs = np.empty((T + 1, N, H), dtype=dtype)   # cs[0] = c0 = 0
    tanh_c = np.empty((T, N, H), dtype=dtype)
    hs[0] = h0
    cs[0] = 0
    recurrent = np.empty((N, 4 * H), dtype=dtype)
    for t in range(T):
        a = gates[:, t]
        a += _by_gate(np.matmul(hs[t], Wh, out=recurrent))
        _cell_forward(a, cs[t], peephole, cs[t + 1], tanh_c[t], hs[t + 1])
    # Batch-first view of the time-major states (as torch returns for batch_first=True).
    h = hs[1:].transpose(1, 0, 2)
    return h, (x_aug, Wx, Wh, peephole, gates, cs, tanh_c, hs)


def lstm_backward(dh, cache):
    """Backpropagation through time for :func:`lstm_forward`.

    Walking time backwards, step ``t`` receives ``dh[:, t]`` plus the gradient flowing
    back from step ``t + 1`` through ``h_t`` and through ``c_t``, and applies
    :func:`lstm_step_backward` (the same cell code runs in both). The gradients of the
    pre-activations of all steps are kept in one (T, N, 4H) array, so that ``dx``,
    ``dWx`` with ``db``, and ``dWh`` each take a single matmul after the loop.

    Inputs:

    - dh: (N, T, H) upstream gradient of every hidden state.
    - cache: what :func:`lstm_forward` returned.

    Returns a tuple of:

    - dx: (N, T, D) (a batch-first view of a time-major array)
    - dh0: (N, H)
    - dWx: (D, 4H)
    - dWh: (H, 4H)
    - db: (4H,)

    The arity is fixed: with a peephole forward pass these are still the five gradients above;
    :func:`lstm_backward_peephole` also returns the gradient of the peephole weights.
    """
    return _lstm_backward(dh, cache)[:5]


def lstm_backward_peephole(dh, cache):
    """Backpropagation through time for a peephole :func:`lstm_forward`, with ``dpeephole``.

    Inputs are those of :func:`lstm_backward`; the cache must come from :func:`lstm_forward`
    called with ``peephole``.

    Returns ``(dx, dh0, dWx, dWh, db, dpeephole)`` with ``dpeephole`` of shape (3, H).
    """
    if cache[3] is None:
        raise ValueError("lstm_backward_peephole: the cache comes from a forward pass without "
                         "peephole; call lstm_forward(..., peephole=P) first, or use "
                         "lstm_backward")
    return _lstm_backward(dh, cache)


def _lstm_backward(dh, cache):
    x_aug, Wx, Wh, peephole, gates, cs, tanh_c, hs = cache
    T, N, H = tanh_c.shape
    D = Wx.shape[0]
    dtype = hs.dtype
    dh = np.asarray(dh, dtype=dtype)
    check_shape("dh", dh, ("N", "T", "H"), (N, T, H), "(N, T, H) = h.shape of the forward pass")
    dh_tm = dh.transpose(1, 0, 2)
    da = _scratch((T, N, 4 * H), dtype)   # gradients of the pre-activations, (i, f, g, o)
    dh_next = np.zeros((N, H), dtype=dtype)
    dc_next = np.zeros((N, H), dtype=dtype)
    for t in reversed(range(T)):
        _, dc_next = lstm_cell_backward(dh_tm[t] + dh_next, dc_next, gates[:, t], cs[t],
                                        tanh_c[t], peephole, out=_by_gate(da[t]))
        dh_next = da[t] @ Wh.T
    da2 = da.reshape(T * N, 4 * H)
    dx = (da2 @ Wx.T).reshape(T, N, D).transpose(1, 0, 2)
    dWb = x_aug.T @ da2                          # [dWx; db] in one matmul
    dWh = hs[:-1].reshape(T * N, H).T @ da2
    grads = (dx, dh_next, dWb[:D], dWh, dWb[D])
    if peephole is not None:
        grads += (_peephole_grad(da, cs[:-1], cs[1:]),)
    return grads
