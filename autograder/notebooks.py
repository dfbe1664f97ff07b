"""Reading notebooks: the trusted source assignment and the untrusted submissions.

From the SOURCE notebook (the instructor's, with solutions) the grader takes the setup cells
(locked code cells whose ``grade_id`` starts with ``setup``), the points of every graded
function (its test cell ``test_<function>``) and whether a part is extra credit. From a
SUBMISSION it takes only the source code of the solution cells, found by ``grade_id``;
everything else the student wrote, edited or deleted is ignored.
"""

import ast
import builtins
import hashlib
import inspect
import re
import types
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

import rnnlib

MAX_NOTEBOOK_BYTES = 20 << 20
MAGIC_LINE = re.compile(r"^(\s*)[%!].*$", re.MULTILINE)


def nbgrader_meta(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def read_notebook(path):
    """nbformat v4 notebook, or raise ValueError with a message a student understands."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the notebook is too large ({size >> 20} MB; "
                         f"limit {MAX_NOTEBOOK_BYTES >> 20} MB)")
    try:
        with open(path, encoding="utf-8") as handle:
            return nbformat.read(handle, as_version=4)
    except Exception as exc:  # any malformed file, whatever nbformat raises
        raise ValueError(f"the notebook could not be read ({type(exc).__name__}: "
                         f"{str(exc)[:200]})") from None


@dataclass
class SourceAssignment:
    """What the grader needs from the instructor's source notebook."""
    name: str
    notebook_name: str                    # file stem, e.g. "rnn_bptt"
    path: Path
    setup_cells: list = field(default_factory=list)
    points: dict = field(default_factory=dict)       # part name -> points of its test cell
    test_cells: dict = field(default_factory=dict)   # part name -> test cell grade_id
    bonus: set = field(default_factory=set)          # part names graded as extra credit
    written: dict = field(default_factory=dict)      # written answer grade_id -> points
    digest: str = ""

    @property
    def max_points(self):
        """The graded functions' points plus the written answers' (graded in formgrader)."""
        return sum(p for name, p in self.points.items() if name not in self.bonus) \
            + sum(self.written.values())


def is_bonus(cell):
    """Extra credit: marked in the test cell's nbgrader metadata or tagged ``bonus``."""
    meta = nbgrader_meta(cell)
    tags = cell.get("metadata", {}).get("tags", [])
    return bool(meta.get("extra_credit")) or "bonus" in tags or "extra-credit" in tags


def load_source(assignment, source_dir, part_names, bonus_parts=()):
    """Read ``source_dir/<notebook>.ipynb`` (exactly one notebook) for ``assignment``.

    A part is extra credit when the grader's part list says so (``bonus_parts``) or its test
    cell is marked; its points are the test cell's ``points``, or its numeric nbgrader
    ``extra_credit`` value when that is set."""
    source_dir = Path(source_dir)
    notebooks = sorted(p for p in source_dir.glob("*.ipynb"))
    if len(notebooks) != 1:
        raise ValueError(f"{source_dir} must hold exactly one notebook, found "
                         f"{len(notebooks)}")
    path = notebooks[0]
    nb = read_notebook(path)
    source = SourceAssignment(name=assignment, notebook_name=path.stem, path=path,
                              digest=hashlib.sha256(path.read_bytes()).hexdigest())
    solution_ids = set()
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id", "")
        if cell.cell_type == "code" and grade_id.startswith("setup"):
            source.setup_cells.append(strip_magics(cell.source))
        if meta.get("solution") and cell.cell_type == "code":
            solution_ids.add(grade_id)
        if meta.get("solution") and meta.get("grade") and cell.cell_type == "markdown":
            source.written[grade_id] = float(meta.get("points", 0))  # nbgrader: manual
        if meta.get("grade") and grade_id.startswith("test_"):
            part = grade_id[len("test_"):]
            source.points[part] = float(meta.get("points", 0))
            source.test_cells[part] = grade_id
            if is_bonus(cell) or part in bonus_parts:
                source.bonus.add(part)
                extra = meta.get("extra_credit")
                if isinstance(extra, (int, float)) and not isinstance(extra, bool) \
                        and extra > 0:
                    source.points[part] = float(extra)
    missing = [name for name in part_names
               if name not in solution_ids or name not in source.points]
    if missing:
        raise ValueError(f"the source notebook {path} has no solution cell and test cell "
                         f"for {', '.join(missing)}")
    extra = sorted(set(source.points) - set(part_names))
    if extra:
        raise ValueError(f"the source notebook {path} grades {', '.join(extra)}, which the "
                         "grader does not know (autograder/assignments/)")
    return source


def strip_magics(source):
    """IPython line magics and shell escapes (``%timeit``, ``!pip``) become ``pass``."""
    return MAGIC_LINE.sub(lambda m: m.group(1) + "pass", source)


def _defines(source, name):
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


def called_names(source, names):
    """Which of ``names`` the code in ``source`` calls by name (unparsable code: none)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    return {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name) and node.func.id in names}


def solution_cells(nb, part_names):
    """[(grade_id, source)] in notebook order, and notes about what was odd.

    A cell counts when it is a code cell whose nbgrader ``grade_id`` is a part's name. When
    that cell is missing (deleted, or its metadata lost by copying the code into a new cell),
    the first code cell that defines the function at top level stands in, with a note.
    """
    found, notes = {}, []
    for index, cell in enumerate(nb.cells):
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in part_names:
            if cell.get("cell_type") != "code":
                notes.append(f"the cell {grade_id} is not a code cell; it was ignored")
            elif grade_id in found:
                notes.append(f"more than one cell has grade_id {grade_id}; the first was used")
            else:
                found[grade_id] = (index, cell.source)
    for name in part_names:
        if name in found:
            continue
        for index, cell in enumerate(nb.cells):
            if cell.get("cell_type") == "code" and _defines(cell.source, name) \
                    and index not in {i for i, _ in found.values()}:
                found[name] = (index, cell.source)
                notes.append(f"no cell with grade_id {name}: used the code cell that defines "
                             f"{name} instead")
                break
    cells = sorted(((index, name, strip_magics(source))
                    for name, (index, source) in found.items()))
    return [(name, source) for _, name, source in cells], notes


# ----------------------------------------------------------------------------- helpers module
def _collect(obj, seen, order):
    """Add the source of function ``obj`` and of the rnnlib functions it uses."""
    if obj.__name__ in seen:
        return
    seen[obj.__name__] = obj
    module = inspect.getmodule(obj)
    names = set()
    stack = [obj.__code__]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    for name in sorted(names):
        value = getattr(module, name, None)
        if isinstance(value, types.FunctionType) and value.__module__.startswith("rnnlib"):
            _collect(value, seen, order)
        elif isinstance(value, (int, float, str, tuple)) and not isinstance(value, bool) \
                and name.isupper():
            order.append(f"{name} = {value!r}\n")
        elif value is not None and not isinstance(value, types.ModuleType) \
                and not isinstance(value, types.FunctionType) and not hasattr(builtins, name):
            raise ValueError(f"rnnlib.{obj.__name__} uses {name}, which cannot be copied into "
                             "the sandbox")
    order.append(inspect.getsource(obj) + "\n\n")


def helper_module_source(setup_cells, graded_names):
    """Source of the ``rnnlib`` module the sandbox gets: only the helpers the trusted setup
    cells import from rnnlib (copied from the real rnnlib), never the graded functions;
    every other name raises an ImportError that says why."""
    wanted = set()
    for source in setup_cells:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module == "rnnlib":
                wanted.update(alias.name for alias in node.names)
    wanted -= set(graded_names)
    seen, order = {}, []
    for name in sorted(wanted):
        obj = getattr(rnnlib, name, None)
        if not isinstance(obj, types.FunctionType):
            raise ValueError(f"the setup cells import rnnlib.{name}, which the sandbox "
                             "cannot provide (only functions can be copied)")
        _collect(obj, seen, order)
    body = "".join(dict.fromkeys(order))  # keep first occurrence, drop repeats
    allowed = (f"; only {', '.join(sorted(wanted))} can be used" if wanted
               else " (the setup cells import nothing from it)")
    return (
        '"""The few rnnlib helpers available while grading (copied from rnnlib)."""\n'
        "import numpy as np\n\n"
        f"_GRADED = {sorted(graded_names)!r}\n\n"
        f"{body}\n\n"
        "def __getattr__(name):\n"
        "    if name in _GRADED:\n"
        "        raise ImportError(f'rnnlib.{name} is not available while grading: the graded '\n"
        "                          'functions must be your own code')\n"
        "    raise ImportError(f'rnnlib.{name} is not available while grading' + _ALLOWED)\n"
    ).replace("_GRADED = ", f"_ALLOWED = {allowed!r}\n_GRADED = ")


def notebook_digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

