"""Would a graded function run the way the grader runs it?

The grader runs only the assignment's setup cells and its graded cells (found by grade_id),
in a fresh process; everything else in the notebook is ignored. A function that uses a helper,
a constant or an import from another cell therefore works in the student's kernel and fails
with a ``NameError`` when graded. ``problems`` finds that before submission without running
anything: it reads the graded cells the student ran (their source is in ``linecache``, where
IPython keeps every cell it compiled) and compares the global names the function loads with
the names those cells and the setup cells define.

Each assignment registers its graded functions and its setup source (the same text as the
source notebook's locked ``setup_imports`` cell; a test keeps the two equal).
"""

import ast
import builtins
import dis
import linecache
import re
import types

_REGISTRY = {}  # graded function name -> (graded names of its assignment, setup source)
_MAGIC = re.compile(r"^(\s*)(?:[\w, ]+=\s*)?get_ipython\(\)\..*$", re.MULTILINE)
FIX = ("the grader runs only the setup cells and the graded cells, so define it inside the "
       "graded cell of {fn}")


def register(graded, setup):
    for name in graded:
        _REGISTRY[name] = (tuple(graded), setup)


def setup_source(fn_name):
    return _REGISTRY[fn_name][1]


def graded_names(fn_name):
    return _REGISTRY[fn_name][0]


def cell_source(fn):
    """The source of the notebook cell that defined ``fn``, or None when it is unknown (not
    defined in a cell: a module on disk, or code compiled without registering its source).

    IPython's magics, already turned into ``get_ipython()...`` calls, become ``pass``, as the
    grader does with the ``%`` and ``!`` lines of a submission."""
    code = getattr(fn, "__code__", None)
    entry = linecache.cache.get(code.co_filename) if code is not None else None
    if not entry or len(entry) < 4 or entry[1] is not None:
        return None  # not a notebook cell (a file on disk has an mtime there)
    text = "".join(entry[2])
    return _MAGIC.sub(lambda m: m.group(1) + "pass", text) if text.strip() else None


def _walk_top_level(tree):
    """Nodes of a module that run when it runs (not the bodies of functions and classes)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def bound_names(source):
    """(names a cell defines at top level, [(module, name)] of its ``from`` imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), []
    names, imports = set(), []
    for node in _walk_top_level(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Import):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
            imports += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names, imports


def globals_used(code):
    """Global names a function's code (and the code nested in it) loads."""
    names = set()
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            names.add(instruction.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= globals_used(const)
    return names


def _rnnlib_attributes(source, aliases):
    """``rnnlib.<name>`` attributes that a cell reads through an ``import rnnlib``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in aliases}


def problems(fn_name, fn):
    """What would stop ``fn`` from running as the grader runs it, as sentences ([] when
    nothing does, or when its cell's source cannot be seen)."""
    own = cell_source(fn)
    if own is None or fn_name not in _REGISTRY:
        return []
    graded, setup = _REGISTRY[fn_name]
    setup_bound, setup_imports = bound_names(setup)
    provided = {name for module, name in setup_imports if module == "rnnlib"}
    namespace = getattr(fn, "__globals__", {})
    sources = {fn.__code__.co_filename: own}
    for name in graded:
        other = namespace.get(name)
        if isinstance(other, types.FunctionType) and other.__code__.co_filename not in sources:
            text = cell_source(other)
            if text is not None:
                sources[other.__code__.co_filename] = text
    bound = set(setup_bound)
    for text in sources.values():
        bound |= bound_names(text)[0]

    found = []
    _, own_imports = bound_names(own)
    for module, name in own_imports:
        if module == "rnnlib" and name not in provided:
            found.append(_rnnlib_message(fn_name, name, graded, provided))
    own_bound = bound_names(own)[0]
    aliases = {n for n in own_bound if namespace.get(n) is not None
               and getattr(namespace.get(n), "__name__", "") == "rnnlib"}
    for name in sorted(_rnnlib_attributes(own, aliases) - provided):
        found.append(_rnnlib_message(fn_name, name, graded, provided))

    for name in sorted(globals_used(fn.__code__) - bound - set(dir(builtins))):
        if name in namespace:
            kind = "the module" if isinstance(namespace[name], types.ModuleType) else ""
            found.append(f"uses {kind + ' ' if kind else ''}{name}, which comes from "
                         f"another cell: {FIX.format(fn=fn_name)}"
                         + (" (import it there)" if kind else ""))
        else:
            found.append(f"uses {name}, which is not defined anywhere (a NameError "
                         "when that line runs)")
    return found


def _rnnlib_message(fn_name, name, graded, provided):
    if name in graded or name.startswith(("rnn_", "lstm_", "temporal_")):
        return (f"uses rnnlib.{name}: the grader gives no points to a function that "
                "calls the course library's version; write it with numpy")
    allowed = ", ".join(sorted(provided)) or "nothing"
    return (f"uses rnnlib.{name}, which is not available while grading (the setup "
            f"cell provides {allowed}): write it with numpy inside the graded cell of {fn_name}")
