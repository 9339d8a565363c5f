"""Profile ephemeral-metadata: the same labels through explicit canaryMetadata/stableMetadata.

The baseline the flag builds on: any Argo Rollouts release must pass it with
the flag off. Same checks as the status-labels profile (suites/checks.py).
"""

from __future__ import annotations

import pytest

from fixtures.suite import Labelling
from fixtures.scenario import Scenario
from suites import checks

PROFILE = "ephemeral-metadata"


@pytest.mark.conformance("LBL-2", "LBL-8", profile=PROFILE)
def test_explicit_mid_update_labels(labelling: Labelling, scenario: Scenario) -> None:
    """Explicit metadata labels the canary and stable sets mid-update, within the budget."""
    checks.check_mid_update_labels(scenario, labelling.metadata())


@pytest.mark.conformance("LBL-3", "LBL-8", profile=PROFILE)
def test_explicit_promotion(labelling: Labelling, scenario: Scenario) -> None:
    """Explicit metadata: promotion relabels the former canary pods stable in place."""
    checks.check_promotion(scenario, labelling.metadata())


@pytest.mark.conformance("LBL-4", "LBL-8", profile=PROFILE)
def test_explicit_abort(labelling: Labelling, scenario: Scenario) -> None:
    """Explicit metadata: after an abort only stable labels remain on Ready pods."""
    checks.check_abort(scenario, labelling.metadata())


@pytest.mark.conformance("LBL-5", profile=PROFILE)
def test_explicit_new_pods(labelling: Labelling, scenario: Scenario) -> None:
    """Explicit metadata: replacement and scale-up pods carry their role from creation."""
    checks.check_new_pods(scenario, labelling.metadata())


@pytest.mark.conformance("LBL-12", "LBL-8", profile=PROFILE)
def test_explicit_superseded_canary(labelling: Labelling, scenario: Scenario) -> None:
    """Explicit metadata: a canary superseded by a newer update loses the key within the budget."""
    checks.check_superseded_canary(scenario, labelling.metadata())
