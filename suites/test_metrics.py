"""Profile metrics: the status label reaches Prometheus series (MET-1)."""

from __future__ import annotations

import pytest

from fixtures.scenario import Scenario
from fixtures.suite import Labelling
from suites import checks

PROFILE = "metrics"


@pytest.mark.conformance("MET-1", profile=PROFILE)
def test_series_carry_status_label(labelling: Labelling, scenario: Scenario) -> None:
    """Series scraped from canary pods say canary, from stable pods stable, and follow promotion."""
    sc, name = scenario, "metrics"
    roles = checks.paused_canary(sc, name, 4, labelling.metadata())
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"}, "status labels while paused (LBL-2)")
    sc.wait_pods_ready(name, roles["canary"], 1)

    sc.wait_series_labels(name, {roles["canary"]: "canary", roles["stable"]: "stable"},
                          "series labelled by role mid-update (MET-1)")
    sc.promote(name, full=True)
    sc.wait_healthy(name)
    took = sc.wait_series_labels(name, {roles["canary"]: "stable"},
                                 "series of the promoted pods labelled stable (MET-1)")
    sc.evidence.measure("series relabelled after promotion", round(took, 2), "s", "MET-1")
