"""The self-check's "would it run when graded?" check (autograder/check/isolation.py).

IPython keeps the source of every cell it compiled in ``linecache`` under a name of its own
with no modification time; ``cell`` below does the same, so these tests see a function the way
the self-check sees one defined in a notebook.
"""

import itertools
import linecache

import numpy as np
import pytest

from autograder import harness
from autograder.check import isolation, rnn, submit  # noqa: F401  (rnn registers its graded names)
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


# ----------------------------------------------------------------------------- before you submit
STEP = ("def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
        "    h = np.tanh(x @ Wx + h_prev @ Wh + b)\n"
        "    return h, (x, h_prev, Wx, Wh, h)\n")


def _by_name(lines):
    return {line.name: line for line in lines}


def test_before_you_submit_sees_what_the_grader_sees(capsys):
    namespace = {}
    cell("import numpy as np\n", namespace)
    cell("SCALE = 1.0\n", namespace)
    cell(STEP + "print('trying it out')\n", namespace)
    cell("def rnn_forward(x, h0, Wx, Wh, b):\n    return SCALE * x, None\n", namespace)
    cell("def rnn_backward(dh, cache):\n    raise NotImplementedError()\n", namespace)
    lines, notes = submit.report("rnn_bptt", namespace)
    by_name = _by_name(lines)
    assert by_name["rnn_step_forward"].status == "ready"
    assert by_name["rnn_forward"].status == "fails when graded"
    assert "SCALE" in by_name["rnn_forward"].message
    assert "define it inside the graded cell of rnn_forward" in by_name["rnn_forward"].message
    assert by_name["rnn_backward"].status == "not checked"  # its check needs rnn_forward
    assert "needs rnn_forward" in by_name["rnn_backward"].message
    assert by_name["rnn_step_backward"].status == "missing"
    assert any("print('trying it out')" in n and "skipped when graded" in n for n in notes)
    # the student's namespace is untouched, and the printed summary counts what is ready
    assert namespace["SCALE"] == 1.0
    submit.before_you_submit("rnn_bptt", namespace)
    out = capsys.readouterr().out
    assert "1 of 5 graded functions ready." in out and "FAILS WHEN GRADED" in out


def test_before_you_submit_reports_a_failing_top_level_line_and_a_wrong_function():
    namespace = {}
    cell("import numpy as np\n", namespace)
    source = STEP.replace("+ b)", ")") + "data = open('/no/such/file.txt').read()\n"
    with pytest.raises(FileNotFoundError):
        cell(source, namespace)  # the student's kernel stops there too
    lines, notes = submit.report("rnn_bptt", namespace)
    step = _by_name(lines)["rnn_step_forward"]
    assert step.status == "wrong" and "the bias b is not added" in step.message
    assert any("`data = open('/no/such/file.txt').read()` raises FileNotFoundError" in n
               and n.endswith("when graded") for n in notes), notes


def test_extra_credit_not_attempted_is_not_counted(capsys):
    namespace = {}
    cell("import numpy as np\nfrom rnnlib import sigmoid\n", namespace)
    cell("def lstm_step_forward_peephole(x, h_prev, c_prev, Wx, Wh, b, peephole):\n"
         "    raise NotImplementedError()\n", namespace)
    submit.before_you_submit("lstm_backward", namespace)
    out = capsys.readouterr().out
    assert "not attempted (extra credit, optional)" in out
    assert "0 of 4 graded functions ready." in out


def test_before_you_submit_runs_the_statements_the_harness_runs():
    # the harness may import nothing of the package: the two tuples are kept equal here
    assert submit.RUN_STATEMENTS == harness.RUN_STATEMENTS
    assert submit.TOP_LEVEL_SECONDS == harness.TOP_LEVEL_SECONDS


def test_unknown_assignment_is_named():
    with pytest.raises(ValueError, match="unknown assignment 'rnn'; expected one of"):
        submit.report("rnn", {})
