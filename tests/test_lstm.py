"""LSTM (with and without peepholes) against torch autograd in float64 and finite differences."""

import numpy as np
import oracle
import pytest
from oracle import AGREE_TOL, FORWARD_TOL, GRAD_TOL, NUMERIC_TOL

import rnnlib as R

SHAPES = [(1, 1, 1, 1), (2, 3, 4, 5), (3, 6, 2, 1), (1, 4, 3, 3), (4, 1, 5, 2), (2, 5, 1, 4)]
STEP_NAMES = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")
SEQ_NAMES = ("dx", "dh0", "dWx", "dWh", "db")


def step_backward(peephole):
    """The step backward with the fixed arity that matches the forward pass's peephole option."""
    return R.lstm_step_backward_peephole if peephole else R.lstm_step_backward


def sequence_backward(peephole):
    return R.lstm_backward_peephole if peephole else R.lstm_backward


def assert_grads_close(ours, theirs, names, tol=GRAD_TOL):
    assert len(ours) == len(theirs) == len(names), (len(ours), len(theirs), names)
    for name, a, b in zip(names, ours, theirs):
        assert a.shape == b.shape, f"{name}: shape {a.shape}, oracle {b.shape}"
        err = R.rel_error(a, b)
        assert err < tol, f"{name}: rel_error {err:.2e} >= {tol:.0e}"


def lstm_case(rng, N, T, D, H, sequence=True, peephole=False):
    x, h0, Wx, Wh, b = oracle.random_case(rng, N, T, D, H, blocks=4, sequence=sequence)
    p = rng.standard_normal((3, H)) * 0.5 if peephole else None
    return x, h0, Wx, Wh, b, p


@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
@pytest.mark.parametrize("shape", SHAPES)
def test_step_matches_torch(shape, peephole):
    N, _, D, H = shape
    rng = np.random.default_rng(sum(shape) + 10 * peephole)
    x, h_prev, Wx, Wh, b, p = lstm_case(rng, N, 1, D, H, sequence=False, peephole=peephole)
    c_prev = rng.standard_normal((N, H))
    dh, dc = rng.standard_normal((2, N, H))
    h, c, cache = R.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b, peephole=p)
    (h_ref, c_ref), grads_ref = oracle.lstm_step(x, h_prev, c_prev, Wx, Wh, b, dh, dc, p)
    assert R.rel_error(h, h_ref) < FORWARD_TOL
    assert R.rel_error(c, c_ref) < FORWARD_TOL
    names = STEP_NAMES + (("dpeephole",) if peephole else ())
    assert_grads_close(step_backward(peephole)(dh, dc, cache), grads_ref, names)


@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
@pytest.mark.parametrize("shape", SHAPES)
def test_sequence_matches_torch(shape, peephole):
    N, T, D, H = shape
    rng = np.random.default_rng(200 + sum(shape) + 10 * peephole)
    x, h0, Wx, Wh, b, p = lstm_case(rng, N, T, D, H, peephole=peephole)
    dh = rng.standard_normal((N, T, H))
    h, cache = R.lstm_forward(x, h0, Wx, Wh, b, peephole=p)
    h_ref, grads_ref = oracle.lstm_sequence(x, h0, Wx, Wh, b, dh, p)
    assert h.shape == (N, T, H)
    assert R.rel_error(h, h_ref) < FORWARD_TOL
    names = SEQ_NAMES + (("dpeephole",) if peephole else ())
    assert_grads_close(sequence_backward(peephole)(dh, cache), grads_ref, names)


def test_ops_oracle_agrees_with_nn_lstm():
    # The ops oracle checks the peephole variant; validate it against nn.LSTM with zero peepholes.
    rng = np.random.default_rng(8)
    x, h0, Wx, Wh, b, _ = lstm_case(rng, 2, 4, 3, 5)
    dh = rng.standard_normal((2, 4, 5))
    h_nn, grads_nn = oracle.lstm_sequence(x, h0, Wx, Wh, b, dh)
    h_ops, grads_ops = oracle.lstm_sequence(x, h0, Wx, Wh, b, dh, peephole=np.zeros((3, 5)))
    assert R.rel_error(h_nn, h_ops) < 1e-13
    assert_grads_close(grads_nn, grads_ops[:5], SEQ_NAMES, tol=1e-12)


def test_gate_order_is_i_f_g_o():
    # With every weight zero, the bias alone sets the gates: make only the forget gate "open"
    # and check c_t = c_{t-1}, h_t = sigma(b_o) * tanh(c_t).
    N, H = 2, 3
    b = np.zeros(4 * H)
    b[:H] = -50.0  # input gate closed
    b[H : 2 * H] = 50.0  # forget gate open
    b[2 * H : 3 * H] = 1.0  # candidate (blocked by the closed input gate)
    b[3 * H :] = 0.0  # output gate half open
    c_prev = np.linspace(-1, 1, N * H).reshape(N, H)
    h, c, _ = R.lstm_step_forward(
        np.zeros((N, 1)), np.zeros((N, H)), c_prev, np.zeros((1, 4 * H)), np.zeros((H, 4 * H)), b
    )
    assert np.allclose(c, c_prev, atol=1e-15, rtol=0), "gate blocks are not ordered (i, f, g, o)"
    assert np.allclose(h, 0.5 * np.tanh(c_prev), atol=1e-15, rtol=0)


def test_zero_peephole_equals_plain_lstm():
    rng = np.random.default_rng(9)
    x, h0, Wx, Wh, b, _ = lstm_case(rng, 3, 4, 2, 5)
    h, _ = R.lstm_forward(x, h0, Wx, Wh, b)
    hp, _ = R.lstm_forward(x, h0, Wx, Wh, b, peephole=np.zeros((3, 5)))
    assert R.rel_error(h, hp) < 1e-15


@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
def test_step_and_sequence_agree(peephole):
    N, T, D, H = 3, 5, 4, 6
    rng = np.random.default_rng(3)
    x, h0, Wx, Wh, b, p = lstm_case(rng, N, T, D, H, peephole=peephole)
    dh = rng.standard_normal((N, T, H))
    h, cache = R.lstm_forward(x, h0, Wx, Wh, b, peephole=p)

    h_prev, c_prev, caches, steps = h0, np.zeros((N, H)), [], []
    for t in range(T):
        h_prev, c_prev, c = R.lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b, peephole=p)
        steps.append(h_prev)
        caches.append(c)
    assert R.rel_error(h, np.stack(steps, axis=1)) < AGREE_TOL

    dx = np.zeros_like(x)
    sums = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    if peephole:
        sums.append(np.zeros_like(p))
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dh_next, dc_next, *g = step_backward(peephole)(
            dh[:, t] + dh_next, dc_next, caches[t]
        )
        for acc, gk in zip(sums, g):
            acc += gk
    names = SEQ_NAMES + (("dpeephole",) if peephole else ())
    assert_grads_close(
        sequence_backward(peephole)(dh, cache), (dx, dh_next, *sums), names, tol=AGREE_TOL
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequence_agrees_with_steps_on_tiny_shapes(dtype):
    # The sequence loop works on strided views of time-major gate blocks whose stride is
    # T*N*H elements; numpy's in-place negative once returned wrong values for a 16-byte
    # (float32) or 64-byte (float64) stride, which broke exactly these tiny shapes.
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for N in (1, 2):
        for H in (1, 2):
            for T in range(1, 9):
                rng = np.random.default_rng(100 * N + 10 * H + T)
                x, h0, Wx, Wh, b, _ = (
                    a if a is None else a.astype(dtype)
                    for a in lstm_case(rng, N, T, 1, H, peephole=False)
                )
                h, _ = R.lstm_forward(x, h0, Wx, Wh, b)
                h_prev, c_prev = h0, np.zeros_like(h0)
                for t in range(T):
                    h_prev, c_prev, _ = R.lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)
                    err = np.max(np.abs(h[:, t] - h_prev))
                    assert err < tol, (
                        f"N={N} T={T} H={H} {dtype.__name__}: step {t} differs by {err:.2e}"
                    )


@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
def test_sequence_gradients_match_finite_differences(peephole):
    N, T, D, H = 2, 3, 3, 4
    rng = np.random.default_rng(21)
    x, h0, Wx, Wh, b, p = lstm_case(rng, N, T, D, H, peephole=peephole)
    args = [x, h0, Wx, Wh, b] + ([p] if peephole else [])
    dh = rng.standard_normal((N, T, H))

    def run():
        return R.lstm_forward(*args[:5], peephole=args[5] if peephole else None)

    analytic = sequence_backward(peephole)(dh, run()[1])
    names = SEQ_NAMES + (("dpeephole",) if peephole else ())
    for k, name in enumerate(names):
        numeric = R.eval_numerical_gradient_array(lambda _: run()[0], args[k], dh)
        err = R.rel_error(analytic[k], numeric)
        assert err < NUMERIC_TOL, f"{name}: rel_error {err:.2e} vs finite differences"


@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
def test_step_gradients_match_finite_differences(peephole):
    N, D, H = 3, 4, 5
    rng = np.random.default_rng(22)
    x, h_prev, Wx, Wh, b, p = lstm_case(rng, N, 1, D, H, sequence=False, peephole=peephole)
    c_prev = rng.standard_normal((N, H))
    args = [x, h_prev, c_prev, Wx, Wh, b] + ([p] if peephole else [])
    dh, dc = rng.standard_normal((2, N, H))

    def run():
        return R.lstm_step_forward(*args[:6], peephole=args[6] if peephole else None)

    analytic = step_backward(peephole)(dh, dc, run()[2])
    names = STEP_NAMES + (("dpeephole",) if peephole else ())
    # the step has two outputs: stack them so one upstream array covers both
    upstream = np.stack([dh, dc])
    for k, name in enumerate(names):
        numeric = R.eval_numerical_gradient_array(lambda _: np.stack(run()[:2]), args[k], upstream)
        err = R.rel_error(analytic[k], numeric)
        assert err < NUMERIC_TOL, f"{name}: rel_error {err:.2e} vs finite differences"


@pytest.mark.parametrize("peephole", [False, True], ids=["plain", "peephole"])
def test_float32_stays_float32_and_is_close_to_float64(peephole):
    rng = np.random.default_rng(6)
    x, h0, Wx, Wh, b, p = lstm_case(rng, 3, 4, 5, 6, peephole=peephole)
    args64 = [x, h0, Wx, Wh, b]
    dh = rng.standard_normal((3, 4, 6))
    h64, c64 = R.lstm_forward(*args64, peephole=p)
    p32 = None if p is None else p.astype(np.float32)
    h32, c32 = R.lstm_forward(*[a.astype(np.float32) for a in args64], peephole=p32)
    g64 = sequence_backward(peephole)(dh, c64)
    g32 = sequence_backward(peephole)(dh.astype(np.float32), c32)
    assert h32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in g32)
    assert np.max(np.abs(h32 - h64)) < 1e-5
    for a, b_ in zip(g32, g64):
        assert np.max(np.abs(a - b_)) < 1e-4 * max(1.0, np.max(np.abs(b_)))


def test_bad_shapes_raise():
    rng = np.random.default_rng(0)
    x, h0, Wx, Wh, b, _ = lstm_case(rng, 2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"Wx has shape \(4, 5\); expected \(D, 4H\) = \(4, 20\)"):
        R.lstm_forward(x, h0, Wx[:, :5], Wh, b)
    with pytest.raises(ValueError, match=r"b has shape \(19,\); expected \(4H,\) = \(20,\)"):
        R.lstm_forward(x, h0, Wx, Wh, b[:19])
    with pytest.raises(ValueError, match=r"peephole has shape \(5,\); expected \(3, H\)"):
        R.lstm_forward(x, h0, Wx, Wh, b, peephole=np.zeros(5))
    with pytest.raises(ValueError, match=r"c_prev has shape \(2, 4\)"):
        R.lstm_step_forward(x[:, 0], h0, np.zeros((2, 4)), Wx, Wh, b)
    h, c, cache = R.lstm_step_forward(x[:, 0], h0, np.zeros((2, 5)), Wx, Wh, b)
    with pytest.raises(ValueError, match="dc has shape"):
        R.lstm_step_backward(h, c[:1], cache)


def test_backward_arity_is_fixed_and_peephole_functions_check_their_cache():
    rng = np.random.default_rng(30)
    x, h0, Wx, Wh, b, p = lstm_case(rng, 2, 3, 4, 5, peephole=True)
    dh = rng.standard_normal((2, 3, 5))
    _, cache_p = R.lstm_forward(x, h0, Wx, Wh, b, peephole=p)
    _, cache = R.lstm_forward(x, h0, Wx, Wh, b)
    assert len(R.lstm_backward(dh, cache_p)) == len(R.lstm_backward(dh, cache)) == 5
    plain, with_p = R.lstm_backward(dh, cache_p), R.lstm_backward_peephole(dh, cache_p)
    assert all(np.array_equal(a, b_) for a, b_ in zip(plain, with_p[:5]))
    with pytest.raises(ValueError, match="without peephole"):
        R.lstm_backward_peephole(dh, cache)
    c_prev = rng.standard_normal((2, 5))
    _, _, step_cache = R.lstm_step_forward(x[:, 0], h0, c_prev, Wx, Wh, b)
    with pytest.raises(ValueError, match="without peephole"):
        R.lstm_step_backward_peephole(dh[:, 0], dh[:, 1], step_cache)
    _, _, step_cache_p = R.lstm_step_forward(x[:, 0], h0, c_prev, Wx, Wh, b, peephole=p)
    assert len(R.lstm_step_backward(dh[:, 0], dh[:, 1], step_cache_p)) == 6
    assert len(R.lstm_step_backward_peephole(dh[:, 0], dh[:, 1], step_cache_p)) == 7
