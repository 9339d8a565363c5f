"""Profile metrics: the status label reaches Prometheus series (MET-1)."""

from __future__ import annotations

import pytest

from fixtures.scenario import Scenario
from fixtures.suite import Labelling
from fixtures.wait import wait_until
from suites import checks

PROFILE = "metrics"


@pytest.mark.conformance("MET-1", profile=PROFILE)
def test_series_carry_status_label(labelling: Labelling, scenario: Scenario) -> None:
    """Series scraped from canary pods say canary, from stable pods stable, and follow promotion."""
    sc, name = scenario, "metrics"
    roles = checks.paused_canary(sc, name, 4, labelling.metadata())
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"}, "status labels while paused")
    sc.wait_pods_ready(name, roles["canary"], 1)

    def series_match(expected_by_hash: dict[str, str]) -> tuple[bool, object]:
        want = {p.metadata.name: v for h, v in expected_by_hash.items() for p in sc.pods(h, name)}
        seen = sc.series_labels_by_pod(name)
        return bool(want) and all(seen.get(pod) == {v} for pod, v in want.items()), {"want": want, "seen": seen}

    wait_until("series labelled by role mid-update", lambda: series_match(
        {roles["canary"]: "canary", roles["stable"]: "stable"}), sc.t.series_visible)
    sc.promote(name, full=True)
    sc.wait_healthy(name)
    res = wait_until("series of the promoted pods labelled stable",
                     lambda: series_match({roles["canary"]: "stable"}), sc.t.series_visible)
    sc.evidence.measure("series relabelled after promotion", round(res.elapsed, 2), "s", "MET-1")
