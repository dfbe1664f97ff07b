# nbgrader configuration of the course. `python -m autograder generate` copies this file into
# the work folder (default ./grading/), which is nbgrader's course root, so that nbgrader's own
# commands (formgrader, generate_feedback, export, autograde) also work from there.
c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "rnn-course"
# The course root is the folder that holds this file; the database sits beside it.
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Only for nbgrader's own `nbgrader autograde` (the course's grader does not start kernels).
c.ExecutePreprocessor.timeout = 120

# Feedback pages must render math without internet: MathJax is served from a local copy that
# `python -m autograder feedback` places beside the pages (see book/instructor_guide.md).
c.HTMLExporter.mathjax_url = "mathjax/config.js"
