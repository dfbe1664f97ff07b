"""Fold long plotting-only code cells on the site, as the notebooks fold their self-checks.

A reader of a chapter wants the figure, not the forty lines of matplotlib that lay it out; a
student running the notebook still sees every line. Tagging each such cell by hand would mean
editing dozens of notebooks (and keeping new cells tagged), so the rule is applied when Sphinx
reads a notebook: a code cell gets the ``hide-input`` tag (a "show code" toggle on the page)
when it

- has at least :data:`MIN_LINES` non-blank lines,
- uses matplotlib (``plt``, ``matplotlib`` or a ``.subplots(`` figure),
- holds no ``assert`` (a self-check stays as the author tagged it) and defines, assigns or
  imports no name that a later code cell reads without setting it first (so a computation or
  a helper that the rest of the page relies on is never hidden; a loop variable or a drawing
  helper used only inside the cell does not count).

The tags are written into the notebooks themselves (``python book/_ext/fold_plots.py``), so
that the executions ``make book`` caches match: jupyter-cache hashes every cell's metadata with
its code, and a tag added only at build time made the build execute each such notebook a second
time, one at a time. The build still adds a missing tag (a page is never left unfolded), at
that cost. A cell that does
not parse as Python (a ``%magic``) is left as it is.

A cell that computes and then draws is never folded (its computation would vanish with the
plotting code), so the notebooks keep the two apart: the computation and its printed results
in one cell, the figure in the next. That is also why :data:`MIN_LINES` is small: a figure's
own cell is rarely long, and six lines of axis labels are no more worth reading than forty.
"""
from __future__ import annotations

import ast
import json

MIN_LINES = 6
FOLD_TAGS = {"hide-input", "remove-input", "remove-cell", "hide-cell"}


def _bound_names(tree: ast.AST) -> set[str]:
    """Names a cell assigns, imports or mutates through a subscript or attribute, and the
    parameters of the functions it defines (which a function body reads as its own)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            base = node.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                names.add(base.id)
    return names


def _read_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _needed_names(tree: ast.AST) -> set[str]:
    """Names a cell reads but does not bind itself (a loop variable it sets is its own)."""
    return _read_names(tree) - _bound_names(tree)


def _plots(source: str, tree: ast.AST) -> bool:
    return "plt" in _read_names(tree) or "matplotlib" in source or ".subplots(" in source


def plotting_only_cells(sources: list[str]) -> list[int]:
    """Indices (into ``sources``, the code cells in order) of the cells to fold."""
    trees = []
    for source in sources:
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            trees.append(None)
    later_reads: list[set[str]] = [set() for _ in sources]
    seen: set[str] = set()
    for i in range(len(sources) - 1, -1, -1):
        later_reads[i] = set(seen)
        if trees[i] is not None:
            seen |= _needed_names(trees[i])
    folded = []
    for i, (source, tree) in enumerate(zip(sources, trees)):
        if tree is None or sum(1 for line in source.splitlines() if line.strip()) < MIN_LINES:
            continue
        if any(isinstance(n, ast.Assert) for n in ast.walk(tree)):
            continue
        if _plots(source, tree) and not (_bound_names(tree) & later_reads[i]):
            folded.append(i)
    return folded


def fold_notebook(text: str) -> str:
    """The notebook JSON ``text`` with ``hide-input`` added to its plotting-only cells."""
    nb = json.loads(text)
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in code]
    changed = False
    for i in plotting_only_cells(sources):
        tags = code[i].setdefault("metadata", {}).setdefault("tags", [])
        if not FOLD_TAGS & set(tags):
            tags.append("hide-input")
            changed = True
    return json.dumps(nb, ensure_ascii=False) if changed else text


def tag_notebook_file(path) -> bool:
    """Write the fold tags into the notebook at ``path`` (in the repository's JSON layout);
    return whether it changed."""
    from pathlib import Path

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    folded = fold_notebook(text)
    if folded == text:
        return False
    path.write_text(json.dumps(json.loads(folded), indent=1, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return True


def _source_read(app, docname, source):
    if str(app.env.doc2path(docname)).endswith(".ipynb"):
        source[0] = fold_notebook(source[0])


def setup(app):
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":  # tag the course's notebooks: python book/_ext/fold_plots.py
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    paths = sys.argv[1:] or sorted((root / "notebooks").rglob("*.ipynb"))
    for changed in [p for p in paths if tag_notebook_file(p)]:
        print(f"tagged {changed}")
