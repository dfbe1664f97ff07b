"""Build the student kit at ``make book``: a wheel and a zip of notebooks, published on the site.

A student needs numpy, matplotlib, the self-checks and the few rnnlib helpers that the released
notebooks import, not the course repository (which holds the solutions and the grader).

``rnn_course_student-<version>-py3-none-any.whl`` holds

- ``rnnlib``: the numpy-only helper modules (gradient checking, initialisation, optimisers,
  data, tasks, the stable sigmoid and softmax) with every graded function removed, plus
  ``rnnlib/_reference.py``: the self-checks compare a student's answer with the reference
  results on their fixed cases, so those results are recorded here at build time (by running
  each check against rnnlib) and replayed in the kit. The kit answers only those recorded
  calls; it contains no implementation of a graded function.
- ``autograder``: ``__init__`` and ``selfcheck`` (and the ``check`` package when the
  repository has one); never the grader, the sandbox or anything that imports nbgrader.

``rnn-course-notebooks.zip`` holds the released assignments (made by the instructor CLI's
``generate``, see ``assignment_downloads``) and every chapter notebook, without outputs.

Both land in ``_build/student_kit/``; book/how_to_use.md links them with ``{download}``.
"""
from __future__ import annotations

import ast
import base64
import contextlib
import hashlib
import importlib
import inspect
import io
import json
import pickle
import sys
import zipfile
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

DIST = "rnn_course_student"
VERSION = "1.0.0"
WHEEL = f"{DIST}-{VERSION}-py3-none-any.whl"
ZIP = "rnn-course-notebooks.zip"
#: numpy-only rnnlib modules shipped to students (graded functions are removed from them).
HELPER_MODULES = ("_checks", "gradcheck", "init", "optim", "data", "tasks", "layers")
#: where the student side of the autograder starts; the kit follows its imports from there.
STUDENT_AUTOGRADER = ("selfcheck",)


def student_autograder_files(root: Path) -> list[Path]:
    """``selfcheck.py`` and every autograder module it imports, directly or not (``check/``,
    ``spec.py``, ...), found by reading the imports: whatever the self-checks need ships, and
    nothing else of the instructor's package does."""
    package = root / "autograder"
    todo = [package / f"{m}.py" for m in STUDENT_AUTOGRADER]
    seen: list[Path] = []
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.append(path)
        here = path.parent
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here
                for _ in range(node.level - 1):
                    base = base.parent
                parts = (node.module or "").split(".") if node.module else []
                target = base.joinpath(*parts)
                names = [target] if parts else [base / a.name for a in node.names]
                for t in names:
                    todo += [t.with_suffix(".py"), t / "__init__.py"]
                    if t.is_dir():
                        todo += [t / f"{a.name}.py" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograder."):
                target = root.joinpath(*node.module.split("."))
                todo += [target.with_suffix(".py"), target / "__init__.py"]
    return sorted(p for p in seen if p.resolve().is_relative_to(package.resolve()))


def graded_functions(root: Path) -> set[str]:
    """Names of the graded functions: the grade_id of every solution cell of every assignment."""
    names = set()
    for nb_path in sorted((root / "autograder" / "source").glob("*/*.ipynb")):
        for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("solution") and cell["cell_type"] == "code":
                names.add(meta["grade_id"])
    if not names:
        raise RuntimeError(f"no graded solution cells found under {root / 'autograder/source'}")
    return names


def strip_functions(source: str, names: set[str]) -> str:
    """Remove the top-level definitions (functions, classes) called one of ``names``."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in reversed(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            del lines[start:node.end_lineno]
    return "".join(lines)


def defined_names(source: str) -> set[str]:
    return {n.name for n in ast.walk(ast.parse(source))
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


# ------------------------------------------------------------------------------------------
# Recording the reference results the self-checks ask for
# ------------------------------------------------------------------------------------------

def _encode(value):
    """A picklable copy of a reference result (arrays, numbers, tuples, lists, dicts)."""
    import numpy as np

    if isinstance(value, np.ndarray) or np.isscalar(value) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_encode(v) for v in value)
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    raise TypeError(f"cannot record a reference result of type {type(value).__name__}")


def call_key(name, args, kwargs) -> str:
    """Digest of a call: the function name and the exact bytes, shapes and dtypes of its inputs."""
    import numpy as np

    h = hashlib.sha256(name.encode())

    def feed(v):
        if isinstance(v, np.ndarray):
            h.update(f"a{v.dtype.str}{v.shape}".encode())
            h.update(np.ascontiguousarray(v).tobytes())
        elif isinstance(v, (tuple, list)):
            h.update(f"s{len(v)}(".encode())
            for item in v:
                feed(item)
            h.update(b")")
        elif isinstance(v, dict):
            h.update(b"d{")
            for k in sorted(v):
                h.update(repr(k).encode())
                feed(v[k])
            h.update(b"}")
        else:
            h.update(f"v{type(v).__name__}:{v!r}".encode())

    feed(list(args))
    feed(dict(kwargs))
    return h.hexdigest()


def record_references(root: Path, graded: set[str]) -> tuple[dict, set[str]]:
    """Run every self-check against rnnlib and record what it asks rnnlib's graded functions.

    Returns ``({key: result}, names of the graded rnnlib functions the checks call)``.
    """
    sys.path.insert(0, str(root))
    try:
        import rnnlib
    finally:
        sys.path.pop(0)
    table, used = {}, set()
    originals = {name: getattr(rnnlib, name) for name in graded if hasattr(rnnlib, name)}
    # peephole functions students write have the peephole matrix as a positional argument
    student_side = dict(originals)
    student_side["lstm_step_forward_peephole"] = (
        lambda *a: originals["lstm_step_forward"](*a[:6], peephole=a[6]))
    student_side["lstm_step_backward_peephole"] = rnnlib.lstm_step_backward_peephole

    def recorder(name, fn):
        def wrapped(*args, **kwargs):
            result = fn(*args, **kwargs)
            used.add(name)
            table[call_key(name, args, kwargs)] = _encode(result)
            return result
        return wrapped

    names = {n for n in dir(rnnlib) if callable(getattr(rnnlib, n)) and not n.startswith("_")}
    recorded = [n for n in names if n in graded or n.startswith(("rnn_", "lstm_"))]
    saved = {n: getattr(rnnlib, n) for n in recorded}
    # The self-check modules may bind rnnlib's functions when they are imported (a description
    # holds its reference function), so they are imported afresh once the recorders are in place.
    def forget_student_side():
        for name in [m for m in sys.modules
                     if m == "autograder.selfcheck" or m.startswith("autograder.check")
                     or m == "autograder.spec"]:
            del sys.modules[name]

    try:
        for n in recorded:
            setattr(rnnlib, n, recorder(n, saved[n]))
        forget_student_side()
        sys.path.insert(0, str(root))
        try:
            selfcheck = importlib.import_module("autograder.selfcheck")
        finally:
            sys.path.pop(0)
        for check_name in [n for n in selfcheck.__all__ if n.startswith("check_")]:
            check = getattr(selfcheck, check_name)
            params = [p for p in inspect.signature(check).parameters if p != "where"]
            with contextlib.redirect_stdout(io.StringIO()):  # the checks print their OK lines
                check(*[student_side[p] for p in params])
    finally:
        for n, fn in saved.items():
            setattr(rnnlib, n, fn)
        forget_student_side()
    return table, used


REFERENCE_MODULE = '''"""Reference results for the self-checks, recorded from rnnlib at build time.

This kit has no implementation of the functions you write. The self-checks compare your
results with the course's reference on their fixed cases; the reference results of exactly
those calls are stored in ``_reference_cases.pkl`` and returned here.
"""
import hashlib
import pickle
from pathlib import Path

import numpy as np

_TABLE = None


def _table():
    global _TABLE
    if _TABLE is None:
        _TABLE = pickle.loads((Path(__file__).parent / "_reference_cases.pkl").read_bytes())
    return _TABLE


CALL_KEY_SOURCE = None  # replaced below by the build


def _lookup(name, args, kwargs):
    key = call_key(name, args, kwargs)
    try:
        return _TABLE_COPY(_table()[key])
    except KeyError:
        raise NotImplementedError(
            f"rnnlib.{name}: the student kit only has the reference results of the self-checks' "
            "own cases; to call it on other inputs, write it yourself in the assignment") from None


def _TABLE_COPY(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (tuple, list)):
        return type(value)(_TABLE_COPY(v) for v in value)
    if isinstance(value, dict):
        return {k: _TABLE_COPY(v) for k, v in value.items()}
    return value


def _replay(name):
    def reference(*args, **kwargs):
        return _lookup(name, args, kwargs)
    reference.__name__ = name
    reference.__doc__ = f"Recorded reference results of {name} for the self-checks' cases only."
    return reference
'''


CELLS_MODULE = '''"""The cell kinds and their gate blocks, as in the course's rnnlib.cells.

The student kit has no implementation of the cells (you write them in the assignments), so
each kind here carries its name and gates only: enough for the initialisers.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    name: str
    gates: tuple
    has_cell_state: bool

    @property
    def blocks(self):
        """Number of gate blocks ``k``: ``Wx`` is (D, kH)."""
        return len(self.gates)


REGISTRY = {REGISTRY}
CELLS = tuple(REGISTRY)


def get_cell(cell, argument="cell"):
    if not isinstance(cell, str) or cell not in REGISTRY:
        raise ValueError(f"{argument} is {cell!r}; expected one of {CELLS}")
    return REGISTRY[cell]


def blocks(cell, argument="cell"):
    return get_cell(cell, argument).blocks
'''


def cells_module(root: Path) -> str:
    """The kit's ``rnnlib/cells.py``: the course registry's kinds and gates, without functions."""
    sys.path.insert(0, str(root))
    try:
        from rnnlib.cells import REGISTRY
    finally:
        sys.path.pop(0)
    entries = ", ".join(f"{name!r}: Cell({name!r}, {cell.gates!r}, {cell.has_cell_state!r})"
                        for name, cell in REGISTRY.items())
    return CELLS_MODULE.replace("{REGISTRY}", "{" + entries + "}")


def _call_key_source() -> str:
    import inspect

    return inspect.getsource(call_key).replace("    import numpy as np\n\n", "", 1)


def build_wheel(root: Path, out: Path) -> Path:
    graded = graded_functions(root)
    table, used = record_references(root, graded)
    files: dict[str, bytes] = {}
    exports = []
    for mod in HELPER_MODULES:
        source = strip_functions((root / "rnnlib" / f"{mod}.py").read_text(encoding="utf-8"),
                                 graded)
        files[f"rnnlib/{mod}.py"] = source.encode()
        if not mod.startswith("_"):
            tree = ast.parse(source)
            exports += [(mod, n.name) for n in tree.body
                        if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                        and not n.name.startswith("_")]
            exports += [(mod, t.id) for n in tree.body if isinstance(n, ast.Assign)
                        for t in n.targets if isinstance(t, ast.Name) and t.id.isupper()
                        and not t.id.startswith("_")]
    if any("from .cells import" in files[f"rnnlib/{m}.py"].decode() for m in HELPER_MODULES):
        files["rnnlib/cells.py"] = cells_module(root).encode()
    replayed = sorted(used)
    reference = (REFERENCE_MODULE.replace("CALL_KEY_SOURCE = None  # replaced below by the build\n",
                                          _call_key_source())
                 + "".join(f"\n{n} = _replay({n!r})" for n in replayed) + "\n")
    files["rnnlib/_reference.py"] = reference.encode()
    files["rnnlib/_reference_cases.pkl"] = pickle.dumps(table, protocol=4)
    init = ['"""rnnlib for students: the helpers the assignments import (no graded functions).',
            "", "Installed from the course site's student kit; see 'Running the course'.", '"""']
    top_level = {}
    for mod, name in exports:
        top_level.setdefault(name, mod)  # first module wins, as in the course's rnnlib
    for name, mod in sorted(top_level.items()):
        init.append(f"from .{mod} import {name}  # noqa: F401")
    init += [f"from ._reference import {n}  # noqa: F401" for n in replayed]
    files["rnnlib/__init__.py"] = ("\n".join(init) + "\n").encode()
    files["autograder/__init__.py"] = (
        '"""Student side of the course autograder: the visible self-checks only."""\n'
        f'__version__ = "{VERSION}"\n').encode()
    for f in student_autograder_files(root):
        rel = f.relative_to(root).as_posix()
        if rel != "autograder/__init__.py":
            files[rel] = f.read_bytes()
    for path, data in files.items():
        if path.endswith(".py") and defined_names(data.decode()) & graded:
            raise RuntimeError(f"student kit: {path} defines graded functions "
                               f"{sorted(defined_names(data.decode()) & graded)}")
    dist_info = f"{DIST}-{VERSION}.dist-info"
    files[f"{dist_info}/METADATA"] = (
        "Metadata-Version: 2.1\nName: rnn-course-student\n"
        f"Version: {VERSION}\nSummary: Self-checks and numpy helpers for the RNN course "
        "assignments (no solutions)\nRequires-Python: >=3.9\nRequires-Dist: numpy\n"
        "Requires-Dist: matplotlib\n").encode()
    files[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: book/_ext/student_kit.py\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n").encode()
    files[f"{dist_info}/top_level.txt"] = b"autograder\nrnnlib\n"
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    target = out / WHEEL
    _write_zip(target, files)
    return target


def _write_zip(target: Path, files: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[path])
    target.write_bytes(buffer.getvalue())


def _without_outputs(raw: bytes) -> bytes:
    nb = json.loads(raw)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def build_zip(root: Path, out: Path, released: Path) -> Path:
    files = {}
    for nb in sorted(released.glob("*.ipynb")):
        files[f"rnn-course/assignments/{nb.name}"] = _without_outputs(nb.read_bytes())
    for nb in sorted((root / "notebooks").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in nb.parts:
            continue
        files[f"rnn-course/{nb.relative_to(root).as_posix()}"] = _without_outputs(nb.read_bytes())
    files["rnn-course/README.txt"] = (
        "The RNN course's notebooks. Install the student kit first:\n"
        f"  pip install {WHEEL}\n"
        "Then open assignments/*.ipynb in Jupyter. The chapter notebooks under notebooks/ also\n"
        "need the course's full rnnlib (and torch for chapter 5): see 'Running the course'.\n"
    ).encode()
    target = out / ZIP
    _write_zip(target, files)
    return target


def build_kit(root: Path) -> Path:
    out = root / "_build" / "student_kit"
    out.mkdir(parents=True, exist_ok=True)
    build_wheel(root, out)
    build_zip(root, out, root / "_build" / "assignment_downloads")
    return out


def _on_config(app, config):
    out = build_kit(Path(app.confdir))
    logger.info(f"[student_kit] built {out / WHEEL} and {out / ZIP}")


def setup(app):
    # after assignment_downloads has released the notebooks (its handler has the default 500)
    app.connect("config-inited", _on_config, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
