"""What the LMSs and nbgrader write into the names of the files they hand over.

Looked up, not guessed:

- **Canvas** "Download Submissions" names every file
  ``<name>[_LATE]_<user id>_<submission id>_<file as uploaded>``, where ``<name>`` is the
  student's sortable name lower-cased with everything but letters and digits removed
  (``andersalice``), ``_LATE`` marks a hand-in after the due date, and a file uploaded again
  under the same name gets ``-1``, ``-2`` ... before its extension (``rnn_bptt-1.ipynb``).
  For a group assignment the name part is the group's (or the submitter's) name; the ids
  are those of the member who submitted. (Canvas Community guides on downloading
  submissions; TimHanneman/Canvas_submission_sort, README.) The name carries no time.
- **Moodle** "Download all submissions" (mod/assign/locallib.php, ``download_submissions``)
  prefixes each file with ``<group>-<full name>_<participant id>_`` where underscores in the
  name become spaces and ``<group>-`` is present only for team submissions (``Default
  group-`` when the student has none); then comes ``assignsubmission_file_`` and the file
  name. With "download submissions in folders" the prefix plus ``assignsubmission_file_`` is
  a folder holding the files as uploaded. With blind marking the name is ``Participant``.
  The participant id is Moodle's per-assignment pseudonym (the one its grading worksheet
  uses as ``Participant 5550000``), not the user id. The name carries no time.
- **nbgrader** ``collect`` writes ``submitted/<student>/<assignment>/timestamp.txt``, one
  line in the exchange's ``timestamp_format`` (default ``%Y-%m-%d %H:%M:%S.%f %Z``); nbgrader
  reads it back with ``nbgrader.utils.parse_utc`` (``CourseDirectory.get_existing_timestamp``),
  which is what ``read_nbgrader_timestamp`` calls, so both agree on every format.
"""

import re
from dataclasses import dataclass
from datetime import timezone

# the late marker is matched in either case: scripts that parse these names disagree on it
CANVAS = re.compile(r"^(?P<name>[^_]+?)(?P<late>_(?:LATE|late))?_(?P<user>\d+)_(?P<sub>\d+)_"
                    r"(?P<file>.+)$")
MOODLE_FILE = re.compile(r"^(?P<name>.+)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_"
                         r"(?P<file>.+)$")
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
# "rnn_bptt-2.ipynb" (Canvas) or "rnn_bptt (2).ipynb" (a browser that downloaded it twice)
RESUBMITTED = re.compile(r"^(?P<base>.*?)(?:-(?P<dash>\d+)| \((?P<paren>\d+)\))$")


@dataclass
class LmsName:
    """Who an LMS file or folder name says handed it in."""
    lms_id: str
    display_name: str
    file: str = ""        # the file name as uploaded ("" for a Moodle folder)
    late: bool = False
    layout: str = ""      # canvas, moodle


def parse_canvas(name):
    """The LmsName of a Canvas bulk-download file name, or None."""
    match = CANVAS.match(name)
    if match is None:
        return None
    return LmsName(lms_id=match["user"], display_name=match["name"], file=match["file"],
                   late=bool(match["late"]), layout="canvas")


def parse_moodle(name, folder=False):
    """The LmsName of a Moodle bulk-download file (or, with ``folder``, folder) name, or
    None. The display name keeps a team's ``<group>-`` prefix: a hyphen may also be part of
    a person's name, so it cannot be split off safely."""
    match = (MOODLE_FOLDER if folder else MOODLE_FILE).match(name)
    if match is None:
        return None
    return LmsName(lms_id=match["pid"], display_name=match["name"].strip(),
                   file="" if folder else match["file"], layout="moodle")


def split_resubmission(stem):
    """(base stem, resubmission number): "rnn_bptt-2" -> ("rnn_bptt", 2); 0 when none."""
    match = RESUBMITTED.match(stem)
    if match is None:
        return stem, 0
    return match["base"], int(match["dash"] or match["paren"])


def read_nbgrader_timestamp(path):
    """ISO 8601 UTC time of an nbgrader ``timestamp.txt``; raise ValueError when unreadable."""
    from nbgrader.utils import parse_utc

    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if not text:
        raise ValueError(f"{path} is empty")
    try:
        moment = parse_utc(text)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{path}: {text[:60]!r} is not a time nbgrader reads ({exc})") \
            from None
    return moment.replace(tzinfo=timezone.utc).isoformat(timespec="seconds")
