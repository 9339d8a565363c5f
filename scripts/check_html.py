"""Check that an HTML report renders: headless Chromium loads it, runs its scripts, and shows test results.

Used for Allure's single-file report (built by script: its results exist only
once the script ran) and for the conformance summary page (static: its
verdicts table must be in the DOM).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--virtual-time-budget=15000"]
# What Allure's page shows once its script rendered the results (singular for a one-test run).
ALLURE_RENDERED = ("test case", "testcases")  # "1 test case", "12 test cases"


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(index: Path, screenshot: Path | None = None) -> str:
    """The page's DOM after its scripts ran (and a screenshot), from headless Chromium."""
    browser = chromium()
    if browser is None:
        raise FileNotFoundError("chromium is not installed")
    with tempfile.TemporaryDirectory() as profile:
        base = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run([*base, "--dump-dom", index.resolve().as_uri()], capture_output=True, text=True,
                             timeout=120).stdout
        if screenshot is not None:
            subprocess.run([*base, f"--screenshot={screenshot.resolve()}", "--window-size=1280,900",
                            index.resolve().as_uri()], capture_output=True, timeout=120)
    return dom


def check_rendered(index: Path, screenshot: Path, expect: str | None = None) -> str:
    """A one-line verdict: rendered (with what it showed) or why not. `expect`: text the DOM must hold
    (default: Allure's rendered results)."""
    if chromium() is None:
        return f"{index} (not checked: chromium is not installed)"
    dom = dump_dom(index, screenshot)
    wanted = (expect,) if expect else ALLURE_RENDERED
    if not any(w.lower() in dom.lower() for w in wanted):
        return f"{index} did NOT render its results in headless Chromium (DOM {len(dom)} bytes)"
    return f"{index} renders in headless Chromium (screenshot {screenshot})"
