"""The class report: one offline HTML page (and a short text version) an instructor reads
after `grade`, built from the Records in ``results/<assignment>/`` only.

It shows the score distribution per graded function and in total, the most frequent named
mistakes with example students, the submissions that need a person, and the time spent per
submission. Figures are matplotlib (Agg) PNGs embedded as ``data:`` URIs, so the page makes
no request to any host. The mistake names are read from the reasons the grader wrote; the
phrases matched are the ones ``spec.compare`` and ``grading`` produce, so a reason and its
name cannot drift apart without this module's tests failing.
"""

import base64
import html
import io
import json
import re
from collections import Counter, defaultdict

from . import similarity
from .gradebook import open_gradebook
from .scoring import stop_kind

# (name, pattern over a part's reason), first match wins; the phrases are spec.compare's
MISTAKES = (
    ("transposed", re.compile(r"looks transposed")),
    ("wrong sign", re.compile(r"wrong sign")),
    ("all zeros", re.compile(r"all zeros")),
    ("scaled by a constant", re.compile(r"right value times")),
    ("NaN or inf", re.compile(r"contains (NaN|inf)")),
    ("wrong shape", re.compile(r"has shape .* expected")),
    ("later time steps wrong", re.compile(r"time steps t >= ")),
    ("gradient not carried back in time", re.compile(r"time steps t <= ")),
    ("missing graded cell", re.compile(r"no code cell with grade_id")),
    ("wrong values", re.compile(r"is wrong \(relative error")),
)
# a named mistake of the self-check descriptions, as ``spec._named`` writes it:
# "<term> is wrong: <what is wrong>: <how to fix it>"; the report names it by what is wrong
NAMED = re.compile(r"\b\w+ is wrong: (?P<what>[^:;]+)")
GRADED = "graded"
# how a stopped function is named, in the mistakes and as a submission's status
STOPPED = {"time limit": "stopped at the time limit", "crash": "crashed"}


def mistake_name(reason):
    """The named mistake a part's reason describes, or "other" when none fits: a function
    that was stopped is named by how (time limit or crash), a value that equals one of the
    self-check's named mistakes by that mistake's own words, the rest by how it is wrong."""
    kind = stop_kind(reason)
    if kind:
        return STOPPED[kind]
    named = NAMED.search(reason or "")
    if named:
        return named.group("what").strip()
    for name, pattern in MISTAKES:
        if pattern.search(reason or ""):
            return name
    return "other"


def report_status(record):
    """The record's status, with a graded submission whose function was stopped shown as
    "stopped at the time limit" or "crashed" (a time limit before a crash when both)."""
    if record.status != GRADED:
        return record.status
    kinds = {stop_kind(p.reason) for p in record.parts if not p.full_marks}
    for kind in STOPPED:
        if kind in kinds:
            return STOPPED[kind]
    return GRADED


def needs_a_person(record):
    """Why a person should look at this submission, or "" when nothing needs one."""
    status = report_status(record)
    if status != GRADED:
        failed = [p.name for p in record.parts if stop_kind(p.reason)]
        return status + (f" ({', '.join(failed)})" if failed else "")
    if record.sandbox and not record.sandbox.get("isolated", True):
        return "graded without isolation"
    return ""


def summarize(records, similar=(), written=None):
    """The numbers of the report, from ``{student: Record}`` (and ``similarity.similar_pairs``
    and ``written_answers``): a plain dict the text and the HTML versions both print, and the
    tests check."""
    ordered = [records[s] for s in sorted(records)]
    graded = [r for r in ordered if r.status == GRADED]
    statuses = Counter(report_status(r) for r in ordered)
    mistakes = defaultdict(list)       # name -> [(student, part)]
    scores = defaultdict(list)         # part -> [points]
    for record in graded:
        for part in record.parts:
            scores[part.name].append(part.points)
            if not part.full_marks:
                mistakes[mistake_name(part.reason)].append((record.student, part.name))
    ranked = sorted(mistakes.items(), key=lambda item: (-len(item[1]), item[0]))
    return {
        "submissions": len(ordered),
        "statuses": dict(statuses),
        "scores": dict(scores),
        "totals": [r.total for r in graded],
        "max": max((r.max for r in ordered), default=0.0),
        "mistakes": [(name, len(hits), hits[:5]) for name, hits in ranked],
        "attention": [(r.student, why) for r in ordered if (why := needs_a_person(r))],
        "seconds": [r.seconds for r in ordered if r.seconds],
        "similar": list(similar),
        "written": written or {"cells": [], "comments": 0},
    }


def text_report(assignment, numbers):
    """The short version printed by `report`."""
    lines = [f"class report for {assignment}: {numbers['submissions']} submissions "
             f"({', '.join(f'{n} {s}' for s, n in sorted(numbers['statuses'].items()))})"]
    totals = numbers["totals"]
    if totals:
        mean = sum(totals) / len(totals)
        lines.append(f"total: mean {mean:.2f} of {numbers['max']:.0f}, "
                     f"min {min(totals):.2f}, max {max(totals):.2f}")
    for part, points in numbers["scores"].items():
        lines.append(f"  {part}: mean {sum(points) / len(points):.2f}")
    lines.append("most frequent mistakes:")
    for name, count, examples in numbers["mistakes"][:10]:
        shown = ", ".join(f"{s} ({p})" for s, p in examples[:3])
        lines.append(f"  {count:4d}  {name}  e.g. {shown}")
    lines.append(f"needs a person: {len(numbers['attention'])}")
    for student, why in numbers["attention"]:
        lines.append(f"  {student}: {why}")
    written = numbers["written"]
    if written["cells"]:
        lines.append("written answers (formgrader):")
        for cell in written["cells"]:
            points = (f"{cell['points']:g} points" if cell["points"] else
                      "no points: not graded for the total")
            lines.append(f"  {cell['name']} ({points}): {cell['answered']} answered, "
                         f"{cell['graded']} of them scored in formgrader so far")
    lines.append(f"formgrader comments: {written['comments']}")
    lines.append("most similar graded cells (copydetect, template excluded):")
    for score, a, b in numbers["similar"][:5]:
        lines.append(f"  {score:.2f}  {a} / {b}")
    seconds = numbers["seconds"]
    if seconds:
        lines.append(f"time per submission: mean {sum(seconds) / len(seconds):.2f} s, "
                     f"max {max(seconds):.2f} s")
    return "\n".join(lines)


def _histogram(values, title, xlabel):
    """A PNG histogram as a data: URI (Agg backend: no display, nothing fetched)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    figure = Figure(figsize=(4, 2.6))
    axes = figure.subplots()
    axes.hist(values, bins=min(20, max(5, len(set(values)))))
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("students")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def html_report(assignment, numbers):
    """The whole page, self-contained."""
    e = html.escape
    figures = []
    if numbers["totals"]:
        figures.append(_histogram(numbers["totals"], "total", "points"))
    for part, points in numbers["scores"].items():
        figures.append(_histogram(points, part, "points"))
    if numbers["seconds"]:
        figures.append(_histogram(numbers["seconds"], "time per submission", "seconds"))
    rows = "".join(f"<tr><td>{e(n)}</td><td>{c}</td><td>"
                   f"{e(', '.join(f'{s} ({p})' for s, p in ex))}</td></tr>"
                   for n, c, ex in numbers["mistakes"])
    attention = "".join(f"<li>{e(s)}: {e(w)}</li>" for s, w in numbers["attention"])
    similar = "".join(f"<tr><td>{score:.2f}</td><td>{e(a)} / {e(b)}</td></tr>"
                      for score, a, b in numbers["similar"])
    written = "".join(f"<tr><td>{e(c['name'])}</td><td>{c['points']:g}</td>"
                      f"<td>{c['answered']}</td><td>{c['graded']}</td></tr>"
                      for c in numbers["written"]["cells"])
    images = "".join(f'<img class="figure" alt="histogram" src="{uri}">' for uri in figures)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>Class report: {e(assignment)}</title></head><body>"
            f"<h1>Class report: {e(assignment)}</h1>"
            f"<pre>{e(text_report(assignment, numbers))}</pre>"
            f"<h2>Score distributions</h2>{images}"
            f"<h2>Most frequent mistakes</h2><table><tr><th>mistake</th><th>count</th>"
            f"<th>examples</th></tr>{rows}</table>"
            f"<h2>Needs a person</h2><ul>{attention}</ul>"
            f"<h2>Written answers</h2><table><tr><th>cell</th><th>points</th>"
            f"<th>answered</th><th>scored in formgrader</th></tr>{written}</table>"
            f"<p>formgrader comments: {numbers['written']['comments']}</p>"
            f"<h2>Most similar graded cells</h2><table><tr><th>similarity</th><th>students"
            f"</th></tr>{similar}</table></body></html>")


def write_report(workdir, assignment, output):
    """Read the records, write the page to ``output`` and return the text version."""
    records = workdir.read_records(assignment)
    if not records:
        raise FileNotFoundError(f"no grading records for {assignment} in "
                                f"{workdir.results(assignment)}: run `grade` first")
    numbers = summarize(records, _similar(workdir, assignment, records),
                        written_answers(workdir, assignment, records))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html_report(assignment, numbers), encoding="utf-8")
    return text_report(assignment, numbers)


def _first_notebook(folder):
    notebooks = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    return notebooks[0] if notebooks else None


def _similar(workdir, assignment, records):
    """The most similar pairs among the graded students' submitted notebooks, the released
    notebook's cells as the template."""
    names = sorted({p.name for r in records.values() for p in r.parts})
    codes = {}
    for student, record in records.items():
        notebook = _first_notebook(workdir.submitted(student, assignment))
        if record.status == GRADED and notebook is not None:
            codes[student] = similarity.graded_code(notebook, names)
    released = _first_notebook(workdir.release(assignment))
    template = similarity.graded_code(released, names) if released else ""
    return similarity.similar_pairs(codes, template)


def _markdown_answers(notebook_path):
    """{grade_id: text} of a notebook's markdown answer cells ({} when unreadable)."""
    try:
        cells = json.loads(notebook_path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return {}
    answers = {}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if cell.get("cell_type") == "markdown" and meta.get("solution") and \
                isinstance(meta.get("grade_id"), str):
            source = cell.get("source", "")
            answers[meta["grade_id"]] = "".join(source) if isinstance(source, list) else source
    return answers


def written_answers(workdir, assignment, records):
    """Per written-answer cell nbgrader knows (the markdown grade cells of the gradebook):
    its points, how many students answered (not empty, changed from the released template)
    and how many of those formgrader has a score for so far; and how many formgrader
    comments exist. Read from the submitted notebooks and nbgrader's gradebook only."""
    if not workdir.db_path.exists():
        return {"cells": [], "comments": 0}
    from nbgrader.api import MissingEntry

    released = _first_notebook(workdir.release(assignment))
    template = _markdown_answers(released) if released else {}
    cells, comments = [], 0
    with open_gradebook(workdir) as gb:
        try:
            assignment_row = gb.find_assignment(assignment)
        except MissingEntry:
            return {"cells": [], "comments": 0}
        for notebook in assignment_row.notebooks:
            written = [c for c in notebook.grade_cells if c.cell_type == "markdown"]
            submitted = {}
            for student in records:
                path = workdir.submitted(student, assignment) / f"{notebook.name}.ipynb"
                submitted[student] = _markdown_answers(path) if path.is_file() else {}
            for cell in written:
                blank = template.get(cell.name, "").strip()
                answered = [s for s, answers in submitted.items()
                            if answers.get(cell.name, "").strip() not in ("", blank)]
                graded = 0
                for student in answered:
                    try:
                        grade = gb.find_grade(cell.name, notebook.name, assignment, student)
                    except MissingEntry:
                        continue
                    graded += grade.manual_score is not None
                cells.append({"name": cell.name, "points": float(cell.max_score or 0),
                              "answered": len(answered), "graded": graded})
            for submission in notebook.submissions:
                comments += sum(1 for c in submission.comments
                                if c.manual_comment and c.manual_comment.strip())
    return {"cells": cells, "comments": comments}
