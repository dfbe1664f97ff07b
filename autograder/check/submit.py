"""The "before you submit" check: every graded cell run on its own, the way the grader runs it.

The self-check of each function runs in the student's kernel, where every cell ever run has
left its names behind. The grader instead starts from nothing: it runs the assignment's setup
cell, then only the graded cells, in notebook order, and of each cell only its imports,
definitions, assignments and ``try`` blocks (prints, calls, loops and other experiments at the
top level are skipped, and an assignment gets a couple of seconds). ``report`` does the same in
a fresh namespace, then runs each function's self-check on the functions made there, so what
it prints is what the grader will see: a helper from another cell, a top-level statement that
fails, a function that is not implemented, a function that the self-check (and so, almost
certainly, the hidden cases) marks wrong.
"""

import ast
import contextlib
import io
import itertools
import linecache
import signal
import threading
import types
from dataclasses import dataclass

from . import isolation, lstm, rnn
from .core import SelfCheckFailed

#: The graded functions of each assignment, in notebook order.
ASSIGNMENTS = {"rnn_bptt": rnn.DESCRIPTIONS, "lstm_backward": lstm.DESCRIPTIONS}
#: Extra-credit functions (their points come on top of the assignment's total).
EXTRA_CREDIT = frozenset(lstm.EXTRA_CREDIT)

#: The top-level statements of a graded cell that the grader runs (the same tuple as
#: ``autograder.harness.RUN_STATEMENTS``, which may import nothing of the package; a test keeps
#: the two equal). Everything else at the top level is skipped.
RUN_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                  ast.ClassDef, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Try)
#: Wall-clock seconds a top-level assignment may take (the harness's TOP_LEVEL_SECONDS).
TOP_LEVEL_SECONDS = 2.0

_counter = itertools.count()


@dataclass
class Line:
    """What the grader will see of one graded function."""
    name: str
    #: "ready", "wrong", "not implemented", "missing", "fails when graded" or "not checked"
    status: str
    message: str = ""
    extra_credit: bool = False


class _TopLevelTimeout(Exception):
    pass


def _run_statement(code, namespace, boxed):
    """exec one statement; a non-definition gets TOP_LEVEL_SECONDS when a timer can be set."""
    if not boxed or threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        exec(code, namespace)
        return

    def on_alarm(signum, frame):
        raise _TopLevelTimeout(f"took longer than {TOP_LEVEL_SECONDS:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TOP_LEVEL_SECONDS)
    try:
        exec(code, namespace)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _first_line(source, node):
    text = (ast.get_source_segment(source, node) or type(node).__name__).splitlines()[0]
    return text if len(text) <= 60 else text[:57] + "..."


def run_graded_cells(cells, setup):
    """A fresh namespace made as the grader makes it: ``setup``, then each ``(name, source)``
    graded cell, statement by statement. Returns (namespace, notes): the notes say what was
    skipped or failed, cell by cell."""
    namespace = {"__name__": "__main__"}
    exec(compile(setup, "<setup cell>", "exec"), namespace)
    notes = []
    for name, source in cells:
        # registered like an IPython cell, so the self-check's isolation check can read it
        filename = f"<graded cell {name} {next(_counter)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            tree = ast.parse(source, filename=filename)
        except SyntaxError as exc:
            notes.append(f"the cell of {name} has a syntax error on line {exc.lineno}: "
                         f"{exc.msg} (nothing in it runs when graded)")
            continue
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # a docstring
            if not isinstance(node, RUN_STATEMENTS):
                notes.append(f"the cell of {name}, line {node.lineno}: "
                             f"`{_first_line(source, node)}` is skipped when graded (only "
                             "imports, definitions and assignments run)")
                continue
            code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
            boxed = not isinstance(node, RUN_STATEMENTS[:5])
            try:
                _run_statement(code, namespace, boxed)
            except BaseException as exc:  # noqa: BLE001 (reported, as the grader reports it)
                notes.append(f"the cell of {name}, line {node.lineno}: "
                             f"`{_first_line(source, node)}` raises "
                             f"{type(exc).__name__}: {exc} when graded")
    return namespace, notes


def _cell_of(fn):
    """The source of the cell that defined ``fn`` (None when it was not made in a cell)."""
    return isolation.cell_source(fn) if isinstance(fn, types.FunctionType) else None


def report(assignment, namespace):
    """([Line] per graded function, [note]) for the functions in ``namespace`` (the
    notebook's ``globals()``)."""
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"unknown assignment {assignment!r}; expected one of "
                         f"{', '.join(sorted(ASSIGNMENTS))}")
    descriptions = ASSIGNMENTS[assignment]
    cells, lines, seen = [], {}, set()
    for description in descriptions:
        fn = namespace.get(description.name)
        source = _cell_of(fn)
        if source is None:
            lines[description.name] = Line(
                description.name, "missing",
                "not defined in this notebook's cells: run its cell" if fn is None else
                "not defined by a notebook cell (the grader reads only the graded cells)")
        elif source not in seen:
            seen.add(source)
            cells.append((description.name, source))
    setup = isolation.setup_source(descriptions[0].name)
    fresh, notes = run_graded_cells(cells, setup)
    for description in descriptions:
        if description.name in lines:
            continue
        needed = [name for name in description.functions[:-1]
                  if lines[name].status != "ready"]
        if needed:
            lines[description.name] = Line(
                description.name, "not checked",
                f"its self-check needs {', '.join(needed)}, which is not ready yet")
            continue
        fns = [fresh.get(name) for name in description.functions]
        missing = [n for n, f in zip(description.functions, fns) if not callable(f)]
        if missing:
            lines[description.name] = Line(
                description.name, "fails when graded",
                f"{', '.join(missing)} would not be defined when graded (see the notes)")
            continue
        lines[description.name] = _run_check(description, fns, namespace)
    ordered = [lines[d.name] for d in descriptions]
    for line in ordered:
        line.extra_credit = line.name in EXTRA_CREDIT
    return ordered, notes


def _run_check(description, fns, namespace):
    """Run the self-check of ``description`` on the functions of the fresh namespace;
    ``namespace`` (the student's) tells a name from another cell from a misspelt one."""
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet):
            description.run(*fns)
    except SelfCheckFailed as failure:
        text = str(failure)
        if "is not implemented yet" in text:
            return Line(description.name, "not implemented", "")
        if "would fail when graded" in text:
            return Line(description.name, "fails when graded", text)
        return Line(description.name, "wrong", text)
    except NotImplementedError:
        return Line(description.name, "not implemented", "")
    except NameError as exc:
        name = getattr(exc, "name", None)
        if name and name in namespace:
            return Line(description.name, "fails when graded",
                        f"{description.name} uses {name}, which comes from another cell: "
                        + isolation.FIX.format(fn=description.name))
        return Line(description.name, "wrong", f"{description.name} raises NameError: {exc}")
    except Exception as exc:  # noqa: BLE001 (the student's exception, reported in one line)
        return Line(description.name, "wrong",
                    f"{description.name} raises {type(exc).__name__}: {exc}")
    return Line(description.name, "ready", "")


_SAID = {"ready": "ready: runs on its own and passes its self-check",
         "wrong": "WRONG", "not implemented": "not implemented yet (0 points)",
         "missing": "MISSING", "fails when graded": "FAILS WHEN GRADED",
         "not checked": "not checked yet"}


def before_you_submit(assignment, namespace):
    """Print what the grader will see of every graded function of ``assignment``; call it as
    ``before_you_submit("rnn_bptt", globals())`` in the last cell of the notebook."""
    lines, notes = report(assignment, namespace)
    width = max(len(line.name) for line in lines)
    print("What the grader will see (each graded cell run on its own, after the setup cell):")
    for line in lines:
        said = _SAID[line.status]
        if line.extra_credit and line.status == "not implemented":
            said = "not attempted (extra credit, optional)"
        print(f"  {line.name:<{width}}  {said}")
        if line.message:
            print(f"  {'':<{width}}  {line.message}")
    for note in notes:
        print(f"  note: {note}")
    required = [line for line in lines if not line.extra_credit]
    ready = sum(line.status == "ready" for line in required)
    verdict = ("Ready to submit." if ready == len(required) else
               "Fix the lines above before you submit (or submit knowing what they will cost).")
    print(f"{ready} of {len(required)} graded functions ready. {verdict}")
