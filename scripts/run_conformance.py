"""Run the suite once per implementation/mode pair, then build the HTML reports.

    rollouts-conformance run [--runs reference:flag,upstream:explicit] [--report-dir DIR] [pytest/suite options...]
    python -m scripts.run_conformance ...            (the same, from a checkout)

Each run is its own pytest process (its own cluster), writing
<report-dir>/<implementation>-<mode>/: conformance-report.yaml,
conformance-summary.html, junit.xml, allure-results/, html/ (Allure, single
file), screenshots of both pages and run.log (pytest's whole output). The runs
go side by side, each on its own cluster (`--sequential`, or a backend whose
runs share one cluster such as `existing`: one after the other, pytest's output
passed through, as with a single run); side by side the driver prints one line per
finished test, prefixed with its run, and at the end the time of each
phase (build check, cluster start, installs, each profile, report generation)
and the slowest tests with what they waited for, also in summary.json. Every
other option (--claim, --submit, --backend, --options-file, --timeout-*, ...)
goes to each pytest run.

Exit status (docs/report.md), the worst of the runs': 0 every claimed profile
succeeded; 1 a claimed profile was not met; 2 usage error (bad option, bad
options file, unknown profile); 3 infrastructure (the backend could not be
set up, or a test failed on it rather than on the implementation; also an
interrupted driver). Without --claim no profile decides it. A failing run ends
with one line naming the problem on stderr.

Ctrl-C or SIGTERM stops every run (each pytest run gets the same signal, once:
it tears its cluster down and writes its report marked interrupted), waits for
them, and still writes summary.txt and summary.json: each run `interrupted` (the
ones not yet started too), or `finished` if it ended before the signal; exit 3.
A second Ctrl-C or SIGTERM kills the runs at once (their reports are then the
checkpoints written before each test).
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, NoReturn

import yaml

from fixtures.backends.registry import AUTO, BACKENDS
from fixtures.child_processes import stoppable_child
from fixtures.report.aggregate import result_of, verdict
from fixtures.report.model import EXIT_CLAIM_NOT_MET, EXIT_INFRASTRUCTURE, EXIT_OK, EXIT_USAGE, worst_exit
from fixtures.report.writers import atomic_write
from fixtures.spec import LABELLING_MODES
from fixtures.timeouts import DEFAULT_TIMEOUTS

ROOT = Path(__file__).resolve().parents[1]
# From a checkout pytest reads pyproject.toml and conftest.py; an installed copy has neither and runs with
# suites/conformance.ini and the plugins' entry point.
CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "conftest.py").is_file()
DEFAULT_RUNS = "reference:flag,upstream:explicit"
# A run's state in the summary: its pytest ended on its own, or the driver stopped it (or never started it).
FINISHED, INTERRUPTED = "finished", "interrupted"
NOT_STARTED = "not started: the driver was interrupted first"
# How long an interrupted run may take to tear down before it is killed: the namespaces of its tests deleted,
# an in-cluster install removed (as many again), its processes stopped.
STOP_GRACE = 2 * DEFAULT_TIMEOUTS.namespace_delete + 4 * DEFAULT_TIMEOUTS.process_stop
# pytest-xdist workers per run, each with its own cluster (fixtures/parallel.py), unless --workers or an options
# file says otherwise: passed as the ini default, below both. 1 by measurement: on this shared 2-core machine
# (load 7-55) two workers took as long as one, their second cluster's CPU eating the overlap of the waits;
# idle, the pair took 3 min 56 s with two against 5 min 3 s with one (README, "Measured here"). CI and nightly
# jobs run beside other work: --workers 2 where cores are free.
DEFAULT_WORKERS = 1
# `--workers auto` (what ./run-conformance passes): two workers a run when the machine is quiet, one otherwise.
# Measured here, the pair side by side: on a quiet machine two workers took 2 min 52 s against 4 min 23 s with
# one (at load 4); beside other work (load 7-55) two gained nothing. Quiet: other work uses less than
# AUTO_QUIET_BUSY_SHARE of the CPUs over a AUTO_SAMPLE_SECONDS sample taken when the driver starts. Not the
# 1-minute load average: it still holds the set-up's pip and the previous run for a minute after they end, so
# a contributor's second run in a row got one worker (measured 2026-11-28: load 2.2 a minute after a pair
# that had left the machine idle, and 4 min 35 s instead of 3 min 16 s).
AUTO_WORKERS = "auto"
AUTO_QUIET_BUSY_SHARE = 0.5
AUTO_SAMPLE_SECONDS = 1.0
AUTO_MAX_WORKERS = 2


def cpu_busy_share(seconds: float = AUTO_SAMPLE_SECONDS) -> float:
    """The share of all CPUs' time that was not idle over the next `seconds` (from /proc/stat; where there is none,
    the 1-minute load average per core, capped at 1)."""
    def totals() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait

    try:
        total0, idle0 = totals()
        time.sleep(seconds)  # a measurement window, not a wait for a condition
        total1, idle1 = totals()
    except (OSError, ValueError, IndexError):
        return min(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    spent = total1 - total0
    return 1.0 - (idle1 - idle0) / spent if spent > 0 else 0.0


class UsageError(Exception):
    """Bad driver arguments: one line, exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


class RunParser(Parser):
    """The driver's own options, and in its help the suite's, which it passes through to every pytest run."""

    def format_help(self) -> str:
        return super().format_help() + "\n" + suite_options_help()


def suite_options_help() -> str:
    """The suite options (`fixtures.options`, read from their one definition) formatted as argparse would."""
    from fixtures.options import declared_options

    helper = argparse.ArgumentParser(prog="rollouts-conformance run", add_help=False, usage=argparse.SUPPRESS)
    group = helper.add_argument_group("suite options, passed through to every pytest run (pytest's own too: "
                                      "python -m pytest --help)")
    for names, attrs in declared_options():
        group.add_argument(*names, **{k: v for k, v in attrs.items() if k != "default"})
    return helper.format_help().lstrip("\n")


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
    log: str = ""
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase, in order
    slowest: list[dict[str, Any]] = field(default_factory=list)  # the slowest tests and their waits
    state: str = FINISHED  # FINISHED or INTERRUPTED


def not_started(name: str) -> RunResult:
    return RunResult(name, EXIT_INFRASTRUCTURE, pytest_exit=-1, seconds=0.0, problem=NOT_STARTED, state=INTERRUPTED)


def cache_dir() -> Path:
    return Path(os.environ.get("ROLLOUTS_CONFORMANCE_CACHE", Path.home() / ".cache" / "rollouts-conformance"))


def allure_bin() -> Path | None:
    path = cache_dir() / "npm" / "node_modules" / ".bin" / "allure"
    if path.exists():
        return path
    found = shutil.which("allure")
    return Path(found) if found else None


# Allure's JVM runs for 2-3 s: C1 alone (no C2 compiles that never pay off in so short a run) costs 3 CPU-seconds
# a generation instead of 5. A user's ALLURE_OPTS replaces it.
ALLURE_JVM_OPTS = "-XX:TieredStopAtLevel=1"


def allure_generate(allure_bin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALLURE_OPTS": os.environ.get("ALLURE_OPTS", ALLURE_JVM_OPTS)}
    return subprocess.run([str(allure_bin), "generate", "--clean", *args], capture_output=True, text=True, env=env)


def html_report(run_dir: Path) -> str:
    """Allure's report as one file (html/index.html), checked in headless Chromium; its history kept beside."""
    allure = allure_bin()
    results = run_dir / "allure-results"
    if allure is None:
        return "no Allure HTML: allure-commandline is not installed (scripts/setup --html)"
    if not results.is_dir():
        return "no Allure HTML: no allure-results"
    out = run_dir / "html"
    # The history's own generation (a second JVM) runs beside the single file's: each takes 2-3 s.
    with ThreadPoolExecutor(1) as pool:
        history = pool.submit(keep_history, allure, results, run_dir)
        res = allure_generate(allure, "--single-file", str(results), "-o", str(out))
        history.result()
    if res.returncode != 0:
        return f"allure generate failed: {res.stderr.strip()[-300:]}"
    from scripts.check_html import check_rendered

    return check_rendered(out / "index.html", out / "screenshot.png")


def keep_history(allure: Path, results: Path, run_dir: Path) -> None:
    """Allure's history/ (trends) for the next run's --allure-history: a single-file report does not keep it."""
    with_history = run_dir / "allure-report"
    res = allure_generate(allure, str(results), "-o", str(with_history))
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
            # the workers' log lines, which their controller prints after each phase: with their time too
            "-o", "log_format=%(asctime)s %(message)s",
            f"--implementation={impl}", f"--labelling-mode={mode}", f"--report-dir={report_dir}",
            f"--alluredir={run_dir / 'allure-results'}", "--clean-alluredir",
            f"--junitxml={run_dir / 'junit.xml'}", "-o", f"conformance_workers={DEFAULT_WORKERS}", *pytest_args]


NODE_LINE = re.compile(r"^(?P<node>\S+\.py::\S+)")
OUTCOME = re.compile(r"\b(?P<outcome>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b(?: \([^)]*\))?\s+\[\s*\d+%\]\s*$")
# With workers (xdist): "[gw0] [ 50%] PASSED suites/test_x.py::test_y"; their log lines come as
# "suites/test_x.py::test_y [gw0] call: <log line>" (fixtures/parallel.py), so NODE_LINE names their test.
WORKER_OUTCOME = re.compile(r"^\[gw\d+\] \[\s*\d+%\] (?P<outcome>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) "
                            r"(?P<node>\S+\.py::\S+)")
WAITED = re.compile(r"waited (?P<seconds>\d+(?:\.\d+)?)s for (?P<what>.*)$")
PRINT_LOCK = threading.Lock()
PROCS: list[subprocess.Popen[str]] = []
# Set once the driver is interrupted: no run starts after it, and a run that ends after it skips its HTML.
STOP = threading.Event()
STOP_SIGNAL: list[int] = []  # the signal that interrupted the driver, passed on to each run


def say(line: str) -> None:
    with PRINT_LOCK:
        print(line, flush=True)


@dataclass
class Progress:
    """What a run's pytest output says as it goes: the test under way, finished tests, and every wait's time."""

    run: str
    quiet: bool = False  # pytest's own output goes through already: no progress lines
    current: str = ""
    finished: int = 0
    waits: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # test -> [(what, seconds)]
    started: float = field(default_factory=time.monotonic)

    def feed(self, line: str) -> None:
        node = NODE_LINE.match(line)
        if node:
            self.current = node.group("node")
        waited = WAITED.search(line)
        if waited:
            self.waits.setdefault(self.current.split("::")[-1], []).append(
                (waited.group("what"), float(waited.group("seconds"))))
        outcome = OUTCOME.search(line)
        done = WORKER_OUTCOME.match(line)
        test = done.group("node") if done else self.current
        if done is None and outcome is not None and not self.current:
            outcome = None
        if done or outcome:
            self.finished += 1
            if not self.quiet:
                say(f"[{self.run}] {(done or outcome).group('outcome'):7} {test.split('/')[-1]} "  # type: ignore[union-attr]
                    f"({time.monotonic() - self.started:.0f}s into the run)")


def stream(cmd: list[str], cwd: Path, log: Path | None = None, progress: Progress | None = None,
           echo: bool = True) -> tuple[int, list[str]]:
    """Run `cmd`; its output goes to `log` (whole), to `progress` line by line and, with `echo`, through to our
    stdout; return its exit code and its last lines."""
    lines: collections.deque[str] = collections.deque(maxlen=4000)
    out = log.open("w") if log is not None else None
    try:
        # The pytest run dies with the driver (SIGTERM when the thread that started it dies, kill -9 included;
        # each run's thread waits for its run): pytest takes it as Ctrl-C and tears its cluster down, marking its
        # report interrupted. Its own session: a Ctrl-C at the terminal reaches the driver alone, which passes it
        # on once (a second signal would cut pytest's teardown short).
        with subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              bufsize=1, preexec_fn=stoppable_child, start_new_session=True) as proc:
            PROCS.append(proc)
            if STOP.is_set():
                signal_run(proc)  # interrupted while it was being started: stop_runs may have missed it
            assert proc.stdout is not None
            for line in proc.stdout:
                if out is not None:
                    out.write(line)
                    out.flush()
                if echo:
                    with PRINT_LOCK:
                        sys.stdout.write(line)
                if progress is not None:
                    progress.feed(line.rstrip("\n"))
                lines.append(line.rstrip("\n"))
            rc = proc.wait()
    finally:
        if out is not None:
            out.close()
    sys.stdout.flush()
    return rc, list(lines)


def phases_of(doc: dict[str, Any]) -> dict[str, float]:
    """Seconds per phase from a run's report: the backend's own timings, then each profile's tests."""
    timings = ((doc.get("environment") or {}).get("backendDetails") or {}).get("timings") or {}
    phases = {k: float(v) for k, v in timings.items() if k != "backend_start"}
    for p in doc.get("profiles", []):
        phases[f"profile {p['name']}"] = round(sum(float(t.get("durationSeconds") or 0) for t in p["tests"]), 1)
    return phases


def slowest_tests(doc: dict[str, Any], waits: dict[str, list[tuple[str, float]]], n: int = 5) -> list[dict[str, Any]]:
    """The `n` slowest tests of a run, each with its longest waits (from the wait helper's log lines)."""
    tests = [(t["name"], float(t.get("durationSeconds") or 0), p["name"]) for p in doc.get("profiles", [])
             for t in p["tests"]]
    out = []
    for name, seconds, profile in sorted(tests, key=lambda x: -x[1])[:n]:
        got = sorted(waits.get(f"test_{name}", []), key=lambda w: -w[1])
        out.append({"test": name, "profile": profile, "seconds": seconds,
                    "waited": round(sum(s for _, s in got), 1),
                    "waits": [{"what": w[:160], "seconds": s} for w, s in got[:4]]})
    return out


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


def resolve_auto_workers(pytest_args: list[str], busy: Callable[[], float] = cpu_busy_share,
                         cores: Callable[[], int | None] = os.cpu_count) -> tuple[list[str], str]:
    """`--workers auto` (or `--workers=auto`) replaced by a number of workers a run, by how busy the CPUs are now;
    returns the arguments and, if one was replaced, why that number (else ""). A later --workers N still wins."""
    auto = [i for i, a in enumerate(pytest_args)
            if a == f"--workers={AUTO_WORKERS}" or (a == "--workers" and pytest_args[i + 1:i + 2] == [AUTO_WORKERS])]
    if not auto:
        return pytest_args, ""
    n_cores, share = cores() or 1, busy()
    quiet = share < AUTO_QUIET_BUSY_SHARE
    workers = AUTO_MAX_WORKERS if quiet else 1
    why = (f"--workers auto: {workers} a run (CPUs {share:.0%} busy over {AUTO_SAMPLE_SECONDS:g} s on {n_cores} cores, "
           f"{'below' if quiet else 'not below'} {AUTO_QUIET_BUSY_SHARE:.0%}; --workers N overrides)")
    out = list(pytest_args)
    for i in reversed(auto):
        out[i:i + (1 if out[i].startswith("--workers=") else 2)] = [f"--workers={workers}"]
    return out, why


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = RunParser(prog="rollouts-conformance run", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"implementation:mode pairs (default {DEFAULT_RUNS})")
    parser.add_argument("--report-dir", type=Path, default=(ROOT if CHECKOUT else Path.cwd()) / "reports")
    parser.add_argument("--sequential", action="store_true",
                        help="one run after the other, pytest's output passed through (default: side by side)")
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


def run_one(impl: str, mode: str, report_dir: Path, pytest_args: list[str], echo: bool) -> RunResult:
    """One implementation/mode run: pytest on its own cluster, then its HTML pages."""
    name = f"{impl}-{mode}"
    run_dir = report_dir / name
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "run.log"
    say(f"[{name}] started: implementation={impl} labelling-mode={mode}; whole output in {log}")
    t0 = time.monotonic()
    progress = Progress(name, quiet=echo)
    rc, lines = stream(pytest_command(impl, mode, run_dir, report_dir, pytest_args), Path.cwd(), log, progress, echo)
    code, problem = classify(rc, lines, run_dir / "conformance-report.yaml")
    # Interrupted: stopped by the driver's signal (pytest's exit 2) or killed; a run that ended before the
    # signal came stays finished.
    state = INTERRUPTED if STOP.is_set() and (rc == 2 or rc < 0) else FINISHED
    if state == INTERRUPTED:
        problem = f"interrupted ({signal.Signals(STOP_SIGNAL[0]).name if STOP_SIGNAL else 'stopped'}): " + (
            "killed, its report is the checkpoint before its last test" if rc < 0
            else "it tore down and its report is marked interrupted")
    result = RunResult(name, code, rc, round(time.monotonic() - t0, 1), problem, log=str(log), state=state)
    report = run_dir / "conformance-report.yaml"
    if report.is_file() and code != EXIT_USAGE:
        doc = yaml.safe_load(report.read_text())
        result.verdicts = ", ".join(f"{p['name']}={result_of(p)}" for p in doc.get("profiles", []))
        result.phases = phases_of(doc)
        result.slowest = slowest_tests(doc, progress.waits)
    if report.is_file() and code != EXIT_USAGE and not STOP.is_set():
        t1 = time.monotonic()
        # Side by side: each is mostly a JVM or a headless Chromium starting (each Chromium has its own profile).
        with ThreadPoolExecutor(2) as pool:
            summary, html = pool.submit(summary_page, run_dir), pool.submit(html_report, run_dir)
            result.summary_html, result.html = summary.result(), html.result()
        result.phases["report generation"] = round(time.monotonic() - t1, 1)
        result.seconds = round(time.monotonic() - t0, 1)
    say(f"[{name}] {'interrupted' if state == INTERRUPTED else 'finished'}: exit {code} in {result.seconds:.0f}s"
        + (f"; {problem}" if problem else ""))
    return result


def backend_of(pytest_args: list[str]) -> str:
    """The backend the runs will use: `--backend` on the command line, else the options file's, else auto."""
    from fixtures.config import ConfigError, load_options_file

    # The two options as pytest reads them (`--backend X` or `--backend=X`); the rest is pytest's business.
    wanted = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    wanted.add_argument("--backend")
    wanted.add_argument("--options-file")
    known, _ = wanted.parse_known_args(pytest_args)
    named, options_file = known.backend, known.options_file
    if named is None and options_file is not None:
        try:
            named = load_options_file(Path(options_file)).get("backend")
        except ConfigError:
            named = None  # pytest reports the bad file itself, as a usage error
    return str(named or AUTO)


def side_by_side(args: argparse.Namespace, pytest_args: list[str]) -> bool:
    """Runs go side by side unless asked not to, or there is one, or they would share one cluster."""
    if args.sequential or len(args.pairs) == 1:
        return False
    backend = BACKENDS.get(backend_of(pytest_args))
    if backend is not None and backend.shared_cluster:
        say(f"backend {backend.name}: the runs share its cluster and its controller, so they go one after the other")
        return False
    return True


def signal_run(proc: subprocess.Popen[str]) -> None:
    """Pass the driver's interruption on to one pytest run, which then tears down and reports `interrupted`."""
    if proc.poll() is None:
        proc.send_signal(STOP_SIGNAL[0] if STOP_SIGNAL else signal.SIGTERM)


def stop_runs(grace: float) -> None:
    """Interrupt every run still going and wait for each to tear down, killing what is left after `grace`."""
    for proc in list(PROCS):
        signal_run(proc)
    deadline = time.monotonic() + grace
    for proc in list(PROCS):
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"rollouts-conformance run: a run was still tearing down after {grace:.0f}s: killed")
            proc.kill()


def kill_runs() -> None:
    for proc in list(PROCS):
        if proc.poll() is None:
            proc.kill()


class Interrupted(KeyboardInterrupt):
    """The driver was told to stop; `signum` says how (SIGINT: Ctrl-C, or SIGTERM)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def on_signal(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


class Worker(threading.Thread):
    """A thread that says when it is done through an event the main thread can wait on, signals or not."""

    def __init__(self, name: str, fn: Callable[[], None]) -> None:
        super().__init__(name=name)
        self.fn = fn
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            self.fn()
        finally:
            self.finished.set()


def run_all(args: argparse.Namespace, report_dir: Path, pytest_args: list[str]) -> list[RunResult]:
    """Every run, on threads of their own (the main thread only waits, so that a signal reaches it there);
    interrupted, every run is stopped and waited for, and those not started are listed as interrupted."""
    results: dict[int, RunResult] = {}
    errors: list[BaseException] = []  # a run thread's own crash: raised again here, as before

    def one(i: int, impl: str, mode: str, echo: bool) -> None:
        try:
            results[i] = run_one(impl, mode, report_dir, pytest_args, echo)
        except Exception as exc:
            errors.append(exc)
            results[i] = RunResult(f"{impl}-{mode}", EXIT_INFRASTRUCTURE, -1, 0.0,
                                   f"the driver failed on this run: {type(exc).__name__}: {exc}",
                                   state=INTERRUPTED if STOP.is_set() else FINISHED)
            traceback.print_exc()

    def in_turn() -> None:
        for i, (impl, mode) in enumerate(args.pairs):
            if STOP.is_set():
                return
            # One at a time, pytest's output passes through as before (and goes to run.log).
            one(i, impl, mode, echo=True)
            if results[i].exit == EXIT_USAGE or errors:
                return  # the other runs share the same options

    work: list[tuple[str, Callable[[], None]]]
    if side_by_side(args, pytest_args):
        # Side by side, each on its own cluster; output and reports stay per run.
        work = [(f"run-{impl}-{mode}", functools.partial(one, i, impl, mode, False))
                for i, (impl, mode) in enumerate(args.pairs)]
    else:
        work = [("runs", in_turn)]
    # The main thread waits on events, not Thread.join: a join cut short by Ctrl-C takes the thread for ended on
    # CPython before 3.13 (gh-90882), and a later join returns at once.
    threads = [Worker(name, fn) for name, fn in work]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.finished.wait()
    except Interrupted as exc:
        STOP_SIGNAL.append(exc.signum)  # before STOP: a run that sees STOP passes this signal on
        STOP.set()
        say(f"rollouts-conformance run: {exc.args[0]}: stopping the runs (each tears its cluster down and writes "
            f"its report, up to {STOP_GRACE:.0f}s; again to kill them at once)")
        try:
            stop_runs(STOP_GRACE)
            for t in threads:
                t.finished.wait()
        except Interrupted:
            say("rollouts-conformance run: interrupted again: killing the runs")
            kill_runs()
            for t in threads:
                t.finished.wait(DEFAULT_TIMEOUTS.process_stop)
    if STOP.is_set():
        return [results.get(i) or not_started(f"{impl}-{mode}") for i, (impl, mode) in enumerate(args.pairs)]
    if errors:
        raise errors[0]
    return [results[i] for i in sorted(results)]


def main(argv: list[str] | None = None) -> int:
    try:
        args, pytest_args = parse(argv)
    except UsageError as exc:
        print(f"rollouts-conformance run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    pytest_args, why = resolve_auto_workers(pytest_args)
    if why:
        say(f"[driver] {why}")
    report_dir: Path = args.report_dir.resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    STOP.clear()
    STOP_SIGNAL.clear()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)} if main_thread else {}
    try:
        results = run_all(args, report_dir, pytest_args)
        return write_summary(results, report_dir, round(time.monotonic() - t0, 1))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def write_summary(results: list[RunResult], report_dir: Path, wall: float) -> int:
    """summary.txt and summary.json (each written whole), the summary printed; returns the driver's exit code."""
    interrupted = signal.Signals(STOP_SIGNAL[0]).name if STOP_SIGNAL else ""
    lines_out = []
    for r in results:
        lines_out.append(f"{r.run}: {r.state}, exit {r.exit} ({r.seconds:.0f}s, pytest exit {r.pytest_exit})"
                         + (f": {r.verdicts}" if r.verdicts else "") + (f"; {r.problem}" if r.problem else ""))
        if r.phases:
            lines_out.append("  phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in r.phases.items()))
        for s in r.slowest[:3]:
            waits = "; ".join(f"{w['seconds']:.1f}s {w['what'][:70]}" for w in s["waits"][:2])
            lines_out.append(f"  slow: {s['test']} {s['seconds']:.0f}s (waited {s['waited']:.0f}s"
                             + (f": {waits}" if waits else "") + ")")
        for page in (r.summary_html, r.html):
            if page:
                lines_out.append(f"  html: {page}")
        if r.log:
            lines_out.append(f"  log: {r.log}")
    code = worst_exit([r.exit for r in results])
    if interrupted and code in (EXIT_OK, EXIT_CLAIM_NOT_MET):
        code = EXIT_INFRASTRUCTURE  # an interrupted driver certifies nothing, whatever the finished runs said
    summary = "\n".join(lines_out) + f"\nwall time {wall:.0f}s" + (f"\ninterrupted by {interrupted}" if interrupted else "")
    atomic_write(report_dir / "summary.txt", summary + "\n")
    atomic_write(report_dir / "summary.json", json.dumps({"exit": code, "wallSeconds": wall,
                                                         "interrupted": interrupted or None,
                                                         "runs": [asdict(r) for r in results]}, indent=1) + "\n")
    print("\n=== summary ===\n" + summary + f"\nexit {code}", flush=True)
    for r in results:
        if r.exit != EXIT_OK:
            print(f"rollouts-conformance run: {r.run}: {r.problem or 'failed'} (exit {r.exit})", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
