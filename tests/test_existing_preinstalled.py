"""A vendor's case on the in-cluster path: a controller installed beforehand, found with
`--controller preinstalled`, restarted only when allowed, its args restored."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.install.credential import BROADER
from fixtures.kube import Kube
from fixtures.report.model import EXIT_CLAIM_NOT_MET, EXIT_OK
from tests.existing_cluster import EXPECTED, leftovers, local_cluster_program, report, run_driver, verdicts

pytestmark = pytest.mark.local_backend


def test_preinstalled_controller_gives_the_same_verdicts_and_is_restored(tmp_path: Path) -> None:
    with local_cluster_program(tmp_path, "--preinstall-controller", "reference") as kubeconfig:
        kube = Kube(kubeconfig)
        before = kube.apps.read_namespaced_deployment("argo-rollouts", "argo-rollouts")
        out, codes = run_driver(tmp_path / "reports", "reference:flag", "--backend=existing",
                                f"--kubeconfig={kubeconfig}", "--controller=preinstalled", "--allow-controller-restart")
        assert codes == {"reference-flag": EXIT_OK}, (codes, out)
        doc = report(tmp_path / "reports", "reference-flag")
        assert verdicts(doc) == EXPECTED["reference-flag"], (verdicts(doc), out)
        recorded = doc["environment"]["backendDetails"]["controllerDeployment"]
        assert recorded["name"] == "argo-rollouts/argo-rollouts"
        assert recorded["image"] == before.spec.template.spec.containers[0].image
        assert recorded["args"] == list(before.spec.template.spec.containers[0].args or [])
        after = kube.apps.read_namespaced_deployment("argo-rollouts", "argo-rollouts")
        assert after.spec.template.spec.containers[0].args == before.spec.template.spec.containers[0].args
        assert leftovers(kube) == []


def test_preinstalled_controller_without_restart_permission_is_partial(tmp_path: Path) -> None:
    with local_cluster_program(tmp_path, "--preinstall-controller", "reference") as kubeconfig:
        # A vendor's controller with a right of its own beyond upstream's role: recorded and warned, not failed.
        kube = Kube(kubeconfig)
        kube.rbac.create_cluster_role({"metadata": {"name": "vendor-node-reader"},
                                       "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]})
        kube.rbac.create_cluster_role_binding({
            "metadata": {"name": "vendor-node-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "vendor-node-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "argo-rollouts", "namespace": "argo-rollouts"}]})
        out, codes = run_driver(tmp_path / "reports", "reference:flag", "--backend=existing",
                                f"--kubeconfig={kubeconfig}", "--controller=preinstalled", "--profile=status-labels",
                                claims=["status-labels"])
        # Claimed but only partly checked: a partial profile never meets a claim.
        assert codes == {"reference-flag": EXIT_CLAIM_NOT_MET}, (codes, out)
        doc = report(tmp_path / "reports", "reference-flag")
        status = next(p for p in doc["profiles"] if p["name"] == "status-labels")
        assert status["core"]["result"] == "partial", status
        skipped = [t for t in status["tests"] if t["outcome"] == "skipped"]
        assert skipped and all("--allow-controller-restart" in t["message"] for t in skipped), skipped
        details = doc["environment"]["backendDetails"]
        credential = details["controllerCredential"]
        assert credential["outsideRole"]["status"] == 200 and credential["insideRole"]["status"] == 200, credential
        assert {"binding": "ClusterRoleBinding vendor-node-reader", "role": "ClusterRole vendor-node-reader",
                "subject": "ServiceAccount argo-rollouts/argo-rollouts"} in credential["bindings"], credential
        assert any(BROADER in w for w in details["warnings"]), details
