"""The most similar pairs of graded cells across students, for the class report.

The comparison is copydetect's (winnowed k-gram fingerprints over code whose identifiers and
literals are normalised by its tokenizer), with the released template's fingerprints passed
as boilerplate, so the code every student was given does not count as shared. The stdlib
alternative, ``difflib.SequenceMatcher`` on the raw text, was considered and not chosen: it
has no boilerplate removal (the template would make every pair look alike), a renamed
variable breaks its matches, and it is quadratic per pair in the text length.

Only the solution cells of the graded functions (nbgrader ``grade_id`` = part name) are read,
from each student's submitted notebook in the work folder.
"""

import io
import itertools
import json

NOISE = 25       # copydetect's k: shortest match that counts, in normalised characters
WINDOW = 1       # winnowing window; 1 keeps every k-gram (classes are small)


def graded_code(notebook_path, part_names):
    """The source of the graded cells of one notebook, in the parts' order ("" if none)."""
    try:
        cells = json.loads(notebook_path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return ""
    by_id = {}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if cell.get("cell_type") == "code" and meta.get("grade_id") in part_names:
            source = cell.get("source", "")
            by_id[meta["grade_id"]] = "".join(source) if isinstance(source, list) else source
    return "\n".join(by_id.get(name, "") for name in part_names)


def _fingerprint(code, boilerplate):
    from copydetect import CodeFingerprint
    return CodeFingerprint("cells.py", NOISE, WINDOW, boilerplate=boilerplate,
                           fp=io.StringIO(code))


def similar_pairs(codes, template="", top=10):
    """``[(similarity, student_a, student_b)]``, most similar first, from ``{student: code}``;
    similarity is the smaller of the two sides' shared fraction (0..1), template excluded."""
    boilerplate = sorted(_fingerprint(template, []).hashes) if template.strip() else []
    prints = {}
    for student, code in sorted(codes.items()):
        if code.strip():
            fingerprint = _fingerprint(code, boilerplate)
            if fingerprint.token_coverage:
                prints[student] = fingerprint
    from copydetect import compare_files
    from tqdm import tqdm
    pairs = []
    count = len(prints) * (len(prints) - 1) // 2
    # a bar only when the pairs take seconds (~0.2 ms a pair); "disable" is passed only to
    # hide it, since an explicit value would override the TQDM_DISABLE the user set
    quiet = {"disable": True} if count < 5000 else {}
    for a, b in tqdm(itertools.combinations(sorted(prints), 2), total=count, unit="pair",
                     desc="similarity", dynamic_ncols=True, **quiet):
        _, (sim_a, sim_b), _ = compare_files(prints[a], prints[b])
        pairs.append((round(float(min(sim_a, sim_b)), 4), a, b))
    pairs.sort(key=lambda pair: (-pair[0], pair[1], pair[2]))
    return pairs[:top]
