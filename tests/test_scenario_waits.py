"""Scenario waits that read AnalysisRuns, driven by a scripted sequence of runs (no cluster)."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.scenario.waits import Waits
from fixtures.timeouts import Timeouts
from fixtures.wait import WaitTimeout


def run(phase: str, **metrics: tuple[str | None, int]) -> dict[str, Any]:
    """An AnalysisRun in `phase` whose metrics have (phase, number of measurements)."""
    return {"metadata": {"name": "measure-1"}, "status": {"phase": phase, "metricResults": [
        {"name": n, "phase": p, "measurements": [{"value": "[0.4]"}] * count} for n, (p, count) in metrics.items()]}}


class ScriptedRuns(Waits):
    """Waits whose AnalysisRuns come from a script: each read returns the next state, the last one repeats."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script, self.reads = script, 0
        self.t = Timeouts(analysis_run=2.0)
        self.ns = "rc-test"

    def analysis_runs(self) -> list[dict[str, Any]]:
        state = self.script[min(self.reads, len(self.script) - 1)]
        self.reads += 1
        return [state]


def test_wait_metrics_returns_once_the_named_metrics_have_their_results_while_the_run_goes_on() -> None:
    waits = ScriptedRuns([
        run("Running", **{"canary-error-ratio": ("Running", 2), "all-error-ratio": (None, 0)}),
        run("Running", **{"canary-error-ratio": ("Successful", 3), "all-error-ratio": (None, 0)}),
        run("Running", **{"canary-error-ratio": ("Successful", 3), "all-error-ratio": ("Running", 1)}),
        run("Successful", **{"canary-error-ratio": ("Successful", 3), "all-error-ratio": ("Successful", 3)}),
    ])
    got = waits.wait_metrics(ended=("canary-error-ratio",), measured=("all-error-ratio",))
    assert got["status"]["phase"] == "Running"
    assert [len(m["measurements"]) for m in got["status"]["metricResults"]] == [3, 1]


def test_wait_metrics_returns_a_run_that_ended_before_its_metrics_did() -> None:
    failed = run("Failed", **{"canary-error-ratio": ("Running", 1), "canary-data": ("Failed", 20)})
    waits = ScriptedRuns([failed])
    assert waits.wait_metrics(ended=("canary-error-ratio",))["status"]["phase"] == "Failed"


def test_wait_metrics_times_out_naming_the_metrics_and_their_last_values() -> None:
    waits = ScriptedRuns([run("Running", **{"canary-error-ratio": ("Running", 1), "all-error-ratio": (None, 0)})])
    waits.t = Timeouts(analysis_run=0.5)
    with pytest.raises(WaitTimeout) as err:
        waits.wait_metrics(ended=("canary-error-ratio",), measured=("all-error-ratio",))
    message = str(err.value)
    assert "canary-error-ratio ended and all-error-ratio measured" in message
    assert "rc-test" in message and "'phase': 'Running'" in message
