"""Tests of rnnlib.cells, the one registry of cell kinds, against the functions it lists."""

import numpy as np
import pytest

import rnnlib
from rnnlib import cells, init, multilayer, train


def _params(kind, D=3, H=4, seed=0):
    return rnnlib.init_rnn_params(D, H, np.random.default_rng(seed), kind=kind)


def test_one_list_of_cells_everywhere():
    assert cells.CELLS == ("rnn", "lstm", "gru")
    assert multilayer.CELLS is cells.CELLS and train.CELLS is cells.CELLS
    assert rnnlib.CELLS is cells.CELLS
    assert tuple(cells.REGISTRY) == cells.CELLS


@pytest.mark.parametrize("kind, k, gates", [("rnn", 1, ("h",)), ("lstm", 4, ("i", "f", "g", "o")),
                                             ("gru", 3, ("r", "z", "n"))])
def test_blocks_match_the_initialised_shapes(kind, k, gates):
    spec = cells.get_cell(kind)
    assert spec.name == kind and spec.gates == gates and spec.blocks == k == cells.blocks(kind)
    p = _params(kind)
    assert p["Wx"].shape == (3, k * 4) and p["Wh"].shape == (4, k * 4) and p["b"].shape == (k * 4,)
    assert spec.has_cell_state == (kind == "lstm")


@pytest.mark.parametrize("kind", cells.CELLS)
def test_entries_are_the_module_functions_and_agree(kind):
    spec = cells.get_cell(kind)
    module = {"rnn": rnnlib.rnn, "lstm": rnnlib.lstm, "gru": rnnlib.gru}[kind]
    for field in ("step_forward", "step_backward", "forward", "backward"):
        name = f"{kind}_{field}"
        assert getattr(spec, field) is getattr(module, name), name
    rng = np.random.default_rng(1)
    p = _params(kind)
    x = rng.standard_normal((2, 5, 3))
    h0 = rng.standard_normal((2, 4))
    h, cache = spec.layer_forward(x, h0, p)
    h_direct, cache_direct = spec.forward(x, h0, p["Wx"], p["Wh"], p["b"])
    np.testing.assert_array_equal(h, h_direct)
    # the step function, run T times, gives the same states as the sequence function
    state, c = h0, np.zeros_like(h0)
    for t in range(x.shape[1]):
        if spec.has_cell_state:
            state, c, _ = spec.step_forward(x[:, t], state, c, p["Wx"], p["Wh"], p["b"])
        else:
            state, _ = spec.step_forward(x[:, t], state, p["Wx"], p["Wh"], p["b"])
        np.testing.assert_allclose(state, h[:, t], rtol=1e-12, atol=1e-12)
    dh = rng.standard_normal(h.shape)
    dx, dh0, grads = spec.layer_backward(dh, cache)
    expected = spec.backward(dh, cache_direct)
    for got, want in zip((dx, dh0, grads["Wx"], grads["Wh"], grads["b"]), expected):
        np.testing.assert_array_equal(got, want)
    assert set(grads) == {"Wx", "Wh", "b"}


def test_peephole_lstm_layer_returns_the_peephole_gradient():
    rng = np.random.default_rng(2)
    p = _params("lstm")
    p["peephole"] = rng.standard_normal((3, 4))
    x, h0 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4))
    h, cache = cells.get_cell("lstm").layer_forward(x, h0, p)
    dh = rng.standard_normal(h.shape)
    _, _, grads = cells.get_cell("lstm").layer_backward(dh, cache)
    expected = rnnlib.lstm_backward_peephole(dh, cache)
    np.testing.assert_array_equal(grads["peephole"], expected[5])


def test_unknown_cell_names_the_argument_and_the_choices():
    expected = r"cell is 'transformer'; expected one of \('rnn', 'lstm', 'gru'\)"
    with pytest.raises(ValueError, match=expected):
        cells.get_cell("transformer")
    with pytest.raises(ValueError, match="kind is 'gru2'"):
        init.init_rnn_params(2, 3, np.random.default_rng(0), kind="gru2")
    with pytest.raises(ValueError, match="cell is"):
        cells.get_cell(["rnn"])
