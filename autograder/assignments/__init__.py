"""The assignments the grader knows: one module per assignment, found by discovery.

A module ``autograder/assignments/<name>.py`` defines ``PARTS``, a tuple of
``autograder.spec.Part`` (each with its input maker and its reference), and goes with one
source notebook ``autograder/source/<name>/<name>.ipynb``. Nothing else has to be told about
a new assignment: ``ASSIGNMENTS`` is built from the modules of this package (and of any
folder appended to its ``__path__``) when it is first imported.
"""

import importlib
import pkgutil

from ..spec import Part


def discover():
    """``{assignment name: parts}`` from every public module of this package."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        parts = getattr(module, "PARTS", None)
        if not isinstance(parts, tuple) or not parts \
                or not all(isinstance(part, Part) for part in parts):
            raise TypeError(f"{module.__name__} must define PARTS, a non-empty tuple of "
                            "autograder.spec.Part")
        names = [part.name for part in parts]
        if len(set(names)) != len(names):
            raise ValueError(f"{module.__name__}: two parts have the same name")
        found[info.name] = parts
    return found


ASSIGNMENTS = discover()


def parts_of(assignment):
    try:
        return ASSIGNMENTS[assignment]
    except KeyError:
        raise KeyError(f"unknown assignment {assignment!r}; the grader knows "
                       f"{', '.join(sorted(ASSIGNMENTS))}") from None


def module_of(assignment):
    """Name of the module that defines ``assignment`` (its parts' makers and references)."""
    return parts_of(assignment)[0].reference.__module__
