"""Where a batch is graded: the default thread pool, or a Dask cluster.

``dask_executor(...)`` is a context manager that connects to a scheduler (``--dask-scheduler
ADDRESS``) or starts a ``LocalCluster`` of worker processes (``--dask-local N``: loopback
only, no dashboard), checks every worker (``check_worker``: the sandbox mode resolves to the
client's and the grader fingerprint and versions match) and yields an object whose
``submit(grade_submission, ctx, submission)`` returns a ``concurrent.futures.Future`` of a
Record, which is what ``grading.run_batch`` expects.

One task per submission: the notebook travels as bytes, and the task's key is a hash of the
assignment, the student, the bytes and the fingerprint (``task_key``), so a retried or
duplicated task is the same task. The worker only grades and returns the Record; the client
(``commands``) stays the single writer of records and of the gradebook.

A worker that dies mid-task has its task re-run elsewhere by the scheduler; after
``allowed_failures`` deaths the task fails with ``KilledWorker`` and the submission gets a
Record with status ``worker killed`` instead of stopping the batch.

Dask is imported here only, and only inside the functions that need it, so that the
thread path and the student self-check never import it.
"""

import contextlib
import hashlib
import os
import platform
import tempfile
import time
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

from . import __version__
from .grading import _empty_parts, grade_submission, grader_fingerprint, record_key
from .record import Record
from .sandbox import resolve_mode
from .submissions import Submission

DEFAULT_ALLOWED_FAILURES = 2
KILLED_STATUS = "worker killed"


def task_key(ctx, student, data):
    """Deterministic task key: the same submission graded by the same grader is one task."""
    digest = hashlib.sha256()
    for piece in (ctx.assignment.encode(), student.encode(), data, ctx.fingerprint.encode()):
        digest.update(hashlib.sha256(piece).digest())
    return f"grade-{ctx.assignment}-{digest.hexdigest()[:32]}"


def versions():
    """What must be equal on the client and on every worker."""
    import numpy

    return {"autograder": __version__, "python": platform.python_version(),
            "numpy": numpy.__version__}


_CHECKED = {}


def check_worker(mode, fingerprint_modules, fingerprint, expected_versions):
    """Run on a worker: '' when it can grade like the client, else why not (cached)."""
    args = (mode, tuple(fingerprint_modules), fingerprint, tuple(sorted(expected_versions.items())))
    if args not in _CHECKED:
        _CHECKED[args] = _check_worker(mode, fingerprint_modules, fingerprint, expected_versions)
    return _CHECKED[args]


def _check_worker(mode, fingerprint_modules, fingerprint, expected_versions):
    problems = []
    try:
        got = resolve_mode(mode)
    except (RuntimeError, ValueError) as exc:
        problems.append(f"sandbox: {exc}")
    else:
        if got != mode:
            problems.append(f"sandbox mode here is {got!r}, the client grades with {mode!r}")
    here = grader_fingerprint(tuple(fingerprint_modules))
    if here != fingerprint:
        problems.append(f"grader fingerprint {here} differs from the client's {fingerprint} "
                        "(install the same autograder and rnnlib on the workers)")
    mine = versions()
    for name, version in expected_versions.items():
        if mine.get(name) != version:
            problems.append(f"{name} {mine.get(name)} differs from the client's {version}")
    return "; ".join(problems)


def grade_bytes(ctx, student, data, check):
    """The task run on a worker: grade one notebook sent as bytes."""
    refused = check_worker(*check)
    if refused:
        raise RuntimeError(f"worker refuses to grade: {refused}")
    tmp_root = ctx.tmp_root if ctx.tmp_root and os.path.isdir(ctx.tmp_root) else None
    local = replace(ctx, tmp_root=tmp_root)
    with tempfile.TemporaryDirectory(prefix="autograder-nb-", dir=tmp_root) as tmp:
        path = Path(tmp) / "submission.ipynb"
        path.write_bytes(data)
        return grade_submission(local, Submission(student, path))


def _failed_record(ctx, submission, data, status, note):
    digest = hashlib.sha256(data).hexdigest()
    record = Record(student=submission.student, assignment=ctx.assignment,
                    max=ctx.source.max_points, started=time.time(), grader=ctx.fingerprint,
                    sandbox={"mode": ctx.mode, "isolated": ctx.mode == "bwrap"})
    record.status = status
    record.key = record_key(ctx, digest)
    record.notebook_digest = digest
    record.notes.append(note)
    record.parts = _empty_parts(ctx, note)
    record.finished = time.time()
    return record


class DaskExecutor:
    """``submit(grade_submission, ctx, submission)`` on a ``distributed.Client``."""

    def __init__(self, client, fingerprint_modules):
        self.client = client
        self.fingerprint_modules = tuple(fingerprint_modules)
        self.workers_checked = False
        self.task = grade_bytes  # what a worker runs: task(ctx, student, data, check)

    def check_workers(self, ctx):
        """Every connected worker must pass ``check_worker``; else refuse the whole batch."""
        answers = self.client.run(check_worker, ctx.mode, self.fingerprint_modules,
                                  ctx.fingerprint, versions())
        bad = {worker: why for worker, why in answers.items() if why}
        if not answers:
            raise RuntimeError("the Dask cluster has no worker")
        if bad:
            raise RuntimeError("Dask workers refuse to grade: " + "; ".join(
                f"{worker}: {why}" for worker, why in sorted(bad.items())))
        self.workers_checked = True
        return sorted(answers)

    def submit(self, fn, ctx, submission):
        from distributed import KilledWorker

        if fn is not grade_submission:
            raise ValueError("DaskExecutor grades submissions only (grade_submission)")
        if not self.workers_checked:
            self.check_workers(ctx)
        result = Future()
        if submission.notebook is None:  # nothing to ship: graded here, no sandbox run
            result.set_result(grade_submission(ctx, submission))
            return result
        data = Path(submission.notebook).read_bytes()
        check = (ctx.mode, self.fingerprint_modules, ctx.fingerprint, versions())
        remote = self.client.submit(self.task, ctx, submission.student, data, check,
                                    key=task_key(ctx, submission.student, data), pure=False)

        def done(future):
            if result.cancelled():
                return
            try:
                record = future.result()
            except KilledWorker as exc:
                record = _failed_record(
                    ctx, submission, data, KILLED_STATUS,
                    f"this submission stopped the Dask worker grading it too many times "
                    f"({exc}); it was not graded")
            except Exception as exc:  # noqa: BLE001 -- a refused or broken worker
                record = _failed_record(ctx, submission, data, "grader error",
                                        f"internal grader error on a Dask worker: {exc}")
            result.set_result(record)

        remote.add_done_callback(done)
        result.remote = remote
        return result

    def shutdown(self, wait=True):
        pass


@contextlib.contextmanager
def dask_executor(ctx_modules, local_workers=None, scheduler=None,
                  allowed_failures=DEFAULT_ALLOWED_FAILURES, security=None):
    """Yield a DaskExecutor on a LocalCluster of ``local_workers`` processes or on the
    scheduler at ``scheduler`` (``tls://host:port`` with ``security``, a
    ``distributed.security.Security``)."""
    if (local_workers is None) == (scheduler is None):
        raise ValueError("give exactly one of --dask-local N or --dask-scheduler ADDRESS")
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": int(allowed_failures)}):
        if scheduler is None:
            if int(local_workers) < 1:
                raise ValueError(f"--dask-local needs at least 1 worker, not {local_workers}")
            cluster = LocalCluster(n_workers=int(local_workers), threads_per_worker=1,
                                   processes=True, host="127.0.0.1", dashboard_address=None,
                                   worker_dashboard_address=None)
            client = Client(cluster)
        else:
            cluster = None
            client = Client(scheduler, security=security)
        try:
            yield DaskExecutor(client, ctx_modules)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
