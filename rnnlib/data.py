"""Offline data for the early chapters: text corpora, a character vocabulary, toy sequence tasks.

Nothing here downloads anything. The text corpora are the Zen of Python (shipped with every
Python as the rot13-encoded string ``this.s``), a short passage written for this course, and
the docstrings of a fixed list of standard-library modules (about 100,000 characters; the exact
text depends a little on the Python version).
The toy tasks are generated from a seeded ``numpy.random.Generator`` and use the book's
batch-first layout: inputs ``(N, T, D)`` or integer ids ``(N, T)``, labels ``(N, T)`` for
many-to-many tasks and ``(N,)`` for many-to-one tasks.
"""

import codecs
import contextlib
import importlib
import inspect
import io
import warnings

import numpy as np

__all__ = [
    "zen_of_python",
    "course_text",
    "DOC_MODULES",
    "stdlib_docstrings",
    "load_corpus",
    "CharVocab",
    "one_hot",
    "int_to_bits",
    "bits_to_int",
    "binary_addition",
    "parity",
    "identical_halves",
]

# Written for this course (our own words); used as a second offline corpus.
_COURSE_TEXT = """\
A recurrent network reads a sequence one step at a time. At every step it mixes the new input
with a hidden state that summarises everything it has read so far, and the same weights are
used at every step. Because the weights are shared, the network can read a sequence of any
length, and what it learns about the first step also applies to the hundredth.

To train the network we unroll it through time. The unrolled network is an ordinary deep
network whose layers all share one set of weights, so we can run backpropagation on it. The
gradient of a shared weight is the sum of the gradients of its copies. This is called
backpropagation through time.

The hidden state is a small memory. It has to keep what later steps will need and forget what
they will not. A network that adds two binary numbers only has to remember one carry bit. A
network that predicts the next letter of a text has to remember the word it is in, the
sentence it is in, and sometimes much more.

Long sequences make training hard. The gradient that flows back through many steps is
multiplied by the same matrix again and again, so it can shrink to nothing or grow without
bound. Gated networks such as the LSTM and the GRU were designed to keep that gradient alive.
"""


def zen_of_python():
    """Return the Zen of Python as a string, without printing it.

    ``import this`` prints the text on first import; we silence that and decode the rot13
    string ``this.s`` that the module keeps.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        import this  # noqa: F401  (imported for its data)
    return codecs.decode(this.s, "rot13")


def course_text():
    """Return a short passage about recurrent networks written for this course."""
    return _COURSE_TEXT


#: Standard-library modules whose docstrings make up the ``"stdlib"`` corpus, in this order.
DOC_MODULES = (
    "argparse", "collections", "csv", "difflib", "json", "re", "statistics", "string",
    "subprocess", "textwrap", "typing", "heapq", "itertools", "logging",
)


def stdlib_docstrings(modules=DOC_MODULES):
    """Return the docstrings of standard-library modules as one text.

    For each module, in the order given: the module's docstring, then the docstrings of its
    public functions and classes defined in that module, sorted by name. Docstrings are
    cleaned with ``inspect.getdoc`` and joined by blank lines.

    Inputs:

    - modules: sequence of importable module names

    Returns:

    - text: str (about 116,000 characters for the default modules on Python 3.11)
    """
    parts = []
    for module_name in modules:
        module = importlib.import_module(module_name)
        parts.append(inspect.getdoc(module) or "")
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_"):
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            with warnings.catch_warnings():
                # typing keeps deprecated aliases (typing.io, typing.re) that warn when read
                warnings.simplefilter("ignore", DeprecationWarning)
                doc = inspect.getdoc(obj)
            if doc:
                parts.append(doc)
    return "\n\n".join(part for part in parts if part)


def load_corpus(name="zen"):
    """Return an offline text corpus by name.

    Inputs:

    - name: ``"zen"`` (Zen of Python), ``"course"`` (our own passage), ``"both"``
      (the two joined by a blank line) or ``"stdlib"`` (standard-library docstrings,
      see :func:`stdlib_docstrings`).

    Returns:

    - text: str
    """
    if name == "zen":
        return zen_of_python()
    if name == "course":
        return course_text()
    if name == "both":
        return zen_of_python().rstrip("\n") + "\n\n" + course_text()
    if name == "stdlib":
        return stdlib_docstrings()
    raise ValueError(f"name must be 'zen', 'course', 'both' or 'stdlib', got {name!r}")


class CharVocab:
    """A character vocabulary: the sorted set of characters of a text, each with an integer id.

    >>> vocab = CharVocab("hello")
    >>> vocab.chars
    ['e', 'h', 'l', 'o']
    >>> vocab.decode(vocab.encode("hole"))
    'hole'
    """

    def __init__(self, text=None, chars=None):
        if (text is None) == (chars is None):
            raise ValueError("give exactly one of text (a str) or chars (a sequence of characters)")
        if chars is None:
            chars = sorted(set(text))
        chars = list(chars)
        if len(set(chars)) != len(chars):
            raise ValueError(f"chars must be distinct, got {chars!r}")
        if not chars:
            raise ValueError("the vocabulary must contain at least one character")
        self.chars = chars
        self.stoi = {ch: i for i, ch in enumerate(chars)}

    @property
    def size(self):
        """V, the number of characters."""
        return len(self.chars)

    def __len__(self):
        return len(self.chars)

    def __repr__(self):
        return f"CharVocab(chars={''.join(self.chars)!r})"

    def encode(self, text):
        """Map a string to an int64 array of ids, shape ``(len(text),)``."""
        try:
            return np.array([self.stoi[ch] for ch in text], dtype=np.int64)
        except KeyError as err:
            raise ValueError(f"text contains {err.args[0]!r}, which is not in the vocabulary") \
                from None

    def decode(self, ids):
        """Map a sequence of ids (any integer array-like, 1-D) back to a string."""
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids must lie in [0, {self.size}), "
                             f"got range [{ids.min()}, {ids.max()}]")
        return "".join(self.chars[int(i)] for i in ids)

    def one_hot(self, text, dtype=np.float64):
        """One-hot encode a string: shape ``(len(text), V)``."""
        return one_hot(self.encode(text), self.size, dtype=dtype)


def one_hot(ids, V, dtype=np.float64):
    """One-hot encode integer ids of any shape S into an array of shape ``S + (V,)``."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"ids must lie in [0, V={V}), got range [{ids.min()}, {ids.max()}]")
    out = np.zeros(ids.shape + (V,), dtype=dtype)
    np.put_along_axis(out, ids[..., None], 1, axis=-1)
    return out


def int_to_bits(values, T):
    """Binary digits of non-negative integers, least significant bit first.

    Inputs:

    - values: int or integer array of shape S (each value < 2**T)
    - T: number of bits

    Returns:

    - bits: int64 array of shape ``S + (T,)``; ``bits[..., t]`` is the coefficient of 2**t
    """
    values = np.asarray(values, dtype=object if T > 62 else np.int64)
    bits = [(values >> t) & 1 for t in range(T)]
    return np.stack(bits, axis=-1).astype(np.int64)


def bits_to_int(bits):
    """Inverse of :func:`int_to_bits`: least-significant-first bits ``(..., T)`` to Python ints.

    Returns an object array (exact for any T) of shape ``bits.shape[:-1]``, or a Python int
    for a 1-D input.
    """
    bits = np.asarray(bits).astype(np.int64)
    if bits.ndim == 1:
        return sum(int(bit) << t for t, bit in enumerate(bits))
    out = np.zeros(bits.shape[:-1], dtype=object)
    for t in range(bits.shape[-1]):
        out = out + bits[..., t].astype(object) * (1 << t)
    return out


def _check_sizes(N, T, min_T=1):
    if int(N) != N or N < 1:
        raise ValueError(f"N must be a positive integer, got {N!r}")
    if int(T) != T or T < min_T:
        raise ValueError(f"T must be an integer >= {min_T}, got {T!r}")


def binary_addition(N, T, rng):
    """Binary addition, one bit per time step, least significant bit first.

    Two numbers a, b < 2**(T-1) are drawn uniformly, so their sum fits in T bits. At step t
    the input is the pair of bits (a_t, b_t) and the label is bit t of a + b, which depends on
    the carry from all earlier steps.

    Inputs:

    - N: number of sequences
    - T: number of time steps (bits), T >= 2
    - rng: numpy.random.Generator

    Returns:

    - x: float64 array (N, T, 2) of input bits
    - y: int64 array (N, T) of the sum's bits
    """
    _check_sizes(N, T, min_T=2)
    a = rng.integers(0, 2, size=(N, T))
    b = rng.integers(0, 2, size=(N, T))
    a[:, -1] = 0  # top bit free, so the sum never overflows
    b[:, -1] = 0
    y = np.zeros((N, T), dtype=np.int64)
    carry = np.zeros(N, dtype=np.int64)
    for t in range(T):
        total = a[:, t] + b[:, t] + carry
        y[:, t] = total % 2
        carry = total // 2
    x = np.stack([a, b], axis=-1).astype(np.float64)
    return x, y


def parity(N, T, rng, running=True):
    """Parity of a bit string.

    Inputs:

    - N: number of sequences
    - T: number of time steps (bits)
    - rng: numpy.random.Generator
    - running: if True (many-to-many) the label at step t is the parity of x_1..x_t;
      if False (many-to-one) there is one label, the parity of the whole string.

    Returns:

    - x: float64 array (N, T, 1) of bits
    - y: int64 array (N, T) if running else (N,)
    """
    _check_sizes(N, T)
    bits = rng.integers(0, 2, size=(N, T))
    running_parity = np.cumsum(bits, axis=1) % 2
    y = running_parity if running else running_parity[:, -1]
    return bits[..., None].astype(np.float64), y.astype(np.int64)


def identical_halves(N, half_length, rng, num_symbols=2):
    """Is the second half of the sequence a copy of the first half?

    Each sequence has T = 2 * half_length symbols. Exactly half of the sequences (the first
    N // 2 before shuffling) are positives whose second half repeats the first; negatives have
    a second half that differs from the first in at least one position (drawn uniformly among
    all such halves).

    Inputs:

    - N: number of sequences
    - half_length: length L of each half, L >= 1
    - rng: numpy.random.Generator
    - num_symbols: alphabet size K >= 2 (symbols are 0..K-1)

    Returns:

    - x: int64 array (N, 2L) of symbol ids
    - y: int64 array (N,), 1 where the two halves are identical
    """
    _check_sizes(N, half_length)
    if int(num_symbols) != num_symbols or num_symbols < 2:
        raise ValueError(f"num_symbols must be an integer >= 2, got {num_symbols!r}")
    L, K = half_length, num_symbols
    first = rng.integers(0, K, size=(N, L))
    second = first.copy()
    y = np.zeros(N, dtype=np.int64)
    y[: N // 2] = 1
    negatives = np.flatnonzero(y == 0)
    # Resample negatives until each differs somewhere (uniform over the differing halves).
    pending = negatives
    while pending.size:
        second[pending] = rng.integers(0, K, size=(pending.size, L))
        same = np.all(second[pending] == first[pending], axis=1)
        pending = pending[same]
    order = rng.permutation(N)
    x = np.concatenate([first, second], axis=1)[order]
    return x.astype(np.int64), y[order]
