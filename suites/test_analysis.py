"""Profile analysis: canary-filtered analysis measures the canary alone (ANA-*)."""

from __future__ import annotations

import pytest

from fixtures.config import SuiteConfig
from fixtures.scenario import HEALTHY_V1, HEALTHY_V2, AppVersion, Scenario, canary_rollout, measurement_values
from fixtures.suite import Labelling
from suites.analysis import (FAULTY_ERROR_RATE, FILTERED, THRESHOLD, UNFILTERED, analysis_steps, judged_values,
                             metric_phase)

PROFILE = "analysis"


@pytest.mark.conformance("ANA-1", "ANA-2", profile=PROFILE)
@pytest.mark.parametrize(("replicas", "weight"), [(3, 33), (7, 14)], ids=["2-stable", "6-stable"])
def test_filtered_measures_canary_alone(labelling: Labelling, scenario: Scenario, cfg: SuiteConfig,
                                        replicas: int, weight: int) -> None:
    """The filtered query measures the canary's own error ratio whatever the number of stable pods."""
    sc, name = scenario, "measure"
    sc.given_template(FILTERED)
    sc.given_template(UNFILTERED)
    # Threshold 1: this run measures, it does not judge.
    steps = analysis_steps(sc, name, ["error-ratio-canary", "error-ratio-all"], 1.0, weight)
    sc.given_rollout(canary_rollout(name, HEALTHY_V1, replicas, steps, sc.labels, **labelling.metadata()))
    sc.wait_healthy(name)
    sc.update(name, AppVersion("v2", FAULTY_ERROR_RATE))
    # The filtered metric's verdict and the unfiltered twin's first value are the evidence; the twin's two
    # later measurements (20 s into the run) would add nothing but time.
    run = sc.wait_metrics(ended=("canary-error-ratio",), measured=("all-error-ratio",))
    # The filtered template leaves "no canary data yet" Inconclusive and judges once the canary has data:
    # the judged measurements are the ones that must hold the canary's ratio.
    filtered = judged_values(run, "canary-error-ratio")
    unfiltered = measurement_values(run, "all-error-ratio")
    canary_share = 1 / replicas
    for v in filtered:
        sc.evidence.measure("filtered canary error ratio", v, "ratio", "ANA-1", note=f"true {FAULTY_ERROR_RATE}")
    for v in unfiltered:
        sc.evidence.measure("unfiltered error ratio", v, "ratio", "ANA-2",
                            note=f"dilution model {canary_share * FAULTY_ERROR_RATE:.3f}")
    phase = metric_phase(run, "canary-error-ratio")
    assert phase == "Successful", (f"the filtered metric of AnalysisRun {run['metadata']['name']} ended {phase} "
                                   f"(run {run['status'].get('phase')}: {run['status'].get('message')})")
    assert filtered and all(v is not None for v in filtered), f"filtered query returned no data: {filtered}"
    off = [v for v in filtered if v is None or abs(v - FAULTY_ERROR_RATE) > cfg.error_ratio_tolerance]
    assert not off, (f"filtered measurements {filtered} not within ±{cfg.error_ratio_tolerance} of the canary's "
                     f"true error ratio {FAULTY_ERROR_RATE}")


@pytest.mark.conformance("ANA-3", profile=PROFILE)
def test_healthy_canary_passes(labelling: Labelling, scenario: Scenario) -> None:
    """A healthy canary passes the filtered analysis and the Rollout becomes Healthy."""
    sc, name = scenario, "healthy"
    sc.given_template(FILTERED)
    steps = analysis_steps(sc, name, ["error-ratio-canary"], THRESHOLD, 20)[:2]  # no final pause
    sc.given_rollout(canary_rollout(name, HEALTHY_V1, 5, steps, sc.labels, **labelling.metadata()))
    sc.wait_healthy(name)
    sc.update(name, HEALTHY_V2)
    run = sc.wait_analysis_run()
    values = judged_values(run, "canary-error-ratio")
    for v in values:
        sc.evidence.measure("filtered canary error ratio (healthy)", v, "ratio", "ANA-3")
    assert run["status"]["phase"] == "Successful", f"healthy canary's analysis ended {run['status'].get('phase')}: {run['status'].get('message')} {values}"
    ro = sc.wait_healthy(name)
    assert ro["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v2")


@pytest.mark.conformance("ANA-4", profile=PROFILE)
def test_no_canary_data_never_passes(labelling: Labelling, scenario: Scenario) -> None:
    """The filtered template fails, never passes, when no series carries the canary label."""
    sc, name = scenario, "nodata"
    tpl = sc.given_template(FILTERED)
    # A healthy Rollout with no update in flight: its pods are all stable, so the
    # canary filter selects nothing while the app's series exist.
    sc.given_rollout(canary_rollout(name, HEALTHY_V1, 2, [{"pause": {}}], sc.labels, **labelling.metadata()))
    sc.wait_healthy(name)
    sc.given_analysis_run("no-canary-data", tpl, name, THRESHOLD)
    run = sc.wait_analysis_run(name="no-canary-data")
    sc.evidence.notes.append(f"AnalysisRun phase {run['status']['phase']}: {run['status'].get('message')}")
    assert run["status"]["phase"] in ("Failed", "Error"), f"no canary data gave phase {run['status']['phase']}"
    stable = sc.promql(f'count(http_requests_total{{namespace="{sc.ns}",app="{name}"}})')
    assert stable, "the app's own series were missing too: the test proved nothing about the filter"
