"""The gradient-checking utilities checked on functions with known derivatives."""

import numpy as np
import pytest

import rnnlib as R


@pytest.mark.parametrize(
    "x, y, expected",
    [
        (1.0, 1.0, 0.0),
        (1.0, 3.0, 0.5),                               # |1 - 3| / (1 + 3)
        ([1.0, 2.0], [1.0, -2.0], 1.0),                # opposite signs give the maximum, 1
        ([1.0, 100.0], [1.1, 100.0], 0.1 / 2.1),       # elementwise: the small entry dominates
        ([0.0, 0.0], [0.0, 1e-9], 0.1),                # the 1e-8 floor: 1e-9 / 1e-8
        (np.zeros((2, 3)), np.zeros((2, 3)), 0.0),     # no division by zero
        ([], [], 0.0),
    ],
)
def test_rel_error_exact_values(x, y, expected):
    assert R.rel_error(x, y) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_rel_error_is_symmetric_and_returns_float():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 5, 3))
    assert R.rel_error(a, b) == R.rel_error(b, a)
    assert isinstance(R.rel_error(a, b), float)


def test_numerical_gradient_of_scalar_function():
    # f(x) = sum(sin(x) * x**2), f'(x) = cos(x) x**2 + 2 x sin(x)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    x_before = x.copy()
    numeric = R.eval_numerical_gradient(lambda z: np.sum(np.sin(z) * z ** 2), x)
    analytic = np.cos(x) * x ** 2 + 2 * x * np.sin(x)
    # h = 1e-5: truncation error ~h**2 and rounding ~1e-16 |f| / h, relative to each entry
    assert R.rel_error(numeric, analytic) < 1e-7
    assert np.array_equal(x, x_before), "x must be restored after the evaluation"


def test_numerical_gradient_verbose_prints_each_index(capsys):
    R.eval_numerical_gradient(lambda z: float(np.sum(z ** 2)), np.array([1.0, 2.0]), verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("(0,)")


def test_numerical_gradient_array_with_upstream():
    # f(x) = x**3 elementwise; the gradient of sum(f(x) * df) is 3 x**2 df.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 2))
    df = rng.standard_normal((2, 3, 2))
    numeric = R.eval_numerical_gradient_array(lambda z: z ** 3, x, df)
    assert R.rel_error(numeric, 3 * x ** 2 * df) < 1e-8

    # a matrix product, where every input entry feeds several outputs
    w = rng.standard_normal((3, 4))
    up = rng.standard_normal((5, 4))
    a = rng.standard_normal((5, 3))
    numeric = R.eval_numerical_gradient_array(lambda z: a @ z, w, up)
    assert R.rel_error(numeric, a.T @ up) < 1e-8


def test_numerical_gradient_does_not_alias_the_output():
    # f returns a view into a buffer it reuses; the checker must copy between the two calls.
    buffer = np.zeros(3)

    def f(z):
        np.multiply(z, 2.0, out=buffer)
        return buffer

    x = np.array([1.0, -1.0, 0.5])
    numeric = R.eval_numerical_gradient_array(f, x, np.ones(3))
    assert R.rel_error(numeric, np.full(3, 2.0)) < 1e-9


def test_grad_check_sparse_accepts_right_and_rejects_wrong_gradients():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 7))
    x_before = x.copy()

    def f(z):
        return float(np.sum(np.exp(z) * z))

    right = np.exp(x) * (x + 1)
    errors = R.grad_check_sparse(f, x, right, num_checks=12, seed=4)
    assert len(errors) == 12 and max(errors) < 1e-7
    assert np.array_equal(x, x_before)
    wrong = np.exp(x) * x          # forgot the product rule
    assert min(R.grad_check_sparse(f, x, wrong, num_checks=12, seed=4)) > 1e-3
    # the same seed checks the same entries
    assert errors == R.grad_check_sparse(f, x, right, num_checks=12, seed=4)
