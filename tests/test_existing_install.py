"""The in-cluster path, run for real: Argo Rollouts installed from upstream's install.yaml and Prometheus from
our manifests, as pods of a local cluster used as an `existing` one; the verdicts must be the local backend's
(reference in flag mode succeeds everywhere, upstream in explicit mode is unsupported for status-labels only),
with the controller under upstream's own ServiceAccount and role (refused outside it, allowed inside)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.kube import Kube
from fixtures.report.model import EXIT_CLAIM_NOT_MET, EXIT_OK
from fixtures.timeouts import Timeouts
from tests.existing_cluster import EXPECTED, leftovers, local_cluster_program, report, run_driver, verdicts
from tests.leftovers import secrets_in

pytestmark = pytest.mark.local_backend

# "Reported as unsupported within seconds": a third of the rollout wait a missed exit would cost.
REFUSAL_BOUND_SECONDS = Timeouts().controller_start


def test_existing_backend_installs_from_manifests_and_gives_the_local_verdicts(tmp_path: Path) -> None:
    with local_cluster_program(tmp_path) as kubeconfig:
        out, codes = run_driver(tmp_path / "reports", "reference:flag,upstream:explicit", "--backend=existing",
                                f"--kubeconfig={kubeconfig}")
        assert codes == {"reference-flag": EXIT_OK, "upstream-explicit": EXIT_CLAIM_NOT_MET}, (codes, out)
        for run, expected in EXPECTED.items():
            doc = report(tmp_path / "reports", run)
            assert verdicts(doc) == expected, (run, verdicts(doc), out)
            details = doc["environment"]["backendDetails"]
            assert doc["environment"]["backend"] == "existing"
            assert details["localCluster"] is True and details["controllerMode"] == "install"
            assert any("Recreate" in o for o in details["overrides"]), details
            # The controller runs under upstream's ServiceAccount and role: refused outside it, allowed inside.
            credential = details["controllerCredential"]
            assert credential["serviceAccount"] == "argo-rollouts/argo-rollouts", credential
            assert {"binding": "ClusterRoleBinding argo-rollouts", "role": "ClusterRole argo-rollouts",
                    "subject": "ServiceAccount argo-rollouts/argo-rollouts"} in credential["bindings"], credential
            outside, inside = credential["outsideRole"], credential["insideRole"]
            assert outside["request"].startswith("list nodes") and outside["status"] == 403, credential
            assert "system:serviceaccount:argo-rollouts:argo-rollouts" in outside["message"], credential
            assert inside["request"].startswith("list rollouts") and inside["status"] == 200, credential
            assert "warnings" not in details, details
        # The upstream build refuses the flag: found from the new pod's exit and log, not by waiting out the
        # rollout wait (controller_start + pods_ready, 90 s). The test that asks first pays the roll (old pod
        # gone under Recreate, new pod started, its exit seen within a 0.5 s poll, its log read); later ones
        # reuse the remembered refusal.
        status = next(p for p in report(tmp_path / "reports", "upstream-explicit")["profiles"]
                      if p["name"] == "status-labels")
        unsupported = status["core"]["unsupported"]
        reason = unsupported["reason"]
        assert reason.startswith("the controller refuses --enable-canary-status-labels: "), unsupported
        assert "unknown flag: --enable-canary-status-labels" in reason, unsupported
        refused = [t for t in status["tests"] if t["outcome"] == "unsupported"]
        assert refused and all(t["durationSeconds"] < REFUSAL_BOUND_SECONDS for t in refused), refused
        # The controller's token, like every other credential, is in no report, log or attachment.
        assert secrets_in(tmp_path / "reports") == []
        kube = Kube(kubeconfig)
        assert leftovers(kube) == []
        assert kube.apps.list_deployment_for_all_namespaces(label_selector="app.kubernetes.io/name=argo-rollouts").items == []
