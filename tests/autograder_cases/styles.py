"""Three correct ways of writing each rnn_bptt function, so that a generated class looks like
students who each wrote their own code (the class report's similarity section must find the
planted near-copies, not the dozens of students who would otherwise share ``solutions.py``).

Every variant keeps the step cache ``(x, h_prev, Wx, Wh, h)`` and a sequence cache that is
the list of step caches, the format of the instructor's reference, so that a caller can be
graded with the reference callee swapped in. ``class_styles(i)`` gives student ``i`` a
combination of variants; two students' combinations differ in at least two functions.
"""

from .solutions import RNN

VARIANTS = {
    "rnn_step_forward": (RNN["rnn_step_forward"], '''
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    a = np.dot(x, Wx) + np.dot(h_prev, Wh)
    a = a + b
    next_h = np.tanh(a)
    cache = (x, h_prev, Wx, Wh, next_h)
    return next_h, cache
''', '''
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    pre = np.matmul(x, Wx)
    pre += np.matmul(h_prev, Wh)
    pre += b[None, :]
    h = np.tanh(pre)
    return h, tuple([x, h_prev, Wx, Wh, h])
'''),
    "rnn_step_backward": (RNN["rnn_step_backward"], '''
def rnn_step_backward(dh, cache):
    x, h_prev, Wx, Wh, h = cache
    dtanh = (1 - np.square(h)) * dh
    dx = np.dot(dtanh, Wx.T)
    dh_prev = np.dot(dtanh, Wh.T)
    dWx = np.dot(x.T, dtanh)
    dWh = np.dot(h_prev.T, dtanh)
    db = np.sum(dtanh, axis=0)
    return dx, dh_prev, dWx, dWh, db
''', '''
def rnn_step_backward(dh, cache):
    (x, hp, Wx, Wh, hn) = cache
    g = dh - dh * hn ** 2
    grads = [g @ W.T for W in (Wx, Wh)] + [a.T @ g for a in (x, hp)]
    return grads[0], grads[1], grads[2], grads[3], g.sum(0)
'''),
    "rnn_forward": (RNN["rnn_forward"], '''
def rnn_forward(x, h0, Wx, Wh, b):
    T = x.shape[1]
    states, caches = [], []
    h = h0
    t = 0
    while t < T:
        h, c = rnn_step_forward(x[:, t, :], h, Wx, Wh, b)
        states.append(h)
        caches.append(c)
        t += 1
    return np.stack(states, axis=1), caches
''', '''
def rnn_forward(x, h0, Wx, Wh, b):
    hs = np.zeros((x.shape[0], x.shape[1], Wh.shape[0]))
    cache = []
    prev = h0
    for t, xt in enumerate(np.moveaxis(x, 1, 0)):
        prev, step = rnn_step_forward(xt, prev, Wx, Wh, b)
        hs[:, t, :] = prev
        cache.append(step)
    return hs, cache
'''),
    "rnn_backward": (RNN["rnn_backward"], '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    grads = None
    dprev = np.zeros((N, H))
    dxs = [None] * T
    for t in range(T - 1, -1, -1):
        step = rnn_step_backward(dh[:, t, :] + dprev, cache[t])
        dxs[t] = step[0]
        dprev = step[1]
        if grads is None:
            grads = list(step[2:])
        else:
            grads = [g + s for g, s in zip(grads, step[2:])]
    return (np.stack(dxs, axis=1), dprev, *grads)
''', '''
def rnn_backward(dh, cache):
    dx_list = []
    dWx = dWh = db = 0
    carry = np.zeros_like(dh[:, 0])
    for t in reversed(range(dh.shape[1])):
        dxt, carry, a, bb, c = rnn_step_backward(dh[:, t] + carry, cache[t])
        dx_list.insert(0, dxt)
        dWx = dWx + a
        dWh = dWh + bb
        db = db + c
    return np.stack(dx_list, 1), carry, dWx, dWh, db
'''),
    "temporal_softmax_loss": (RNN["temporal_softmax_loss"], '''
def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    m = x.max(axis=-1, keepdims=True)
    logp = (x - m) - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
    n, t = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")
    loss = -(logp[n, t, y] * mask).sum() / N
    dx = np.exp(logp)
    dx[n, t, y] -= 1
    dx *= mask[:, :, None] / N
    return loss, dx
''', '''
def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    loss = 0.0
    dx = np.zeros(x.shape)
    for i in range(N):
        for t in range(T):
            if not mask[i, t]:
                continue
            s = x[i, t] - np.max(x[i, t])
            lp = s - np.log(np.sum(np.exp(s)))
            loss -= lp[y[i, t]]
            g = np.exp(lp)
            g[y[i, t]] -= 1
            dx[i, t] = g / N
    return loss / N, dx
'''),
}
ORDER = tuple(VARIANTS)


def _digits(index):
    digits = [(index // 3 ** k) % 3 for k in range(4)]
    return digits + [sum(digits) % 3]


def class_styles(index):
    """{function: source} for student ``index`` (0..80): the base-3 digits of the index pick
    the variants of the first four functions, their sum modulo 3 the fifth's, so any two
    students differ in at least two functions."""
    if not 0 <= index < 81:
        raise ValueError(f"class_styles covers students 0..80, not {index}")
    return {name: VARIANTS[name][d] for name, d in zip(ORDER, _digits(index))}


def style_indices(count, keep_first=None, used=()):
    """``count`` unused indices for ``class_styles`` whose variant of ``keep_first`` (when
    given) is the first one, the ``solutions.py`` code a planted mistake edits: then the edited
    cell is still that student's own style, and two students differ in two functions."""
    column = ORDER.index(keep_first) if keep_first else None
    found = [i for i in range(81) if i not in used
             and (column is None or _digits(i)[column] == 0)]
    if len(found) < count:
        raise ValueError(f"only {len(found)} styles left for {count} students")
    return found[:count]
