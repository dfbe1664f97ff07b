"""Tests of rnnlib.data: corpora, character vocabulary and the toy sequence tasks."""

import subprocess
import sys

import numpy as np
import pytest

from rnnlib.data import (
    CharVocab,
    binary_addition,
    bits_to_int,
    identical_halves,
    int_to_bits,
    load_corpus,
    one_hot,
    parity,
    stdlib_docstrings,
    zen_of_python,
)


def test_zen_is_decoded_and_not_printed():
    # A fresh interpreter, so that `this` has not been imported yet.
    code = "from rnnlib.data import zen_of_python; t = zen_of_python(); assert len(t) > 500"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "", "zen_of_python printed to stdout"
    text = zen_of_python()
    assert text.startswith("The Zen of Python, by Tim Peters")
    assert "Beautiful is better than ugly." in text


def test_load_corpus_names():
    zen, course, both = load_corpus("zen"), load_corpus("course"), load_corpus("both")
    assert zen.strip() in both and course.strip() in both
    assert len(course) > 1000
    with pytest.raises(ValueError, match="name"):
        load_corpus("internet")


def test_vocab_roundtrip_and_order():
    text = load_corpus("both")
    vocab = CharVocab(text)
    assert vocab.chars == sorted(set(text))
    assert vocab.size == len(set(text)) == len(vocab)
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    assert CharVocab("hello").chars == ["e", "h", "l", "o"]
    assert CharVocab(chars="helo").encode("hello").tolist() == [0, 1, 2, 2, 3]


def test_vocab_errors():
    vocab = CharVocab("abc")
    with pytest.raises(ValueError, match="'z'"):
        vocab.encode("abz")
    with pytest.raises(ValueError, match="ids"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError):
        CharVocab(chars="aa")
    with pytest.raises(ValueError):
        CharVocab()


def test_one_hot():
    ids = np.array([[0, 2], [1, 1]])
    out = one_hot(ids, 3)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.argmax(-1), ids)
    np.testing.assert_array_equal(out.sum(-1), np.ones((2, 2)))
    assert one_hot(ids, 3, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(CharVocab("hello").one_hot("eh"), [[1, 0, 0, 0], [0, 1, 0, 0]])
    with pytest.raises(ValueError, match="V=3"):
        one_hot(np.array([3]), 3)


def test_bits_roundtrip_small_and_huge():
    values = np.array([0, 1, 5, 255])
    bits = int_to_bits(values, 8)
    assert bits[2].tolist() == [1, 0, 1, 0, 0, 0, 0, 0]  # 5, least significant bit first
    assert list(bits_to_int(bits)) == [0, 1, 5, 255]
    huge = 3**90  # needs 143 bits
    assert bits_to_int(int_to_bits(huge, 150)) == huge


@pytest.mark.parametrize("T", [2, 5, 70])
def test_binary_addition_labels_are_the_sum(T):
    x, y = binary_addition(64, T, np.random.default_rng(T))
    assert x.shape == (64, T, 2) and y.shape == (64, T)
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert np.all(x[:, -1, :] == 0), "top bit must be free so the sum fits"
    a = bits_to_int(x[..., 0])
    b = bits_to_int(x[..., 1])
    assert list(bits_to_int(y)) == list(a + b)


def test_binary_addition_is_seeded():
    x1, y1 = binary_addition(8, 6, np.random.default_rng(0))
    x2, y2 = binary_addition(8, 6, np.random.default_rng(0))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_parity_running_and_final():
    rng = np.random.default_rng(1)
    x, y = parity(100, 9, rng)
    assert x.shape == (100, 9, 1) and y.shape == (100, 9)
    bits = x[..., 0].astype(int)
    for t in range(9):
        np.testing.assert_array_equal(y[:, t], bits[:, : t + 1].sum(1) % 2)
    x, y_final = parity(100, 9, np.random.default_rng(1), running=False)
    assert y_final.shape == (100,)
    np.testing.assert_array_equal(y_final, x[..., 0].astype(int).sum(1) % 2)


@pytest.mark.parametrize("K", [2, 3])
def test_identical_halves(K):
    L, N = 4, 301
    x, y = identical_halves(N, L, np.random.default_rng(K), num_symbols=K)
    assert x.shape == (N, 2 * L) and y.shape == (N,)
    assert x.min() >= 0 and x.max() < K
    same = np.all(x[:, :L] == x[:, L:], axis=1)
    np.testing.assert_array_equal(same.astype(int), y)
    assert y.sum() == N // 2
    # positives and negatives are shuffled, not in two blocks
    assert 0 < y[: N // 2].sum() < N // 2


def test_identical_halves_length_one_binary():
    # With L = 1 and K = 2 every negative is (0, 1) or (1, 0): the resampling must terminate.
    x, y = identical_halves(50, 1, np.random.default_rng(0))
    assert np.all((x[:, 0] == x[:, 1]) == (y == 1))


def test_task_argument_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="T"):
        binary_addition(4, 1, rng)
    with pytest.raises(ValueError, match="N"):
        parity(0, 4, rng)
    with pytest.raises(ValueError, match="num_symbols"):
        identical_halves(4, 2, rng, num_symbols=1)


def test_stdlib_docstrings_corpus():
    text = load_corpus("stdlib")
    assert len(text) > 50_000, "the docstring corpus is unexpectedly small"
    assert text == load_corpus("stdlib"), "the corpus must be deterministic"
    assert "JSON" in text and "regular expression" in text
    small = stdlib_docstrings(["heapq"])
    assert small.startswith("Heap queue algorithm")
