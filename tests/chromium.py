"""Headless Chromium for the tests: where it is, and a page's DOM after its scripts have run.

Debian's ``chromium`` is what `.ci/run` installs; the other names are tried for machines that
have Chromium under another name. Playwright drives the same binary (``executable_path``),
since its own browser download is not reachable offline.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile

NAMES = ("chromium", "chromium-browser", "google-chrome")
# no first-run pages, no update checks, no background requests: the page's own requests only
QUIET = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find() -> str | None:
    """The path of the first of NAMES on PATH, or None."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def dump_dom(url: str, chromium: str | None = None, budget_ms: int = 10000) -> str:
    """The DOM of ``url`` once ``budget_ms`` of virtual time has passed (MathJax has typeset),
    from a throwaway profile."""
    chromium = chromium or find()
    assert chromium, "no headless Chromium here"
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [chromium, "--headless", *QUIET, f"--user-data-dir={profile}",
             f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
            capture_output=True, text=True, timeout=120).stdout
