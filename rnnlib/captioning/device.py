"""Device and run-profile selection for the torch labs.

* ``get_device()`` -- ``cuda`` when a CUDA device is available, otherwise ``cpu``.
* ``get_profile()`` -- ``"full"`` on CUDA, ``"smoke"`` elsewhere (a CPU-sized run for CI);
  the environment variable ``RNNLIB_PROFILE=smoke|full`` overrides the choice.
* ``seed_everything(seed)`` -- seeds Python, numpy and torch (all devices).
* ``setup(threads=2)`` -- all three at once, and the number of CPU threads torch uses;
  ``RNNLIB_MAX_THREADS=n`` caps that number (``make book`` sets it when it runs several
  notebooks at once, so that their kernels do not oversubscribe the cores).

torch is imported inside the functions, so ``import rnnlib`` never needs torch.

Importing this module before torch also sets ``OMP_WAIT_POLICY=PASSIVE`` (unless it is set
already): torch's OpenMP threads then sleep between parallel regions instead of spinning. On a
machine shared with other processes, spinning threads of the small LSTM operations of the labs
were measured to run ten times slower with two threads than with one; passive waiting removes
that. OpenMP reads the variable when torch is loaded, so later imports cannot change it.
"""

from __future__ import annotations

import os
import random
import sys

if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PROFILES = ("smoke", "full")
PROFILE_ENV = "RNNLIB_PROFILE"
MAX_THREADS_ENV = "RNNLIB_MAX_THREADS"


def get_device(prefer: str | None = None):
    """``torch.device("cuda")`` if available, else ``cpu``; ``prefer="cpu"`` forces the CPU."""
    import torch

    if prefer not in (None, "cpu", "cuda"):
        raise ValueError(f"prefer: expected None, 'cpu' or 'cuda', got {prefer!r}")
    if prefer == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if prefer == "cuda":
        raise RuntimeError("prefer='cuda' but torch sees no CUDA device")
    return torch.device("cpu")


def get_profile(device=None) -> str:
    """``RNNLIB_PROFILE`` if set, else ``"full"`` when ``device`` (default: ``get_device()``)
    is CUDA, else ``"smoke"``."""
    override = os.environ.get(PROFILE_ENV, "").strip().lower()
    if override:
        if override not in PROFILES:
            raise ValueError(f"{PROFILE_ENV}: expected one of {PROFILES}, got {override!r}")
        return override
    if device is None:
        device = get_device()
    return "full" if getattr(device, "type", str(device)) == "cuda" else "smoke"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's legacy global generator and torch (CPU and CUDA)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def max_threads():
    """The cap ``RNNLIB_MAX_THREADS`` puts on torch's CPU threads, or None when unset."""
    text = os.environ.get(MAX_THREADS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{MAX_THREADS_ENV}: expected a whole number of threads >= 1, "
                         f"got {text!r}")
    return int(text)


def setup(seed: int = 0, threads: int = 2):
    """Pick the device and profile, seed everything, limit torch's CPU threads.

    ``threads`` is capped by ``RNNLIB_MAX_THREADS`` when that is set: two notebooks running
    side by side on two cores with two threads each were measured 18% slower (captioning
    lab 1: 137 s each) than with one thread each (112 s).

    Returns ``(device, profile)``."""
    import torch

    cap = max_threads()
    if threads and cap is not None:
        threads = min(threads, cap)
    if threads:
        torch.set_num_threads(threads)
    device = get_device()
    profile = get_profile(device)
    seed_everything(seed)
    return device, profile
