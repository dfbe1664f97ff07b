"""The student kit (book/_ext/student_kit.py): a wheel with no solutions that runs the assignments.

The wheel is built afresh from the repository; the released notebooks come from the book build
(``_build/assignment_downloads``). A clean virtual environment (no system site packages) gets
numpy, matplotlib and the wheel, nothing else, and runs each released assignment's code cells
in order with plain Python: first as released (it must stop at the first "not implemented"
message), then with the solution cells of the source assignment pasted in (every self-check
must print OK and the notebook must run to the end).
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RELEASED = ROOT / "_build" / "assignment_downloads"
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import student_kit  # noqa: E402

pytestmark = [
    pytest.mark.skipif(
        not any(RELEASED.glob("*.ipynb")) and os.environ.get("CI") != "true",
        reason="the assignments are released by the book build; run `make book` first",
    ),
    # one worker builds the kit and its clean venv once (make test runs this file under
    # --dist loadgroup)
    pytest.mark.xdist_group("student_kit"),
]

RUNNER = textwrap.dedent('''
    import json, sys, traceback
    import matplotlib
    matplotlib.use("Agg")
    cells = json.load(open(sys.argv[1]))
    namespace = {"__name__": "__main__"}
    for i, source in enumerate(cells):
        code = "\\n".join(l for l in source.splitlines() if not l.lstrip().startswith(("%", "!")))
        try:
            exec(compile(code, f"<cell {i}>", "exec"), namespace)
        except BaseException as exc:
            print("@@RESULT@@" + json.dumps({"cell": i, "error": type(exc).__name__,
                                           "message": str(exc)}))
            sys.exit(0)
    print("@@RESULT@@" + json.dumps({"cell": len(cells), "error": None, "message": ""}))
''')


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return student_kit.build_wheel(ROOT, tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel):
    env_dir = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    out = subprocess.run([str(python), "-m", "pip", "install", "-q", "numpy", "matplotlib",
                          str(wheel)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True).stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert "torch" not in names and "nbgrader" not in names, names
    return python


def _code_cells(nb):
    return [cell for cell in nb["cells"] if cell["cell_type"] == "code"]


def _run(python, tmp_path, sources):
    cells = tmp_path / "cells.json"
    cells.write_text(json.dumps(sources), encoding="utf-8")
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = subprocess.run([str(python), str(runner), str(cells)], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("@@RESULT@@")]
    assert lines, f"the runner crashed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    return json.loads(lines[-1][len("@@RESULT@@"):]), out.stdout


def _solutions(name):
    source = json.loads((ROOT / "autograder" / "source" / name / f"{name}.ipynb").read_text())
    solutions = {}
    for cell in _code_cells(source):
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            lines = "".join(cell["source"]).splitlines()
            solutions[meta["grade_id"]] = "\n".join(
                line for line in lines if line.strip() not in ("### BEGIN SOLUTION",
                                                               "### END SOLUTION"))
    return solutions


def test_wheel_has_no_solutions_and_no_grader(wheel):
    graded = student_kit.graded_functions(ROOT)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        sources = {n: zf.read(n).decode() for n in names if n.endswith(".py")}
    autograder = {n for n in names if n.startswith("autograder/")}
    # the self-checks and the one comparison they share with the grader (spec.py)
    allowed = {"autograder/__init__.py", "autograder/selfcheck.py", "autograder/spec.py"}
    assert {n for n in autograder if not n.startswith("autograder/check/")} <= allowed, autograder
    assert "rnnlib/rnn.py" not in names and "rnnlib/lstm.py" not in names
    assert not any(n.startswith(("rnnlib/captioning", "rnnlib/apps")) for n in names)
    for name, text in sources.items():
        tree = ast.parse(text)
        defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                                     ast.ClassDef))}
        assert not defined & graded, f"{name} defines graded functions {defined & graded}"
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                    for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
                     if isinstance(n, ast.ImportFrom) and not n.level}
        assert not imported & {"torch", "nbgrader", "sklearn"}, f"{name} imports {imported}"
        assert "BEGIN SOLUTION" not in text, f"{name} holds solution markers"


@pytest.mark.parametrize("name", sorted(p.stem for p in RELEASED.glob("*.ipynb")))
def test_released_assignment_runs_in_a_clean_venv(name, venv, tmp_path):
    released = json.loads((RELEASED / f"{name}.ipynb").read_text(encoding="utf-8"))
    cells = _code_cells(released)
    result, stdout = _run(venv, tmp_path, ["".join(c["source"]) for c in cells])
    assert result["error"] is not None, "the released notebook ran to the end with no solution"
    assert "not implemented" in result["message"].lower(), result

    solutions = _solutions(name)
    pasted = []
    for cell in cells:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        pasted.append(solutions.get(grade_id, "".join(cell["source"])))
    result, stdout = _run(venv, tmp_path, pasted)
    assert result["error"] is None, f"{name} with solutions stopped: {result}\n{stdout[-3000:]}"
    calls = sum(src.count("selfcheck.check_") for src in pasted)
    oks = [line for line in stdout.splitlines() if " OK" in line]
    assert calls and len(oks) >= calls, f"{len(oks)} OK lines for {calls} self-checks:\n{stdout}"
