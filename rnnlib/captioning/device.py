"""Device and run-profile selection for the torch labs.

* ``get_device()`` -- ``cuda`` when a CUDA device is available, otherwise ``cpu``.
* ``get_profile()`` -- ``"full"`` on CUDA, ``"smoke"`` elsewhere (a CPU-sized run for CI);
  the environment variable ``RNNLIB_PROFILE=smoke|full`` overrides the choice.
* ``seed_everything(seed)`` -- seeds Python, numpy and torch (all devices).
* ``setup(threads=2)`` -- all three at once, and the number of CPU threads torch uses.

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


def setup(seed: int = 0, threads: int = 2):
    """Pick the device and profile, seed everything, limit torch's CPU threads.

    Returns ``(device, profile)``."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    device = get_device()
    profile = get_profile(device)
    seed_everything(seed)
    return device, profile
