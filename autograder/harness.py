"""Sandbox side of the grader: evaluate a submission's graded functions on hidden inputs.

This file runs INSIDE the sandbox as ``python -I -S harness.py JOBDIR``; it imports nothing
from the ``autograder`` package (which is not visible there), only the standard library and
numpy. It is trusted code: the student's code never runs in this process.

For every graded function (a "part") the harness forks one child. The child applies the
resource limits, installs a seccomp filter (no new processes, no sockets, no signals to
other processes), sends its stdout/stderr into a capped pipe, runs the trusted setup cells
and the student's solution cells, then calls the part's function on each hidden case and
writes the returned arrays as plain typed buffers (a JSON header + raw bytes, never pickle)
to its result pipe. The parent relays the results of every child to the host on stdout and
kills a child that outlives its time limit with SIGKILL, so a hang, a crash or ``os._exit``
in one part costs only that part. The host re-checks everything it receives.

Frame format on every pipe: ``b"<n>\\n"`` + n bytes of UTF-8 JSON (a header object) +
``header["payload"]`` raw bytes.
"""

import ast
import builtins
import ctypes
import errno
import json
import os
import platform
import resource
import selectors
import signal
import struct
import sys
import time
import traceback

PROTOCOL = 1
MAX_HEADER = 1 << 16  # bytes of JSON in one frame header
MAX_ERROR_CHARS = 1500

# dtypes a result array may have; everything else (object, structured, strings) is refused
ALLOWED_DTYPES = {"<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "|i1", "<u8", "<u4", "<u2", "|u1",
                  "|b1"}


# ----------------------------------------------------------------------------- framing
def encode_frame(header, payload=b""):
    header = dict(header, payload=len(payload))
    body = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return b"%d\n" % len(body) + body + payload


def decode_frames(data, max_frames=10_000):
    """Split ``data`` into (header, payload) pairs; stop at the first malformed frame.

    Returns (frames, problem) where problem is None or a short description of what was
    wrong with the rest of the stream.
    """
    frames, pos = [], 0
    while pos < len(data):
        if len(frames) >= max_frames:
            return frames, "too many frames"
        newline = data.find(b"\n", pos, pos + 12)
        if newline < 0 or not data[pos:newline].isdigit():
            return frames, "malformed frame length"
        size = int(data[pos:newline])
        if size > MAX_HEADER:
            return frames, "frame header too large"
        start = newline + 1
        try:
            header = json.loads(data[start:start + size].decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return frames, "malformed frame header"
        if not isinstance(header, dict) or not isinstance(header.get("payload"), int) \
                or isinstance(header.get("payload"), bool) or header["payload"] < 0:
            return frames, "malformed frame header"
        end = start + size + header["payload"]
        if end > len(data):
            return frames, "truncated frame"
        frames.append((header, data[start + size:end]))
        pos = end
    return frames, None


# ----------------------------------------------------------------------------- seccomp
# Syscall numbers per architecture. Denied outright: new processes, program execution,
# sockets, tracing other processes, leaving the process group, prctl (so the parent-death
# signal stays set), namespaces, io_uring. kill/tgkill are allowed only towards ourselves.
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_DENY = {
    "x86_64": {"fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "socket": 41,
               "socketpair": 53, "ptrace": 101, "process_vm_readv": 310,
               "process_vm_writev": 311, "setsid": 112, "setpgid": 109, "prctl": 157,
               "tkill": 200, "unshare": 272, "setns": 308, "mount": 165,
               "pidfd_send_signal": 424, "pidfd_getfd": 438, "io_uring_setup": 425,
               "io_uring_enter": 426, "io_uring_register": 427},
    "aarch64": {"execve": 221, "execveat": 281, "socket": 198, "socketpair": 199,
                "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
                "setsid": 157, "setpgid": 154, "prctl": 167, "tkill": 130, "unshare": 97,
                "setns": 268, "mount": 40, "pidfd_send_signal": 424, "pidfd_getfd": 438,
                "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427},
}
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435
_SELF_ONLY = {"x86_64": {"kill": 62, "tgkill": 234}, "aarch64": {"kill": 129, "tgkill": 131}}
_CLONE_THREAD = 0x00010000


def seccomp_program(machine, pid):
    """BPF program (list of (code, jt, jf, k)) for this architecture, or None."""
    if machine not in _AUDIT_ARCH:
        return None
    LD_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
    ALLOW, ERRNO = 0x7FFF0000, 0x00050000
    prog, fixups = [], []

    def emit(code, k, jt=None, jf=None):
        # jt/jf are label names resolved below (None = fall through)
        fixups.append((len(prog), jt, jf))
        prog.append([code, 0, 0, k])

    emit(LD_ABS, 4)                                  # seccomp_data.arch
    emit(JEQ, _AUDIT_ARCH[machine], None, "deny")
    emit(LD_ABS, 0)                                  # seccomp_data.nr
    if machine == "x86_64":
        emit(JGE, 0x40000000, "deny", None)          # x32 ABI
    for nr in sorted(_DENY[machine].values()):
        emit(JEQ, nr, "deny", None)
    emit(JEQ, _CLONE[machine], "clone", None)
    emit(JEQ, _CLONE3, "enosys", None)               # glibc falls back to clone()
    for nr in sorted(_SELF_ONLY[machine].values()):
        emit(JEQ, nr, "self", None)
    labels = {}
    prog.append([RET, 0, 0, ALLOW])                  # every other syscall
    labels["clone"] = len(prog)
    emit(LD_ABS, 16)                                 # args[0], low 32 bits: clone flags
    emit(JSET, _CLONE_THREAD, "allow", "deny")       # threads yes, processes no
    labels["self"] = len(prog)
    emit(LD_ABS, 16)                                 # args[0]: target pid
    emit(JEQ, pid, "allow", "deny")
    labels["allow"] = len(prog)
    prog.append([RET, 0, 0, ALLOW])
    labels["deny"] = len(prog)
    prog.append([RET, 0, 0, ERRNO | errno.EPERM])
    labels["enosys"] = len(prog)
    prog.append([RET, 0, 0, ERRNO | errno.ENOSYS])
    for index, jt, jf in fixups:
        for slot, label in ((1, jt), (2, jf)):
            if label is not None:
                offset = labels[label] - index - 1
                if not 0 <= offset < 256:
                    raise ValueError("seccomp jump out of range")
                prog[index][slot] = offset
    return [tuple(ins) for ins in prog]


def install_seccomp():
    """Install the filter in this process; returns None or the reason it was not installed."""
    program = seccomp_program(platform.machine(), os.getpid())
    if program is None:
        return f"seccomp filter not available on {platform.machine()}"
    libc = ctypes.CDLL(None, use_errno=True)
    raw = b"".join(struct.pack("HBBI", *ins) for ins in program)
    buf = ctypes.create_string_buffer(raw, len(raw))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.cast(buf, ctypes.c_void_p))
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return "prctl(PR_SET_NO_NEW_PRIVS) failed: errno %d" % ctypes.get_errno()
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return "prctl(PR_SET_SECCOMP) failed: errno %d" % ctypes.get_errno()
    return None


def set_parent_death_signal():
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def set_not_dumpable():
    """Keep /proc/<pid>/fd of the harness out of reach of the children."""
    PR_SET_DUMPABLE = 4
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


# ----------------------------------------------------------------------------- child
def apply_limits(limits):
    mb = 1 << 20
    wanted = [
        (resource.RLIMIT_AS, int(limits["memory_mb"]) * mb),
        (resource.RLIMIT_CPU, int(limits["cpu_seconds"])),
        (resource.RLIMIT_FSIZE, int(limits["file_mb"]) * mb),
        (resource.RLIMIT_NPROC, int(limits["processes"])),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, 64),
    ]
    for which, value in wanted:
        soft, hard = value, value
        if which == resource.RLIMIT_CPU:
            hard = value + 1  # SIGXCPU first, SIGKILL one second later
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            # the host set a lower hard limit already: keep it
            pass


def describe_exception(exc, cell_names):
    """One line: the exception and where in the student's cells it was raised."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name in cell_names:
            where = f" (cell {cell_names[name]}, line {tb.tb_lineno})"
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename in cell_names:
        where = f" (cell {cell_names[exc.filename]}, line {exc.lineno})"
    return (text + where)[:MAX_ERROR_CHARS]


# The top-level policy: of a student's graded cell only the imports, definitions and
# assignments run (what a function may need); everything else at top level (prints, calls,
# loops, experiments, ``if __name__ == ...`` blocks) is skipped and listed on the feedback page,
# so that code outside the functions cannot cost the functions their points. Assignments and
# ``try`` blocks (import fallbacks) run with a short wall-clock box and with ``os._exit``
# turned into an exception, so a slow or exiting constant costs only itself.
DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
RUN_STATEMENTS = DEFINITIONS + (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Try)
TOP_LEVEL_SECONDS = 2.0


class TopLevelTimeout(Exception):
    """Raised into a top-level statement that outlived TOP_LEVEL_SECONDS."""


def _is_docstring(node):
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _summary(source, node):
    """The first line of a skipped statement, short enough for the feedback page."""
    text = (ast.get_source_segment(source, node) or type(node).__name__).splitlines()[0]
    return text if len(text) <= 60 else text[:57] + "..."


def _exec_boxed(code, namespace, definition):
    """exec one top-level statement; non-definitions are time-boxed and may not exit."""
    if definition:
        exec(code, namespace)
        return
    real_exit = os._exit

    def refuse_exit(status=0):
        raise SystemExit(f"os._exit({status}) at the top level of a cell (not run)")

    def on_alarm(signum, frame):
        raise TopLevelTimeout(f"took longer than {TOP_LEVEL_SECONDS:g} s at the top level "
                              "of a cell (stopped)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    os._exit = refuse_exit
    signal.setitimer(signal.ITIMER_REAL, TOP_LEVEL_SECONDS)
    try:
        exec(code, namespace)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os._exit = real_exit


def _reference_functions(plan, part, setup_namespace):
    """The instructor's functions named in ``part["swap"]``, made before any student code
    runs, from the reference cells (trusted) in a namespace of their own that starts from the
    setup: a reference callee calls the reference functions it needs, never the student's."""
    if not part.get("swap"):
        return {}
    namespace = dict(setup_namespace)
    for grade_id, source in plan["reference_cells"]:
        exec(compile(source, f"<reference {grade_id}>", "exec"), namespace)
    return {name: namespace[name] for name in part["swap"]}


def encode_array(name, value, np):
    """Header entry + raw bytes of one returned value, or raise ValueError."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or arr.dtype.fields is not None:
        raise ValueError(f"{name} is not a numeric array (dtype {arr.dtype})")
    arr = np.ascontiguousarray(arr)
    dtype = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
    arr = arr.astype(dtype, copy=False)
    if arr.dtype.str not in ALLOWED_DTYPES:
        raise ValueError(f"{name} has unsupported dtype {arr.dtype}")
    data = arr.tobytes()
    return {"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape),
            "nbytes": len(data)}, data


def run_child(plan, part, inputs, result_fd, np):  # noqa: C901 (one linear story)
    """Runs in the forked child: never returns."""
    send = os.write

    def emit(header, payload=b""):
        frame = encode_frame(header, payload)
        view = memoryview(frame)
        while view:
            written = send(result_fd, view)
            view = view[written:]

    problem = install_seccomp()
    emit({"type": "start", "part": part["name"], "seccomp": problem is None,
          "seccomp_problem": problem})

    namespace = {"__name__": "__main__", "__builtins__": builtins}
    cell_names = {}
    for index, source in enumerate(plan["setup_cells"]):
        filename = f"<setup {index}>"
        try:
            exec(compile(source, filename, "exec"), namespace)
        except BaseException as exc:  # the trusted setup must work in the sandbox
            emit({"type": "setup_error", "error": describe_exception(exc, {})})
            os._exit(0)
    reference = _reference_functions(plan, part, namespace)
    for grade_id, source in plan["solution_cells"]:
        filename = f"<cell {grade_id}>"
        cell_names[filename] = grade_id
        try:
            tree = ast.parse(source, filename=filename)
        except SyntaxError as exc:
            emit({"type": "cell_error", "cell": grade_id,
                  "error": describe_exception(exc, cell_names)})
            continue
        except BaseException as exc:
            emit({"type": "cell_error", "cell": grade_id,
                  "error": describe_exception(exc, cell_names)})
            continue
        # one top-level statement at a time, so that a failing import or print does not
        # stop the function definitions after it from being made
        for node in tree.body:
            if not isinstance(node, RUN_STATEMENTS):
                if not _is_docstring(node):
                    emit({"type": "skipped", "cell": grade_id, "line": node.lineno,
                          "what": _summary(source, node)})
                continue
            try:
                code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
                _exec_boxed(code, namespace, isinstance(node, DEFINITIONS))
            except BaseException as exc:
                emit({"type": "cell_error", "cell": grade_id, "line": node.lineno,
                      "error": describe_exception(exc, cell_names)})

    namespace.update(reference)  # the caller now calls the reference callees
    function = namespace.get(part["call"])
    forward = namespace.get(part["forward"]) if part["forward"] else None
    for case in range(int(part["cases"])):
        key = f"{part['name']}/{case}/"
        header = {"type": "case", "case": case}
        started = time.perf_counter()
        try:
            if not callable(function):
                raise NameError(f"{part['call']} is not defined as a function")
            if part["forward"] and not callable(forward):
                raise NameError(f"{part['forward']} (needed to build the cache) is not defined")
            args = [np.array(inputs[key + name]) for name in part["args"]]
            if part["forward"]:
                forward_args = [np.array(inputs[key + name]) for name in part["forward_args"]]
                try:
                    out = forward(*forward_args)
                except BaseException as exc:
                    header.update(ok=False, seconds=time.perf_counter() - started,
                                  stage="forward", error=describe_exception(exc, cell_names))
                    emit(header)
                    continue
                if not isinstance(out, (tuple, list)) or len(out) < 2:
                    raise TypeError(f"{part['forward']} must return a tuple ending with the "
                                    f"cache, got {type(out).__name__}")
                out = function(*args, out[-1])
            else:
                out = function(*args)
            seconds = time.perf_counter() - started
            returns = part["returns"]
            if returns == 1:
                out = (out,)
            elif not isinstance(out, (tuple, list)):
                raise TypeError(f"{part['call']} returned {type(out).__name__}, expected a "
                                f"tuple of {returns} values")
            if len(out) != returns:
                raise TypeError(f"{part['call']} returned {len(out)} values, expected "
                                f"{returns} ({', '.join(part['return_names'])})")
            entries, chunks = [], []
            for index in part["take"]:
                entry, data = encode_array(part["return_names"][index], out[index], np)
                entries.append(entry)
                chunks.append(data)
            header.update(ok=True, seconds=seconds, arrays=entries)
            emit(header, b"".join(chunks))
        except BaseException as exc:
            seconds = time.perf_counter() - started
            header.update(ok=False, seconds=seconds,
                          error=describe_exception(exc, cell_names))
            emit(header)
            if isinstance(exc, MemoryError):
                # the process may be in a poor state; do not fill memory again
                del exc
                for rest in range(case + 1, int(part["cases"])):
                    emit({"type": "case", "case": rest, "ok": False, "seconds": 0.0,
                          "error": "not run after a MemoryError in an earlier case"})
                break
    emit({"type": "done"})
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # the student may have replaced or closed them
            pass
    os._exit(0)


def fork_child(plan, part, inputs, np):
    result_r, result_w = os.pipe()
    output_r, output_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(result_r)
            os.close(output_r)
            set_parent_death_signal()
            os.dup2(output_w, 1)
            os.dup2(output_w, 2)
            os.close(output_w)
            os.dup2(result_w, 3)
            os.close(result_w)
            os.closerange(4, 1 << 16)
            stdin = os.open(os.devnull, os.O_RDONLY)
            os.dup2(stdin, 0)
            os.close(stdin)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            for stream in (sys.stdout, sys.stderr):
                stream.reconfigure(line_buffering=True)  # printed text survives a crash
            apply_limits(plan["limits"])
            run_child(plan, part, inputs, 3, np)
        except BaseException:
            # reaches the part's captured output; the host reports the exit code
            traceback.print_exc()
        finally:
            os._exit(70)
    os.close(result_w)
    os.close(output_w)
    return pid, result_r, output_r


# ----------------------------------------------------------------------------- parent
def supervise(plan, inputs, np):  # noqa: C901 (one linear story: spawn, watch, collect)
    """Fork one child per part, collect everything with caps and deadlines."""
    limits = plan["limits"]
    timeout = float(limits["timeout_seconds"])
    result_cap = int(limits["result_kb"]) * 1024
    output_cap = int(limits["output_kb"]) * 1024
    selector = selectors.DefaultSelector()
    children = {}
    for part in plan["parts"]:
        pid, result_r, output_r = fork_child(plan, part, inputs, np)
        state = {"part": part["name"], "pid": pid, "started": time.monotonic(),
                 "result": bytearray(), "output": bytearray(), "output_dropped": 0,
                 "result_overflow": False, "timed_out": False, "status": None,
                 "open": 2}
        children[pid] = state
        selector.register(result_r, selectors.EVENT_READ, (state, "result"))
        selector.register(output_r, selectors.EVENT_READ, (state, "output"))

    def kill(state):
        try:
            os.kill(state["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass

    while any(s["open"] or s["status"] is None for s in children.values()):
        now = time.monotonic()
        for state in children.values():
            if state["status"] is None and now - state["started"] > timeout:
                state["timed_out"] = True
                kill(state)
        waits = [timeout - (now - s["started"]) for s in children.values()
                 if s["status"] is None]
        if not selector.get_map():
            time.sleep(0.002)  # pipes closed, exit status not reaped yet
        for fileobj, _events in (selector.select(max(0.005, min(waits + [0.2])))
                                if selector.get_map() else []):
            state, kind = fileobj.data
            try:
                chunk = os.read(fileobj.fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                selector.unregister(fileobj.fd)
                os.close(fileobj.fd)
                state["open"] -= 1
                continue
            if kind == "result":
                if len(state["result"]) + len(chunk) > result_cap:
                    state["result_overflow"] = True
                    kill(state)
                else:
                    state["result"] += chunk
            else:
                room = output_cap - len(state["output"])
                state["output"] += chunk[:max(room, 0)]
                state["output_dropped"] += max(0, len(chunk) - max(room, 0))
        for pid, state in children.items():
            if state["status"] is None:
                try:
                    done, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done, status = pid, 0
                if done:
                    state["status"] = status
                    state["seconds"] = time.monotonic() - state["started"]
    return children


def report(children):
    out = sys.stdout.buffer
    for state in children.values():
        frames, problem = decode_frames(bytes(state["result"]))
        status = state["status"] or 0
        header = {
            "type": "part", "part": state["part"],
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "timed_out": state["timed_out"], "seconds": round(state.get("seconds", 0.0), 4),
            "output": state["output"].decode("utf-8", "replace"),
            "output_dropped": state["output_dropped"],
            "result_overflow": state["result_overflow"], "stream_problem": problem,
            "frames": len(frames),
        }
        out.write(encode_frame(header))
        for frame_header, payload in frames:
            frame_header = dict(frame_header)
            frame_header.pop("payload", None)
            frame_header["part"] = state["part"]
            try:
                out.write(encode_frame(frame_header, payload))
            except (ValueError, TypeError, RecursionError):  # junk in a forged header
                out.write(encode_frame({"type": "junk", "part": state["part"]}))
    out.write(encode_frame({"type": "end", "protocol": PROTOCOL}))
    out.flush()


def main():
    job = sys.argv[1]
    with open(os.path.join(job, "plan.json"), encoding="utf-8") as handle:
        plan = json.load(handle)
    for path in reversed(plan["sys_path"]):
        sys.path.insert(0, path)
    import numpy as np

    with np.load(os.path.join(job, "inputs.npz"), allow_pickle=False) as data:
        inputs = {key: data[key] for key in data.files}
    set_not_dumpable()
    set_parent_death_signal()  # the grader went away: stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the host stops us, with SIGKILL
    children = supervise(plan, inputs, np)
    report(children)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
