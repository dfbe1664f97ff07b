"""Every chapter notebook ran, without an error, from the source in the tree.

`make book` executes each notebook listed in _toc.yml once (in parallel) into the execution
cache, _build/.jupyter_cache, from which `jupyter-book build` takes every page's outputs.
These tests read that cache instead of executing the notebooks a second time: one test per
notebook fails when the cache holds no execution of the notebook's current code (missing or
stale), when the execution predates the last change to rnnlib, or when a cell raised.
(_build/jupyter_execute/ would not do: myst-nb writes the notebooks there without outputs.)

Run as a script, this module is the parallel execution step of `make book`::

    python tests/test_notebooks.py --execute [--workers 1]
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
TIMEOUT = 300   # seconds per cell, as _config.yml's execute.timeout


def toc_notebooks():
    """Paths (relative to the root) of the notebooks _toc.yml lists, in toc order.

    A toc entry is a notebook when it names an .ipynb file, or a MyST text notebook (an .md
    file whose front matter declares a kernelspec).
    """
    import yaml

    found = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    path = _notebook_path(node[key])
                    if path is not None:
                        found.append(path)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")))
    return found


def _notebook_path(entry):
    for suffix in ("", ".ipynb", ".md"):
        path = ROOT / (entry + suffix) if suffix else ROOT / entry
        if not path.is_file():
            continue
        if path.suffix == ".ipynb":
            return path.relative_to(ROOT).as_posix()
        if path.suffix == ".md":
            head = path.read_text(encoding="utf-8")[:2000]
            if head.startswith("---") and "kernelspec" in head.split("---")[1]:
                return path.relative_to(ROOT).as_posix()
            return None
    return None


def _read(path):
    import nbformat

    if path.suffix == ".md":
        from myst_nb.core.read import read_myst_markdown_notebook

        return read_myst_markdown_notebook(path.read_text(encoding="utf-8"))
    return nbformat.read(path, as_version=4)


def _newest_rnnlib_source():
    return max(p.stat().st_mtime for p in (ROOT / "rnnlib").rglob("*.py"))


NOTEBOOKS = toc_notebooks()

needs_build = pytest.mark.skipif(
    not CACHE.is_dir() and os.environ.get("CI") != "true",
    reason="the book is not built; run `make book` (make test builds it first)",
)


def test_the_toc_lists_notebooks():
    assert len(NOTEBOOKS) >= 10, f"found only {NOTEBOOKS} in _toc.yml"


@needs_build
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_ran_without_errors_from_the_current_source(notebook):
    from jupyter_cache import get_cache

    cache = get_cache(CACHE)
    try:
        # matched by the code cells' sources, as the build matches them
        record = cache.match_cache_notebook(_read(ROOT / notebook))
    except KeyError:
        pytest.fail(f"{notebook}: no execution of this version of the notebook in "
                    f"{CACHE.relative_to(ROOT)} (missing or stale): run `make book`")
    ran_at = record.created.replace(tzinfo=timezone.utc).timestamp()
    assert ran_at >= _newest_rnnlib_source(), (
        f"{notebook} was executed before the last change to rnnlib: run `make book` again")
    ran = cache.get_cache_bundle(record.pk).nb
    code = [cell for cell in ran.cells if cell.cell_type == "code" and cell.source.strip()]
    not_run = [k for k, cell in enumerate(code) if cell.get("execution_count") is None]
    assert not not_run, f"{notebook}: code cells {not_run} have no execution count (never ran)"
    for k, cell in enumerate(code):
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", (
                f"{notebook}, code cell {k} raised {output.get('ename')}: {output.get('evalue')}")


def longest_first(uris, cache):
    """``uris`` ordered so that a pool of workers finishes them as early as it can.

    A pool handed the notebooks in toc order may start a long lab last while the other worker
    idles. Longest first keeps both busy to the end: a notebook's duration is its last recorded
    execution time in the cache; notebooks never executed here (a fresh clone) go first, in
    reverse toc order, since the applications chapter at the end trains the largest models.
    """
    seconds = {}
    for record in sorted(cache.list_cache_records(), key=lambda r: r.created):
        seconds[record.uri] = record.data.get("execution_seconds", 0.0)
    toc = {str(ROOT / nb): k for k, nb in enumerate(NOTEBOOKS)}
    return sorted(uris, key=lambda u: (u in seconds, -seconds.get(u, 0.0), -toc.get(u, 0)))


def execute_into_cache(workers):
    """Execute every toc notebook whose cached outputs are missing or stale, in parallel.

    Uses jupyter-cache (the cache `jupyter-book build` reads with execute_notebooks: cache):
    each notebook runs in its own folder, as the build would run it, in a pool of ``workers``
    processes that take one notebook at a time, longest first (jupyter-cache's own parallel
    executor hands its pool the notebooks in fixed chunks of several, so one worker could be
    left with most of the long labs). Returns the number of notebooks that failed, after
    printing their tracebacks.
    """
    import multiprocessing

    from jupyter_cache import get_cache
    from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

    cache = get_cache(CACHE)
    wanted = {str(ROOT / nb) for nb in NOTEBOOKS}
    for record in cache.list_project_records():
        if record.uri not in wanted:
            cache.remove_nb_from_project(record.pk)
    for uri in wanted:
        if uri.endswith(".md"):
            cache.add_nb_to_project(uri, read_data={"name": "myst_nb_md", "type": "plugin"})
        else:
            cache.add_nb_to_project(uri)
    stale = {r.uri: r.pk for r in cache.list_unexecuted()}
    if not stale:
        print("notebooks: every cached execution is current")
        return 0
    print(f"notebooks: executing {len(stale)} of {len(wanted)} on {workers} worker(s)")
    jobs = [ProcessData(stale[uri], uri, cache, TIMEOUT, False)
            for uri in longest_first(stale, cache)]
    worker = ExecutionWorkerLocalMProc()
    with multiprocessing.Pool(max(1, workers)) as pool:
        results = list(pool.imap_unordered(worker, jobs, chunksize=1))
    failed = [uri for status, uri in results if status != 0]
    for uri in failed:
        record = cache.get_project_record(uri)
        print(f"\n{Path(uri).relative_to(ROOT)} failed:\n{record.traceback}", file=sys.stderr)
    return len(failed)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Execute the toc's notebooks into the cache.")
    parser.add_argument("--execute", action="store_true", required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    sys.exit(1 if execute_into_cache(parser.parse_args().workers) else 0)
