"""Grading on Dask (autograder/executors.py) against the thread pool, on one machine.

A LocalCluster of 2 worker processes (loopback only) grades a few end-to-end cases with the
same totals as threads; a worker killed mid-batch loses and duplicates nothing; a submission
that kills its worker every time ends with status ``worker killed``; a re-run grades nothing;
a worker whose sandbox or grader differs from the client's is refused. All of it is slow
(a cluster start costs seconds), hence the ``slow`` mark.
"""

import io
import os
import shutil
import signal
import sys
from dataclasses import replace

import cloudpickle
import pytest
from autograder_cases import hostile

from autograder import cli, commands
from autograder.executors import (
    KILLED_STATUS,
    check_worker,
    dask_executor,
    grade_bytes,
    task_key,
    versions,
)
from autograder.sandbox import bwrap_works
from autograder.workdir import Workdir

pytestmark = pytest.mark.slow
LIMITS = {"timeout_seconds": 8.0, "cpu_seconds": 9, "memory_mb": 768}
MODULES = ("autograder.grading", "autograder.assignments.rnn_bptt")
NAMES = ("correct", "instructor", "released", "wrong-shape", "partial", "exception",
         "unreadable", "no-notebook")
CASES = [c for c in hostile.RNN_CASES if c.student in NAMES]


def poisoned(ctx, student, data, check):
    """The worker task, except that student "poison" kills the worker process every time.
    (The sandbox's seccomp filter stops student code from signalling its worker, so a real
    poison is an out-of-memory kill of the node's worker or a grader bug; this stands in.)"""
    if student == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    return grade_bytes(ctx, student, data, check)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("dask")
    workdir = Workdir(base / "grading")
    commands.generate(workdir, "rnn_bptt", quiet=True)
    folder = base / "submissions"
    hostile.write_cases(folder, "rnn_bptt", CASES,
                        workdir.release("rnn_bptt") / "rnn_bptt.ipynb",
                        workdir.source("rnn_bptt") / "rnn_bptt.ipynb")
    return base, workdir, folder


def run(workdir, folder, executor=None, **kwargs):
    return commands.grade(workdir, "rnn_bptt", folder, jobs=2, limits=LIMITS, progress=False,
                          out=io.StringIO(), executor=executor, sandbox="none", **kwargs)


def totals(summary):
    return {r.student: (r.status, r.total) for r in summary.records}


def test_task_key_is_deterministic(setup):
    _, workdir, _ = setup
    ctx = commands.load_context(workdir, "rnn_bptt", mode="none")
    assert task_key(ctx, "a", b"x") == task_key(ctx, "a", b"x")
    assert len({task_key(ctx, "a", b"x"), task_key(ctx, "b", b"x"), task_key(ctx, "a", b"y"),
                task_key(replace(ctx, fingerprint="0" * 16), "a", b"x")}) == 4


def test_cli_refuses_inconsistent_flags(capsys):
    assert cli.main(["grade", "rnn_bptt", "x", "--dask-local", "2"]) == 1
    assert "need --executor dask" in capsys.readouterr().err
    assert cli.main(["grade", "rnn_bptt", "x", "--executor", "dask"]) == 1
    assert "exactly one of" in capsys.readouterr().err
    assert cli.main(["grade", "rnn_bptt", "x", "--shard", "1/2"]) == 1
    assert "go together" in capsys.readouterr().err


def test_worker_check_refuses_a_mismatch(setup):
    _, workdir, _ = setup
    ctx = commands.load_context(workdir, "rnn_bptt", mode="none")
    assert check_worker("none", MODULES, ctx.fingerprint, versions()) == ""
    assert "fingerprint" in check_worker("none", MODULES, "0" * 16, versions())
    assert "numpy" in check_worker("none", MODULES, ctx.fingerprint,
                                   dict(versions(), numpy="0.0"))
    assert "sandbox" in check_worker("nonsense", MODULES, ctx.fingerprint, versions())


def test_dask_matches_threads_then_rerun_and_kill(setup, tmp_path):
    _, generated, folder = setup
    threads_dir, workdir = Workdir(tmp_path / "threads"), Workdir(tmp_path / "dask")
    shutil.copytree(generated.root, threads_dir.root)
    shutil.copytree(generated.root, workdir.root)
    reference = totals(run(threads_dir, folder))
    assert len(reference) == len(CASES)

    with dask_executor(MODULES, local_workers=2) as executor:
        # a worker that cannot grade like the client is refused before anything is sent
        ctx = commands.load_context(workdir, "rnn_bptt", mode="none")
        with pytest.raises(RuntimeError, match="refuse to grade"):
            executor.check_workers(replace(ctx, fingerprint="0" * 16))
        if not bwrap_works():  # here no worker has a working sandbox: bwrap is refused
            with pytest.raises(RuntimeError, match="refuse to grade: .*sandbox"):
                executor.check_workers(replace(ctx, mode="bwrap"))
        executor.workers_checked = False

        killed = []

        def kill_one(record):
            # SIGKILL a worker process that is grading something, after the first record
            busy = [w for w, keys in executor.client.processing().items() if keys]
            if not killed and busy:
                pid = executor.client.run(os.getpid, workers=busy[:1])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(busy[0])

        first = run(workdir, folder, executor=executor, on_record=kill_one)
        assert killed
        assert sorted(r.student for r in first.records) == sorted(reference)  # each once
        assert totals(first) == reference
        assert sorted(workdir.read_records("rnn_bptt")) == sorted(reference)
        again = run(workdir, folder, executor=executor)
        assert again.graded == 0 and totals(again) == reference


def test_poison_submission_ends_with_its_status(setup, tmp_path):
    _, workdir, _ = setup
    folder = tmp_path / "poison"
    poison = replace(CASES[0], student="poison")
    hostile.write_cases(folder, "rnn_bptt", [poison, CASES[0]],
                        workdir.release("rnn_bptt") / "rnn_bptt.ipynb",
                        workdir.source("rnn_bptt") / "rnn_bptt.ipynb")
    target = Workdir(tmp_path / "grading")


    shutil.copytree(workdir.root, target.root)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with dask_executor(MODULES, local_workers=2, allowed_failures=1) as executor:
        executor.task = poisoned
        summary = run(target, folder, executor=executor)
    got = totals(summary)
    assert got["poison"] == (KILLED_STATUS, 0)
    assert got["correct"][1] == summary.records[0].max


def test_shards_then_collect_match_threads(setup, tmp_path):
    _, workdir, folder = setup
    reference_dir, target = Workdir(tmp_path / "threads"), Workdir(tmp_path / "shards")
    shutil.copytree(workdir.root, reference_dir.root)
    shutil.copytree(workdir.root, target.root)
    reference = totals(run(reference_dir, folder))
    sizes = []
    for shard in ("1/2", "2/2"):
        part = commands.grade_shard(target, "rnn_bptt", folder, shard, jobs=2, sandbox="none",
                                    limits=LIMITS, out=None)
        sizes.append(part.graded)
    assert sum(sizes) == len(reference) and min(sizes) > 0
    collected = run(target, folder)
    assert collected.graded == 0 and totals(collected) == reference
    assert (target.autograded("correct", "rnn_bptt") / "rnn_bptt.ipynb").is_file()
    exported = commands.export(target, "rnn_bptt", tmp_path / "grades.csv", out=None)
    rows = exported.read_text().splitlines()
    assert len(rows) == len(reference) + 1
    with pytest.raises(ValueError, match="i/S"):
        commands.parse_shard("3")
    with pytest.raises(ValueError, match="between 1 and S"):
        commands.parse_shard("3/2")
