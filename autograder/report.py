"""What the instructor reads: the table printed at the end of ``grade`` and the CSV rows of
``export``. Both read Records (and the gradebook's points) by attribute; the total of a
row comes from ``record.capped_total``, the one total rule."""

from dataclasses import dataclass, field

from .record import capped_total
from .sandbox import NOT_ISOLATED


@dataclass
class BatchSummary:
    records: list = field(default_factory=list)    # Record, sorted by student
    graded: int = 0
    reused: int = 0
    warnings: list = field(default_factory=list)
    mode: str = "bwrap"
    seconds: float = 0.0


def summary_table(summary, ctx):
    """The table printed at the end of `grade`."""
    names = [p.name for p in ctx.parts]
    lines = []
    width = max([7] + [len(r.student) for r in summary.records])
    lines.append(f"{'student':<{width}}  {'points':>7}  {'max':>5}  result")
    lines.append("-" * (width + 40))
    for record in summary.records:
        problems = [f"{p.name}: {p.reason}" for p in record.problems()]
        status = "all parts correct" if not problems else problems[0]
        if record.status != "graded":
            status = f"[{record.status}] " + status
        if len(status) > 90:
            status = status[:87] + "..."
        lines.append(f"{record.student:<{width}}  {record.total:>7.2f}  "
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


def export_rows(points_by_student, names, bonus, maximum):
    """CSV rows (header first) from the gradebook's ``{student: {part: points}}``, which
    include scores an instructor changed in formgrader."""
    rows = [["student_id", *names, "total", "max"]]
    for student in sorted(points_by_student):
        points = points_by_student[student]
        normal = sum(points.get(n) or 0.0 for n in names if n not in bonus)
        extra = sum(points.get(n) or 0.0 for n in names if n in bonus)
        total = capped_total(normal, extra, maximum)
        rows.append([student, *[_fmt(points.get(n)) for n in names], _fmt(total),
                     _fmt(maximum)])
    return rows


def _fmt(value):
    if value is None:
        return ""
    return f"{value:.4g}" if value != int(value) else str(int(value))
