"""The course's nbgrader assignments and the instructor's grader, ``python -m autograder``.

Commands: ``generate`` (student version), ``grade`` (a folder or zip of submissions, scored
outside the students' processes, in a sandbox), ``feedback`` (one HTML page per student) and
``export`` (CSV). See book/instructor_guide.md.
"""

__version__ = "1.0.0"
