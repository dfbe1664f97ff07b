"""The self-check's "would it run when graded?" check (autograder/check/isolation.py).

IPython keeps the source of every cell it compiled in ``linecache`` under a name of its own
with no modification time; ``cell`` below does the same, so these tests see a function the way
the self-check sees one defined in a notebook.
"""

import itertools
import linecache

import numpy as np
import pytest

from autograder.check import isolation, rnn  # noqa: F401  (rnn registers its graded names)
from autograder.check.core import SelfCheckFailed, require_isolated

_counter = itertools.count()


def cell(source, namespace):
    """Run ``source`` as a notebook cell would run in ``namespace``."""
    filename = f"<ipython-input-{next(_counter)}-test>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    exec(compile(source, filename, "exec"), namespace)


def test_a_function_using_only_its_own_cell_and_the_setup_passes():
    namespace = {}
    cell("import numpy as np\n", namespace)
    cell("def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
         "    h = np.tanh(x @ Wx + h_prev @ Wh + b)\n"
         "    return h, (x, h_prev, Wx, Wh, h)\n", namespace)
    assert isolation.problems("rnn_step_forward", namespace["rnn_step_forward"]) == []


def test_a_helper_from_another_cell_is_named_with_the_fix():
    namespace = {"np": np}
    cell("def affine(x, W, b):\n    return x @ W + b\n", namespace)
    cell("def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
         "    h = np.tanh(affine(x, Wx, b) + h_prev @ Wh)\n"
         "    return h, (x, h_prev, Wx, Wh, h)\n", namespace)
    fn = namespace["rnn_step_forward"]
    found = isolation.problems("rnn_step_forward", fn)
    assert len(found) == 1
    assert "affine" in found[0] and "define it inside the graded cell of rnn_step_forward" \
        in found[0]
    with pytest.raises(SelfCheckFailed, match="would fail when graded"):
        require_isolated("rnn_step_forward", fn)


def test_another_graded_function_from_its_own_graded_cell_is_fine():
    namespace = {"np": np}
    cell("def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
         "    h = np.tanh(x @ Wx + h_prev @ Wh + b)\n"
         "    return h, None\n", namespace)
    cell("def rnn_forward(x, h0, Wx, Wh, b):\n"
         "    h, _ = rnn_step_forward(x[:, 0], h0, Wx, Wh, b)\n"
         "    return h, None\n", namespace)
    assert isolation.problems("rnn_forward", namespace["rnn_forward"]) == []


def test_an_import_made_in_another_cell_is_named():
    namespace = {}
    cell("import math\n", namespace)
    cell("import numpy as np\n"
         "def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
         "    return np.tanh(x @ Wx + h_prev @ Wh + b) * math.pi, None\n", namespace)
    found = isolation.problems("rnn_step_forward", namespace["rnn_step_forward"])
    assert len(found) == 1 and "module math" in found[0] and "import it there" in found[0]


def test_a_function_from_a_file_on_disk_is_not_judged():
    # no notebook cell to read: the check says nothing rather than guess
    assert isolation.problems("rnn_step_forward", np.tanh) == []
