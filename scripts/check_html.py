"""Check that an HTML report renders: headless Chromium loads it, runs its scripts, and shows test results."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--virtual-time-budget=15000"]


def check_rendered(index: Path, screenshot: Path) -> str:
    """A one-line verdict: rendered (with what it showed) or why not."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return f"{index} (not checked: chromium is not installed)"
    with tempfile.TemporaryDirectory() as profile:
        base = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run([*base, "--dump-dom", index.resolve().as_uri()], capture_output=True, text=True,
                             timeout=120).stdout
        subprocess.run([*base, f"--screenshot={screenshot}", "--window-size=1280,900", index.resolve().as_uri()],
                       capture_output=True, timeout=120)
    # Allure's page is built by script: these only exist once it ran and read the results.
    if "test cases" not in dom.lower() and "testcases" not in dom.lower():
        return f"{index} did NOT render its results in headless Chromium (DOM {len(dom)} bytes)"
    return f"{index} renders in headless Chromium (screenshot {screenshot})"
