"""Host side of the sandbox: build a job folder, run the harness in it, read its report.

A job folder holds ``plan.json`` (what to run), ``inputs.npz`` (hidden inputs, plain
arrays), ``harness.py`` and ``lib/rnnlib/__init__.py`` (the few rnnlib helpers a student
may use; the graded functions are not in it). With bubblewrap the folder is mounted
read-only at ``/job`` inside a sandbox that sees only the system libraries, the Python
standard library and numpy, has no network, a cleared environment and a 32 MB ``/tmp``
as its only writable place. Without bubblewrap the harness runs directly, with the same
resource limits and seccomp filter, but it can read every file the grader's user can:
that mode is reported as NOT ISOLATED.
"""

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .harness import decode_frames

HARNESS = Path(__file__).with_name("harness.py")
SANDBOX_ROOT = "/job"
SANDBOX_SITE = "/opt/grader/site"

# Defaults of `python -m autograder grade`; the tests pass smaller ones.
DEFAULT_LIMITS = {
    "timeout_seconds": 30.0,  # wall clock per graded function (all its hidden cases)
    "cpu_seconds": 30,        # RLIMIT_CPU per graded function
    "memory_mb": 1024,        # RLIMIT_AS per graded function
    "file_mb": 16,            # RLIMIT_FSIZE
    "processes": 256,         # RLIMIT_NPROC (seccomp forbids new processes anyway)
    "output_kb": 16,          # printed output kept per graded function; the rest is dropped
    "result_kb": 4096,        # largest result stream accepted from one graded function
}


def grade_limits(timeout_seconds, memory_mb):
    """The limits of `grade --timeout S --memory-mb M`: the CPU limit follows the wall clock."""
    return {"timeout_seconds": float(timeout_seconds), "cpu_seconds": int(timeout_seconds) + 1,
            "memory_mb": int(memory_mb)}


HOST_GRACE_SECONDS = 20.0     # the whole sandbox is SIGKILLed this long after the last deadline
MAX_REPORT_BYTES = 64 << 20
MAX_STDERR_BYTES = 64 << 10

NOT_ISOLATED = ("NOT ISOLATED: bubblewrap (bwrap) is not available, so student code runs "
                "with resource limits and a seccomp filter but can read any file this user "
                "can read (gradebook, other submissions). Install bubblewrap "
                "(apt-get install bubblewrap) for isolated grading.")


def python_executable():
    """The real interpreter behind the (virtual) environment running the grader."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(base)


def numpy_dirs():
    """numpy's package folder and, for wheels, its bundled shared libraries."""
    package = Path(np.__file__).resolve().parent
    dirs = {"numpy": package}
    libs = package.parent / "numpy.libs"
    if libs.is_dir():
        dirs["numpy.libs"] = libs.resolve()
    return dirs


def _hidden_site_dirs():
    """Folders of installed packages inside the mounted system trees: hidden with a tmpfs,
    so that nothing but the standard library and numpy can be imported in the sandbox."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    prefix = Path(sys.base_prefix).resolve()
    candidates = [
        prefix / "lib" / version / "site-packages",
        prefix / "lib" / version / "dist-packages",
        Path("/usr/lib/python3/dist-packages"),
        Path("/usr/local/lib") / version / "dist-packages",
        Path("/usr/local/lib") / version / "site-packages",
        Path("/usr/lib") / version / "site-packages",
        Path("/usr/lib") / version / "dist-packages",
    ]
    seen, hidden = set(), []
    for path in candidates:
        if path.is_dir() and not path.is_symlink():
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                hidden.append(str(real))
    return hidden


def bwrap_command(job_dir):
    """The bubblewrap command line that runs the harness on ``job_dir``."""
    exe = python_executable()
    prefix = str(Path(sys.base_prefix).resolve())
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
           "--cap-drop", "ALL", "--hostname", "sandbox",
           "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    for tree in {prefix, os.path.dirname(os.path.dirname(exe))}:
        if not tree.startswith("/usr/") and tree != "/usr":
            cmd += ["--ro-bind", tree, tree]
    for hidden in _hidden_site_dirs():
        cmd += ["--tmpfs", hidden]
    for name, path in numpy_dirs().items():
        cmd += ["--ro-bind", str(path), f"{SANDBOX_SITE}/{name}"]
    cmd += ["--ro-bind", str(job_dir), SANDBOX_ROOT,
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(32 << 20), "--tmpfs", "/tmp",
            "--chdir", "/tmp"]
    for key, value in sandbox_env("/tmp").items():
        cmd += ["--setenv", key, value]
    cmd += ["--", exe, "-I", "-S", f"{SANDBOX_ROOT}/harness.py", SANDBOX_ROOT]
    return cmd


def sandbox_env(home):
    return {"HOME": home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


_PROBE = {}


def bwrap_works():
    """True when bubblewrap exists and can start a sandbox here (checked once)."""
    if "ok" not in _PROBE:
        ok = False
        if shutil.which("bwrap"):
            probe = Path(os.environ.get("TMPDIR", "/tmp"))
            cmd = bwrap_command(probe)
            cmd = cmd[:cmd.index("--") + 1] + [python_executable(), "-I", "-S", "-c", "pass"]
            try:
                ok = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, timeout=30).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                ok = False
        _PROBE["ok"] = ok
    return _PROBE["ok"]


def resolve_mode(mode):
    """'auto' -> 'bwrap' when it works, else 'none'. 'bwrap' insists on it."""
    if mode == "auto":
        return "bwrap" if bwrap_works() else "none"
    if mode == "bwrap" and not bwrap_works():
        raise RuntimeError("--sandbox bwrap was asked for, but bubblewrap does not work here "
                           "(is the package `bubblewrap` installed and are user namespaces "
                           "enabled?)")
    if mode not in ("bwrap", "none"):
        raise ValueError(f"sandbox mode must be auto, bwrap or none, not {mode!r}")
    return mode


# ----------------------------------------------------------------------------- job folder
def write_job(job_dir, plan, inputs, helper_source, mode):
    """Fill ``job_dir`` with everything the harness needs. Nothing else goes in it."""
    job_dir = Path(job_dir)
    (job_dir / "lib" / "rnnlib").mkdir(parents=True)
    (job_dir / "lib" / "rnnlib" / "__init__.py").write_text(helper_source, encoding="utf-8")
    shutil.copyfile(HARNESS, job_dir / "harness.py")
    if mode == "bwrap":
        root, site = SANDBOX_ROOT, SANDBOX_SITE
    else:
        root, site = str(job_dir), str(job_dir / "site")
        (job_dir / "site").mkdir()
        for name, path in numpy_dirs().items():
            os.symlink(path, job_dir / "site" / name)
        (job_dir / "scratch").mkdir()
    plan = dict(plan, sys_path=[f"{root}/lib", site])
    (job_dir / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    np.savez(job_dir / "inputs.npz", **inputs)


@dataclass
class JobOutcome:
    """What came back from one run of the harness."""
    frames: list = field(default_factory=list)   # (header, payload) pairs from the report
    problem: str = ""                            # non-empty: the harness itself failed
    stderr: str = ""
    seconds: float = 0.0
    mode: str = "bwrap"


def run_job(job_dir, limits, mode):
    """Run the harness on a prepared job folder; never raises for anything the student did."""
    job_dir = Path(job_dir)
    if mode == "bwrap":
        cmd = bwrap_command(job_dir)
        env, cwd = {}, None
    else:
        cmd = [python_executable(), "-I", "-S", str(job_dir / "harness.py"), str(job_dir)]
        env, cwd = sandbox_env(str(job_dir / "scratch")), str(job_dir / "scratch")
    deadline_after = float(limits["timeout_seconds"]) + HOST_GRACE_SECONDS
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True)
    stdout, stderr = bytearray(), bytearray()
    overflow, killed = False, False
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ, stdout)
    selector.register(proc.stderr, selectors.EVENT_READ, stderr)
    try:
        while selector.get_map():
            remaining = deadline_after - (time.monotonic() - started)
            if remaining <= 0:
                killed = True
                break
            for key, _ in selector.select(min(remaining, 1.0)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer = key.data
                cap = MAX_REPORT_BYTES if buffer is stdout else MAX_STDERR_BYTES
                if len(buffer) + len(chunk) > cap:
                    overflow = overflow or buffer is stdout
                    buffer += chunk[:max(0, cap - len(buffer))]
                else:
                    buffer += chunk
        remaining = max(0.1, deadline_after - (time.monotonic() - started))
        try:
            proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            killed = True
    finally:
        if killed or proc.poll() is None:
            _kill_group(proc)
        selector.close()
        proc.stdout.close()
        proc.stderr.close()
    outcome = JobOutcome(stderr=stderr.decode("utf-8", "replace")[-4000:],
                         seconds=time.monotonic() - started, mode=mode)
    frames, problem = decode_frames(bytes(stdout))
    outcome.frames = frames
    if killed:
        outcome.problem = (f"the sandbox did not finish within {deadline_after:.0f} s and was "
                           "killed")
    elif overflow:
        outcome.problem = "the sandbox report was too large"
    elif problem:
        outcome.problem = f"the sandbox report was unreadable ({problem})"
    elif not frames or frames[-1][0].get("type") != "end":
        outcome.problem = (f"the sandbox ended without a report (exit code {proc.returncode})"
                           + (f": {outcome.stderr.strip()[-500:]}" if outcome.stderr else ""))
    return outcome


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def hide_own_memory():
    """Without bubblewrap, student code runs as the same user as the grader: make the
    grader's /proc entries (its memory, which holds the reference values) unreadable to
    other processes of that user."""
    try:
        import ctypes

        PR_SET_DUMPABLE = 4
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass
