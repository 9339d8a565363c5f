"""Upstream's own e2e CanarySuite passes on the local backend against the upstream controller.

The bar: every CanarySuite test that needs no Service, Ingress or mesh passes. For
v1.10.1 that is every test: those with Services/Ingress only check what the
controller writes (`scripts/upstream_e2e.py` says why, and would name a skipped
test). About 4 minutes warm, plus a one-time build of upstream's e2e test binary
(~10 minutes cold).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.upstream_e2e import SKIPPED, run_suite

pytestmark = pytest.mark.local_backend

# The CanarySuite tests of Argo Rollouts v1.10.1.
CANARY_SUITE = {
    "TestCanaryDynamicStableScale", "TestCanaryDynamicStableScaleRollbackToStable",
    "TestCanaryProgressDeadlineExceededWithPause", "TestCanaryScaleDownDelay",
    "TestCanaryScaleDownDelayWithProgressDeadline", "TestCanaryScaleDownOnAbort",
    "TestCanaryScaleDownOnAbortNoTrafficRouting", "TestCanarySetCanaryScale", "TestCanaryUnScaleDownOnAbort",
    "TestCanaryWithPausedRollout", "TestCanaryWithSpecPause", "TestEphemeralMetadata",
    "TestReduceWeightAndHonorMaxUnavailable", "TestRolloutScalingDuringUpdate", "TestRolloutScalingWhenPaused",
    "TestRolloutWithMaxSurgeScalingDuringUpdate",
}


def test_canary_suite_passes_against_upstream_controller(tmp_path: Path) -> None:
    report = run_suite("upstream", [], "", True, 90, None, tmp_path / "e2e.log")
    results = {name: r["result"] for name, r in report["tests"].items()}
    assert {n for n, r in results.items() if r == "skip"} == set(SKIPPED)
    runnable = CANARY_SUITE - set(SKIPPED)
    assert {n: r for n, r in results.items() if n in runnable} == {n: "pass" for n in runnable}, \
        f"see {report['log']}"
