"""Tests of rnnlib.tasks: the adding problem and brace matching."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlib.tasks import (
    ADDING_BASELINE_MSE,
    adding_problem,
    brace_matching,
    brace_vocabulary,
    decode_braces,
    innermost_open_bracket,
    one_hot,
)

# ---------------------------------------------------------------- adding problem


def test_adding_problem_shapes_and_dtypes():
    x, y = adding_problem(7, 11, rng=0)
    assert x.shape == (7, 11, 2) and y.shape == (7,)
    assert x.dtype == np.float64 and y.dtype == np.float64
    x32, y32 = adding_problem(3, 5, rng=0, dtype=np.float32)
    assert x32.dtype == np.float32 and y32.dtype == np.float32


def test_adding_problem_markers_and_targets():
    T = 20
    x, y = adding_problem(500, T, rng=np.random.default_rng(1))
    markers = x[:, :, 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers.sum(axis=1) == 2), "exactly two marked steps per sequence"
    assert np.all(markers[:, : T // 2].sum(axis=1) == 1), "one marker in the first half"
    assert np.all(markers[:, T // 2 :].sum(axis=1) == 1), "one marker in the second half"
    np.testing.assert_allclose(y, np.sum(x[:, :, 0] * markers, axis=1), rtol=0, atol=1e-15)
    assert np.all((x[:, :, 0] >= 0) & (x[:, :, 0] <= 1))


def test_adding_problem_baseline_is_one_sixth():
    _, y = adding_problem(200_000, 10, rng=2)
    assert ADDING_BASELINE_MSE == pytest.approx(1 / 6)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(1 / 6, abs=0.003)
    assert np.mean(y) == pytest.approx(1.0, abs=0.005)


def test_adding_problem_is_deterministic_given_a_seed():
    a = adding_problem(4, 9, rng=np.random.default_rng(5))
    b = adding_problem(4, 9, rng=np.random.default_rng(5))
    c = adding_problem(4, 9, rng=5)
    for u, v, w in zip(a, b, c):
        np.testing.assert_array_equal(u, v)
        np.testing.assert_array_equal(u, w)
    d = adding_problem(4, 9, rng=np.random.default_rng(6))
    assert not np.array_equal(a[0], d[0])


def test_adding_problem_smallest_length():
    x, y = adding_problem(50, 2, rng=0)
    np.testing.assert_array_equal(x[:, :, 1], np.ones((50, 2)))
    np.testing.assert_allclose(y, x[:, :, 0].sum(axis=1))


@pytest.mark.parametrize(
    "kwargs, word", [({"num_samples": 3, "T": 1}, "T"), ({"num_samples": 0, "T": 5}, "num_samples")]
)
def test_adding_problem_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        adding_problem(**kwargs)


def test_bad_rng_type_is_rejected():
    with pytest.raises(TypeError, match="rng"):
        adding_problem(2, 4, rng="seed")


# ---------------------------------------------------------------- brace matching


def _depth_profile(tokens, num_types):
    """Depth of the bracket stack after every step, per sequence."""
    opens = (tokens >= 1) & (tokens <= num_types)
    closes = tokens > num_types
    return np.cumsum(opens.astype(int) - closes.astype(int), axis=1)


def test_brace_vocabulary_and_decoding():
    assert brace_vocabulary(2) == [".", "(", "[", ")", "]"]
    assert brace_vocabulary(4) == [".", "(", "[", "{", "<", ")", "]", "}", ">"]
    assert decode_braces(np.array([1, 2, 0, 4, 3])) == "([.])"
    assert decode_braces(np.array([[1, 3], [2, 4]])) == ["()", "[]"]
    with pytest.raises(ValueError, match="num_types"):
        brace_vocabulary(5)


def test_innermost_open_bracket_on_hand_made_strings():
    vocab = brace_vocabulary(2)

    def encode(strings):
        return np.array([[vocab.index(ch) for ch in s] for s in strings])

    kinds, positions = innermost_open_bracket(encode(["(().", "[](.", "([].", "()[]", "[(.)"]))
    np.testing.assert_array_equal(kinds, [0, 0, 0, -1, 1])
    np.testing.assert_array_equal(positions, [0, 2, 0, -1, 0])
    with pytest.raises(ValueError, match="closes a bracket"):
        innermost_open_bracket(encode(["(]"]))
    with pytest.raises(ValueError, match="closes a bracket"):
        innermost_open_bracket(encode([")("]))


def test_brace_matching_labels_are_the_stack_answer():
    T, min_gap = 40, 20
    tokens, y = brace_matching(2000, T, num_types=2, max_depth=3, min_gap=min_gap, rng=0)
    assert tokens.shape == (2000, T) and y.shape == (2000,)
    assert tokens.dtype == np.int64 and y.dtype == np.int64
    assert tokens.min() >= 0 and tokens.max() <= 4
    kinds, positions = innermost_open_bracket(tokens, 2)  # also checks every closer matches
    np.testing.assert_array_equal(kinds, y)
    assert np.all(T - 1 - positions >= min_gap), (
        "the key must be at least min_gap steps before the end"
    )
    # both labels appear about equally often, and the key spreads over the allowed positions
    assert abs(np.mean(y) - 0.5) < 0.05
    assert set(np.unique(positions)) == set(range(T - min_gap))


def test_brace_matching_nesting_and_balance():
    T, max_depth = 30, 4
    tokens, _ = brace_matching(1000, T, num_types=3, max_depth=max_depth, min_gap=10, rng=1)
    depth = _depth_profile(tokens, 3)
    assert depth.min() >= 0, "never closes more brackets than are open"
    assert depth.max() <= max_depth, "never more than max_depth brackets open at once"
    assert depth.max() == max_depth, "the nesting limit is reached in a large sample"
    _, positions = innermost_open_bracket(tokens, 3)
    rows = np.arange(len(tokens))
    after_key = depth[rows, positions]
    np.testing.assert_array_equal(depth[:, -1], after_key, "the segment after the key is balanced")
    # after the key the walk never drops below the key's depth
    for n in range(50):
        assert np.all(depth[n, positions[n] :] >= after_key[n])
    # the balanced segment is not trivially empty: it opens and closes brackets
    opens_after_key = [
        (tokens[n, positions[n] + 1 :] >= 1) & (tokens[n, positions[n] + 1 :] <= 3)
        for n in range(len(tokens))
    ]
    assert np.mean([o.sum() for o in opens_after_key]) > 3


def test_brace_matching_is_deterministic_and_seed_dependent():
    a = brace_matching(20, 16, rng=np.random.default_rng(3))
    b = brace_matching(20, 16, rng=np.random.default_rng(3))
    c = brace_matching(20, 16, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"T": 10, "min_gap": 10}, "min_gap"),
        ({"T": 10, "max_depth": 1}, "max_depth"),
        ({"T": 10, "p_filler": 1.0}, "p_filler"),
        ({"T": 10, "num_types": 0}, "num_types"),
    ],
)
def test_brace_matching_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        brace_matching(5, **kwargs)


@settings(max_examples=40, deadline=None)
@given(
    T=st.integers(2, 30),
    num_types=st.integers(1, 4),
    max_depth=st.integers(2, 5),
    gap_fraction=st.floats(0.0, 1.0),
    p_filler=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**16),
)
def test_brace_matching_invariants_hold_for_any_setting(
    T, num_types, max_depth, gap_fraction, p_filler, seed
):
    min_gap = int(gap_fraction * (T - 1))
    tokens, y = brace_matching(
        16,
        T,
        num_types=num_types,
        max_depth=max_depth,
        min_gap=min_gap,
        p_filler=p_filler,
        rng=seed,
    )
    assert tokens.shape == (16, T)
    assert tokens.min() >= 0 and tokens.max() <= 2 * num_types
    kinds, positions = innermost_open_bracket(tokens, num_types)
    np.testing.assert_array_equal(kinds, y)
    assert np.all(T - 1 - positions >= min_gap)
    depth = _depth_profile(tokens, num_types)
    assert depth.min() >= 0 and depth.max() <= max_depth


# ---------------------------------------------------------------- one-hot


def test_one_hot():
    tokens = np.array([[0, 2], [1, 1]])
    encoded = one_hot(tokens, 3)
    assert encoded.shape == (2, 2, 3)
    np.testing.assert_array_equal(encoded.sum(axis=-1), np.ones((2, 2)))
    np.testing.assert_array_equal(np.argmax(encoded, axis=-1), tokens)
    assert one_hot(tokens, 3, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="V"):
        one_hot(np.array([0, 3]), 3)
