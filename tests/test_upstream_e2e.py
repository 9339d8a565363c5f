"""Upstream's own e2e CanarySuite passes on the local backend against the upstream controller, and against
the reference controller with the flag on.

The bar: every CanarySuite test that needs no Service, Ingress or mesh passes. For
v1.10.1 that is every test: those with Services/Ingress only check what the
controller writes (`scripts/upstream_e2e.py` says why, and would name a skipped
test). About 4 minutes warm per controller, plus a one-time build of upstream's e2e test binary
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


@pytest.mark.parametrize(("controller", "flags"), [("upstream", []),
                                                   ("reference", ["--enable-canary-status-labels"])],
                         ids=["upstream", "reference-with-the-flag"])
def test_canary_suite_passes(controller: str, flags: list[str], tmp_path: Path) -> None:
    """Upstream's controller passes its own CanarySuite here (the local backend is fit for it), and so does the
    reference with the flag on: the flag labels every canary Rollout, so the feature must not break any of
    upstream's canary behaviour (before the reference's LBL-10 fix, 15 of 16 passed: an undo made a new revision)."""
    report = run_suite(controller, flags, "", True, 90, None, tmp_path / "e2e.log")
    results = {name: r["result"] for name, r in report["tests"].items()}
    assert {n for n, r in results.items() if r == "skip"} == set(SKIPPED)
    runnable = CANARY_SUITE - set(SKIPPED)
    assert {n: r for n, r in results.items() if n in runnable} == {n: "pass" for n in runnable}, \
        f"see {report['log']}"
