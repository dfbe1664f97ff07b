"""What the instructor reads at the end of ``grade``: the batch table, from Records read by
attribute (the export rows are in exports.py)."""

from dataclasses import dataclass, field

from .sandbox import NOT_ISOLATED


@dataclass
class BatchSummary:
    records: list = field(default_factory=list)    # Record, sorted by student
    graded: int = 0
    reused: int = 0
    warnings: list = field(default_factory=list)
    found: str = ""              # what the submissions were (submissions.describe)
    mode: str = "bwrap"
    seconds: float = 0.0


def summary_table(summary, ctx):
    """The table printed at the end of `grade`."""
    names = [p.name for p in ctx.parts]
    lines = []
    # an LMS id (a Canvas user id) says little to a person: the LMS's name goes beside it
    label = {r.student: f"{r.student} ({r.display_name})" if r.display_name else r.student
             for r in summary.records}
    width = max([7] + [len(text) for text in label.values()])
    lines.append(f"{'student':<{width}}  {'points':>7}  {'max':>5}  result")
    lines.append("-" * (width + 40))
    for record in summary.records:
        problems = [f"{p.name}: {p.reason}" for p in record.problems()]
        status = "all parts correct" if not problems else problems[0]
        if record.status != "graded":
            status = f"[{record.status}] " + status
        if len(status) > 90:
            status = status[:87] + "..."
        lines.append(f"{label[record.student]:<{width}}  {record.total:>7.2f}  "
                     f"{record.max:>5.0f}  {status}")
    lines.append("-" * (width + 40))
    lines.append(f"{len(summary.records)} submissions: {summary.graded} graded now, "
                 f"{summary.reused} unchanged since the last run; parts: {', '.join(names)}")
    if summary.mode != "bwrap":
        lines.append("WARNING: " + NOT_ISOLATED)
    else:
        lines.append("sandbox: bubblewrap (no network, read-only system, only numpy and the "
                     "standard library importable)")
    return "\n".join(lines)
