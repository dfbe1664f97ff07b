"""The two graded nbgrader assignments: source notebooks, student versions and self-checks.

What is checked:

- the source notebooks follow the grading interface (cell metadata, grade ids, signatures,
  points) and are committed without outputs;
- ``nbgrader generate_assignment`` releases both student versions from the sources, and the
  releases contain no solution code and no model answers;
- the source (solution) notebooks execute with every self-check printing OK and nothing on
  stderr;
- a student version executes up to the first unimplemented function and stops there with a
  clear message;
- a deliberately wrong implementation of each graded function fails its self-check with the
  message that names that bug.
"""

import ast
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import rnnlib
from autograder import selfcheck

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "autograder" / "source"

#: Graded functions of each assignment: grade_id -> (argument names, points of its test cell).
GRADED = {
    "rnn_bptt": {
        "rnn_step_forward": (["x", "h_prev", "Wx", "Wh", "b"], 15),
        "rnn_step_backward": (["dh", "cache"], 25),
        "rnn_forward": (["x", "h0", "Wx", "Wh", "b"], 15),
        "rnn_backward": (["dh", "cache"], 30),
        "temporal_softmax_loss": (["x", "y", "mask"], 15),
    },
    "lstm_backward": {
        "lstm_step_forward": (["x", "h_prev", "c_prev", "Wx", "Wh", "b"], 20),
        "lstm_step_backward": (["dh", "dc", "cache"], 30),
        "lstm_forward": (["x", "h0", "Wx", "Wh", "b"], 15),
        "lstm_backward": (["dh", "cache"], 35),
    },
}
#: Extra-credit functions (points on top of the 100, the grader caps the total at 100).
BONUS = {
    "lstm_backward": {
        "lstm_step_forward_peephole": (["x", "h_prev", "c_prev", "Wx", "Wh", "b", "peephole"], 5),
        "lstm_step_backward_peephole": (["dh", "dc", "cache"], 5),
    },
}
#: Self-check of each graded function and the functions it needs, by grade_id.
CHECKS = {
    "rnn_step_forward": ("check_rnn_step_forward", ["rnn_step_forward"]),
    "rnn_step_backward": ("check_rnn_step_backward", ["rnn_step_forward", "rnn_step_backward"]),
    "rnn_forward": ("check_rnn_forward", ["rnn_forward"]),
    "rnn_backward": ("check_rnn_backward", ["rnn_forward", "rnn_backward"]),
    "temporal_softmax_loss": ("check_temporal_softmax_loss", ["temporal_softmax_loss"]),
    "lstm_step_forward": ("check_lstm_step_forward", ["lstm_step_forward"]),
    "lstm_step_backward": ("check_lstm_step_backward", ["lstm_step_forward", "lstm_step_backward"]),
    "lstm_forward": ("check_lstm_forward", ["lstm_forward"]),
    "lstm_backward": ("check_lstm_backward", ["lstm_forward", "lstm_backward"]),
    "lstm_step_forward_peephole": (
        "check_lstm_step_forward_peephole",
        ["lstm_step_forward_peephole"],
    ),
    "lstm_step_backward_peephole": (
        "check_lstm_step_backward_peephole",
        ["lstm_step_forward_peephole", "lstm_step_backward_peephole"],
    ),
}
ASSIGNMENTS = sorted(GRADED)


def source_path(assignment):
    return SOURCE / assignment / f"{assignment}.ipynb"


def read(path):
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def cell_by_grade_id(nb, grade_id):
    matches = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id]
    assert len(matches) == 1, f"expected one cell with grade_id {grade_id!r}, found {len(matches)}"
    return matches[0]


def solution_lines(cell_source):
    """The non-trivial lines between BEGIN SOLUTION and END SOLUTION of one cell."""
    lines, inside = [], False
    for line in cell_source.splitlines():
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside:
            stripped = line.strip()
            if len(stripped) >= 8 and not stripped.startswith("#"):
                lines.append(stripped)
    return lines


def public_source(cell_source):
    """A cell's source without its solution regions."""
    kept, inside = [], False
    for line in cell_source.splitlines():
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def namespace(nb, replace=None):
    """Run the setup cells and every solution cell of a notebook in a fresh namespace.

    replace: optional (grade_id, old, new) applied to that cell's source first; ``old`` must
    occur in the cell, so a mutation cannot silently stop applying.
    """
    ns = {}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta:
            continue
        grade_id = meta.get("grade_id", "")
        is_setup = (
            meta.get("locked")
            and not meta.get("grade")
            and grade_id.startswith(("setup", "selfcheck"))
        )
        if not (is_setup or meta.get("solution")):
            continue
        source = cell.source
        if replace and replace[0] == grade_id:
            assert replace[1] in source, f"mutation target not found in {grade_id}: {replace[1]!r}"
            source = source.replace(replace[1], replace[2])
        exec(compile(source, f"<{grade_id}>", "exec"), ns)
    return ns


def run_check(ns, grade_id):
    check_name, fn_names = CHECKS[grade_id]
    getattr(selfcheck, check_name)(*[ns[name] for name in fn_names])


def execute(nb, cwd, timeout=600):
    """Execute a notebook in place; return the CellExecutionError or None."""
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        return error
    return None


def stream_text(cell, name="stdout"):
    return "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == name
    )


def assert_one_line_failure(cell):
    """A failed self-check shows one line: no traceback through the checker's source and no
    name of the reference implementation."""
    output = next(o for o in cell.outputs if o.output_type == "error")
    assert output.ename == "SelfCheckFailed"
    assert len(output.traceback) == 1, output.traceback
    (line,) = output.traceback
    assert line.startswith("Self-check failed: "), line
    assert "Traceback" not in line and "autograder" not in line and "rnnlib" not in line, line


def error_cell(nb):
    errored = [
        c
        for c in nb.cells
        if c.cell_type == "code"
        and any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    assert len(errored) == 1, f"expected exactly one failing cell, found {len(errored)}"
    return errored[0]


# ------------------------------------------------------------------------------------------------
# The source notebooks
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_follows_the_grading_interface(assignment):
    nb = read(source_path(assignment))
    graded = {**GRADED[assignment], **BONUS.get(assignment, {})}
    cells = nb.cells
    for grade_id, (args, points) in graded.items():
        cell = cell_by_grade_id(nb, grade_id)
        assert cell.cell_type == "code"
        assert nbgrader_meta(cell) == {
            "solution": True,
            "grade": False,
            "locked": False,
            "grade_id": grade_id,
            "schema_version": 3,
        }
        tree = ast.parse(cell.source)
        functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        assert [f.name for f in functions] == [grade_id], "one function per graded cell"
        assert [a.arg for a in functions[0].args.args] == args, f"signature of {grade_id}"
        assert "rnnlib" not in cell.source, f"the solution of {grade_id} must not use rnnlib"
        assert cell.source.count("### BEGIN SOLUTION") == 1
        # the points-bearing self-check cell comes right after the solution cell
        test_cell = cells[cells.index(cell) + 1]
        assert nbgrader_meta(test_cell) == {
            "grade": True,
            "solution": False,
            "locked": True,
            "points": points,
            "grade_id": f"test_{grade_id}",
            "schema_version": 3,
        }
        assert f"selfcheck.{CHECKS[grade_id][0]}(" in test_cell.source
    points = sum(
        nbgrader_meta(c)["points"]
        for c in cells
        if nbgrader_meta(c).get("grade")
        and c.cell_type == "code"
        and nbgrader_meta(c)["grade_id"][len("test_") :] in GRADED[assignment]
    )
    assert points == 100
    # trusted setup cells are locked and import nothing but numpy and rnnlib helpers
    setup = [c for c in cells if nbgrader_meta(c).get("grade_id", "").startswith("setup")]
    assert setup and all(
        nbgrader_meta(c)["locked"] and not nbgrader_meta(c)["solution"] for c in setup
    )
    for c in setup:
        for node in ast.walk(ast.parse(c.source)):
            if isinstance(node, ast.ImportFrom):
                assert node.module == "rnnlib" and all(a.name not in CHECKS for a in node.names), (
                    c.source
                )
            elif isinstance(node, ast.Import):
                assert [a.name for a in node.names] == ["numpy"], c.source
    # written answers: manually graded markdown with 0 points (feedback only)
    written = [c for c in cells if c.cell_type == "markdown" and nbgrader_meta(c)]
    assert written and all(
        nbgrader_meta(c)["grade"]
        and nbgrader_meta(c)["solution"]
        and nbgrader_meta(c)["points"] == 0
        for c in written
    )
    # committed without outputs
    for c in cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None


# ------------------------------------------------------------------------------------------------
# Releasing the student versions with nbgrader
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """Generate both student versions with nbgrader from a copy of autograder/source."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(
        SOURCE, root / "source", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    )
    env = dict(os.environ)
    # nbgrader runs the `alembic` script of the environment it is installed in
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["JUPYTER_CONFIG_DIR"] = str(root / "jupyter_config")  # no personal nbgrader config
    for assignment in ASSIGNMENTS:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                "generate_assignment",
                assignment,
                f"--CourseDirectory.root={root}",
                f"--db=sqlite:///{root / 'gradebook.db'}",
            ],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return {a: root / "release" / a / f"{a}.ipynb" for a in ASSIGNMENTS}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_version_contains_no_solution(released, assignment):
    source = read(source_path(assignment))
    release = read(released[assignment])
    release_text = "\n".join(c.source for c in release.cells)
    assert "BEGIN SOLUTION" not in release_text and "END SOLUTION" not in release_text
    # Lines that also occur in the given (non-solution) code, such as `for t in range(T):`,
    # are not leaks; every other solution line must be absent from the release.
    public_text = "\n".join(
        public_source(c.source)
        for c in source.cells
        if not nbgrader_meta(c).get("solution") or c.cell_type == "code"
    )
    leaked = []
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("solution"):
            continue
        if cell.cell_type == "code":
            lines = [line for line in solution_lines(cell.source) if line not in public_text]
            assert len(lines) >= 2, f"too few distinctive solution lines in {meta['grade_id']}"
            leaked += [line for line in lines if line in release_text]
            stub = cell_by_grade_id(release, meta["grade_id"]).source
            assert "raise NotImplementedError()" in stub
        else:
            # model answers of the written questions
            sentences = [s.strip() for s in re.split(r"[.:;]", cell.source) if len(s.strip()) > 30]
            leaked += [s for s in sentences if s in release_text]
            assert cell_by_grade_id(release, meta["grade_id"]).source.strip() == "YOUR ANSWER HERE"
    assert not leaked, f"solution text leaked into the student version: {leaked[:5]}"
    # the released graded cells still carry their grade ids and points, and no outputs
    for grade_id, (_, points) in {**GRADED[assignment], **BONUS.get(assignment, {})}.items():
        assert nbgrader_meta(cell_by_grade_id(release, grade_id))["solution"]
        assert nbgrader_meta(cell_by_grade_id(release, f"test_{grade_id}"))["points"] == points
    assert all(c.outputs == [] for c in release.cells if c.cell_type == "code")


def test_every_stub_says_it_is_not_implemented(released):
    """Every self-check of a student version stops with 'not implemented yet' (no kernel needed)."""
    for assignment in ASSIGNMENTS:
        ns = namespace(read(released[assignment]))
        for grade_id in {**GRADED[assignment], **BONUS.get(assignment, {})}:
            with pytest.raises(
                AssertionError, match=r"is not implemented yet: fill in the cell above"
            ):
                run_check(ns, grade_id)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_version_stops_at_the_first_unimplemented_function(released, assignment):
    nb = read(released[assignment])
    first = next(iter(GRADED[assignment]))
    error = execute(nb, released[assignment].parent)
    assert error is not None, "the student version ran to the end"
    failing = error_cell(nb)
    assert nbgrader_meta(failing)["grade_id"] == f"test_{first}"
    assert f"{first} is not implemented yet: fill in the cell above" in str(error)
    assert_one_line_failure(failing)
    # nothing after the failing self-check ran
    later = nb.cells[nb.cells.index(failing) + 1 :]
    assert all(c.get("execution_count") is None for c in later if c.cell_type == "code")


def test_student_version_with_one_function_done_stops_at_the_next(released):
    """Fill in rnn_step_forward only: the notebook passes its check and stops at the next one."""
    source = read(source_path("rnn_bptt"))
    nb = read(released["rnn_bptt"])
    cell_by_grade_id(nb, "rnn_step_forward").source = cell_by_grade_id(
        source, "rnn_step_forward"
    ).source
    error = execute(nb, released["rnn_bptt"].parent)
    assert error is not None
    assert "rnn_step_forward OK" in stream_text(cell_by_grade_id(nb, "test_rnn_step_forward"))
    assert nbgrader_meta(error_cell(nb))["grade_id"] == "test_rnn_step_backward"
    assert "rnn_step_backward is not implemented yet" in str(error)


# ------------------------------------------------------------------------------------------------
# The solution notebooks run clean
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_executes_with_every_self_check_passing(assignment, tmp_path):
    nb = read(source_path(assignment))
    start = time.perf_counter()
    error = execute(nb, source_path(assignment).parent)
    seconds = time.perf_counter() - start
    assert error is None, str(error)
    print(f"{assignment}: executed in {seconds:.1f} s")
    for grade_id in {**GRADED[assignment], **BONUS.get(assignment, {})}:
        out = stream_text(cell_by_grade_id(nb, f"test_{grade_id}"))
        assert out.startswith(f"{grade_id} OK:"), out
    stderr = [stream_text(c, "stderr") for c in nb.cells if c.cell_type == "code"]
    assert not any(stderr), f"the solution notebook wrote to stderr: {[s for s in stderr if s]}"
    # the "before you submit" cell runs every graded cell on its own and finds nothing
    summary = stream_text(cell_by_grade_id(nb, "before_you_submit"))
    required = len(GRADED[assignment])
    assert f"{required} of {required} graded functions ready. Ready to submit." in summary, summary
    assert "note:" not in summary, summary


# ------------------------------------------------------------------------------------------------
# Wrong implementations fail with the message that names the bug
# ------------------------------------------------------------------------------------------------

#: (assignment, grade_id, replaced text, replacement, expected words of the message)
MUTATIONS = [
    # Assignment 1
    (
        "rnn_bptt",
        "rnn_step_forward",
        "h_prev @ Wh + b",
        "h_prev @ Wh.T + b",
        "Wh is applied transposed",
    ),
    (
        "rnn_bptt",
        "rnn_step_forward",
        "np.tanh(x @ Wx + h_prev @ Wh + b)",
        "np.tanh(x @ Wx + h_prev @ Wh)",
        "the bias b is not added",
    ),
    (
        "rnn_bptt",
        "rnn_step_forward",
        "np.tanh(x @ Wx + h_prev @ Wh + b)",
        "(x @ Wx + h_prev @ Wh + b)",
        "the tanh is missing",
    ),
    (
        "rnn_bptt",
        "rnn_step_backward",
        "dWh = h_prev.T @ da",
        "dWh = da.T @ h_prev",
        "dWh looks transposed: use h_prev.T @ da",
    ),
    (
        "rnn_bptt",
        "rnn_step_backward",
        "dWx = x.T @ da",
        "dWx = (x.T @ da).T",
        "dWx looks transposed: use x.T @ da",
    ),
    (
        "rnn_bptt",
        "rnn_step_backward",
        "da = dh * (1 - h ** 2)",
        "da = dh",
        "the tanh derivative is missing",
    ),
    (
        "rnn_bptt",
        "rnn_step_backward",
        "dh_prev = da @ Wh.T",
        "dh_prev = da @ Wh",
        "dh_prev uses Wh; it needs the transpose",
    ),
    (
        "rnn_bptt",
        "rnn_step_backward",
        "db = da.sum(axis=0)",
        "db = da.mean(axis=0)",
        "db is averaged over the batch",
    ),
    ("rnn_bptt", "rnn_forward", "h_prev = h0", "h_prev = np.zeros_like(h0)", "h0 is ignored"),
    (
        "rnn_bptt",
        "rnn_forward",
        "h_prev, step_cache = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)\n"
        "        h[:, t] = h_prev",
        "h[:, t] = h_prev\n"
        "        h_prev, step_cache = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)",
        "h[:, t] holds the state before step t",
    ),
    (
        "rnn_bptt",
        "rnn_backward",
        "dh[:, t] + dh_next",
        "dh[:, t]",
        "the gradient from step t+1 is not added to dh",
    ),
    (
        "rnn_bptt",
        "rnn_backward",
        "dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t",
        "dWx, dWh, db = dWx_t, dWh_t, db_t",
        "dWx is overwritten at every step",
    ),
    (
        "rnn_bptt",
        "rnn_backward",
        "dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t",
        "dWx, dWh, db = dWx + dWx_t, dWh + dWh_t.T, db + db_t",
        "dWh looks transposed",
    ),
    (
        "rnn_bptt",
        "temporal_softmax_loss",
        "log_probs[n_idx, t_idx, y]) / N",
        "log_probs[n_idx, t_idx, y])",
        "the loss is not averaged over the batch",
    ),
    (
        "rnn_bptt",
        "temporal_softmax_loss",
        "log_probs[n_idx, t_idx, y]) / N",
        "log_probs[n_idx, t_idx, y]) / (N * T)",
        "the loss is averaged over time as well",
    ),
    (
        "rnn_bptt",
        "temporal_softmax_loss",
        "np.sum(mask * log_probs",
        "np.sum(log_probs",
        "masked steps count in the loss",
    ),
    (
        "rnn_bptt",
        "temporal_softmax_loss",
        "dx[n_idx, t_idx, y] -= 1",
        "dx = dx",
        "the 1 at the target class is not subtracted",
    ),
    (
        "rnn_bptt",
        "temporal_softmax_loss",
        "dx *= mask[:, :, None] / N",
        "dx *= mask[:, :, None]",
        "dx is not averaged over the batch",
    ),
    # Assignment 2
    (
        "lstm_backward",
        "lstm_step_forward",
        "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])",
        "g = np.tanh(a[:, 3 * H:])\n    o = sigmoid(a[:, 2 * H:3 * H])",
        "gate blocks in the wrong order: expected (i, f, g, o)",
    ),
    (
        "lstm_backward",
        "lstm_step_forward",
        "i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H:2 * H])",
        "f = sigmoid(a[:, :H])\n    i = sigmoid(a[:, H:2 * H])",
        "gate blocks in the wrong order: expected (i, f, g, o)",
    ),
    (
        "lstm_backward",
        "lstm_step_forward",
        "h = o * tanh_c",
        "h = o * c",
        "the tanh of the cell state is missing",
    ),
    (
        "lstm_backward",
        "lstm_step_forward",
        "c = f * c_prev + i * g",
        "c = i * g",
        "the f * c_prev term is missing",
    ),
    (
        "lstm_backward",
        "lstm_step_backward",
        "dc_total = dc + dh * o",
        "dc_total = dh * o",
        "dc from the next step is forgotten",
    ),
    (
        "lstm_backward",
        "lstm_step_backward",
        "dc_total = dc + dh * o * (1 - tanh_c ** 2)",
        "dc_total = dc",
        "the path from h to c is missing",
    ),
    (
        "lstm_backward",
        "lstm_step_backward",
        "dWh = h_prev.T @ da",
        "dWh = da.T @ h_prev",
        "dWh looks transposed: use h_prev.T @ da",
    ),
    (
        "lstm_backward",
        "lstm_step_backward",
        "dc_total * g * i * (1 - i),\n        dc_total * c_prev * f * (1 - f),",
        "dc_total * c_prev * f * (1 - f),\n        dc_total * g * i * (1 - i),",
        "gate blocks in the wrong order: expected (i, f, g, o)",
    ),
    (
        "lstm_backward",
        "lstm_step_backward",
        "dc_prev = dc_total * f",
        "dc_prev = dc_total",
        "dc_prev misses the forget gate",
    ),
    (
        "lstm_backward",
        "lstm_forward",
        "h_prev, c_prev = h0, np.zeros_like(h0)",
        "h_prev, c_prev = np.zeros_like(h0), np.zeros_like(h0)",
        "h0 is ignored",
    ),
    (
        "lstm_backward",
        "lstm_forward",
        "lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)",
        "lstm_step_forward(x[:, t], h_prev, np.zeros_like(h0), Wx, Wh, b)",
        "the cell state is not carried from step to step",
    ),
    (
        "lstm_backward",
        "lstm_backward",
        "dh[:, t] + dh_next, dc_next, step_caches[t]",
        "dh[:, t] + dh_next, np.zeros_like(dc_next), step_caches[t]",
        "dc from the next step is forgotten",
    ),
    (
        "lstm_backward",
        "lstm_backward",
        "dh[:, t] + dh_next, dc_next, step_caches[t]",
        "dh[:, t], dc_next, step_caches[t]",
        "the gradient from step t+1 is not added to dh",
    ),
    (
        "lstm_backward",
        "lstm_backward",
        "dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t",
        "dWx, dWh, db = dWx_t, dWh_t, db_t",
        "dWx is overwritten at every step",
    ),
    (
        "lstm_backward",
        "lstm_step_forward_peephole",
        "o = sigmoid(a[:, 3 * H:] + p_o * c)",
        "o = sigmoid(a[:, 3 * H:] + p_o * c_prev)",
        "the output gate peeks at the new cell state",
    ),
    (
        "lstm_backward",
        "lstm_step_forward_peephole",
        "p_i, p_f, p_o = peephole",
        "p_f, p_i, p_o = peephole",
        "the rows of peephole are (p_i, p_f, p_o)",
    ),
    (
        "lstm_backward",
        "lstm_step_backward_peephole",
        " + da_o * p_o",
        "",
        "the output gate's peephole sends gradient into c",
    ),
    (
        "lstm_backward",
        "lstm_step_backward_peephole",
        "dc_prev = dc_total * f + da_i * p_i + da_f * p_f",
        "dc_prev = dc_total * f",
        "dc_prev misses the peephole terms",
    ),
    (
        "lstm_backward",
        "lstm_step_backward_peephole",
        "(da_o * c).sum(axis=0)",
        "(da_o * c_prev).sum(axis=0)",
        "dp_o uses c_prev",
    ),
]


@pytest.fixture(scope="module")
def sources():
    return {a: read(source_path(a)) for a in ASSIGNMENTS}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_pass_every_self_check(sources, assignment, capsys):
    ns = namespace(sources[assignment])
    for grade_id in {**GRADED[assignment], **BONUS.get(assignment, {})}:
        start = time.perf_counter()
        run_check(ns, grade_id)
        seconds = time.perf_counter() - start
        out = capsys.readouterr().out
        assert out.startswith(f"{grade_id} OK:"), out
        with capsys.disabled():
            print(f"\n  self-check of {grade_id}: {seconds:.3f} s", end="")


@pytest.mark.parametrize(
    "assignment, grade_id, old, new, message",
    MUTATIONS,
    ids=[f"{m[1]}-{k}" for k, m in enumerate(MUTATIONS)],
)
def test_wrong_implementation_fails_with_the_named_bug(
    sources, assignment, grade_id, old, new, message
):
    ns = namespace(sources[assignment], replace=(grade_id, old, new))
    with np.errstate(all="ignore"), pytest.raises(AssertionError) as failure:
        run_check(ns, grade_id)
    assert str(failure.value).startswith(f"{grade_id}: "), str(failure.value)
    assert message in str(failure.value), str(failure.value)


def test_a_softmax_that_overflows_is_warned_about_not_failed(sources, capsys):
    """The grader's hidden cases have moderate scores, so the self-check passes an unshifted
    softmax (as the grader does) and says in its OK line that it overflows."""
    ns = namespace(sources["rnn_bptt"], replace=(
        "temporal_softmax_loss", "shifted = x - x.max(axis=2, keepdims=True)", "shifted = x"))
    with np.errstate(all="ignore"):
        run_check(ns, "temporal_softmax_loss")
    out = capsys.readouterr().out
    assert out.startswith("temporal_softmax_loss OK:"), out
    assert "WARNING: it overflows for scores around 800" in out, out
    run_check(namespace(sources["rnn_bptt"]), "temporal_softmax_loss")
    assert "stable for scores around 800" in capsys.readouterr().out


def test_a_wrong_notebook_stops_at_its_self_check_with_the_named_bug(tmp_path):
    """The same in a real kernel: a transposed dWh stops the notebook at its self-check."""
    nb = read(source_path("rnn_bptt"))
    cell = cell_by_grade_id(nb, "rnn_step_backward")
    cell.source = cell.source.replace("dWh = h_prev.T @ da", "dWh = da.T @ h_prev")
    error = execute(nb, source_path("rnn_bptt").parent)
    assert error is not None
    assert nbgrader_meta(error_cell(nb))["grade_id"] == "test_rnn_step_backward"
    assert "rnn_step_backward: dWh looks transposed: use h_prev.T @ da" in str(error)
    assert_one_line_failure(error_cell(nb))


def test_a_students_own_exception_keeps_its_traceback_into_the_students_cell(tmp_path):
    """An exception raised by the student's code is not a failed check: its traceback is
    shown, starting in the student's cell, with none of the checker's frames."""
    nb = read(source_path("rnn_bptt"))
    cell = cell_by_grade_id(nb, "rnn_step_forward")
    cell.source = cell.source.replace("def rnn_step_forward(x, h_prev, Wx, Wh, b):",
                                      "def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
                                      "    x = x.reshape(-1, 7, 5)")
    assert "reshape(-1, 7, 5)" in cell.source
    error = execute(nb, source_path("rnn_bptt").parent)
    assert error is not None
    failing = error_cell(nb)
    assert nbgrader_meta(failing)["grade_id"] == "test_rnn_step_forward"
    output = next(o for o in failing.outputs if o.output_type == "error")
    assert output.ename == "ValueError"
    shown = "\n".join(output.traceback)
    assert "reshape(-1, 7, 5)" in shown  # the student's line
    assert "raised by your rnn_step_forward while its self-check ran it" in shown
    assert "autograder" not in shown and "rnnlib" not in shown, shown


# ------------------------------------------------------------------------------------------------
# The self-check machinery itself
# ------------------------------------------------------------------------------------------------


def test_mistake_models_reduce_to_rnnlib_when_switched_off():
    """The 'typical mistake' models start from the right answer: with no switch set they
    reproduce rnnlib, so a message can only fire for a real deviation."""
    rng = np.random.default_rng(5)
    N, T, D, H = 2, 3, 4, 5
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(D, H)), rng.normal(size=(H, H)), rng.normal(size=H)
    dh = rng.normal(size=(N, T, H))
    _, cache = rnnlib.rnn_forward(x, h0, Wx, Wh, b)
    for ours, ref in zip(
        selfcheck._rnn_backward_variant(x, h0, Wx, Wh, b, dh), rnnlib.rnn_backward(dh, cache)
    ):
        assert selfcheck.relative_difference(ours, ref) < 1e-12

    Wx4, Wh4, b4 = rng.normal(size=(D, 4 * H)), rng.normal(size=(H, 4 * H)), rng.normal(size=4 * H)
    _, cache = rnnlib.lstm_forward(x, h0, Wx4, Wh4, b4)
    for ours, ref in zip(
        selfcheck._lstm_backward_variant(x, h0, Wx4, Wh4, b4, dh), rnnlib.lstm_backward(dh, cache)
    ):
        assert selfcheck.relative_difference(ours, ref) < 1e-12
    assert (
        selfcheck.relative_difference(
            selfcheck._lstm_forward_variant(x, h0, Wx4, Wh4, b4),
            rnnlib.lstm_forward(x, h0, Wx4, Wh4, b4)[0],
        )
        < 1e-12
    )

    c_prev, P = rng.normal(size=(N, H)), rng.normal(size=(3, H))
    dh1, dc1 = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    args = (x[:, 0], h0, c_prev, Wx4, Wh4, b4)
    for peephole in (None, P):
        h, c, _ = selfcheck._lstm_step_variant(*args, peephole=peephole)
        h_ref, c_ref, cache = rnnlib.lstm_step_forward(*args, peephole=peephole)
        assert selfcheck.relative_difference(h, h_ref) < 1e-12
        assert selfcheck.relative_difference(c, c_ref) < 1e-12
        ours = selfcheck._lstm_step_backward_variant(*args, dh1, dc1, peephole=peephole)
        ref = rnnlib.lstm_step_backward(dh1, dc1, cache)
        for k, term in enumerate(ref):
            assert selfcheck.relative_difference(ours[k], term) < 1e-12


def test_every_wrong_gate_order_is_named():
    """All 23 wrong orders of the four gate blocks give distinct results and are each named."""
    case = selfcheck._lstm_step_cases()[0]
    h_mistakes, _ = selfcheck._lstm_step_forward_mistakes(case)
    orders = [m for _, m in h_mistakes if m.startswith("gate blocks")]
    assert len(orders) == 23
    for order in selfcheck._wrong_orders():

        def wrong_step(x, h_prev, c_prev, Wx, Wh, b, order=order):
            h, c, _ = selfcheck._lstm_step_variant(x, h_prev, c_prev, Wx, Wh, b, order=order)
            return h, c, None

        with pytest.raises(
            AssertionError, match=re.escape(f"your code uses the order ({', '.join(order)})")
        ):
            selfcheck.check_lstm_step_forward(wrong_step)


def test_a_function_that_modifies_its_inputs_cannot_fool_the_reference():
    """Checks pass copies: an implementation that overwrites x in place still gets compared
    with the reference computed from the original x."""

    def rnn_step_forward(x, h_prev, Wx, Wh, b):
        h = np.tanh(x @ Wx + h_prev @ Wh + b)
        x[...] = 0.0
        return h, None

    selfcheck.check_rnn_step_forward(rnn_step_forward)


def test_selfcheck_messages_for_bad_return_values():
    with pytest.raises(AssertionError, match=r"must return a tuple \(h, cache\)"):
        selfcheck.check_rnn_step_forward(
            lambda x, h_prev, Wx, Wh, b: np.tanh(x @ Wx + h_prev @ Wh + b)
        )
    with pytest.raises(AssertionError, match=r"h has shape \(4, 3\), expected \(3, 4\)"):
        selfcheck.check_rnn_step_forward(
            lambda x, h_prev, Wx, Wh, b: (np.tanh(x @ Wx + h_prev @ Wh + b).T, None)
        )
    with pytest.raises(AssertionError, match="contains NaN"):
        selfcheck.check_rnn_step_forward(
            lambda x, h_prev, Wx, Wh, b: (np.full((3, 4), np.nan), None)
        )
