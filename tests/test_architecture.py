"""The shape of autograder/: its import graph has no cycle, no module imports a sibling inside
a function (the way a cycle is usually dodged), and the one-way arrows of the target layout
(cli -> commands -> grading -> spec; the student-side check/ apart from the grader) hold.

The graph is built from the source with ``ast`` (nothing is imported). Run this file
directly to print it: ``python tests/test_architecture.py``.
"""

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "autograder"


def module_files():
    """{module name: file} of every Python module of the package (not the source notebooks'
    folder)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(REPO).with_suffix("")
        parts = list(relative.parts)
        if "source" in parts or "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(importer, is_package, node, modules):
    """Modules of the package that one import statement names."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    names = {f"{target}.{alias.name}" for alias in node.names}
    submodules = {name for name in names if name in modules}
    if submodules:
        return submodules
    return {target} if target in modules else set()


def import_graph():
    """({importer: {imported}}, [(importer, imported, line) of function-level imports])."""
    modules = module_files()
    graph, lazy = {}, []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        edges = set()
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _resolve(name, is_package, node, modules)
        for outer in ast.walk(tree):
            if isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for node in ast.walk(outer):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        for target in _resolve(name, is_package, node, modules):
                            lazy.append((name, target, node.lineno))
        graph[name] = edges - {name}
    return graph, lazy


def find_cycle(graph):
    """One cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def closure(graph, start):
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def short(name):
    return name[len("autograder."):] if name.startswith("autograder.") else name


def format_graph(graph):
    return "\n".join(f"{short(name):22} -> {', '.join(sorted(map(short, graph[name]))) or '-'}"
                     for name in sorted(graph))


# ----------------------------------------------------------------------------- tests
def test_the_graph_is_built_from_every_module():
    graph, _ = import_graph()
    for name in ("autograder.commands", "autograder.grading", "autograder.spec",
                 "autograder.record", "autograder.check.core", "autograder.assignments.rnn_bptt"):
        assert name in graph
    # and it sees real edges (a graph without edges would pass every test below)
    assert "autograder.grading" in graph["autograder.commands"]
    assert "autograder.spec" in graph["autograder.assignments.rnn_bptt"]


def test_no_import_cycle():
    graph, _ = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_function_level_import_of_a_sibling():
    _, lazy = import_graph()
    assert not lazy, "function-level imports of autograder modules: " + ", ".join(
        f"{a} imports {b} (line {line})" for a, b, line in lazy)


def test_the_arrows_point_one_way():
    graph, _ = import_graph()
    ag = "autograder."
    # grading takes a ready context: it never loads the course, writes or reports
    assert not closure(graph, ag + "grading") & {ag + n for n in (
        "commands", "cli", "gradebook", "feedback", "report", "workdir", "submissions")}
    # the record and the spec depend on nothing of the package
    assert graph[ag + "record"] == set()
    assert graph[ag + "spec"] == set()
    # the student side needs only the spec, never the sandbox, the gradebook or nbgrader
    student_side = closure(graph, ag + "check") | closure(graph, ag + "selfcheck")
    assert {m for m in student_side if not m.startswith(ag + "check")} <= {ag + "spec"}
    # an assignment module knows only the spec and the self-check descriptions (whose named
    # mistakes and layouts its parts reuse, so both sides read a wrong value the same way)
    for name in graph:
        if name.startswith(ag + "assignments."):
            assert graph[name] <= {ag + "spec"} | {m for m in graph
                                                 if m.startswith(ag + "check")}, name
    # only cli imports commands
    assert [n for n in graph if ag + "commands" in graph[n]] == [ag + "cli"]


def test_the_harness_uses_only_the_standard_library():
    tree = ast.parse((PACKAGE / "harness.py").read_text(encoding="utf-8"))
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the harness imports a sibling"
            top.add(node.module.split(".")[0])
    assert top <= set(sys.stdlib_module_names), top - set(sys.stdlib_module_names)


def test_the_self_checks_import_no_grader_machinery():
    code = ("import sys\nfrom autograder import selfcheck\nimport autograder.check\n"
            "print(sorted(m for m in sys.modules if m.startswith(('autograder', 'nbgrader', "
            "'nbformat', 'nbconvert'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    loaded = set(ast.literal_eval(done.stdout.strip()))
    assert "autograder.check" in loaded and "autograder.selfcheck" in loaded
    for forbidden in ("autograder.sandbox", "autograder.gradebook", "autograder.grading",
                      "autograder.harness", "nbgrader", "nbformat", "nbconvert"):
        assert forbidden not in loaded, forbidden


if __name__ == "__main__":
    graph, lazy = import_graph()
    print(format_graph(graph))
    print("cycle:", find_cycle(graph))
    print("function-level sibling imports:", lazy or "none")
