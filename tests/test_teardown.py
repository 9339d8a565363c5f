"""Teardown at any moment (issue 11, section 3) and what the local backend exposes (section 5).

A real run (`python -m pytest suites --backend local ...`) is stopped with SIGINT during cluster start,
during controller start, inside a wait of a test, and while the report is written; with SIGTERM and with
`kill -9` inside a test. Each point is found by what the run shows (its log lines, its files), never by a
sleep. After each: no process of the run is left (control plane, node agent and its pods, Prometheus,
the controller), nothing it listened on is still bound, and the report folder holds a whole report, either
complete or marked `interrupted` (the running test never `passed`), with no half-written file.

While a test runs, its listeners and credentials are checked too: every listening socket of the run is on
127.0.0.0/8, except the rollouts controller's healthz and metrics servers, which Argo Rollouts v1.10.1 binds
to 0.0.0.0 with no flag to change it (controller/controller.go: `listenAddr = "0.0.0.0:%d"`; the suite
gives them kernel-chosen ports); private keys, the token file and the kubeconfig are 0600 in 0700 folders;
and the report never contains the run's admin token.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

from fixtures.child_processes import stoppable_child
from fixtures.report.model import EXIT_INFRASTRUCTURE, INTERRUPTED, PASSED
from fixtures.report.plugin import CHECKPOINT_REASON
from fixtures.report.schema import schema_problems
from fixtures.report.writers import REPORT_FILE
from fixtures.timeouts import DEFAULT_TIMEOUTS
from fixtures.wait import wait_until
from tests.leftovers import MARK_VAR, Seen, loopback, secrets_in, still_listening

pytestmark = pytest.mark.local_backend

REPO = Path(__file__).resolve().parents[1]
QUICK_TEST = "controller_accepts_flag"  # one Rollout, one update: the shortest whole test
WAITING_TEST = "filtered_measures_canary_alone"  # once its Rollout is Healthy: an update, then >= 10 s waiting for
# the AnalysisRun (the unfiltered twin's initialDelay)
WAITING_FIRST, WAITING_SECOND = f"{WAITING_TEST}[2-stable]", f"{WAITING_TEST}[6-stable]"  # its two instances
# Up to the trigger: a cold-ish cluster start plus a test on a shared 2-core machine.
TRIGGER_TIMEOUT = DEFAULT_TIMEOUTS.cluster_start + DEFAULT_TIMEOUTS.analysis_run
# After the signal: the interrupted test's namespace deleted (namespace_delete), then each process stopped
# (process_stop, SIGKILL after it), the node agent's pods with it.
STOP_TIMEOUT = DEFAULT_TIMEOUTS.namespace_delete + 4 * DEFAULT_TIMEOUTS.process_stop
CONTROLLER = "rollouts-controller"


@dataclass
class Run:
    """One `pytest suites` run on the local backend, its output read as it comes."""

    report_dir: Path
    test: str
    driver_runs: str = ""  # set: the run driver (scripts.run_conformance) runs these pairs one after the other
    mark: str = field(default_factory=lambda: uuid.uuid4().hex)
    lines: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None

    def __post_init__(self) -> None:
        self.seen = Seen(self.mark)

    def start(self) -> "Run":
        env = {**os.environ, MARK_VAR: self.mark, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "pytest", "suites", "--backend", "local", "--implementation", "reference",
               "--run-test", self.test, f"--report-dir={self.report_dir}", "-v", "-p", "no:randomly",
               "-o", "log_cli=true", "-o", "log_cli_level=INFO", "-o", "log_cli_format=%(asctime)s %(message)s"]
        if self.driver_runs:
            # pytest's output passes through the driver (one run at a time), so the same lines show the way.
            cmd = [sys.executable, "-m", "scripts.run_conformance", "--sequential", "--runs", self.driver_runs,
                   f"--report-dir={self.report_dir}", "--backend", "local", "--run-test", self.test, "-p", "no:randomly"]
        # Its own session (a signal goes to pytest alone, as `kill PID` would), and it dies with this test.
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True, preexec_fn=stoppable_child)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def run_dir(self) -> Path:
        return self.report_dir / "reference-flag"

    def output(self, last: int = 60) -> str:
        return "\n".join(self.lines[-last:])

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        """Until `condition` holds, looking at the run's processes on every round (their listeners and cluster
        folders are remembered for the checks after the stop)."""
        assert self.proc is not None
        proc = self.proc

        def probe() -> tuple[bool, str]:
            procs = self.seen.look()
            return condition(), f"{len(procs)} processes; last line: {self.lines[-1] if self.lines else '-'}"

        wait_until(what, probe, TRIGGER_TIMEOUT, interval=0.05,
                   abort=lambda: None if proc.poll() is None else f"pytest exited {proc.returncode}:\n{self.output()}")
        self.seen.look()

    def line(self, pattern: str) -> Callable[[], bool]:
        rx = re.compile(pattern)
        return lambda: any(rx.search(ln) for ln in list(self.lines))

    def file_in_cluster(self, relative: str) -> Callable[[], bool]:
        return lambda: any((Path(d) / relative).exists() for d in self.seen.cluster_dirs)

    def send(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def wait_exit(self) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"pytest still running {STOP_TIMEOUT:.0f}s after the signal:\n{self.output()}")

    def stop_hard(self) -> None:
        """Test clean-up: whatever is left of the run goes (kill -9), so a failing test leaks nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        for p in self.seen.look():
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for d in self.seen.cluster_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if self.proc is not None and self.proc.stdout is not None:
            self.reader.join(10)
            self.proc.stdout.close()


@pytest.fixture
def run_of(tmp_path: Path):  # type: ignore[no-untyped-def]
    runs: list[Run] = []

    def make(test: str, driver_runs: str = "") -> Run:
        run = Run(tmp_path / f"reports-{len(runs)}", test, driver_runs)
        runs.append(run)
        return run.start()

    yield make
    for run in runs:
        run.stop_hard()


# ---- the checks after a stop ----------------------------------------------------------------
def assert_nothing_left(run: Run, files_removed: bool = True) -> None:
    """No process of the run, nothing it listened on still bound, (after a clean stop) no cluster folder."""
    def gone() -> tuple[bool, list[str]]:
        left = run.seen.look()
        return not left, [f"{p.pid} {p.argv[:120]}" for p in left]

    wait_until("every process of the run stopped", gone, STOP_TIMEOUT)
    bound = still_listening(set(run.seen.listeners))
    assert not bound, f"still bound after the run: {sorted(bound)} (were {[run.seen.listeners[b].argv[:80] for b in bound]})"
    assert run.seen.listeners, "no listener of the run was ever seen: the process scan is blind"
    if files_removed:
        left = [d for d in run.seen.cluster_dirs if Path(d).exists()]
        assert not left, f"cluster folders (keys, tokens, kubeconfig) left behind: {left}"


def report_of(run: Run) -> dict:
    """The report folder's YAML, after checking that no file in it is half-written."""
    folder = run.run_dir
    assert folder.is_dir(), f"no report folder {folder}; output:\n{run.output()}"
    temps = [p.name for p in folder.rglob("*.tmp")]
    assert not temps, f"temporary files left: {temps}"
    for path in folder.rglob("*"):
        if path.suffix in (".yaml", ".yml"):
            yaml.safe_load(path.read_text())
        elif path.suffix == ".html":
            assert path.read_text().rstrip().endswith("</html>"), f"{path} is cut short"
        elif path.suffix == ".png":
            assert path.read_bytes()[-8:] == b"IEND\xaeB`\x82", f"{path} is cut short"
    doc = yaml.safe_load((folder / REPORT_FILE).read_text())
    assert schema_problems(doc) == [], schema_problems(doc)
    return doc


def outcomes(doc: dict) -> dict[str, dict]:
    return {t["name"]: t for p in doc["profiles"] for t in p["tests"]}


def assert_interrupted(doc: dict, test: str, phases: tuple[str, ...], reason: str) -> None:
    stopped = doc["summary"].get("interrupted")
    assert stopped, f"the report does not say the run was interrupted: {doc['summary']}"
    assert doc["summary"]["result"] == INTERRUPTED and doc["summary"]["claimsMet"] is False
    assert reason in stopped["reason"], stopped
    assert stopped["test"] == test and stopped["phase"] in phases, stopped
    t = outcomes(doc)[test]
    assert t["outcome"] == INTERRUPTED, t
    profile = next(p for p in doc["profiles"] if any(x["name"] == test for x in p["tests"]))
    assert profile["core"]["result"] == INTERRUPTED, profile


def assert_private(run: Run) -> str:
    """Credentials of the running cluster: 0600 files in 0700 folders. Returns the admin token."""
    [cluster] = run.seen.cluster_dirs
    root = Path(cluster)

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)

    assert mode(root) == 0o700, oct(mode(root))
    assert mode(root / "certs") == 0o700, oct(mode(root / "certs"))
    secret_files = [*(root / "certs").glob("*.key"), root / "tokens.csv", root / "kubeconfig"]
    assert len(secret_files) >= 6, secret_files  # sa, kubelet CA/serving/client, the apiserver's own, ...
    loose = {str(p.relative_to(root)): oct(mode(p)) for p in secret_files if mode(p) != 0o600}
    assert not loose, f"credentials readable by others: {loose}"
    token = (root / "tokens.csv").read_text().split(",", 1)[0]
    assert len(token) >= 32 and "rollouts-conformance" not in token, "the admin token is not a random one"
    return token


def assert_listeners_on_loopback(run: Run) -> None:
    """Every socket the run listens on is on 127.0.0.0/8, but the controller's two (see the module doc)."""
    outside = {(a, port): p for (a, port), p in run.seen.listeners.items() if not loopback(a)}
    controller = {k: p for k, p in outside.items() if p.program == CONTROLLER}
    others = {k: p.argv[:100] for k, p in outside.items() if k not in controller}
    assert not others, f"listening beyond loopback: {others}"
    for (addr, port), p in controller.items():
        assert addr in ("0.0.0.0", "::"), (addr, port)
        assert f"--healthzPort={port}" in p.argv or f"--metricsPort={port}" in p.argv, (port, p.argv)
    assert len(run.seen.listeners) > len(controller), "no loopback listener seen (apiserver, etcd, pods ...)"


def stop_at(run: Run, what: str, condition: Callable[[], bool], sig: int = signal.SIGINT,
            checks_while_running: Callable[[Run], object] | None = None,
            exit_code: int = pytest.ExitCode.INTERRUPTED) -> dict:
    """Wait for `condition`, send `sig`, and check what is left; returns the report. `exit_code`: pytest's
    interruption (2), or the driver's (3)."""
    run.wait_for(what, condition)
    if checks_while_running is not None:
        checks_while_running(run)  # the run goes on meanwhile: checks of seconds, not of minutes
    run.send(sig)
    code = run.wait_exit()
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else exit_code), run.output()
    # After SIGKILL nothing but the kernel cleans up: each process gets its parent-death signal. The cluster
    # folder (0700) stays, nobody being left to remove it (the fixture's clean-up does).
    assert_nothing_left(run, files_removed=sig != signal.SIGKILL)
    return report_of(run)


# ---- SIGINT at four points --------------------------------------------------------------------
def test_sigint_during_cluster_start(run_of: Callable[[str], Run]) -> None:
    run = run_of(QUICK_TEST)
    # etcd answered: kube-apiserver is being started (the cluster is half up).
    doc = stop_at(run, "etcd up, kube-apiserver starting", run.line(r"waited \S+ for etcd healthy"))
    assert_interrupted(doc, QUICK_TEST, ("setup",), "SIGINT")


def test_sigint_during_controller_start(run_of: Callable[[str], Run]) -> None:
    run = run_of(QUICK_TEST)
    # The controller's log file is opened just before its process starts; then the suite waits for its healthz.
    # The controller is up within a second or so: on a loaded machine the signal can land after that wait, once
    # the test's call has begun (seen in CI), so either phase is the right answer; what is checked is that the run
    # names the test it stopped in and leaves nothing behind.
    doc = stop_at(run, "the rollouts controller starting", run.file_in_cluster("logs/rollouts-controller-1.log"))
    assert_interrupted(doc, QUICK_TEST, ("setup", "call"), "SIGINT")


def test_sigint_inside_a_wait_and_what_a_running_cluster_exposes(run_of: Callable[[str], Run]) -> None:
    run = run_of(WAITING_TEST)
    seen: dict[str, str] = {}

    def exposed(r: Run) -> None:
        seen["token"] = assert_private(r)
        assert_listeners_on_loopback(r)

    # Its Rollout is Healthy: the test updates it and waits at least 10 s for the AnalysisRun's first unfiltered
    # measurement, so the signal lands inside that wait (the wait's own progress line, 10 s in, would come too
    # close to its end).
    doc = stop_at(run, "a test inside a wait", run.line(r"waited \S+ for Rollout \S+/measure Healthy"),
                  checks_while_running=exposed)
    assert_interrupted(doc, WAITING_FIRST, ("call",), "SIGINT")
    assert "interrupted during its call" in outcomes(doc)[WAITING_FIRST]["message"]
    second = outcomes(doc)[WAITING_SECOND]
    assert second["outcome"] == INTERRUPTED and second["message"].startswith("not run"), second
    assert secrets_in(run.run_dir, [seen["token"]]) == []


def test_sigint_to_the_driver_still_writes_its_summary(run_of: Callable[..., Run]) -> None:
    """The driver (`python -m scripts.run_conformance`), two runs one after the other, stopped with SIGINT during
    the first one's cluster start: it passes the signal on, waits for that run's teardown and writes its
    summary, whole, with the first run interrupted and the second one not started; exit 3 (docs/report.md).
    (A run that ends before the signal stays `finished`: tests/test_driver_progress.py.)"""
    run = run_of(QUICK_TEST, "reference:flag,upstream:explicit")
    doc = stop_at(run, "etcd up, kube-apiserver starting", run.line(r"waited \S+ for etcd healthy"),
                  exit_code=EXIT_INFRASTRUCTURE)
    assert_interrupted(doc, QUICK_TEST, ("setup",), "SIGINT")
    assert not list(run.report_dir.glob(".*.tmp")), list(run.report_dir.iterdir())
    summary = json.loads((run.report_dir / "summary.json").read_text())
    assert (summary["exit"], summary["interrupted"]) == (EXIT_INFRASTRUCTURE, "SIGINT"), summary
    runs = {r["run"]: (r["state"], r["exit"], r["pytest_exit"]) for r in summary["runs"]}
    assert runs == {"reference-flag": ("interrupted", EXIT_INFRASTRUCTURE, pytest.ExitCode.INTERRUPTED),
                    "upstream-explicit": ("interrupted", EXIT_INFRASTRUCTURE, -1)}, summary
    assert "interrupted by SIGINT" in (run.report_dir / "summary.txt").read_text()


def test_sigint_while_the_report_is_written(run_of: Callable[[str], Run]) -> None:
    run = run_of(QUICK_TEST)
    doc = stop_at(run, "the final report being written", run.line(r"\[conformance\] writing the report"))
    # The signal waited for the report: complete, the test's own outcome, not interrupted.
    assert "interrupted" not in doc["summary"], doc["summary"]
    assert outcomes(doc)[QUICK_TEST]["outcome"] == PASSED, outcomes(doc)[QUICK_TEST]
    assert any("while the report was written" in ln for ln in run.lines), run.output()


# ---- SIGTERM and kill -9 inside a test ----------------------------------------------------------
# Its pods run (the Rollout became Healthy): the node agent has containers to stop.
PODS_RUNNING = r"waited \S+ for Rollout \S+ Healthy"


def test_sigterm_inside_a_test(run_of: Callable[[str], Run]) -> None:
    run = run_of(WAITING_TEST)
    doc = stop_at(run, "a test with running pods", run.line(PODS_RUNNING), signal.SIGTERM)
    assert_interrupted(doc, WAITING_FIRST, ("call",), "SIGTERM")


def test_kill_9_inside_a_test(run_of: Callable[[str], Run]) -> None:
    run = run_of(WAITING_TEST)
    doc = stop_at(run, "a test with running pods", run.line(PODS_RUNNING), signal.SIGKILL)
    assert any("apps/demo/app.py" in p.argv for p in run.seen.processes.values()), "no pod process seen"
    # The checkpoint written when the test started: whole, and saying the run did not finish.
    assert_interrupted(doc, WAITING_FIRST, ("setup",), CHECKPOINT_REASON)
