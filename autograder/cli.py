"""``python -m autograder``: the instructor's command line.

    python -m autograder generate ASSIGNMENT
    python -m autograder grade ASSIGNMENT SUBMISSIONS [--jobs N] [--timeout S]
    python -m autograder grade ASSIGNMENT --remove STUDENT [STUDENT ...]   (undo)
        [--executor threads|dask --dask-local N | --dask-scheduler ADDRESS]
        [--shard i/S --records-only]   (then a plain `grade` collects the records)
    python -m autograder deadline ASSIGNMENT --due 2026-03-01T23:59+01:00
        [--penalty none|zero|P%/day|P%/hour] [--extensions FILE.csv] [--roster ROSTER.csv]
    python -m autograder feedback ASSIGNMENT [--from-nbgrader]
    python -m autograder export ASSIGNMENT --csv FILE [--format csv|canvas|moodle]
        [--roster ROSTER.csv] [--lms-assignment TITLE] [--feedback-zip FILE.zip]
    python -m autograder report ASSIGNMENT [--output FILE]

Every command takes ``--workdir DIR`` (default: ``grading/`` in the repository, which git
ignores), so several courses or terms can keep separate gradebooks.
"""

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path

from . import classreport, commands
from .assignments import ASSIGNMENTS, module_of
from .deadlines import PENALTY_HELP
from .executors import dask_executor
from .exports import FORMATS
from .sandbox import DEFAULT_LIMITS, grade_limits
from .workdir import Workdir, default_workdir


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Generate, grade, give feedback on and export the course's assignments.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workdir", default=None,
                        help="nbgrader course folder with the gradebook (default: "
                             f"{default_workdir()})")
    sub = parser.add_subparsers(dest="command", required=True)
    assignments = sorted(ASSIGNMENTS)

    p = sub.add_parser("generate", parents=[common],
                       help="make the student version in WORKDIR/release/ASSIGNMENT/")
    p.add_argument("assignment", choices=assignments)
    p.add_argument("--source", default=None,
                   help="folder that holds ASSIGNMENT/ (default: autograder/source)")

    p = sub.add_parser("grade", parents=[common],
                       help="grade a folder of <student_id>/<anything>.ipynb or an LMS zip")
    p.add_argument("assignment", choices=assignments)
    p.add_argument("submissions", nargs="?", default=None,
                   help="folder or .zip of submissions: <student_id>/ folders, flat files, "
                        "a Canvas or Moodle bulk download, or nbgrader's submitted/")
    p.add_argument("--remove", nargs="+", metavar="STUDENT", default=None,
                   help="undo: delete these students' grades of ASSIGNMENT (record, "
                        "autograded notebook, feedback, gradebook submission)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                   help="submissions graded at the same time (default: number of cores)")
    p.add_argument("--timeout", type=float, default=DEFAULT_LIMITS["timeout_seconds"],
                   help="wall-clock seconds per graded function (default %(default)s)")
    p.add_argument("--memory-mb", type=int, default=DEFAULT_LIMITS["memory_mb"],
                   help="address-space limit per graded function (default %(default)s)")
    p.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto",
                   help="auto: bubblewrap when it works, else limits only (NOT isolated)")
    p.add_argument("--force", action="store_true",
                   help="re-grade submissions that were graded before and did not change")
    p.add_argument("--executor", choices=["threads", "dask"], default="threads",
                   help="threads (default): this machine; dask: a Dask cluster")
    p.add_argument("--dask-local", type=int, default=None, metavar="N",
                   help="with --executor dask: a local cluster of N worker processes")
    p.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                   help="with --executor dask: an existing scheduler (tls://host:port)")
    p.add_argument("--shard", default=None, metavar="i/S",
                   help="grade only shard i of S (with --records-only; a Slurm job array)")
    p.add_argument("--records-only", action="store_true",
                   help="write records only; a later `grade` without --shard collects them")
    p.add_argument("--source", default=None, help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("deadline", parents=[common],
                       help="set the due date, late penalty and extensions (then applied by "
                            "grade, feedback and export)")
    p.add_argument("assignment", choices=assignments)
    p.add_argument("--due", required=True,
                   help="ISO 8601 with a time zone, e.g. 2026-03-01T23:59+01:00")
    p.add_argument("--penalty", default="none", help=PENALTY_HELP)
    p.add_argument("--extensions", help="CSV student_id,extension (e.g. s1,2d or s2,36h)")
    p.add_argument("--roster", help="class list CSV, so extensions may name students who "
                                    "are not graded yet")

    p = sub.add_parser("feedback", parents=[common],
                       help="one HTML page per student in WORKDIR/feedback/")
    p.add_argument("assignment", choices=assignments)
    p.add_argument("--from-nbgrader", action="store_true",
                   help="instead, make the pages of `nbgrader generate_feedback` render math "
                        "offline")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("export", parents=[common],
                       help="CSV: student id, points per graded function, total, max")
    p.add_argument("assignment", choices=assignments)
    p.add_argument("--csv", required=True, help="file to write")
    p.add_argument("--format", choices=FORMATS, default="csv", dest="fmt",
                   help="csv (ours), canvas (gradebook import), moodle (offline grading "
                        "worksheet)")
    p.add_argument("--roster", help="class list CSV: id[,name,lms_id,section,email]; "
                                    "enrolled students without a submission get a row")
    p.add_argument("--lms-assignment", help="Canvas column title, e.g. 'RNN BPTT (1234)'")
    p.add_argument("--feedback-zip", help="also zip the feedback pages the way Moodle's "
                                          "'upload multiple feedback files' expects")

    p = sub.add_parser("report", parents=[common],
                       help="one offline HTML page about the whole class, and a text summary")
    p.add_argument("assignment", choices=assignments)
    p.add_argument("--output", default=None,
                   help="page to write (default: WORKDIR/reports/ASSIGNMENT.html)")
    return parser


def _executor(args):
    """None (the thread pool) or a Dask executor, as the flags ask."""
    dask_flags = args.dask_local is not None or args.dask_scheduler is not None
    if args.executor == "threads":
        if dask_flags:
            raise ValueError("--dask-local and --dask-scheduler need --executor dask")
        return contextlib.nullcontext(None)
    return dask_executor(("autograder.grading", module_of(args.assignment)),
                         local_workers=args.dask_local, scheduler=args.dask_scheduler)


def quiet_library_warnings():
    """Filters for the warnings of the libraries under the commands, which an instructor can
    do nothing about and which would break up the progress bar: nbformat's complaints about
    the form of a student's notebook (a missing or duplicate cell id; the grader reads the
    cells by nbgrader's grade_id, never by cell id) and deprecation notices of nbgrader,
    traitlets and the rest (for the developers; pytest still shows them)."""
    from nbformat.warnings import DuplicateCellId, MissingIDFieldWarning
    for category in (MissingIDFieldWarning, DuplicateCellId, DeprecationWarning,
                     PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)


def main(argv=None):
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():  # the filters end with the command (tests call main)
        quiet_library_warnings()
        return _run(args)


def _run(args):
    workdir = Workdir(args.workdir or default_workdir())
    try:
        if args.command == "generate":
            commands.generate(workdir, args.assignment, source_root=args.source)
        elif args.command == "grade" and (args.remove is None) == (args.submissions is None):
            raise ValueError("grade takes SUBMISSIONS (a folder or zip to grade) or "
                             "--remove STUDENT ..., exactly one of them")
        elif args.command == "grade" and args.remove:
            commands.remove(workdir, args.assignment, args.remove)
        elif args.command == "grade" and (args.shard or args.records_only):
            if not (args.shard and args.records_only) or args.executor != "threads":
                raise ValueError("--shard i/S and --records-only go together, with the "
                                 "default --executor threads")
            commands.grade_shard(workdir, args.assignment, args.submissions, args.shard,
                                 jobs=args.jobs, sandbox=args.sandbox,
                                 limits=grade_limits(args.timeout, args.memory_mb),
                                 force=args.force)
        elif args.command == "grade":
            with _executor(args) as executor:
                commands.grade(workdir, args.assignment, args.submissions, jobs=args.jobs,
                               sandbox=args.sandbox,
                               limits=grade_limits(args.timeout, args.memory_mb),
                               force=args.force, progress=not args.quiet,
                               source_root=args.source, executor=executor)
        elif args.command == "deadline":
            commands.deadline(workdir, args.assignment, args.due, penalty=args.penalty,
                              extensions=args.extensions, roster=args.roster)
        elif args.command == "feedback" and args.from_nbgrader:
            commands.feedback_from_nbgrader(workdir, args.assignment)
        elif args.command == "feedback":
            commands.feedback(workdir, args.assignment, progress=not args.quiet)
        elif args.command == "export":
            commands.export(workdir, args.assignment, args.csv, fmt=args.fmt,
                            roster=args.roster, lms_assignment=args.lms_assignment,
                            feedback_zip=args.feedback_zip)
        elif args.command == "report":
            output = Path(args.output) if args.output else \
                workdir.root / "reports" / f"{args.assignment}.html"
            print(classreport.write_report(workdir, args.assignment, output))
            print(f"wrote {output}")
    except (RuntimeError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Every grade already recorded is safe (atomic records, one transaction per student
        # in the gradebook); leave at once instead of waiting for the running sandboxes.
        print("\ninterrupted: run the same command again to grade the rest", file=sys.stderr)
        sys.stderr.flush()
        os._exit(130)
    return 0
