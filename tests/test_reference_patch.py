"""The reference patch applies to the pinned Argo Rollouts module, and its Go unit tests pass."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from fixtures.artifacts import build

pytestmark = pytest.mark.gotest


@pytest.fixture(scope="module")
def patched_module() -> Iterator[Path]:
    with build.reference_source() as src:
        yield src


# Every test the patch adds (rollout/canarystatuslabels_test.go, cmd/rollouts-controller/canarystatuslabels_test.go);
# a test that silently stops running is a failure too.
PATCH_TESTS = {
    "TestCanaryStatusLabelsSetter", "TestCanaryStatusLabelsFlagOffIsUpstream", "TestCanaryStatusLabelsNilMetadata",
    "TestCanaryStatusLabelsMergeUserMetadata", "TestCanaryStatusLabelsBlueGreenUntouched",
    "TestCanaryStatusLabelsReconcileGate", "TestCanaryStatusLabelsPromotionRelabels",
    "TestCanaryStatusLabelsInitialRevision", "TestCanaryStatusLabelsSecondRevision",
    "TestCanaryStatusLabelsBlueGreenInitialRevision", "TestCanaryStatusLabelsUndoTemplate",
    "TestCanaryStatusLabelsExperimentTemplate", "TestCanaryStatusLabelsAbort",
    "TestCanaryStatusLabelsFlagOffAfterOnWithUserMetadata", "TestCanaryStatusLabelsExistingReplicaSetIsNotACollision",
    "TestCanaryStatusLabelsFlag",
}


def test_go_unit_tests_of_the_patch(patched_module: Path) -> None:
    # CGO off, as the controller build: the test binaries reuse its compiled packages from the Go build cache.
    res = subprocess.run(["go", "test", "./rollout/", "./cmd/rollouts-controller/", "-run", "TestCanaryStatusLabels",
                          "-count=1", "-v"],
                         cwd=patched_module, env={**build.go_env(), "CGO_ENABLED": "0"}, capture_output=True,
                         text=True, timeout=1800)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    passed = {ln.split()[2] for ln in res.stdout.splitlines() if ln.startswith("--- PASS: TestCanaryStatusLabels")}
    assert PATCH_TESTS <= passed, f"did not pass: {sorted(PATCH_TESTS - passed)}\n{res.stdout[-2000:]}"


def test_upstream_unit_tests_still_pass_on_the_patched_module(patched_module: Path) -> None:
    """Upstream's own tests of the packages the patch changes (every test, not only ours): the flag is off by
    default, so upstream's behaviour must be untouched. (`./utils/...` as a whole also passes: its 25 packages with
    tests, with `./rollout/` the 26 of reference/README.md's "Measured here", 2026-11-27 at 7427462; but compiling
    their test binaries costs minutes, and the patch changes no package there.) The rollout package's test binary is the one
    the test above compiled, so this costs its run time, about 70 s."""
    res = subprocess.run(["go", "test", "./rollout/", "./utils/replicaset/", "-count=1"],
                         cwd=patched_module, env={**build.go_env(), "CGO_ENABLED": "0"}, capture_output=True,
                         text=True, timeout=1800)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]


def test_patch_fails_loudly_when_an_anchor_is_missing(tmp_path: Path, patched_module: Path) -> None:
    # Applying the patch a second time: every anchor is gone (already changed), which must be an error.
    with pytest.raises(build.BuildError, match="no longer applies"):
        build.apply_patch(patched_module, build.REFERENCE_PATCH)
