"""Turn what came back from the sandbox into points and reasons, in the grader's process.

Everything in a sandbox report is treated as hostile input: frames are parsed with size
limits, arrays are rebuilt from raw bytes with a dtype whitelist (never unpickled), names,
shapes and finiteness are checked before the values are compared with rnnlib's. Text the
student's process produced (printed output, exception messages) only ever ends up in
feedback, escaped; it is never parsed.
"""

import math
import signal
from dataclasses import asdict, dataclass, field

import numpy as np

import rnnlib

from .harness import ALLOWED_DTYPES
from .parts import RELATIVE_TOLERANCE

MAX_ELEMENTS = 1_000_000
MAX_TEXT = 1500


@dataclass
class PartResult:
    name: str
    max_points: float
    points: float = 0.0
    passed: int = 0
    cases: int = 0
    reason: str = ""
    notes: list = field(default_factory=list)
    output: str = ""
    bonus: bool = False
    student_seconds: float = 0.0

    def to_dict(self):
        return asdict(self)


def _clip(text, limit=MAX_TEXT):
    text = str(text)
    return text if len(text) <= limit else text[:limit] + " [...]"


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except (ValueError, TypeError):
        return f"signal {number}"


def rebuild_arrays(header, payload, expected_names):
    """Arrays of one case frame, or raise ValueError saying what was wrong."""
    meta = header.get("arrays")
    if not isinstance(meta, list) or len(meta) != len(expected_names):
        raise ValueError("the result did not hold the expected values")
    arrays, offset = {}, 0
    for entry, expected in zip(meta, expected_names):
        if not isinstance(entry, dict) or entry.get("name") != expected:
            raise ValueError("the result did not hold the expected values")
        dtype, shape, nbytes = entry.get("dtype"), entry.get("shape"), entry.get("nbytes")
        if dtype not in ALLOWED_DTYPES:
            raise ValueError(f"{expected} has a dtype that is not a number ({_clip(dtype, 40)})")
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n
                           for n in shape)):
            raise ValueError(f"{expected} has an invalid shape")
        count = math.prod(shape)
        if count > MAX_ELEMENTS:
            raise ValueError(f"{expected} is far too large ({count} elements)")
        itemsize = np.dtype(dtype).itemsize
        if nbytes != count * itemsize or offset + nbytes > len(payload):
            raise ValueError(f"{expected}: the result stream is inconsistent")
        array = np.frombuffer(payload, dtype=np.dtype(dtype), count=count, offset=offset)
        arrays[expected] = array.reshape(shape)
        offset += nbytes
    if offset != len(payload):
        raise ValueError("the result stream is inconsistent")
    return arrays


def _hint(got, expected):
    """A short guess at the mistake, for a value with the right shape but wrong numbers."""
    if not np.any(got) and np.any(expected):
        return "it is all zeros"
    if rnnlib.rel_error(got, -expected) < RELATIVE_TOLERANCE:
        return "it has the wrong sign"
    if got.ndim == 2 and got.shape[0] == got.shape[1] and \
            rnnlib.rel_error(got, expected.T) < RELATIVE_TOLERANCE:
        return "it looks transposed"
    denominator = float(np.vdot(expected, expected))
    if denominator > 0:
        factor = float(np.vdot(got, expected)) / denominator
        if factor != 0 and rnnlib.rel_error(got, factor * expected) < 1e-6:
            return f"it is the right value times {factor:.4g}"
    return ""


def _time_hint(got, expected):
    """For a (N, T, ...) value: which time steps are wrong."""
    if got.ndim < 2 or got.shape[1] < 2:
        return ""
    wrong = [t for t in range(got.shape[1])
             if rnnlib.rel_error(got[:, t], expected[:, t]) >= RELATIVE_TOLERANCE]
    if not wrong or len(wrong) == got.shape[1]:
        return ""
    T = got.shape[1]
    if wrong == list(range(wrong[0], T)):
        return f"time steps t >= {wrong[0]} are wrong, the earlier ones are right"
    if wrong == list(range(0, wrong[-1] + 1)):
        return (f"time steps t <= {wrong[-1]} are wrong, the later ones are right "
                "(is the gradient from step t+1 carried back to step t?)")
    return f"time steps {wrong[:6]} are wrong"


def compare(name, got, expected, time_axis=False):
    """None when ``got`` matches ``expected``, else the reason it does not."""
    if expected.ndim == 0:
        if got.size != 1:
            return f"{name} should be a scalar, got shape {tuple(got.shape)}"
        got = got.reshape(())
    elif got.shape != expected.shape:
        message = f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if got.shape == expected.shape[::-1]:
            message += " (it looks transposed)"
        return message
    if got.dtype.kind == "b":
        got = got.astype(np.float64)
    if not np.all(np.isfinite(got)):
        bad = "NaN" if np.any(np.isnan(got)) else "inf"
        return f"{name} contains {bad}"
    got = got.astype(np.float64)
    error = rnnlib.rel_error(got, expected)
    if error < RELATIVE_TOLERANCE:
        return None
    message = f"{name} is wrong (relative error {error:.2g}, needs < {RELATIVE_TOLERANCE:g})"
    hints = [h for h in (_hint(got, expected),
                         _time_hint(got, expected) if time_axis else "") if h]
    if hints:
        message += ": " + "; ".join(hints)
    return message


def score_part(part, points, part_frames, references, bonus=False, memory_mb=None):
    """PartResult for one part from its frames (the harness's 'part' header first)."""
    cases = len(part.shapes)
    result = PartResult(name=part.name, max_points=points, cases=cases, bonus=bonus)
    if not part_frames or part_frames[0][0].get("type") != "part":
        result.reason = "no result came back from the sandbox"
        return result
    status = part_frames[0][0]
    output = status.get("output")
    result.output = _clip(output, 4000) if isinstance(output, str) else ""
    dropped = status.get("output_dropped")
    if isinstance(dropped, int) and dropped > 0:
        result.notes.append(f"printed output was cut: {dropped} bytes dropped")
    cell_errors, case_messages, passed_cases, finished = [], {}, set(), False
    for header, payload in part_frames[1:]:
        kind = header.get("type")
        if kind == "start":
            if header.get("seccomp") is not True:
                result.notes.append("the process limits (seccomp) were not enforced: "
                                    + _clip(header.get("seccomp_problem"), 200))
        elif kind == "setup_error":
            result.reason = ("the assignment's setup cells failed in the sandbox (a grader "
                             "problem, not the student's): " + _clip(header.get("error")))
            return result
        elif kind == "cell_error":
            cell_errors.append((str(header.get("cell"))[:80], _clip(header.get("error"), 400)))
        elif kind == "case":
            case = header.get("case")
            if not isinstance(case, int) or isinstance(case, bool) or not 0 <= case < cases \
                    or case in case_messages or case in passed_cases:
                continue
            seconds = header.get("seconds")
            if isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0:
                result.student_seconds += min(float(seconds), 1e4)
            if header.get("ok") is not True:
                if header.get("stage") == "forward":
                    case_messages[case] = (f"building the cache with your {part.forward} "
                                           f"raised {_clip(header.get('error'))}")
                elif isinstance(header.get("error"), str) and \
                        header["error"].startswith("not run after"):
                    case_messages[case] = header["error"]
                else:
                    case_messages[case] = "raised " + _clip(header.get("error"))
                if "MemoryError" in case_messages[case] and memory_mb:
                    case_messages[case] += f" (the memory limit is {memory_mb} MB)"
                continue
            try:
                arrays = rebuild_arrays(header, payload, part.checked)
            except ValueError as exc:
                case_messages[case] = str(exc)
                continue
            problems = []
            for name in part.checked:
                problem = compare(name, arrays[name], references[(part.name, case)][name],
                                  name in part.time_axis)
                if problem:
                    problems.append(problem)
            if problems:
                case_messages[case] = "; ".join(problems)
            else:
                passed_cases.add(case)
        elif kind == "done":
            finished = True
    result.passed = len(passed_cases)
    result.points = round(points * result.passed / cases, 4)
    relevant = [error for cell, error in cell_errors if cell == part.name]
    others = [f"cell {cell}: {error}" for cell, error in cell_errors if cell != part.name]

    stopped = ""
    if status.get("timed_out"):
        stopped = "stopped at the time limit (an infinite loop?)"
    elif status.get("result_overflow"):
        stopped = "stopped: it sent far more result data than expected"
    elif isinstance(status.get("signal"), int):
        number = status["signal"]
        stopped = {
            int(signal.SIGSEGV): "the process crashed (SIGSEGV)",
            int(signal.SIGXCPU): "the process hit the CPU time limit (SIGXCPU)",
            int(signal.SIGXFSZ): "the process hit the file size limit (SIGXFSZ)",
            int(signal.SIGKILL): "the process was killed (SIGKILL; out of memory?)",
        }.get(number, f"the process died ({_signal_name(number)})")
    elif not finished:
        stopped = (f"the process exited (exit code {status.get('exit_code')}) before it "
                   "finished: os._exit, sys.exit or a crash?")
    if status.get("stream_problem"):
        stopped = (stopped + "; " if stopped else "") + "the result stream was damaged"

    if result.passed == cases:
        result.reason = f"all {cases} hidden cases correct"
        result.notes += [f"its cell raised {error}" for error in relevant]
        if stopped:
            result.notes.append(stopped)
        return result
    failing = [c for c in range(cases) if c not in passed_cases]
    first = failing[0]
    if relevant and all("is not defined as a function" in case_messages.get(c, "")
                        for c in failing):
        # the cell failed before it defined the function: that is the reason
        result.reason = (f"{result.passed}/{cases} hidden cases correct; {part.name} is not "
                         f"defined: its cell raised {relevant[0]}")
        return result
    result.notes += [f"its cell raised {error}" for error in relevant]
    if first in case_messages:
        detail = f"case {first + 1} ({part.describe_case(first)}): {case_messages[first]}"
    elif stopped:
        detail = f"case {first + 1} ({part.describe_case(first)}): {stopped}"
    else:
        detail = f"case {first + 1} ({part.describe_case(first)}): no result"
    result.reason = f"{result.passed}/{cases} hidden cases correct; {detail}"
    if stopped and first in case_messages:
        result.notes.append(stopped)
    if others and not relevant:
        result.notes.append(_clip("errors in other graded cells: " + "; ".join(others), 600))
    return result


def group_frames(frames):
    """{part name: [(header, payload), ...]} from a sandbox report, headers first."""
    grouped = {}
    for header, payload in frames:
        name = header.get("part")
        if isinstance(name, str):
            grouped.setdefault(name, []).append((header, payload))
    return grouped
