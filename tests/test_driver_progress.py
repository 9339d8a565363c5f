"""The driver's reading of a run's pytest output: progress lines, waits per test, phases, slowest tests; and its
summary when it is interrupted."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from fixtures.report.model import EXIT_INFRASTRUCTURE, EXIT_OK
from scripts.run_conformance import Progress, parse, phases_of, side_by_side, slowest_tests

LIVE_LOG = """suites/test_analysis.py::test_healthy_canary_passes 
-------------------------------- live log setup --------------------------------
17:34:02 waited 4.83s for kube-apiserver ready at https://127.0.0.1:46193
-------------------------------- live log call ---------------------------------
17:34:22 waited 1.69s for Rollout ns/healthy Healthy and fully promoted
17:34:40 waited 12.50s for AnalysisRun in ns reaching ('Successful',)
PASSED                                                                   [ 50%]
suites/test_rollback.py::test_faulty_canary_aborted_within_budget FAILED [100%]
FAILED suites/test_rollback.py::test_faulty_canary_aborted_within_budget - AssertionError: late
"""


def fed(log: str, capsys: pytest.CaptureFixture[str]) -> tuple[Progress, list[str]]:
    """A run's Progress fed `log` line by line, and the progress lines it printed."""
    progress = Progress("reference-flag")
    for line in log.splitlines():
        progress.feed(line)
    return progress, capsys.readouterr().out.splitlines()


def test_progress_line_per_finished_test_and_waits_per_test(capsys: pytest.CaptureFixture[str]) -> None:
    progress, out = fed(LIVE_LOG, capsys)
    assert [ln.split(" (")[0] for ln in out] == [
        "[reference-flag] PASSED  test_analysis.py::test_healthy_canary_passes",
        "[reference-flag] FAILED  test_rollback.py::test_faulty_canary_aborted_within_budget"]
    assert progress.waits["test_healthy_canary_passes"] == [
        ("kube-apiserver ready at https://127.0.0.1:46193", 4.83),
        ("Rollout ns/healthy Healthy and fully promoted", 1.69), ("AnalysisRun in ns reaching ('Successful',)", 12.5)]


def test_quiet_progress_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress("r", quiet=True)
    for line in LIVE_LOG.splitlines():
        progress.feed(line)
    assert capsys.readouterr().out == "" and progress.finished == 2


def test_phases_and_slowest_tests_from_the_report() -> None:
    doc = {"environment": {"backendDetails": {"timings": {"build_check": 0.1, "cluster_start": 9.5,
                                                          "backend_start": 21.0}}},
           "profiles": [{"name": "analysis", "tests": [{"name": "healthy_canary_passes", "durationSeconds": 20.0},
                                                      {"name": "no_canary_data_never_passes", "durationSeconds": 5}]},
                        {"name": "rollback", "tests": [{"name": "x", "durationSeconds": 30.0}]}]}
    assert phases_of(doc) == {"build_check": 0.1, "cluster_start": 9.5, "profile analysis": 25.0,
                              "profile rollback": 30.0}
    slow = slowest_tests(doc, {"test_healthy_canary_passes": [("a", 1.0), ("b", 12.5)]}, n=2)
    assert [s["test"] for s in slow] == ["x", "healthy_canary_passes"]
    assert slow[1]["waited"] == 13.5 and slow[1]["waits"][0] == {"what": "b", "seconds": 12.5}


@pytest.mark.parametrize(("argv", "together"), [
    (["--runs", "reference:flag,upstream:explicit"], True),
    (["--runs", "reference:flag,upstream:explicit", "--backend", "local"], True),
    (["--runs", "reference:flag,upstream:explicit", "--sequential"], False),
    (["--runs", "reference:flag"], False),
    # One cluster, one controller for every run: side by side they would reinstall and reflag each other's
    # controller (seen: the existing-backend pair test failed when the driver first ran pairs side by side).
    (["--runs", "reference:flag,upstream:explicit", "--backend", "existing", "--kubeconfig", "k"], False),
    (["--runs", "reference:flag,upstream:explicit", "--backend=existing"], False),
    (["--runs", "reference:flag,upstream:explicit", "--options-file", "OPTIONS"], False),
])
def test_runs_go_side_by_side_only_on_clusters_of_their_own(argv: list[str], together: bool, tmp_path: Path) -> None:
    options = tmp_path / "options.yaml"
    options.write_text("backend: existing\n")
    args, pytest_args = parse([a.replace("OPTIONS", str(options)) for a in argv])
    assert side_by_side(args, pytest_args) is together


class StandInRun:
    """Stands in for one pytest run's process: it runs until signalled, then ends as pytest does when
    interrupted (exit 2)."""

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.signals: list[int] = []

    def poll(self) -> int | None:
        return pytest.ExitCode.INTERRUPTED if self.ended.is_set() else None

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        self.ended.set()

    def kill(self) -> None:
        self.ended.set()

    def wait(self, timeout: float | None = None) -> int:
        self.ended.wait(timeout)
        return pytest.ExitCode.INTERRUPTED


def test_interrupted_driver_writes_the_summary_with_each_run_as_it_ended(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Three runs one after the other: the first ends on its own, SIGINT comes during the second, the third
    never starts. The driver passes SIGINT on to the running one, once, waits for it, and writes summary.json
    and summary.txt anyway: finished / interrupted / interrupted (not started), exit 3."""
    import scripts.run_conformance as driver

    second = StandInRun()

    def stand_in_stream(cmd: list[str], *args: Any, **kwargs: Any) -> tuple[int, list[str]]:
        if "--implementation=first" in cmd:
            return pytest.ExitCode.OK, []
        driver.PROCS.append(second)  # type: ignore[arg-type]
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, to the driver alone, while this run goes on
        assert second.ended.wait(10), "the run was never told to stop"
        return second.wait(), ["!!!! KeyboardInterrupt !!!!"]

    monkeypatch.setattr(driver, "stream", stand_in_stream)
    monkeypatch.setattr(driver, "PROCS", [])
    handler = signal.getsignal(signal.SIGINT)
    code = driver.main(["--sequential", "--runs", "first:flag,second:flag,third:flag", "--report-dir", str(tmp_path)])
    assert code == EXIT_INFRASTRUCTURE, capsys.readouterr()
    assert second.signals == [signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is handler, "the driver left its signal handler installed"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["exit"], summary["interrupted"]) == (EXIT_INFRASTRUCTURE, "SIGINT")
    assert [(r["run"], r["state"], r["exit"]) for r in summary["runs"]] == [
        ("first-flag", "finished", EXIT_OK), ("second-flag", "interrupted", EXIT_INFRASTRUCTURE),
        ("third-flag", "interrupted", EXIT_INFRASTRUCTURE)], summary
    assert summary["runs"][2]["problem"].startswith("not started")
    text = (tmp_path / "summary.txt").read_text()
    assert "second-flag: interrupted" in text and text.rstrip().endswith("interrupted by SIGINT")
    assert not list(tmp_path.glob(".*.tmp"))


WORKERS_LOG = """suites/test_analysis.py::test_healthy_canary_passes 
suites/test_status_labels.py::test_no_labels_without_flag 
suites/test_analysis.py::test_healthy_canary_passes [gw1] setup: INFO     conformance:wait.py:80 waited 4.83s for kube-apiserver ready
suites/test_status_labels.py::test_no_labels_without_flag [gw0] call: INFO     conformance:wait.py:80 waited 2.00s for labels
suites/test_analysis.py::test_healthy_canary_passes [gw1] call: INFO     conformance:wait.py:80 waited 12.50s for AnalysisRun
[gw1] [ 50%] PASSED suites/test_analysis.py::test_healthy_canary_passes 
[gw0] [100%] FAILED suites/test_status_labels.py::test_no_labels_without_flag 
"""


def test_progress_with_workers_names_each_line_s_own_test(capsys: pytest.CaptureFixture[str]) -> None:
    """With --workers, tests interleave: outcomes and waits are read from lines that name their test."""
    progress, out = fed(WORKERS_LOG, capsys)
    assert [ln.split(" (")[0] for ln in out] == [
        "[reference-flag] PASSED  test_analysis.py::test_healthy_canary_passes",
        "[reference-flag] FAILED  test_status_labels.py::test_no_labels_without_flag"]
    assert progress.waits == {"test_healthy_canary_passes": [("kube-apiserver ready", 4.83), ("AnalysisRun", 12.5)],
                              "test_no_labels_without_flag": [("labels", 2.0)]}
