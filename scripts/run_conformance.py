"""Run the suite once per implementation/mode pair, then build the HTML reports.

    rollouts-conformance run [--runs reference:flag,upstream:explicit] [--report-dir DIR] [pytest/suite options...]
    python -m scripts.run_conformance ...            (the same, from a checkout)

Each run is its own pytest process (its own cluster), writing
<report-dir>/<implementation>-<mode>/: conformance-report.yaml,
conformance-summary.html, junit.xml, allure-results/, html/ (Allure, single
file) and screenshots of both pages. Every other option (--claim, --submit,
--backend, --options-file, --timeout-*, ...) goes to each pytest run.

Exit status (docs/report.md), the worst of the runs': 0 every claimed profile
succeeded; 1 a claimed profile was not met; 2 usage error (bad option, bad
options file, unknown profile); 3 infrastructure (the backend could not be
set up, or a test failed on it rather than on the implementation). Without
--claim no profile decides it. A failing run ends with one line naming the
problem on stderr.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NoReturn

import yaml

from fixtures.local.process import die_with_parent
from fixtures.report.aggregate import verdict
from fixtures.report.model import EXIT_CLAIM_NOT_MET, EXIT_INFRASTRUCTURE, EXIT_OK, EXIT_USAGE, worst_exit
from fixtures.report.writers import atomic_write
from fixtures.spec import LABELLING_MODES

ROOT = Path(__file__).resolve().parents[1]
# From a checkout pytest reads pyproject.toml and conftest.py; an installed copy has neither and runs with
# suites/conformance.ini and the plugins' entry point.
CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "conftest.py").is_file()
DEFAULT_RUNS = "reference:flag,upstream:explicit"
INTERRUPTED = 130


class UsageError(Exception):
    """Bad driver arguments: one line, exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


@dataclass
class RunResult:
    run: str
    exit: int
    pytest_exit: int
    seconds: float
    problem: str = ""
    verdicts: str = ""
    html: str = ""
    summary_html: str = ""


def cache_dir() -> Path:
    return Path(os.environ.get("ROLLOUTS_CONFORMANCE_CACHE", Path.home() / ".cache" / "rollouts-conformance"))


def allure_bin() -> Path | None:
    path = cache_dir() / "npm" / "node_modules" / ".bin" / "allure"
    if path.exists():
        return path
    found = shutil.which("allure")
    return Path(found) if found else None


def html_report(run_dir: Path) -> str:
    """Allure's report as one file (html/index.html), checked in headless Chromium; its history kept beside."""
    allure = allure_bin()
    results = run_dir / "allure-results"
    if allure is None:
        return "no Allure HTML: allure-commandline is not installed (scripts/setup --html)"
    if not results.is_dir():
        return "no Allure HTML: no allure-results"
    out = run_dir / "html"
    res = subprocess.run([str(allure), "generate", "--clean", "--single-file", str(results), "-o", str(out)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        return f"allure generate failed: {res.stderr.strip()[-300:]}"
    keep_history(allure, results, run_dir)
    from scripts.check_html import check_rendered

    return check_rendered(out / "index.html", out / "screenshot.png")


def keep_history(allure: Path, results: Path, run_dir: Path) -> None:
    """Allure's history/ (trends) for the next run's --allure-history: a single-file report does not keep it."""
    with_history = run_dir / "allure-report"
    res = subprocess.run([str(allure), "generate", "--clean", str(results), "-o", str(with_history)],
                         capture_output=True, text=True)
    if res.returncode == 0 and (with_history / "history").is_dir():
        shutil.copytree(with_history / "history", run_dir / "allure-history", dirs_exist_ok=True)
    shutil.rmtree(with_history, ignore_errors=True)


def summary_page(run_dir: Path) -> str:
    page = run_dir / "conformance-summary.html"
    if not page.is_file():
        return "no conformance summary page"
    from fixtures.report.html import MARKER_ID
    from scripts.check_html import check_rendered

    return check_rendered(page, run_dir / "conformance-summary.png", expect=f'id="{MARKER_ID}"')


def pytest_command(impl: str, mode: str, run_dir: Path, report_dir: Path, pytest_args: list[str]) -> list[str]:
    # pytest runs in the caller's folder (relative paths in options stay the caller's) on the suite's own
    # configuration: the checkout's pyproject.toml (and its conftest.py), or the installed suites/conformance.ini.
    config = ROOT / "pyproject.toml" if CHECKOUT else ROOT / "suites" / "conformance.ini"
    where = ["-c", str(config), "--rootdir", str(ROOT), str(ROOT / "suites")]
    return [sys.executable, "-m", "pytest", *where, "-v",
            # progress: waits and start-up log as they happen
            "-o", "log_cli=true", "-o", "log_cli_level=INFO", "-o", "log_cli_format=%(asctime)s %(message)s",
            f"--implementation={impl}", f"--labelling-mode={mode}", f"--report-dir={report_dir}",
            f"--alluredir={run_dir / 'allure-results'}", "--clean-alluredir",
            f"--junitxml={run_dir / 'junit.xml'}", *pytest_args]


def stream(cmd: list[str], cwd: Path) -> tuple[int, list[str]]:
    """Run `cmd`, passing its output through as it comes; return its exit code and its lines."""
    lines: collections.deque[str] = collections.deque(maxlen=4000)
    # The pytest run dies with the driver (SIGTERM on the driver's death, kill -9 included): pytest takes it as
    # Ctrl-C and tears its cluster down, marking its report interrupted.
    with subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          bufsize=1, preexec_fn=die_with_parent) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line.rstrip("\n"))
        rc = proc.wait()
    sys.stdout.flush()
    return rc, list(lines)


def classify(rc: int, lines: list[str], report: Path) -> tuple[int, str]:
    """pytest's exit status (and output) as the driver's code, with the problem in one line."""
    if rc == 4:  # pytest's USAGE_ERROR: argparse errors and the suite's UsageError
        found = [ln for ln in lines if re.match(r"^(ERROR: |.*pytest: error: )", ln) and "ERROR: usage:" not in ln]
        why = found[-1] if found else "usage error"
        return EXIT_USAGE, re.sub(r"^(ERROR: |.*pytest: error: )", "", why).strip()
    if rc == 5:
        return EXIT_USAGE, "no tests were selected (check --profile, --run-test, -k)"
    if rc == 3:  # pytest.exit(returncode=3) when the backend cannot start, or an INTERNALERROR
        found = [ln.strip("! ") for ln in lines if "could not start" in ln or "Exit:" in ln]
        internal = [ln for ln in lines if ln.startswith("INTERNALERROR>")]
        if not found and not internal and report.is_file():
            found = [ln for ln in verdict(yaml.safe_load(report.read_text()))[1] if ln.startswith("infrastructure")]
        why = found[-1] if found else (internal[-1] if internal else "infrastructure failure")
        return EXIT_INFRASTRUCTURE, why.removeprefix("_pytest.outcomes.Exit: ").removeprefix("Exit: ")
    if rc == 2:
        return EXIT_INFRASTRUCTURE, "pytest was interrupted (a collection error or a signal); see the output above"
    if rc in (EXIT_OK, EXIT_CLAIM_NOT_MET):
        if not report.is_file():
            return (rc, "") if rc == EXIT_OK else (rc, "tests failed and no report was written")
        code, vlines = verdict(yaml.safe_load(report.read_text()))
        if code == EXIT_CLAIM_NOT_MET:
            return code, "claimed profile(s) not met: " + "; ".join(ln.split()[0] for ln in vlines if "NOT MET" in ln)
        if code == EXIT_INFRASTRUCTURE:
            return code, vlines[-1]
        return code, ""
    return EXIT_INFRASTRUCTURE, f"pytest exited with {rc}"


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = Parser(prog="rollouts-conformance run", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"implementation:mode pairs (default {DEFAULT_RUNS})")
    parser.add_argument("--report-dir", type=Path, default=(ROOT if CHECKOUT else Path.cwd()) / "reports")
    args, pytest_args = parser.parse_known_args(argv)
    pairs = []
    for pair in args.runs.split(","):
        impl, _, mode = pair.strip().partition(":")
        mode = mode or "flag"
        if not impl or mode not in LABELLING_MODES:
            raise UsageError(f"--runs {pair!r}: expected IMPLEMENTATION[:MODE] with MODE one of "
                             f"{', '.join(LABELLING_MODES)}")
        pairs.append((impl, mode))
    args.pairs = pairs
    return args, pytest_args


def main(argv: list[str] | None = None) -> int:
    try:
        args, pytest_args = parse(argv)
    except UsageError as exc:
        print(f"rollouts-conformance run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    report_dir: Path = args.report_dir.resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    for impl, mode in args.pairs:
        run_dir = report_dir / f"{impl}-{mode}"
        print(f"\n=== conformance run: implementation={impl} labelling-mode={mode} ===", flush=True)
        t0 = time.monotonic()
        try:
            rc, lines = stream(pytest_command(impl, mode, run_dir, report_dir, pytest_args), Path.cwd())
        except KeyboardInterrupt:
            print("rollouts-conformance run: interrupted", file=sys.stderr)
            return INTERRUPTED
        code, problem = classify(rc, lines, run_dir / "conformance-report.yaml")
        result = RunResult(f"{impl}-{mode}", code, rc, round(time.monotonic() - t0, 1), problem)
        report = run_dir / "conformance-report.yaml"
        if report.is_file() and code != EXIT_USAGE:
            doc = yaml.safe_load(report.read_text())
            result.verdicts = ", ".join(f"{p['name']}={p['result']}" for p in doc.get("profiles", []))
            result.summary_html = summary_page(run_dir)
            result.html = html_report(run_dir)
        results.append(result)
        if code == EXIT_USAGE:
            break  # the other runs share the same options
    lines_out = []
    for r in results:
        lines_out.append(f"{r.run}: exit {r.exit} ({r.seconds:.0f}s, pytest exit {r.pytest_exit})"
                         + (f": {r.verdicts}" if r.verdicts else "") + (f"; {r.problem}" if r.problem else ""))
        for page in (r.summary_html, r.html):
            if page:
                lines_out.append(f"  html: {page}")
    code = worst_exit([r.exit for r in results])
    summary = "\n".join(lines_out)
    atomic_write(report_dir / "summary.txt", summary + "\n")
    atomic_write(report_dir / "summary.json", json.dumps({"exit": code, "runs": [asdict(r) for r in results]},
                                                         indent=1) + "\n")
    print("\n=== summary ===\n" + summary + f"\nexit {code}", flush=True)
    for r in results:
        if r.exit != EXIT_OK:
            print(f"rollouts-conformance run: {r.run}: {r.problem or 'failed'} (exit {r.exit})", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
