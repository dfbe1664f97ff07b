"""Device and run-profile selection for the torch labs (re-exported from the captioning package).

The functions are those of :mod:`rnnlib.captioning.device`.

The module lives with the labs that use it; ``import rnnlib.device`` and
``from rnnlib.device import setup`` keep working. Importing it before torch still makes
torch's OpenMP threads wait passively: the captioning package imports its ``device`` module
before any module that imports torch.
"""

from .captioning.device import (
    MAX_THREADS_ENV,
    PROFILE_ENV,
    PROFILES,
    get_device,
    get_profile,
    max_threads,
    seed_everything,
    setup,
)

__all__ = ["MAX_THREADS_ENV", "PROFILES", "PROFILE_ENV", "get_device", "get_profile",
           "max_threads", "seed_everything", "setup"]
