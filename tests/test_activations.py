"""Tests of rnnlib.activations, the one activation table of rnn.py and the stability tools.

Oracle: torch float64 (the functions themselves and their autograd derivatives).
"""

import numpy as np
import pytest
import torch

from rnnlib import activations as act
from rnnlib import rnn, stability

TORCH = {
    "identity": lambda a: a,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "elu": torch.nn.functional.elu,
}
TOL = 1e-12   # float64 values and derivatives; the functions are elementwise


def _grid():
    # zero excluded: ReLU and ELU have a kink there (tested separately below)
    a = np.linspace(-6.0, 6.0, 241)
    return a[a != 0].reshape(16, 15)


def test_names_cover_torch_and_rnn():
    assert set(act.NAMES) == set(TORCH)
    assert set(rnn.ACTIVATIONS) <= set(act.NAMES)


@pytest.mark.parametrize("name", act.NAMES)
def test_apply_and_derivatives_match_torch_float64(name):
    a = _grid()
    t = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    out = TORCH[name](t)
    out.sum().backward()
    expected_f, expected_df = out.detach().numpy(), t.grad.numpy()
    np.testing.assert_allclose(act.apply(name, a), expected_f, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(act.function(name)(a), expected_f, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(act.derivative(name, a), expected_df, rtol=TOL, atol=TOL)
    # the backward passes keep only h = f(a): the derivative computed from it must agree
    h = act.apply(name, a)
    np.testing.assert_allclose(act.derivative_from_output(name, h), expected_df,
                               rtol=1e-9, atol=1e-12)
    assert np.max(np.abs(expected_df)) <= act.BOUND[name] + 1e-15


@pytest.mark.parametrize("name", act.NAMES)
def test_apply_in_place_and_dtype(name):
    a = _grid().astype(np.float32)
    expected = act.apply(name, a)
    buf = a.copy()
    result = act.apply(name, buf, out=buf)
    assert result is buf and buf.dtype == np.float32
    np.testing.assert_array_equal(buf, expected)
    assert act.derivative_from_output(name, expected).dtype == np.float32


def test_relu_derivative_at_zero_is_zero_as_in_torch():
    assert act.derivative("relu", np.array([0.0]))[0] == 0.0
    assert act.derivative_from_output("relu", np.array([0.0]))[0] == 0.0


def test_unknown_activation_names_the_accepted_ones():
    with pytest.raises(ValueError, match=r"activation is 'softplus'; expected one of \('identity'"):
        act.apply("softplus", np.zeros(2))
    with pytest.raises(ValueError, match=r"expected one of \('tanh', 'sigmoid', 'relu'\)"):
        rnn.rnn_step_forward(np.zeros((1, 2)), np.zeros((1, 3)), np.zeros((2, 3)),
                             np.zeros((3, 3)), np.zeros(3), activation="elu")


def test_stability_and_rnn_share_the_table():
    assert stability.ACTIVATIONS == act.NAMES
    assert stability.DERIVATIVE_BOUND is act.BOUND
    assert stability.derivative_from_output is act.derivative_from_output
    assert stability.activation_derivative is act.derivative
    # the RNN's step uses the same function: a sigmoid RNN step equals apply("sigmoid", a)
    rng = np.random.default_rng(0)
    x, h, Wx, Wh, b = (rng.standard_normal(s) for s in ((2, 3), (2, 4), (3, 4), (4, 4), (4,)))
    out, _ = rnn.rnn_step_forward(x, h, Wx, Wh, b, activation="sigmoid")
    a = x @ Wx
    a += b
    a += h @ Wh
    np.testing.assert_array_equal(out, act.apply("sigmoid", a))
