"""Profile rollback: a faulty canary under filtered step analysis is aborted fast (RBK-*)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from fixtures.backends import Backend
from fixtures.config import SuiteConfig
from fixtures.scenario import HEALTHY_V1, AppVersion, Scenario, canary_rollout, measurement_values
from fixtures.suite import Labelling
from suites.analysis import (FAULTY_ERROR_RATE, FILTERED, THRESHOLD, UNFILTERED, abort_budget, analysis_steps,
                             failed_measurement_values, record_physical_bound, record_timeline, seconds)

PROFILE = "rollback"
REPLICAS, WEIGHT = 5, 20


@dataclass
class FaultyCanary:
    name: str
    roles: dict[str, str]
    ready_at: float  # monotonic time the canary pod was first seen Ready
    budget: float  # SPEC RBK-1 abort budget of the template in use
    started: float  # wall time the scenario began, for the timeline
    ready_wall: float  # wall time of ready_at, to compare with Prometheus' sample timestamps
    interval: float  # the judging metric's analysis interval (issue 10's physical bound adds one)


def faulty_canary_at_analysis(sc: Scenario, labelling: Labelling, backend: Backend, cfg: SuiteConfig,
                              template_file: str) -> FaultyCanary:
    """Given 5 healthy replicas under step analysis, when updated to a faulty version, then its canary is Ready."""
    started = time.time()
    name = "rollback"
    template = sc.given_template(template_file)
    budget = abort_budget(template, backend.scrape_interval_seconds, cfg.timeouts.abort_slack)
    steps = analysis_steps(sc, name, [template["metadata"]["name"]], THRESHOLD, WEIGHT)
    sc.given_rollout(canary_rollout(name, HEALTHY_V1, REPLICAS, steps, sc.labels, **labelling.metadata()))
    sc.wait_healthy(name)
    sc.update(name, AppVersion("v2", FAULTY_ERROR_RATE))
    roles = sc.wait_canary_ready(name)
    ready_at = time.monotonic()
    ready_wall = sc.evidence.mark("canary Ready")
    sc.evidence.deadlines[f"abort budget ends ({budget:.0f}s after canary Ready)"] = ready_wall + budget
    interval = seconds(template["spec"]["metrics"][0]["interval"])
    return FaultyCanary(name, roles, ready_at, budget, started, ready_wall, interval)


@pytest.mark.conformance("RBK-1", "RBK-2", profile=PROFILE)
def test_faulty_canary_aborted_within_budget(labelling: Labelling, scenario: Scenario, backend: Backend,
                                             cfg: SuiteConfig) -> None:
    """A faulty canary under the filtered analysis is aborted within the budget; the stable set stays as it was."""
    sc = scenario
    fc = faulty_canary_at_analysis(sc, labelling, backend, cfg, FILTERED)
    name, roles, ready_at, budget = fc.name, fc.roles, fc.ready_at, fc.budget
    sc.wait_aborted(name, timeout=budget + 1.0)
    took = time.monotonic() - ready_at
    sc.evidence.mark("aborted")
    # The stable pods serving at the abort (basic canary scaled the stable set down to
    # make room for the canary; the abort scales it back up with new pods).
    at_abort = {p.metadata.name: p.metadata.uid for p in sc.pods(roles["stable"], name)}
    sc.evidence.measure("time to abort, filtered", round(took, 2), "s", "RBK-1", budget)
    record_physical_bound(sc, name, fc.ready_wall, fc.interval, took)
    record_timeline(sc, name, fc.started)
    assert took <= budget, f"aborted after {took:.1f}s, over the {budget:.1f}s budget"
    ro = sc.rollout(name)
    aborted = [c for c in ro["status"].get("conditions", []) if c.get("reason") == "RolloutAborted"]
    assert aborted, f"no RolloutAborted condition: {ro['status'].get('conditions')}"
    assert "canary-error-ratio" in aborted[0].get("message", ""), f"abort condition names no metric: {aborted[0]}"
    run = sc.analysis_runs()[-1]
    run_name = run["metadata"]["name"]
    assert run["status"]["phase"] == "Failed", f"AnalysisRun {run_name} is {run['status']['phase']}"
    # The abort must come from the canary's measured error ratio, not from "no canary data" (a template may
    # fail an empty result, as ANA-4 allows, and that would pass this test for the wrong reason).
    failed = failed_measurement_values(run, "canary-error-ratio")
    sc.evidence.measure("canary error ratio measured", failed[0] if failed else None, "ratio", "RBK-1",
                        note=f"true {FAULTY_ERROR_RATE}")
    assert failed, (f"AnalysisRun {run_name} has no Failed canary-error-ratio measurement: "
                    f"{measurement_values(run, 'canary-error-ratio')}")
    assert failed[0] is not None, (
        f"AnalysisRun {run_name} failed on an empty result (no series with argo_rollouts_status=\"canary\"), not "
        f"on the canary's error ratio {FAULTY_ERROR_RATE}: the abort came from missing labels")
    assert abs(failed[0] - FAULTY_ERROR_RATE) <= cfg.error_ratio_tolerance, (
        f"AnalysisRun {run_name} failed on {failed[0]}, not within ±{cfg.error_ratio_tolerance} of the canary's "
        f"error ratio {FAULTY_ERROR_RATE}")

    # RBK-2: the canary set scales to zero, the stable set is untouched and labelled stable.
    sc.wait_pods_ready(name, roles["stable"], REPLICAS)
    sc.wait_role_labels(name, {"stable": "stable"}, "stable label after abort (RBK-2)")
    view = sc.label_view(name)
    assert view[roles["canary"]]["replicas"] == 0, (
        f"canary ReplicaSet {name}-{roles['canary']} (RBK-2) still wants {view[roles['canary']]['replicas']}")
    stable = view[roles["stable"]]
    assert stable["replicas"] == REPLICAS, (
        f"stable ReplicaSet {name}-{roles['stable']} (RBK-2) wants {stable['replicas']}, not {REPLICAS}")
    now = {n: p["uid"] for n, p in stable["pods"].items()}
    replaced = {n: u for n, u in at_abort.items() if now.get(n) != u}
    assert not replaced, f"stable pods serving at the abort (RBK-2) were replaced: {replaced}; now {now}"
    assert all(p["restarts"] == 0 for p in stable["pods"].values()), f"stable pods (RBK-2) restarted: {stable['pods']}"


@pytest.mark.conformance("RBK-3", profile=PROFILE)
def test_unfiltered_analysis_misses_fault(labelling: Labelling, scenario: Scenario, backend: Backend,
                                          cfg: SuiteConfig) -> None:
    """(Informative) the unfiltered analysis does not abort the same faulty canary within the budget."""
    sc = scenario
    fc = faulty_canary_at_analysis(sc, labelling, backend, cfg, UNFILTERED)
    name, ready_at, budget = fc.name, fc.ready_at, fc.budget
    remaining = budget - (time.monotonic() - ready_at)
    # The verdict is "still not aborted once the whole budget has passed": hold for what remains of it.
    sc.wait_not_aborted(name, remaining, f"not aborted for the {budget:.0f}s budget")
    sc.evidence.mark("budget elapsed, not aborted")
    sc.evidence.measure("time to abort, unfiltered", None, "s", "RBK-3", budget,
                        note=f"not aborted within {budget:.1f}s")
    record_physical_bound(sc, name, fc.ready_wall, fc.interval, None)
    runs = sc.analysis_runs()
    if runs:
        for v in measurement_values(runs[-1], "all-error-ratio"):
            sc.evidence.measure("unfiltered error ratio measured", v, "ratio", "RBK-3")
    record_timeline(sc, name, fc.started)
