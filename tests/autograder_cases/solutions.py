"""Correct solution cells, written independently of the instructor's, as source strings.

They have the structure most students' code has: a sequence forward calls the step forward
and a sequence backward calls the step backward. The hostile cases in ``hostile.py`` replace
some of them.
"""

RNN = {
    "rnn_step_forward": '''
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)
''',
    "rnn_step_backward": '''
def rnn_step_backward(dh, cache):
    x, h_prev, Wx, Wh, h = cache
    da = dh * (1.0 - h * h)
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)
''',
    "rnn_forward": '''
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]))
    caches, h_prev = [], h0
    for t in range(T):
        h_prev, step_cache = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)
        h[:, t] = h_prev
        caches.append(step_cache)
    return h, caches
''',
    "rnn_backward": '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.empty((N, T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dh_next = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dh_next, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dh_next, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_next, dWx, dWh, db
''',
    "temporal_softmax_loss": '''
def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    flat = x.reshape(N * T, V)
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N * T)
    weight = mask.reshape(N * T).astype(float)
    loss = -np.sum(weight * log_p[rows, y.reshape(N * T)]) / N
    dflat = np.exp(log_p)
    dflat[rows, y.reshape(N * T)] -= 1.0
    dflat *= weight[:, None] / N
    return loss, dflat.reshape(N, T, V)
''',
}

_LSTM_STEP_FORWARD = '''
def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
    g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, c, (x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)
'''

LSTM = {
    "lstm_step_forward": _LSTM_STEP_FORWARD,
    "lstm_step_backward": '''
def lstm_step_backward(dh, dc, cache):
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache
    dc_total = dc + dh * o * (1.0 - tanh_c ** 2)
    da = np.concatenate([dc_total * g * i * (1.0 - i), dc_total * c_prev * f * (1.0 - f),
                         dc_total * i * (1.0 - g ** 2), dh * tanh_c * o * (1.0 - o)], axis=1)
    return (da @ Wx.T, da @ Wh.T, dc_total * f, x.T @ da, h_prev.T @ da, da.sum(axis=0))
''',
    "lstm_forward": '''
def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H))
    h_prev, c_prev, caches = h0, np.zeros((N, H)), []
    for t in range(T):
        h_prev, c_prev, step_cache = lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)
        h[:, t] = h_prev
        caches.append(step_cache)
    return h, caches
''',
    "lstm_backward": '''
def lstm_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.empty((N, T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dh_next, dc_next, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dh_next, dc_next, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_next, dWx, dWh, db
''',
    "lstm_step_forward_peephole": '''
def lstm_step_forward_peephole(x, h_prev, c_prev, Wx, Wh, b, peephole):
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    i = sigmoid(a[:, :H] + peephole[0] * c_prev)
    f = sigmoid(a[:, H:2 * H] + peephole[1] * c_prev)
    g = np.tanh(a[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    o = sigmoid(a[:, 3 * H:] + peephole[2] * c)
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, c, (x, h_prev, c_prev, Wx, Wh, peephole, i, f, g, o, c, tanh_c)
''',
    "lstm_step_backward_peephole": '''
def lstm_step_backward_peephole(dh, dc, cache):
    x, h_prev, c_prev, Wx, Wh, p, i, f, g, o, c, tanh_c = cache
    da_o = dh * tanh_c * o * (1.0 - o)
    dc_total = dc + dh * o * (1.0 - tanh_c ** 2) + da_o * p[2]
    da_i = dc_total * g * i * (1.0 - i)
    da_f = dc_total * c_prev * f * (1.0 - f)
    da_g = dc_total * i * (1.0 - g ** 2)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)
    dc_prev = dc_total * f + da_i * p[0] + da_f * p[1]
    dpeephole = np.stack([(da_i * c_prev).sum(axis=0), (da_f * c_prev).sum(axis=0),
                          (da_o * c).sum(axis=0)])
    return (da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0),
            dpeephole)
''',
}

SOLUTIONS = {"rnn_bptt": RNN, "lstm_backward": LSTM}
