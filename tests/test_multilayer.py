"""Stacked and bidirectional networks against torch (nn.RNN/nn.LSTM where they match, ops
otherwise)."""

import numpy as np
import oracle
import pytest
from oracle import FORWARD_TOL, GRAD_TOL

import rnnlib as R

BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


def random_layer(rng, D, H, cell, scale=0.5):
    k = BLOCKS[cell]
    return {
        "Wx": rng.standard_normal((D, k * H)) * scale,
        "Wh": rng.standard_normal((H, k * H)) * scale,
        "b": rng.standard_normal(k * H) * scale,
    }


def assert_dicts_close(ours, theirs, where):
    assert set(ours) == set(theirs), where
    for name in ours:
        err = R.rel_error(ours[name], theirs[name])
        assert err < GRAD_TOL, f"{where} d{name}: rel_error {err:.2e}"


@pytest.mark.parametrize(
    "cell, activation",
    [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh")],
)
@pytest.mark.parametrize(
    "sizes",
    [(3, [4, 4]), (2, [5, 5, 5]), (1, [1, 1]), (3, [4, 2, 6])],
    ids=["2x4", "3x5", "2x1", "4-2-6"],
)
def test_stacked_matches_torch(cell, activation, sizes):
    D, Hs = sizes
    N, T = 2, 4
    rng = np.random.default_rng(len(Hs) * 10 + D)
    dims = [D] + Hs
    layers = [random_layer(rng, dims[k], dims[k + 1], cell) for k in range(len(Hs))]
    x = rng.standard_normal((N, T, D))
    h0 = [rng.standard_normal((N, H)) * 0.5 for H in Hs]
    dh = rng.standard_normal((N, T, Hs[-1]))
    h, cache = R.stacked_forward(x, h0, layers, cell=cell, activation=activation)
    h_ref, (dx_ref, dh0_ref, grads_ref) = oracle.stacked(
        x, layers, dh, cell, h0=h0, activation=activation
    )
    assert h.shape == (N, T, Hs[-1])
    assert R.rel_error(h, h_ref) < FORWARD_TOL
    dx, dh0, grads = R.stacked_backward(dh, cache)
    assert R.rel_error(dx, dx_ref) < GRAD_TOL
    for k in range(len(Hs)):
        assert R.rel_error(dh0[k], dh0_ref[k]) < GRAD_TOL, f"layer {k} dh0"
        assert_dicts_close(grads[k], grads_ref[k], f"layer {k}")


def test_stacked_equals_layers_run_by_hand_and_zero_h0():
    rng = np.random.default_rng(5)
    layers = [random_layer(rng, 3, 4, "lstm"), random_layer(rng, 4, 4, "lstm")]
    x = rng.standard_normal((2, 5, 3))
    h, cache = R.stacked_forward(x, None, layers, cell="lstm")
    h1, _ = R.lstm_forward(x, np.zeros((2, 4)), **layers[0])
    h2, _ = R.lstm_forward(h1, np.zeros((2, 4)), **layers[1])
    assert np.array_equal(h, h2)
    assert np.array_equal(cache[1][0], h1), "cache[1] lists every layer's hidden states"


def test_stacked_lstm_with_peepholes_matches_ops():
    rng = np.random.default_rng(6)
    layers = [random_layer(rng, 3, 4, "lstm"), random_layer(rng, 4, 4, "lstm")]
    for p in layers:
        p["peephole"] = rng.standard_normal((3, 4)) * 0.5
    x = rng.standard_normal((2, 3, 3))
    dh = rng.standard_normal((2, 3, 4))
    h, cache = R.stacked_forward(x, None, layers, cell="lstm")
    dx, _, grads = R.stacked_backward(dh, cache)
    # oracle: run the two layers in torch ops by hand
    tx = oracle.tensor(x)
    tparams = [{k: oracle.tensor(v) for k, v in p.items()} for p in layers]
    zeros = oracle.tensor(np.zeros((2, 4)), grad=False)
    h_t = tx
    for p in tparams:
        h_t = oracle.lstm_ops(h_t, zeros, p["Wx"], p["Wh"], p["b"], p["peephole"])
    leaves = [tx] + [p[k] for p in tparams for k in ("Wx", "Wh", "b", "peephole")]
    dx_ref, *flat = oracle.grads_of([h_t], [dh], leaves)
    assert R.rel_error(h, oracle.numpy(h_t)) < FORWARD_TOL
    assert R.rel_error(dx, dx_ref) < GRAD_TOL
    for k in range(2):
        ref = dict(zip(("Wx", "Wh", "b", "peephole"), flat[4 * k : 4 * k + 4]))
        assert_dicts_close(grads[k], ref, f"layer {k}")


@pytest.mark.parametrize(
    "cell, activation",
    [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh")],
)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 4, 3, 5), (3, 6, 2, 2)])
def test_bidirectional_matches_torch(cell, activation, shape):
    N, T, D, H = shape
    rng = np.random.default_rng(sum(shape))
    p_fw, p_bw = random_layer(rng, D, H, cell), random_layer(rng, D, H, cell)
    x = rng.standard_normal((N, T, D))
    dout = rng.standard_normal((N, T, 2 * H))
    out, cache = R.bidirectional_forward(x, None, p_fw, p_bw, cell=cell, activation=activation)
    out_ref, (dx_ref, g_fw_ref, g_bw_ref) = oracle.bidirectional(
        x, p_fw, p_bw, dout, cell, activation
    )
    assert out.shape == (N, T, 2 * H)
    assert R.rel_error(out, out_ref) < FORWARD_TOL
    dx, (dh0_fw, dh0_bw), g_fw, g_bw = R.bidirectional_backward(dout, cache)
    assert dh0_fw.shape == dh0_bw.shape == (N, H)
    assert R.rel_error(dx, dx_ref) < GRAD_TOL
    assert_dicts_close(g_fw, g_fw_ref, "forward direction")
    assert_dicts_close(g_bw, g_bw_ref, "backward direction")


def test_bidirectional_backward_half_reads_the_future():
    # out[:, 0, H:] (backward direction at t = 0) must depend on the last input; out[:, 0, :H] not.
    rng = np.random.default_rng(7)
    p_fw, p_bw = random_layer(rng, 2, 3, "gru"), random_layer(rng, 2, 3, "gru")
    x = rng.standard_normal((1, 4, 2))
    out, _ = R.bidirectional_forward(x, None, p_fw, p_bw, cell="gru")
    x2 = x.copy()
    x2[:, -1] += 1.0
    out2, _ = R.bidirectional_forward(x2, None, p_fw, p_bw, cell="gru")
    assert np.array_equal(out[:, 0, :3], out2[:, 0, :3])
    assert not np.allclose(out[:, 0, 3:], out2[:, 0, 3:])


def test_errors():
    rng = np.random.default_rng(0)
    layer = random_layer(rng, 3, 4, "rnn")
    x = rng.standard_normal((2, 5, 3))
    with pytest.raises(ValueError, match="cell"):
        R.stacked_forward(x, None, [layer], cell="transformer")
    with pytest.raises(ValueError, match="h0 holds 1 initial states; expected one per layer"):
        R.stacked_forward(x, [np.zeros((2, 4))], [layer, random_layer(rng, 4, 4, "rnn")])
    with pytest.raises(ValueError, match=r"layers\[0\] must be a dict"):
        R.stacked_forward(x, None, [{"Wx": 1}])
    with pytest.raises(ValueError, match=r"Wx has shape \(4, 4\)"):
        R.stacked_forward(x, None, [random_layer(rng, 4, 4, "rnn")])
    out, cache = R.bidirectional_forward(x, None, layer, layer)
    with pytest.raises(ValueError, match="dout has shape"):
        R.bidirectional_backward(out[..., :4], cache)
