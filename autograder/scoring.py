"""Frames from the sandbox -> ``PartResult``: points and reasons, in the grader's process.

Everything in a sandbox report is treated as hostile input: frames are parsed with size
limits, arrays are rebuilt from raw bytes with a dtype whitelist (never unpickled), names,
shapes and finiteness are checked before the values are compared with rnnlib's. Text the
student's process produced (printed output, exception messages) only ever ends up in
feedback, escaped; it is never parsed, except that a NameError's name is picked out to
add how to fix it.
"""

import math
import re
import signal

import numpy as np

from .harness import ALLOWED_DTYPES
from .record import PartResult
from .spec import compare_all

MAX_ELEMENTS = 1_000_000
MAX_TEXT = 1500
MAX_SKIPPED_LISTED = 8
NAME_ERROR = re.compile(r"NameError: name '([A-Za-z_][A-Za-z0-9_]{0,60})' is not defined")


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


def score_part(part, points, part_frames, references, bonus=False, memory_mb=None):  # noqa: C901 (one linear story)
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
    skipped = []
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
        elif kind == "skipped":
            if str(header.get("cell")) == part.name and len(skipped) < MAX_SKIPPED_LISTED:
                skipped.append(f"line {header.get('line')}: {_clip(header.get('what'), 80)}")
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
            problem = compare_all([(name, arrays[name], references[(part.name, case)][name])
                                   for name in part.checked])
            if problem:
                case_messages[case] = problem
            else:
                passed_cases.add(case)
        elif kind == "done":
            finished = True
    if skipped:
        result.notes.append("not run (only imports, definitions and assignments at the top "
                            "level of a graded cell run): " + "; ".join(skipped))
    for case, message in case_messages.items():
        case_messages[case] = message + _name_error_hint(message)
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


def _name_error_hint(message):
    """How to fix a NameError for a name the student defined outside the graded cells."""
    match = NAME_ERROR.search(message)
    if not match:
        return ""
    return (f" (only the graded cells and the assignment's setup cells run when grading; if "
            f"{match.group(1)} is defined in another cell, define it inside the graded cell)")


def group_frames(frames):
    """{part name: [(header, payload), ...]} from a sandbox report, headers first."""
    grouped = {}
    for header, payload in frames:
        name = header.get("part")
        if isinstance(name, str):
            grouped.setdefault(name, []).append((header, payload))
    return grouped
