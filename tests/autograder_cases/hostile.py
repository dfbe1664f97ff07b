"""Submissions that misbehave in every way the grader must survive, and what each must score.

Every case starts from the student version of the notebook (``release/``), fills the
solution cells with the correct code of ``solutions.py`` and then replaces or edits some
cells. ``broken`` maps each graded function the case breaks to the hidden cases (indices)
on which it is wrong (``ALL`` = every case); a part loses the points of its own broken cases
only (a caller of a broken callee is graded with the reference callee too). Placeholders
``{GRADEBOOK}``, ``{OTHER_NOTEBOOK}``, ``{REPO_FILE}`` and ``{PORT}`` are filled in by
the test that writes the submissions.
"""

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .solutions import SOLUTIONS

ALL = frozenset(range(4))
RNN_PARTS = ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
             "temporal_softmax_loss")


@dataclass
class Case:
    student: str
    what: str
    replace: dict = field(default_factory=dict)     # grade_id -> new cell source
    broken: dict = field(default_factory=dict)      # function -> failing case indices
    base: str = "correct"                           # or "released" (the stubs)
    extra_files: dict = field(default_factory=dict)  # written beside the notebook
    edit: object = None                             # function(nb) changing cells
    raw: str = None                                 # file content instead of a notebook
    notebook_file: str = "submission.ipynb"
    needs_isolation_to: set = field(default_factory=set)  # functions that leak otherwise


# ----------------------------------------------------------------------------- cell edits
def _delete_and_fake_tests(nb):
    """Delete one test cell, gut another and claim 1000 points, add a fake graded cell."""
    kept = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if grade_id == "test_rnn_step_forward":
            continue
        if grade_id == "test_rnn_backward":
            cell.source = "pass  # all tests passed"
            meta["points"] = 1000
        kept.append(cell)
    fake = nbformat.v4.new_code_cell("print('Score: 150/100')")
    fake.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                 "points": 50, "grade_id": "test_extra_points",
                                 "schema_version": 3}
    kept.append(fake)
    nb.cells = kept


FLOOD_STEP = '''
import os, sys
_flooded = False

def rnn_step_forward(x, h_prev, Wx, Wh, b):
    global _flooded
    if not _flooded:
        _flooded = True
        for _ in range(200):
            print("flood " * 5000)
        for _ in range(200):
            os.write(1, b"raw flood " * 3000)
        sys.stderr.write("stderr flood\\n" * 100000)
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)
'''

PATCHED_STEP = '''
import builtins
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
np.isfinite = lambda a: np.ones(np.shape(a), dtype=bool)
rel_error = lambda *args, **kwargs: 0.0
builtins.AssertionError = type("NeverRaised", (Exception,), {})
from autograder import selfcheck  # not there while grading; fine in a kernel
selfcheck.TOL = 1e9

def rnn_step_forward(x, h_prev, Wx, Wh, b):
    h = 1.0 / (1.0 + np.exp(-(x @ Wx + h_prev @ Wh + b)))  # sigmoid, not tanh: wrong
    return h, (x, h_prev, Wx, Wh, h)
'''

READ_FILES_STEP = '''
_TARGETS = [{GRADEBOOK!r}, {OTHER_NOTEBOOK!r}, {REPO_FILE!r}]

def rnn_step_forward(x, h_prev, Wx, Wh, b):
    for path in _TARGETS:
        try:
            with open(path, "rb") as handle:
                handle.read(16)
        except OSError:
            continue
        raise RuntimeError("LEAK: the sandbox let me read " + path)
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)
'''

NETWORK_STEP = '''
import socket

def rnn_step_forward(x, h_prev, Wx, Wh, b):
    try:
        connection = socket.create_connection(("127.0.0.1", {PORT}), timeout=2)
    except OSError:
        pass
    else:
        connection.sendall(b"LEAK")
        raise RuntimeError("LEAK: the sandbox let me open a network connection")
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)
'''

FAKE_SCORE_STEP = '''
import os, json
print("Score: 100/100")
print(json.dumps({"type": "case", "case": 0, "ok": True, "points": 100}))
try:  # forge a result frame on the harness's result channel (fd 3)
    header = json.dumps({"type": "case", "case": 0, "ok": True, "seconds": 0.0,
                         "arrays": [{"name": "h", "dtype": "<f8", "shape": [3, 6],
                                     "nbytes": 144}], "payload": 144}).encode()
    os.write(3, b"%d\\n" % len(header) + header + bytes(144))
except OSError:
    pass

def rnn_step_forward(x, h_prev, Wx, Wh, b):
    print("Score: 100/100")
    raise NotImplementedError()
'''

MANY_PROCESSES_STEP = '''
import os

def rnn_step_forward(x, h_prev, Wx, Wh, b):
    try:
        for _ in range(10000):  # a fork bomb, caught: it must not matter
            if os.fork() == 0:
                os._exit(0)
    except OSError:
        pass
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)
'''

MANY_PROCESSES_LOSS = '''
import subprocess

def temporal_softmax_loss(x, y, mask):
    children = [subprocess.Popen(["sleep", "321"]) for _ in range(200)]
    return 0.0, np.zeros_like(x)
'''

MEMORY_STEP_BACKWARD = '''
def rnn_step_backward(dh, cache):
    hog = []
    while True:  # grows until the memory limit stops it
        hog.append(np.ones(1 << 20))
'''

MEMORY_LOSS = '''
def temporal_softmax_loss(x, y, mask):
    huge = np.ones((1 << 16, 1 << 16))  # 32 GB at once
    return float(huge.sum()), np.zeros_like(x)
'''

SIGINT_STEP_BACKWARD = '''
import signal, time

def rnn_step_backward(dh, cache):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    while True:
        try:
            time.sleep(0.01)
        except BaseException:
            pass
'''

WARNING_LOSS = '''
import warnings

def temporal_softmax_loss(x, y, mask):
    np.exp(np.array([1000.0]))                    # RuntimeWarning: overflow
    warnings.warn("just so you know", RuntimeWarning)
    N, T, V = x.shape
    shifted = x - x.max(axis=2, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    n, t = np.indices((N, T))
    loss = -np.sum(mask * log_p[n, t, y]) / N
    dx = np.exp(log_p)
    dx[n, t, y] -= 1.0
    dx *= mask[:, :, None] / N
    return loss, dx
'''

PARTIAL_FORWARD = '''
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]))
    caches = []
    h_prev = h0 * (0.5 if N == 1 else 1.0)  # a bug that shows only when N == 1
    for t in range(T):
        h_prev, step_cache = rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)
        h[:, t] = h_prev
        caches.append(step_cache)
    return h, caches
'''

CALLS_RNNLIB_STEP_BACKWARD = '''
from rnnlib import rnn_step_backward as reference_step_backward

def rnn_step_backward(dh, cache):
    return reference_step_backward(dh, cache)
'''

CALLS_RNNLIB_FORWARD = '''
import rnnlib

def rnn_forward(x, h0, Wx, Wh, b):
    return rnnlib.rnn_forward(x, h0, Wx, Wh, b)
'''

RNN_CASES = [
    Case("correct", "correct code"),
    Case("instructor", "the instructor's own solution notebook (source)", base="source"),
    Case("released", "the student version as released (every function raises "
         "NotImplementedError)", base="released",
         broken={name: ALL for name in RNN_PARTS}),
    Case("syntax-error", "a syntax error in the rnn_backward cell",
         replace={"rnn_backward": "def rnn_backward(dh, cache)\n    return dh\n"},
         broken={"rnn_backward": ALL}),
    Case("exception", "temporal_softmax_loss raises KeyError",
         replace={"temporal_softmax_loss": "def temporal_softmax_loss(x, y, mask):\n"
                                           "    raise KeyError('oops')\n"},
         broken={"temporal_softmax_loss": ALL}),
    Case("wrong-shape", "rnn_step_backward returns dWx transposed, (H, D)",
         replace={"rnn_step_backward": SOLUTIONS["rnn_bptt"]["rnn_step_backward"].replace(
             "x.T @ da", "da.T @ x")},
         broken={"rnn_step_backward": ALL}),
    Case("nan", "temporal_softmax_loss returns a NaN loss",
         replace={"temporal_softmax_loss": "def temporal_softmax_loss(x, y, mask):\n"
                                           "    return float('nan'), np.zeros_like(x)\n"},
         broken={"temporal_softmax_loss": ALL}),
    Case("partial", "rnn_forward is wrong only when N == 1 (1 of 4 hidden cases)",
         replace={"rnn_forward": PARTIAL_FORWARD}, broken={"rnn_forward": {1}}),
    Case("infinite-loop", "rnn_forward never returns",
         replace={"rnn_forward": "def rnn_forward(x, h0, Wx, Wh, b):\n"
                                 "    while True:\n        pass\n"},
         broken={"rnn_forward": ALL}),
    Case("ignores-sigint", "rnn_step_backward ignores SIGINT, SIGTERM and SIGALRM and loops",
         replace={"rnn_step_backward": SIGINT_STEP_BACKWARD},
         broken={"rnn_step_backward": ALL}),
    Case("os-exit", "rnn_backward calls os._exit(0)",
         replace={"rnn_backward": "import os\n\ndef rnn_backward(dh, cache):\n"
                                  "    os._exit(0)\n"},
         broken={"rnn_backward": ALL}),
    Case("crash", "rnn_step_forward crashes the interpreter (segmentation fault)",
         replace={"rnn_step_forward": "import ctypes\n\n"
                                      "def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
                                      "    ctypes.string_at(0)\n"},
         broken={"rnn_step_forward": ALL}),
    Case("memory-bomb", "rnn_step_backward grows memory without end; "
         "temporal_softmax_loss allocates 32 GB",
         replace={"rnn_step_backward": MEMORY_STEP_BACKWARD,
                  "temporal_softmax_loss": MEMORY_LOSS},
         broken={"rnn_step_backward": ALL, "temporal_softmax_loss": ALL}),
    Case("many-processes", "a fork bomb in rnn_step_forward (errors caught) and 200 "
         "subprocesses in temporal_softmax_loss",
         replace={"rnn_step_forward": MANY_PROCESSES_STEP,
                  "temporal_softmax_loss": MANY_PROCESSES_LOSS},
         broken={"temporal_softmax_loss": ALL}),
    Case("output-flood", "rnn_step_forward prints about 10 MB (print, os.write, stderr) "
         "and is otherwise correct", replace={"rnn_step_forward": FLOOD_STEP}),
    Case("patched-helpers", "patches np.allclose, np.testing, np.isfinite, rel_error, "
         "AssertionError and the self-checks; rnn_step_forward is wrong",
         replace={"rnn_step_forward": PATCHED_STEP}, broken={"rnn_step_forward": ALL}),
    Case("numpy-beside", "ships numpy.py, rnnlib.py and sitecustomize.py beside a correct "
         "notebook", extra_files={
             "numpy.py": "raise SystemExit('a shadowing numpy was imported')\n",
             "rnnlib.py": "def rnn_step_forward(*a):\n    raise SystemExit('shadow')\n",
             "sitecustomize.py": "raise SystemExit('sitecustomize ran')\n"}),
    Case("reads-files", "rnn_step_forward reads the gradebook, another student's "
         "notebook and the repository's rnnlib, and fails if it can",
         replace={"rnn_step_forward": READ_FILES_STEP},
         needs_isolation_to={"rnn_step_forward"}),
    Case("network", "rnn_step_forward connects to a server on 127.0.0.1 and fails if it can",
         replace={"rnn_step_forward": NETWORK_STEP}),
    Case("fake-score", "prints 'Score: 100/100', writes a forged result frame to the "
         "harness's result channel; the functions are the released stubs", base="released",
         replace={"rnn_step_forward": FAKE_SCORE_STEP},
         broken={name: ALL for name in RNN_PARTS}),
    Case("edited-tests", "correct code; deletes a test cell, guts another and sets its "
         "points to 1000, adds a fake graded cell worth 50", edit=_delete_and_fake_tests),
    Case("calls-rnnlib", "rnn_step_backward and rnn_forward call rnnlib's instead of "
         "being written", replace={"rnn_step_backward": CALLS_RNNLIB_STEP_BACKWARD,
                                   "rnn_forward": CALLS_RNNLIB_FORWARD},
         broken={"rnn_step_backward": ALL, "rnn_forward": ALL}),
    Case("runtime-warning", "correct code that emits RuntimeWarnings",
         replace={"temporal_softmax_loss": WARNING_LOSS}),
    Case("unreadable", "the .ipynb file is not a notebook", raw="{ this is not json",
         broken={name: ALL for name in RNN_PARTS}),
    Case("no-notebook", "the student's folder holds no notebook", raw=None,
         notebook_file=None, extra_files={"README.txt": "I forgot to attach it\n"},
         broken={name: ALL for name in RNN_PARTS}),
]

LSTM_PARTS = ("lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
              "lstm_step_forward_peephole", "lstm_step_backward_peephole")

LSTM_CASES = [
    Case("correct", "correct code, bonus included (the total is capped at the maximum)"),
    Case("released", "the student version as released", base="released",
         broken={name: ALL for name in LSTM_PARTS}),
    Case("no-bonus", "correct code, the bonus left as released",
         replace={"lstm_step_forward_peephole":
                  "def lstm_step_forward_peephole(*args):\n    raise NotImplementedError()\n",
                  "lstm_step_backward_peephole":
                  "def lstm_step_backward_peephole(*args):\n    raise NotImplementedError()\n"},
         broken={"lstm_step_forward_peephole": ALL, "lstm_step_backward_peephole": ALL}),
    Case("forgets-dc", "lstm_backward drops the cell-state gradient from the next step "
         "(which only matters when T > 1); the bonus is correct",
         replace={"lstm_backward": SOLUTIONS["lstm_backward"]["lstm_backward"].replace(
             "dh[:, t] + dh_next, dc_next, cache[t]",
             "dh[:, t] + dh_next, np.zeros_like(dc_next), cache[t]")},
         broken={"lstm_backward": {0, 2, 3}}),
]

CASES = {"rnn_bptt": RNN_CASES, "lstm_backward": LSTM_CASES}


# ----------------------------------------------------------------------------- building
def _solution_source(cell_source):
    """The instructor's solution without nbgrader's markers."""
    return "\n".join(line for line in cell_source.splitlines()
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def build_notebook(case, assignment, released_nb, source_nb, values):
    if case.base == "source":
        return copy.deepcopy(source_nb)
    nb = copy.deepcopy(released_nb)
    solutions = SOLUTIONS[assignment]
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if case.base == "correct" and grade_id in solutions:
            cell.source = solutions[grade_id].strip() + "\n"
        if grade_id in case.replace:
            text = case.replace[grade_id]
            for key, value in values.items():
                text = text.replace("{" + key + "!r}", repr(value))
                text = text.replace("{" + key + "}", str(value))
            cell.source = text.strip() + "\n"
    if case.edit is not None:
        case.edit(nb)
    return nb


def write_cases(folder, assignment, cases, released_path, source_path, values=None):
    """One folder per case under ``folder``; returns {student: Case}."""
    folder = Path(folder)
    released = nbformat.read(released_path, as_version=4)
    source = nbformat.read(source_path, as_version=4)
    written = {}
    for case in cases:
        target = folder / case.student
        target.mkdir(parents=True, exist_ok=True)
        for name, text in case.extra_files.items():
            (target / name).write_text(text, encoding="utf-8")
        if case.notebook_file is not None:
            if case.raw is not None:
                (target / case.notebook_file).write_text(case.raw, encoding="utf-8")
            else:
                nb = build_notebook(case, assignment, released, source, values or {})
                nbformat.write(nb, str(target / case.notebook_file))
        written[case.student] = case
    return written


def expected_parts(case, points, cases_per_part=4, isolated=True):
    """{part: expected points} for a case, given {part: points} of the source notebook."""
    broken = dict(case.broken)
    if not isolated:
        for name in case.needs_isolation_to:
            broken[name] = ALL
    expected = {}
    for part, value in points.items():
        # a caller is graded with the reference versions of its failing graded callees as
        # well and keeps the better run (autograder/grading.py), so only its own breakage
        # costs it points, whatever else its evaluation runs
        failing = set(broken.get(part, ()))
        expected[part] = value * (cases_per_part - len(failing)) / cases_per_part
    return expected


def expected_total(case, points, bonus, maximum, isolated=True):
    parts = expected_parts(case, points, isolated=isolated)
    normal = sum(v for k, v in parts.items() if k not in bonus)
    extra = sum(v for k, v in parts.items() if k in bonus)
    return min(maximum, normal + extra)


def describe(cases):
    return json.dumps({c.student: c.what for c in cases}, indent=1)
