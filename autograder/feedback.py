"""Autograded notebooks (for nbgrader's formgrader) and one feedback page per student.

The autograded notebook is the student's notebook with the instructor's locked cells put
back (as ``nbgrader autograde`` does) and, under each test cell, the grader's result for
that part as the cell's output. The feedback page shows a table of the parts (points,
hidden cases passed, the reason) and then that notebook. Everything the student's code
produced is escaped; math is typeset by a local MathJax 3 copy placed beside the page, so
the page works without internet.
"""

import copy
import html
import json
import os
import re
import shutil
from importlib import metadata
from pathlib import Path

import nbformat

from .notebooks import nbgrader_meta, read_notebook

MATHJAX_FILE = "tex-svg-full.js"
MATHJAX_CONFIG = """\
// MathJax 3 configuration for the feedback pages (written by python -m autograder feedback).
window.MathJax = {
  tex: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
        displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]], processEscapes: true},
  svg: {fontCache: "global"},
  options: {ignoreHtmlClass: "tex2jax_ignore"}
};
(function () {
  var script = document.createElement("script");
  script.src = document.currentScript.src.replace(/config\\.js(\\?.*)?$/, "%s");
  script.async = true;
  document.head.appendChild(script);
})();
""" % MATHJAX_FILE


def part_text(part):
    """The grader's result for one part, as plain text."""
    kind = "extra credit" if part.bonus else "points"
    lines = [f"{part.name}: {part.points:g} / {part.max_points:g} {kind} "
             f"({part.passed}/{part.cases} hidden cases correct)",
             f"  {part.reason}"]
    lines += [f"  note: {note}" for note in part.notes]
    return "\n".join(lines) + "\n"


def autograded_notebook(source_path, student_nb, record):
    """JSON text of the autograded notebook for one record."""
    source = read_notebook(source_path)
    locked = {nbgrader_meta(c).get("grade_id"): c for c in source.cells
              if nbgrader_meta(c).get("locked") and nbgrader_meta(c).get("grade_id")}
    if student_nb is None:
        nb = copy.deepcopy(source)
        for cell in nb.cells:
            if nbgrader_meta(cell).get("solution"):
                cell.source = "# (no readable submission)"
    else:
        nb = copy.deepcopy(student_nb)
    cells, seen = [], set()
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in locked and grade_id not in seen:
            cell = copy.deepcopy(locked[grade_id])
        if grade_id:
            seen.add(grade_id)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    # put back test cells the student deleted, after their solution cell (or at the end)
    for part in record.parts:
        test_id = f"test_{part.name}"
        if test_id in seen or test_id not in locked:
            continue
        position = next((i + 1 for i, c in enumerate(cells)
                         if nbgrader_meta(c).get("grade_id") == part.name), len(cells))
        cells.insert(position, copy.deepcopy(locked[test_id]))
    results = {f"test_{p.name}": p for p in record.parts}
    for cell in cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if cell.cell_type == "code" and grade_id in results:
            cell.outputs = [nbformat.v4.new_output(
                "stream", name="stdout", text="[autograder] " + part_text(results[grade_id]))]
    nb.cells = cells
    nb.metadata["autograder"] = {"total": record.total, "max": record.max}
    return nbformat.writes(nb)


# ----------------------------------------------------------------------------- mathjax
def find_mathjax():
    """Folder of a local MathJax 3 build that ships ``tex-svg-full.js``, or None."""
    try:
        files = metadata.files("sphinx-mathjax-offline") or []
        for entry in files:
            if str(entry).endswith("mathjax/" + MATHJAX_FILE):
                return Path(entry.locate()).parent
    except metadata.PackageNotFoundError:
        pass
    return None


def install_mathjax(folder, cache):
    """``folder/mathjax/{config.js, tex-svg-full.js}``, hard-linked from ``cache`` when
    possible so that a class of pages costs one copy on disk."""
    origin = find_mathjax()
    target = Path(folder) / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    (target / "config.js").write_text(MATHJAX_CONFIG, encoding="utf-8")
    if origin is None:
        return False
    cache = Path(cache)
    cached = cache / MATHJAX_FILE
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin / MATHJAX_FILE, cached)
    destination = target / MATHJAX_FILE
    if destination.exists():
        destination.unlink()
    try:
        os.link(cached, destination)
    except OSError:
        shutil.copyfile(cached, destination)
    return True


# ----------------------------------------------------------------------------- page
STYLE = """
<style>
.autograder-summary {max-width: 1100px; margin: 1.5em auto; padding: 1em 1.5em;
  font-family: system-ui, sans-serif; border: 1px solid #ccc; border-radius: 6px;}
.autograder-summary table {border-collapse: collapse; width: 100%;}
.autograder-summary th, .autograder-summary td {border-bottom: 1px solid #ddd;
  padding: 0.4em 0.6em; text-align: left; vertical-align: top;}
.autograder-summary .ok {color: #1a7f37;} .autograder-summary .bad {color: #b42318;}
.autograder-summary pre {white-space: pre-wrap; background: #f6f8fa; padding: 0.5em;
  max-height: 12em; overflow: auto;}
.autograder-summary .warning {color: #b42318; font-weight: bold;}
</style>
"""


def summary_html(record, late=None):
    """The summary table; ``late`` (a deadlines.Lateness) adds the deadline sentence and
    takes the penalty off the total, as the export does."""
    e = html.escape
    rows = []
    for part in record.parts:
        cls = "ok" if part.full_marks else "bad"
        notes = "".join(f"<br><small>{e(n)}</small>" for n in part.notes)
        output = (f"<details><summary>printed output</summary><pre>{e(part.output)}</pre>"
                  "</details>" if part.output else "")
        label = " (extra credit)" if part.bonus else ""
        rows.append(
            f"<tr><td><code>{e(part.name)}</code>{label}</td>"
            f"<td class='{cls}'>{part.points:g} / {part.max_points:g}</td>"
            f"<td>{part.passed} / {part.cases}</td>"
            f"<td>{e(part.reason)}{notes}{output}</td></tr>")
    notes = "".join(f"<li>{e(n)}</li>" for n in record.notes)
    warning = ""
    if not record.sandbox.get("isolated", True):
        warning = ("<p class='warning'>Graded without isolation (bubblewrap was not "
                   "available).</p>")
    return (
        f"<div class='autograder-summary tex2jax_ignore'>"
        f"<h1>Feedback: {e(record.assignment)}</h1>"
        f"<p>Student <code>{e(record.student)}</code>. Total "
        f"<strong>{_after_penalty(record, late):g} / {record.max:g}</strong>"
        + (bonus_sentence(record) if record.bonus else ".")
        + f" Graded {e(record.graded_at)}.</p>"
        + (f"<p class='late'>{e(late_sentence(record, late))}</p>" if late else "")
        + f"<p>{e(cases_sentence(record))} The inputs are drawn afresh on every grading run, "
        "but a correct function is correct on any input, so it gets full marks on every "
        "run. A part's points are shared equally among its cases: a partial score means "
        "some cases gave a wrong result (the last column says where), and it earns that "
        "share of the points. A function that fails only because another graded function "
        "it uses is wrong is graded again with the instructor's version of that function "
        "and keeps the points its own code earns; its result names the function to fix.</p>"
        "<table><tr><th>function</th><th>points</th><th>hidden cases</th>"
        f"<th>result</th></tr>{''.join(rows)}</table>"
        + (f"<ul>{notes}</ul>" if notes else "") + warning + "</div>")


def _after_penalty(record, late):
    return round(record.total - (late.penalty if late else 0.0), 4)


def late_sentence(record, late):
    """The deadline, how late, the penalty and the total before it."""
    text = late.sentence()
    if late.penalty:
        text += f" Total before the penalty: {record.total:g} / {record.max:g}."
    return text


def bonus_sentence(record):
    """The extra credit, said so that it reads as points gained, not lost (#20)."""
    return (f", with {record.bonus:g} points of extra credit added (extra credit makes up "
            f"for points lost elsewhere; the total never exceeds {record.max:g}).")


def cases_sentence(record):
    """How many hidden cases each graded function was run on."""
    counts = ", ".join(f"{p.name} {p.cases}" for p in record.parts)
    return ("Each graded function was run on hidden test cases and compared with the "
            "course's reference implementation" + (f" (cases per function: {counts})."
                                                   if counts else "."))


_EXPORTER = []
REMOTE_SCRIPT = re.compile(r"<script[^>]*\ssrc=[\"']https?://[^>]*>\s*</script>", re.I)
MODULE_SCRIPT = re.compile(r"<script type=\"module\">.*?</script>", re.S)


def _exporter():
    if not _EXPORTER:
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(template_name="lab", mathjax_url="mathjax/config.js")
        exporter.exclude_input_prompt = True
        exporter.exclude_output_prompt = True
        _EXPORTER.append(exporter)
    return _EXPORTER[0]


SAFE_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div",
             "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li",
             "ol", "p", "pre", "span", "strong", "sub", "summary", "sup", "table", "tbody",
             "td", "th", "thead", "tr", "ul"}
SAFE_ATTRIBUTES = {"a": ["href", "title", "class"], "img": ["src", "alt", "title"],
                   "th": ["align"], "td": ["align"],
                   **{f"h{k}": ["id"] for k in range(1, 7)}}


def safe_html(cell):
    """A markdown or raw cell (which a student may have written) as sanitized HTML: raw
    HTML such as ``<script>``, event handlers and ``javascript:`` links is shown as text or
    dropped, while the markdown formatting and the math (typeset later by MathJax) stay."""
    import bleach
    from nbconvert.filters.markdown import markdown2html_mistune

    if cell.cell_type == "markdown":
        rendered = markdown2html_mistune(cell.source)
    else:
        rendered = "<pre>" + html.escape(cell.source) + "</pre>"
    return bleach.clean(rendered, tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES,
                        protocols={"http", "https", "mailto"}, strip=False)


def strip_remote_scripts(page):
    """Remove the template's scripts that would be fetched from the internet (require.js,
    mermaid): the feedback needs neither, and it must work offline."""
    page = REMOTE_SCRIPT.sub("", page)
    return MODULE_SCRIPT.sub(lambda m: "" if "https://" in m.group(0) else m.group(0), page)


def render_page(autograded_path, record, late=None):
    """Full HTML of one student's feedback page."""
    exporter = _exporter()
    if autograded_path is not None and Path(autograded_path).exists():
        nb = read_notebook(autograded_path)
    else:
        nb = nbformat.v4.new_notebook()
    # Markdown and raw cells (which a student may have written) are rendered and sanitized
    # here; the template only sees a placeholder that is replaced afterwards.
    sanitized = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type in ("markdown", "raw"):
            token = f"AUTOGRADERCELL{index:06d}X"
            sanitized[token] = safe_html(cell)
            nb.cells[index] = nbformat.v4.new_markdown_cell(token)
    body, _ = exporter.from_notebook_node(nb)
    for token, fragment in sanitized.items():
        body = re.sub(rf"<p>\s*{token}\s*</p>|{token}",
                      lambda _m, fragment=fragment: fragment, body, count=1)
    body = strip_remote_scripts(body)
    summary = STYLE + summary_html(record, late)
    marker = body.find("<body")
    if marker >= 0:
        end = body.find(">", marker) + 1
        body = body[:end] + summary + body[end:]
    else:
        body = summary + body
    return body


REMOTE_MATHJAX = re.compile(r"<script[^>]*\ssrc=[\"']https?://[^\"']*mathjax[^>]*>\s*</script>",
                            re.I)
LOCAL_MATHJAX = '<script src="mathjax/config.js"></script>'


def localize_page(page, cache):
    """Make a page another program wrote (nbgrader's ``generate_feedback``, which loads
    MathJax 2 from a CDN and removes the folder beside the page) typeset its math offline:
    the remote MathJax becomes our local copy, installed beside the page, and other remote
    scripts go. Returns whether the page changed."""
    page = Path(page)
    text = page.read_text(encoding="utf-8")
    changed = REMOTE_MATHJAX.sub(LOCAL_MATHJAX, text)
    if LOCAL_MATHJAX not in changed and 'src="mathjax/config.js"' not in changed:
        head = changed.find("</head>")
        changed = changed[:head] + LOCAL_MATHJAX + changed[head:] if head >= 0 \
            else LOCAL_MATHJAX + changed
    changed = strip_remote_scripts(changed)
    install_mathjax(page.parent, cache)
    if changed != text:
        page.write_text(changed, encoding="utf-8")
    return changed != text


def localize_feedback(workdir, assignment):
    """Every feedback page of ``assignment`` under WORKDIR/feedback/, made to render math
    offline (see localize_page); returns the pages."""
    cache = workdir.root / "feedback" / ".mathjax"
    pages = sorted((workdir.root / "feedback").glob(f"*/{assignment}/*.html"))
    for page in pages:
        localize_page(page, cache)
    return pages


def write_feedback(workdir, assignment, notebook_name, records, progress=None, lateness=None):
    """One page per record (``lateness``: {student: deadlines.Lateness}); returns the
    list of pages written."""
    lateness = lateness or {}
    pages = []
    cache = workdir.root / "feedback" / ".mathjax"
    for record in records:
        student = record.student
        folder = workdir.feedback(student, assignment)
        folder.mkdir(parents=True, exist_ok=True)
        install_mathjax(folder, cache)
        autograded = workdir.autograded(student, assignment) / f"{notebook_name}.ipynb"
        page = folder / f"{notebook_name}.html"
        page.write_text(render_page(autograded, record, lateness.get(student)),
                        encoding="utf-8")
        data = record.to_dict()
        (folder / "result.json").write_text(json.dumps(
            {k: data[k] for k in ("student", "assignment", "total", "max", "parts")},
            indent=1), encoding="utf-8")
        pages.append(page)
        if progress is not None:
            progress.update(1)
    return pages
