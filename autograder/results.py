"""Former name of ``scoring`` (and of ``record.PartResult``, ``spec.compare``): kept so that
code written against grader 1.0 keeps importing."""

from .record import PartResult  # noqa: F401
from .scoring import MAX_ELEMENTS, MAX_TEXT, group_frames, rebuild_arrays, score_part  # noqa: F401
from .spec import compare  # noqa: F401
