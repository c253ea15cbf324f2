"""A PNG of a dashboard page, taken by the system's headless Chromium (no Python browser
driver needed at run time): for `perfops demo`, and for anyone who wants a picture in a
report."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["find_chromium", "screenshot"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) on the PATH, or None."""
    return next((p for p in map(shutil.which, _NAMES) if p), None)


def screenshot(
    url: str,
    out: Path,
    *,
    chromium: str,
    width: int = 1400,
    height: int = 1000,
    wait_ms: int = 8000,
) -> bool:
    """Save ``url`` as a PNG at ``out`` after ``wait_ms`` of page time (its fetches and
    charts run meanwhile); True when the file was written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        f"--virtual-time-budget={wait_ms}",
        f"--screenshot={out}",
        url,
    ]
    try:
        subprocess.run(args, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.exists() and out.stat().st_size > 0
