"""Former name of ``notebooks``: kept so that code written against grader 1.0 keeps
importing."""

from .notebooks import (  # noqa: F401
                        MAGIC_LINE,
                        MAX_NOTEBOOK_BYTES,
                        SourceAssignment,
                        helper_module_source,
                        is_bonus,
                        load_source,
                        nbgrader_meta,
                        notebook_digest,
                        read_notebook,
                        solution_cells,
                        strip_magics,
)
