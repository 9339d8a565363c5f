"""Run the suite once per implementation/mode pair, then build the HTML reports.

    python -m scripts.run_conformance [--runs reference:flag,upstream:explicit] [pytest args...]

Each run is its own pytest process (its own cluster), writing
reports/<implementation>-<mode>/: conformance-report.yaml, junit.xml,
allure-results/, html/ (Allure, single file) and a screenshot of it.
Exit status: 0 when every run finished without a failed test, else 1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = "reference:flag,upstream:explicit"


def allure_bin() -> Path | None:
    cache = Path(os.environ.get("ROLLOUTS_CONFORMANCE_CACHE", Path.home() / ".cache" / "rollouts-conformance"))
    path = cache / "npm" / "node_modules" / ".bin" / "allure"
    return path if path.exists() else None


def html_report(run_dir: Path) -> str:
    allure = allure_bin()
    if allure is None:
        return "no HTML: allure-commandline is not installed (scripts/setup --html)"
    out = run_dir / "html"
    res = subprocess.run([str(allure), "generate", "--clean", "--single-file", str(run_dir / "allure-results"),
                          "-o", str(out)], capture_output=True, text=True)
    if res.returncode != 0:
        return f"allure generate failed: {res.stderr.strip()[-300:]}"
    from scripts.check_html import check_rendered

    return check_rendered(out / "index.html", run_dir / "html" / "screenshot.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"implementation:mode pairs (default {DEFAULT_RUNS})")
    parser.add_argument("--report-dir", type=Path, default=REPO / "reports")
    args, pytest_args = parser.parse_known_args()
    failed = False
    lines = []
    for pair in args.runs.split(","):
        impl, _, mode = pair.partition(":")
        run_dir = args.report_dir / f"{impl}-{mode or 'flag'}"
        print(f"\n=== conformance run: implementation={impl} labelling-mode={mode or 'flag'} ===", flush=True)
        t0 = time.monotonic()
        cmd = [sys.executable, "-m", "pytest", "suites", "-v",
               # progress: waits and start-up log as they happen
               "-o", "log_cli=true", "-o", "log_cli_level=INFO", "-o", "log_cli_format=%(asctime)s %(message)s",
               f"--implementation={impl}", f"--labelling-mode={mode or 'flag'}", f"--report-dir={args.report_dir}",
               f"--alluredir={run_dir / 'allure-results'}", "--clean-alluredir",
               f"--junitxml={run_dir / 'junit.xml'}", *pytest_args]
        rc = subprocess.call(cmd, cwd=REPO)
        took = time.monotonic() - t0
        failed |= rc != 0
        report = run_dir / "conformance-report.yaml"
        if report.exists():
            doc = yaml.safe_load(report.read_text())
            verdicts = ", ".join(f"{p['name']}={p['result']}" for p in doc["profiles"])
            lines.append(f"{impl}-{mode}: {verdicts} ({took:.0f}s, pytest exit {rc})")
        else:
            lines.append(f"{impl}-{mode}: no report written (pytest exit {rc})")
        lines.append(f"  html: {html_report(run_dir)}")
    summary = "\n".join(lines)
    (args.report_dir / "summary.txt").write_text(summary + "\n")
    print("\n=== summary ===\n" + summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
