"""Single-bug variants of both assignments, each through the self-checks and the grader.

Every variant starts from the instructor's solution and makes one change a student makes: an
off-by-one loop, an input changed in place, a missing carry, a wrong gate block, a helper in
another cell, a mask error, ... . The student side runs the notebook's cells as a kernel would
(each cell registered like an IPython cell, so the isolation check sees it) and then every
self-check in notebook order, keeping the first failure, as *Run All* would stop there. The
grader side grades all variants of an assignment in one batch, as an instructor would.

The contract checked for every variant:
- the grader marks it down exactly when a self-check fails (a variant that passes its
  self-checks gets full marks; one that loses any point fails a self-check);
- a real bug fails a self-check; a rewrite that is still right (some change an input in place,
  which both sides allow) passes and gets full marks;
- the message names the mistake or the place (which output, time steps, gate block, shape, or
  the student's own line for an exception): no generic "is wrong" is left;
- where a variant names the mistake it expects, the message contains it.

The counts (named, localised, exceptions, generic) are printed at the end of the module.
"""

import itertools
import linecache
import re
from collections import Counter
from dataclasses import dataclass

import nbformat
import numpy as np
import pytest
from test_assignments import BONUS, CHECKS, GRADED, MUTATIONS, source_path

from autograder import commands, selfcheck
from autograder.check.core import SelfCheckFailed
from autograder.workdir import Workdir

LIMITS = {"timeout_seconds": 8.0, "cpu_seconds": 9, "memory_mb": 768}


@dataclass(frozen=True)
class Variant:
    assignment: str
    grade_id: str
    edits: tuple            # ((old, new), ...) applied to the solution cell, in order
    what: str
    named: str = ""         # words the message must contain (the named mistake)
    correct: bool = False   # still right (a rewrite): passes and gets full marks
    before: str = ""        # a code cell inserted before the graded cell (a helper, an import)

    @property
    def student(self):
        return re.sub(r"[^a-z0-9]+", "_", f"{self.grade_id}_{self.what}".lower()).strip("_")[:60]


A1, A2 = "rnn_bptt", "lstm_backward"


def v(assignment, grade_id, old, new, what, named="", **kw):
    return Variant(assignment, grade_id, ((old, new),), what, named, **kw)


# The mutations of tests/test_assignments.py (each names its mistake) ...
FROM_MUTATIONS = [v(a, g, old, new, f"mutation {k}", named)
                  for k, (a, g, old, new, named) in enumerate(MUTATIONS)]

# ... and more of what students write.
MORE = [
    # ------------------------------------------------------------------ Assignment 1
    v(A1, "rnn_step_forward", "h_prev @ Wh + b", "h_prev @ Wx + b",
      "wx used for the recurrence"),
    v(A1, "rnn_step_forward", "np.tanh(x @ Wx + h_prev @ Wh + b)",
      "1 / (1 + np.exp(-(x @ Wx + h_prev @ Wh + b)))", "sigmoid instead of tanh"),
    v(A1, "rnn_step_forward", "cache = (x, h_prev, Wx, Wh, h)",
      "cache = (x, h_prev, Wx, Wh, x @ Wx + h_prev @ Wh + b)",
      "cache keeps the pre-activation"),
    v(A1, "rnn_step_forward", "h = np.tanh(x @ Wx + h_prev @ Wh + b)",
      "h = np.tanh(x @ Wx + h_prev @ Wh) + b", "bias added after the tanh"),
    v(A1, "rnn_step_backward", "da = dh * (1 - h ** 2)", "da = dh * (1 - np.tanh(h) ** 2)",
      "tanh applied twice in the derivative"),
    v(A1, "rnn_step_backward", "da = dh * (1 - h ** 2)", "da = dh * (1 - h) * (1 + h)",
      "derivative factored", correct=True),
    v(A1, "rnn_step_backward", "dWx = x.T @ da", "dWx = x.T @ dh", "dWx from dh"),
    v(A1, "rnn_step_backward", "dh_prev = da @ Wh.T", "dh_prev = dh @ Wh.T", "dh_prev from dh"),
    v(A1, "rnn_step_backward", "db = da.sum(axis=0)", "db = da.sum(axis=1)",
      "db summed over the wrong axis"),
    v(A1, "rnn_step_backward", "db = da.sum(axis=0)", "db = da.sum()", "db summed to a scalar"),
    v(A1, "rnn_step_backward", "dx = da @ Wx.T", "dx = da @ Wh.T", "dx through wh"),
    v(A1, "rnn_forward", "for t in range(T):", "for t in range(T - 1):",
      "loop stops one step early"),
    v(A1, "rnn_forward", "for t in range(T):", "for t in range(1, T):",
      "loop starts one step late"),
    v(A1, "rnn_forward", "rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)",
      "rnn_step_forward(x[:, t], h0, Wx, Wh, b)", "state not carried"),
    v(A1, "rnn_forward", "rnn_step_forward(x[:, t], h_prev, Wx, Wh, b)",
      "rnn_step_forward(x[:, T - 1 - t], h_prev, Wx, Wh, b)", "inputs read backwards"),
    v(A1, "rnn_forward", "h = np.zeros((N, T, H), dtype=h0.dtype)",
      "h = np.zeros((N, T, H), dtype=int)", "integer output buffer"),
    v(A1, "rnn_backward", "for t in reversed(range(T)):", "for t in range(T):",
      "loop runs forward in time"),
    v(A1, "rnn_backward", "dh0 = dh_next", "dh0 = dh[:, 0]", "dh0 is the upstream gradient"),
    v(A1, "rnn_backward", "step_caches[t])", "step_caches[T - 1 - t])",
      "caches read in reverse"),
    v(A1, "rnn_backward", "dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t",
      "dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db_t", "db overwritten at every step"),
    Variant(A1, "rnn_backward",
            (("    for t in reversed(range(T)):\n",
              "    for t in reversed(range(T)):\n        dh[:, t] += dh_next\n"),
             ("rnn_step_backward(dh[:, t] + dh_next,", "rnn_step_backward(dh[:, t],")),
            "dh changed in place", correct=True),
    Variant(A1, "rnn_backward",
            (("dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t",
              "dWx, dWh, db = accumulate((dWx, dWh, db), (dWx_t, dWh_t, db_t))"),),
            "helper from another cell", "define it inside the graded cell of rnn_backward",
            before="def accumulate(totals, terms):\n"
                   "    return tuple(a + b for a, b in zip(totals, terms))\n"),
    Variant(A1, "rnn_step_forward",
            (("h = np.tanh(x @ Wx + h_prev @ Wh + b)",
              "h = np.tanh(x @ Wx + h_prev @ Wh + b) * math.cos(0.0)"),),
            "import from another cell", "import it there", before="import math\n"),
    v(A1, "temporal_softmax_loss", "loss = -np.sum(", "loss = np.sum(", "loss sign flipped"),
    v(A1, "temporal_softmax_loss", "dx *= mask[:, :, None] / N", "dx /= N",
      "dx ignores the mask"),
    v(A1, "temporal_softmax_loss", "dx = np.exp(log_probs)", "dx = np.exp(shifted)",
      "dx from unnormalised scores"),
    v(A1, "temporal_softmax_loss", "dx[n_idx, t_idx, y] -= 1", "dx[:, :, y] -= 1",
      "target index broadcast over every class"),
    v(A1, "temporal_softmax_loss", "shifted = x - x.max(axis=2, keepdims=True)",
      "x -= x.max(axis=2, keepdims=True)\n    shifted = x", "scores shifted in place",
      correct=True),
    v(A1, "temporal_softmax_loss", "np.sum(mask * log_probs", "np.sum(~mask * log_probs",
      "mask inverted in the loss"),
    v(A1, "temporal_softmax_loss", "shifted = x - x.max(axis=2, keepdims=True)",
      "shifted = x", "softmax not shifted (warned, no points lost)", correct=True),
    # ------------------------------------------------------------------ Assignment 2
    v(A2, "lstm_step_forward", "g = np.tanh(a[:, 2 * H:3 * H])", "g = sigmoid(a[:, 2 * H:3 * H])",
      "sigmoid for the candidate"),
    v(A2, "lstm_step_forward", "o = sigmoid(a[:, 3 * H:])", "o = np.tanh(a[:, 3 * H:])",
      "tanh for the output gate"),
    v(A2, "lstm_step_forward", "h = o * tanh_c", "h = o * np.tanh(c_prev)",
      "h from the previous cell state"),
    v(A2, "lstm_step_forward", "a = x @ Wx + h_prev @ Wh + b", "a = x @ Wx + h_prev @ Wh",
      "bias forgotten"),
    v(A2, "lstm_step_forward", "c = f * c_prev + i * g", "c = f * c_prev + i * o",
      "output gate in the cell update"),
    v(A2, "lstm_step_forward", "cache = (x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)",
      "cache = (x, h_prev, c_prev, Wx, Wh, i, f, g, o, np.tanh(c_prev))",
      "cache keeps tanh of the old cell"),
    v(A2, "lstm_step_backward", "dc_total * i * (1 - g ** 2)", "dc_total * i * g * (1 - g)",
      "sigmoid derivative for the candidate"),
    v(A2, "lstm_step_backward", "dh * tanh_c * o * (1 - o)", "dh * tanh_c",
      "output gate derivative missing"),
    v(A2, "lstm_step_backward", "dc_total * g * i * (1 - i)", "dc_total * g",
      "input gate derivative missing"),
    v(A2, "lstm_step_backward", "dc_total * c_prev * f * (1 - f)", "dc_total * c_prev",
      "forget gate derivative missing"),
    v(A2, "lstm_step_backward", "db = da.sum(axis=0)", "db = da.mean(axis=0)",
      "db averaged", "db is averaged over the batch"),
    v(A2, "lstm_step_backward", "(1 - tanh_c ** 2)", "(1 - tanh_c) ** 2",
      "tanh derivative misplaced square"),
    v(A2, "lstm_step_backward", "dc_total = dc + dh * o * (1 - tanh_c ** 2)",
      "dc += dh * o * (1 - tanh_c ** 2)\n    dc_total = dc", "dc changed in place",
      correct=True),
    v(A2, "lstm_step_backward", "], axis=1)", "], axis=0)", "gate blocks stacked as rows"),
    v(A2, "lstm_step_backward", "dx = da @ Wx.T", "dx = da[:, :H] @ Wx[:, :H].T",
      "dx through the input gate only"),
    v(A2, "lstm_forward", "for t in range(T):", "for t in range(T - 1):",
      "loop stops one step early"),
    v(A2, "lstm_forward", "h_prev, c_prev, step_cache = lstm_step_forward(",
      "c_prev, h_prev, step_cache = lstm_step_forward(", "h and c swapped"),
    v(A2, "lstm_forward", "lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)",
      "lstm_step_forward(x[:, T - 1 - t], h_prev, c_prev, Wx, Wh, b)", "inputs read backwards"),
    v(A2, "lstm_forward", "lstm_step_forward(x[:, t], h_prev, c_prev, Wx, Wh, b)",
      "lstm_step_forward(x[:, t], h0, c_prev, Wx, Wh, b)", "hidden state not carried"),
    v(A2, "lstm_backward", "for t in reversed(range(T)):", "for t in range(T):",
      "loop runs forward in time"),
    v(A2, "lstm_backward", "dh0 = dh_next", "dh0 = dh[:, 0]", "dh0 is the upstream gradient"),
    v(A2, "lstm_backward", "step_caches[t])", "step_caches[T - 1 - t])",
      "caches read in reverse"),
    v(A2, "lstm_backward", "dx[:, t], dh_next, dc_next, dWx_t",
      "dx[:, t], dc_next, dh_next, dWx_t", "dh and dc swapped"),
    v(A2, "lstm_backward", "dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t",
      "dWx, dWh, db = dWx + dWx_t, dWh_t, db + db_t", "dWh overwritten at every step"),
    Variant(A2, "lstm_backward",
            (("    for t in reversed(range(T)):\n",
              "    for t in reversed(range(T)):\n        dh[:, t] += dh_next\n"),
             ("dh[:, t] + dh_next, dc_next,", "dh[:, t], dc_next,")),
            "dh changed in place", correct=True),
    Variant(A2, "lstm_backward",
            (("dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t",
              "dWx, dWh, db = accumulate((dWx, dWh, db), (dWx_t, dWh_t, db_t))"),),
            "helper from another cell", "define it inside the graded cell of lstm_backward",
            before="def accumulate(totals, terms):\n"
                   "    return tuple(a + b for a, b in zip(totals, terms))\n"),
    Variant(A2, "lstm_step_forward",
            (("c = f * c_prev + i * g", "c = f * c_prev + i * g * math.cos(0.0)"),),
            "import from another cell", "import it there", before="import math\n"),
    v(A2, "lstm_step_forward_peephole", "f = sigmoid(a[:, H:2 * H] + p_f * c_prev)",
      "f = sigmoid(a[:, H:2 * H])", "forget gate peephole missing"),
    v(A2, "lstm_step_backward_peephole", "da_f = dc_total * c_prev * f * (1 - f)",
      "da_f = dc_total * c_prev * f", "forget gate derivative missing"),
    v(A2, "lstm_step_backward_peephole", "(da_i * c_prev).sum(axis=0), (da_f * c_prev).sum(axis=0)",
      "(da_f * c_prev).sum(axis=0), (da_i * c_prev).sum(axis=0)", "dpeephole rows swapped"),
]

VARIANTS = FROM_MUTATIONS + MORE


def _solution(source):
    return "\n".join(line for line in source.splitlines()
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def _graded(nb):
    """(setup source, [(grade_id, solution source)]) of a source notebook, in order."""
    setup, cells = "", []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id", "")
        if cell.cell_type != "code":
            continue
        if grade_id == "setup_imports":
            setup = cell.source
        elif meta.get("solution") and grade_id in CHECKS:
            cells.append((grade_id, _solution(cell.source)))
    return setup, cells


def variant_cells(variant, cells):
    """The graded cells of a variant: [(grade_id or "", source)] ("" for an added cell)."""
    out = []
    for grade_id, source in cells:
        if grade_id == variant.grade_id:
            for old, new in variant.edits:
                assert old in source, f"{variant.student}: {old!r} not in {grade_id}"
                source = source.replace(old, new, 1)
            if variant.before:
                out.append(("", variant.before))
        out.append((grade_id, source))
    return out


_counter = itertools.count()


def run_in_kernel(source, namespace):
    """Run a cell as IPython does: its source kept in linecache under a name of its own."""
    filename = f"<ipython-input-{next(_counter)}-variant>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def first_failure(variant, setup, cells):
    """(None or (check, kind, message)) after running the notebook and every self-check in
    notebook order, stopping at the first failure as Run All does."""
    namespace = {}
    run_in_kernel(setup, namespace)
    for _, source in variant_cells(variant, cells):
        run_in_kernel(source, namespace)
    order = [g for g, _ in cells]
    for grade_id in order:
        check_name, fn_names = CHECKS[grade_id]
        try:
            with np.errstate(all="ignore"):
                getattr(selfcheck, check_name)(*[namespace[n] for n in fn_names])
        except SelfCheckFailed as failure:
            return grade_id, "selfcheck", str(failure)
        except Exception as exc:  # the student's own exception, shown with its traceback
            return grade_id, "exception", f"{type(exc).__name__}: {exc}"
    return None


BARE = re.compile(r"^\w+: \w+ is wrong \(relative error [^)]*\)$|wrong too$|"
                  r"gradient check failed")
NAMED = re.compile(r"is wrong: |looks transposed|would fail when graded|is not implemented")
PLACE = re.compile(r"relative error|has shape|should be a scalar|contains (NaN|inf)|"
                   r"must return|all in the same place|(is|are) right$")


GRADER_BARE = re.compile(r"\w+ is wrong \(relative error [^)]*\)(; [\w, ]+ (is|are) wrong too)?")


def kind_of(failure):
    """named / localised / exception / generic, for a first failure: generic when every
    clause only says that a term is wrong."""
    _, kind, message = failure
    if kind == "exception":
        return "exception"
    clauses = message.split("; ")
    if all(BARE.search(clause) or (k and clause.endswith("wrong too"))
           for k, clause in enumerate(clauses)):
        return "generic"
    if NAMED.search(message) or not PLACE.search(message):
        return "named"
    return "localised"


# ----------------------------------------------------------------------------- the two sides
@pytest.fixture(scope="module")
def student_side():
    results = {}
    for assignment in (A1, A2):
        setup, cells = _graded(nbformat.read(str(source_path(assignment)), as_version=4))
        for variant in VARIANTS:
            if variant.assignment == assignment:
                results[variant.student] = first_failure(variant, setup, cells)
    return results


def _submission(variant, released, cells):
    nb = nbformat.from_dict(released)  # a copy
    new_cells = []
    sources = dict(variant_cells(variant, cells))
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id == variant.grade_id and variant.before:
            new_cells.append(nbformat.v4.new_code_cell(variant.before))
        if grade_id in sources:
            cell.source = sources[grade_id]
        new_cells.append(cell)
    nb.cells = new_cells
    return nb


@pytest.fixture(scope="module")
def grader_side(tmp_path_factory):
    base = tmp_path_factory.mktemp("variants")
    workdir = Workdir(base / "grading")
    records = {}
    for assignment in (A1, A2):
        release, _ = commands.generate(workdir, assignment, quiet=True)
        released = nbformat.read(str(release / f"{assignment}.ipynb"), as_version=4)
        _, cells = _graded(nbformat.read(str(source_path(assignment)), as_version=4))
        folder = base / f"submissions-{assignment}"
        for variant in VARIANTS:
            if variant.assignment == assignment:
                target = folder / variant.student
                target.mkdir(parents=True)
                nbformat.write(_submission(variant, released, cells),
                               str(target / f"{assignment}.ipynb"))
        summary = commands.grade(workdir, assignment, folder, jobs=2, limits=LIMITS,
                                 progress=False, out=None)
        records.update({r.student: r for r in summary.records})
    return records


def full_marks(record):
    return all(p.points == pytest.approx(p.max_points) for p in record.parts)


def test_every_assignment_has_at_least_40_variants():
    counts = Counter(v.assignment for v in VARIANTS)
    assert counts[A1] >= 40 and counts[A2] >= 40, counts
    assert len({v.student for v in VARIANTS}) == len(VARIANTS), "two variants share a name"


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.student)
def test_self_check_and_grader_agree(variant, student_side, grader_side):
    failure = student_side[variant.student]
    record = grader_side[variant.student]
    reasons = {p.name: p.reason for p in record.parts if p.points < p.max_points}
    if failure is None:
        assert full_marks(record), (f"passes every self-check but the grader takes points: "
                                    f"{reasons}")
    else:
        assert not full_marks(record), f"fails its self-check ({failure}) but gets full marks"
    if variant.correct:
        assert failure is None, f"a correct rewrite fails its self-check: {failure}"
    else:
        assert failure is not None, "a bug passes every self-check"
    notes = {p.name: " ".join(p.notes) for p in record.parts}
    for part, reason in reasons.items():
        # the grader's reason says as much as the self-check (compare_all), or its notes name
        # the wrong function it calls (whose own reason does)
        detail = reason.split("): ", 1)[-1]
        assert not GRADER_BARE.fullmatch(detail) or "first" in notes[part], \
            f"{variant.student}: {part}: {reason}"


@pytest.mark.parametrize("variant", [v for v in VARIANTS if not v.correct],
                         ids=lambda v: v.student)
def test_the_message_names_the_mistake_or_the_place(variant, student_side):
    failure = student_side[variant.student]
    assert failure is not None
    assert kind_of(failure) != "generic", failure
    if variant.named:
        assert variant.named in failure[2], failure


def test_counts(student_side, capsys):
    kinds = Counter(kind_of(f) for f in student_side.values() if f is not None)
    by_assignment = {a: Counter(kind_of(student_side[v.student]) for v in VARIANTS
                                if v.assignment == a and student_side[v.student] is not None)
                     for a in (A1, A2)}
    with capsys.disabled():
        print(f"\n  self-check messages of {len(VARIANTS)} variants: {dict(kinds)}; "
              f"correct rewrites passing: "
              f"{sum(student_side[v.student] is None for v in VARIANTS if v.correct)}; "
              + "; ".join(f"{a}: {dict(c)}" for a, c in by_assignment.items()))
    assert kinds["generic"] == 0, kinds


def test_graded_and_bonus_tables_cover_the_checks():
    # the variants run the checks of CHECKS in notebook order: every graded function has one
    for assignment in (A1, A2):
        assert set(GRADED[assignment]) | set(BONUS.get(assignment, {})) <= set(CHECKS)
