"""The grader's written schema: ``PartResult`` (one graded function) and ``Record`` (one
submission), read by attribute by every consumer (feedback, gradebook, export, summary).

The only computation here is the total rule: normal points plus extra credit, capped at the
assignment's maximum (``capped_total``). A record is stored as JSON
(``results/<assignment>/<student>.json``) with a ``schema`` number; records written before
the schema had a number (the grader 1.0 dicts) hold the same fields and are read as well.
"""

import json
from dataclasses import asdict, dataclass, field, fields

SCHEMA_VERSION = 3
# 1: the dict records of grader 1.0, same fields, no "schema"; 3 adds where the submission
# came from (display_name ... layout), absent and empty in older records
READABLE_SCHEMAS = (1, 2, 3)


def capped_total(normal, bonus, maximum):
    """The total of a submission: normal points plus extra credit, capped at the maximum."""
    return min(maximum, normal + bonus)


@dataclass
class PartResult:
    name: str
    max_points: float
    points: float = 0.0
    passed: int = 0
    cases: int = 0
    reason: str = ""
    notes: list = field(default_factory=list)
    output: str = ""
    bonus: bool = False
    student_seconds: float = 0.0

    @property
    def full_marks(self):
        return self.points >= self.max_points

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Record:
    """Everything recorded about the grading of one submission."""
    student: str
    assignment: str
    max: float = 0.0
    parts: list = field(default_factory=list)          # PartResult, in the parts' order
    status: str = "graded"     # graded, no notebook, unreadable, wrong assignment, grader error
    key: str = ""              # grader fingerprint, sandbox mode, source and notebook digests
    grader: str = ""           # the grader fingerprint
    notes: list = field(default_factory=list)
    sandbox: dict = field(default_factory=dict)        # {"mode": ..., "isolated": ...}
    notebook_digest: str = ""
    started: float = 0.0
    finished: float = 0.0
    seconds: float = 0.0
    student_seconds: float = 0.0
    graded_at: str = ""
    # where the submission came from (copied from the Submission; see submissions.py)
    display_name: str = ""
    lms_id: str = ""
    late: bool = False
    submitted_at: str = ""
    original_name: str = ""
    layout: str = ""

    @property
    def bonus(self):
        """Extra credit earned (before the cap)."""
        return round(sum(p.points for p in self.parts if p.bonus), 4)

    @property
    def total(self):
        normal = sum(p.points for p in self.parts if not p.bonus)
        bonus = sum(p.points for p in self.parts if p.bonus)
        return round(capped_total(normal, bonus, self.max), 4)

    def problems(self):
        """The parts that did not get full marks."""
        return [p for p in self.parts if not p.full_marks]

    def to_dict(self):
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["parts"] = [p.to_dict() for p in self.parts]
        data["bonus"] = self.bonus
        data["total"] = self.total
        data["schema"] = SCHEMA_VERSION
        return data

    def to_json(self):
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data):
        """A Record from its JSON form; raise ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("a record is a JSON object")
        schema = data.get("schema", 1)
        if schema not in READABLE_SCHEMAS:
            raise ValueError(f"record schema {schema!r} is not one this grader reads "
                             f"({READABLE_SCHEMAS})")
        try:
            parts = [PartResult.from_dict(p) for p in data.get("parts", [])]
            known = {f.name for f in fields(cls)} - {"parts"}
            return cls(parts=parts, **{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise ValueError(f"not a grading record: {exc}") from None

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))
