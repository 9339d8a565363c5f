"""The controller's credential on the in-cluster path (fixtures/install/credential.py), without a cluster: the
decision from the two requests' statuses, which bindings bind the ServiceAccount, the requests chosen against
upstream's own ClusterRole, a token client that carries none of the admin's credentials, and where the report
puts the record and its warnings. The requests themselves run in tests/test_existing_install.py (refused) and
tests/test_existing_preinstalled.py (a vendor's broader binding: allowed, warned, not failed)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.rest import ApiException

from fixtures.backends.existing import ExistingCluster
from fixtures.backends.incluster import InClusterBackend
from fixtures.config import SuiteConfig
from fixtures.install import credential, rollouts
from fixtures.kube import Kube
from fixtures.report.html import render_summary


@pytest.mark.parametrize(("outside", "inside", "expected"), [
    (403, 200, []),
    (200, 200, [credential.BROADER]),
    (403, 403, [credential.NARROWER]),
    (200, 403, [credential.BROADER, credential.NARROWER]),
    (401, 401, ["inconclusive: list nodes", "inconclusive: list rollouts"]),
    (500, 200, ["inconclusive: list nodes"]),
])
def test_only_refused_outside_and_allowed_inside_is_upstreams_role(outside: int, inside: int,
                                                                   expected: list[str]) -> None:
    warnings = credential.assess(outside, inside)
    assert len(warnings) == len(expected), warnings
    for warning, start in zip(warnings, expected):
        assert warning.startswith(start), (warning, start)


SA_NS, SA = "argo-rollouts", "argo-rollouts"


def binding(kind: str, name: str, role: str, *subjects: dict[str, str], namespace: str | None = None) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "metadata": meta, "subjects": list(subjects),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}}


def test_bindings_by_name_user_name_or_group_and_no_others() -> None:
    found = credential.bindings_of([
        binding("ClusterRoleBinding", "argo-rollouts", "argo-rollouts",
                {"kind": "ServiceAccount", "name": SA, "namespace": SA_NS}),
        # A RoleBinding's ServiceAccount subject without a namespace is in the binding's own namespace.
        binding("RoleBinding", "local", "edit", {"kind": "ServiceAccount", "name": SA}, namespace=SA_NS),
        binding("ClusterRoleBinding", "as-user", "view",
                {"kind": "User", "name": f"system:serviceaccount:{SA_NS}:{SA}"}),
        binding("ClusterRoleBinding", "all-sas-of-ns", "view", {"kind": "Group", "name": f"system:serviceaccounts:{SA_NS}"}),
        binding("ClusterRoleBinding", "all-sas", "view", {"kind": "Group", "name": "system:serviceaccounts"}),
        # Not this ServiceAccount: the same name elsewhere, another namespace's group, another user.
        binding("ClusterRoleBinding", "same-name-elsewhere", "cluster-admin",
                {"kind": "ServiceAccount", "name": SA, "namespace": "kube-system"}),
        binding("RoleBinding", "other-ns", "admin", {"kind": "ServiceAccount", "name": SA}, namespace="default"),
        binding("ClusterRoleBinding", "other-group", "cluster-admin", {"kind": "Group", "name": "system:serviceaccounts:default"}),
        binding("ClusterRoleBinding", "admins", "cluster-admin", {"kind": "User", "name": "admin"},
                {"kind": "Group", "name": "system:masters"}),
    ], SA_NS, SA)
    assert found == [
        {"binding": "ClusterRoleBinding argo-rollouts", "role": "ClusterRole argo-rollouts",
         "subject": f"ServiceAccount {SA_NS}/{SA}"},
        {"binding": f"RoleBinding {SA_NS}/local", "role": "ClusterRole edit", "subject": f"ServiceAccount {SA_NS}/{SA}"},
        {"binding": "ClusterRoleBinding as-user", "role": "ClusterRole view",
         "subject": f"User system:serviceaccount:{SA_NS}:{SA}"},
        {"binding": "ClusterRoleBinding all-sas-of-ns", "role": "ClusterRole view",
         "subject": f"Group system:serviceaccounts:{SA_NS}"},
        {"binding": "ClusterRoleBinding all-sas", "role": "ClusterRole view", "subject": "Group system:serviceaccounts"},
    ]


def grants(rules: list[dict[str, Any]], verb: str, group: str, resource: str) -> bool:
    """Whether RBAC `rules` allow `verb` on `resource` of API `group` (wildcards included)."""
    return any(verb in r.get("verbs", []) or "*" in r.get("verbs", []) for r in rules
               if (group in r.get("apiGroups", []) or "*" in r.get("apiGroups", []))
               and (resource in r.get("resources", []) or "*" in r.get("resources", [])))


def test_the_two_requests_are_outside_and_inside_upstreams_own_role() -> None:
    """Read against the pinned install.yaml: its ClusterRole does not grant listing nodes and does grant listing
    rollouts, and its binding is what the record names for the controller's ServiceAccount."""
    from fixtures.artifacts import build

    manifest = build.ensure(["rollouts-manifests"])["rollouts-install-yaml"]
    objects = rollouts.render(manifest, "img:1", [], local_cluster=False).objects
    role = next(o for o in objects if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "argo-rollouts")
    assert credential.OUTSIDE_ROLE.startswith("list nodes")
    assert not grants(role["rules"], "list", "", "nodes")
    assert credential.INSIDE_ROLE.startswith("list rollouts.argoproj.io")
    assert grants(role["rules"], "list", "argoproj.io", "rollouts")
    dep = next(o for o in objects if o["kind"] == "Deployment")
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == SA
    assert credential.bindings_of([o for o in objects if o["kind"].endswith("RoleBinding")], rollouts.NAMESPACE, SA) == [
        {"binding": "ClusterRoleBinding argo-rollouts", "role": "ClusterRole argo-rollouts",
         "subject": f"ServiceAccount {rollouts.NAMESPACE}/{SA}"}]


def test_the_token_client_carries_none_of_the_kubeconfigs_credentials(tmp_path: Path) -> None:
    pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
    key = base64.b64encode(b"-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n").decode()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority-data": pem}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": pem, "client-key-data": key,
                                             "token": "admin-token"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "admin"}}]}))
    kube = Kube(kubeconfig)
    own = kube.api.configuration
    assert own.cert_file and own.api_key  # the admin's: the token client must drop both
    with kube.client_with_token("controller-token") as api:
        conf = api.configuration
        assert conf.host == own.host and conf.ssl_ca_cert == own.ssl_ca_cert and conf.verify_ssl == own.verify_ssl
        assert conf.cert_file is None and conf.key_file is None
        assert conf.auth_settings() == {"BearerToken": {"type": "api_key", "in": "header", "key": "authorization",
                                                        "value": "Bearer controller-token"}}


def test_a_refusal_is_recorded_with_the_apiservers_message() -> None:
    def refused() -> int:
        exc = ApiException(status=403, reason="Forbidden")
        exc.body = json.dumps({"kind": "Status", "message": 'nodes is forbidden: User "system:serviceaccount:a:b" '
                                                            'cannot list resource "nodes"'})
        raise exc

    assert credential.answer(refused) == {"status": 403, "message": 'nodes is forbidden: User '
                                          '"system:serviceaccount:a:b" cannot list resource "nodes"'}
    assert credential.answer(lambda: 200) == {"status": 200}


def test_the_report_records_the_credential_and_puts_its_warnings_with_the_backends(tmp_path: Path) -> None:
    backend = InClusterBackend(SuiteConfig(backend="existing"), ExistingCluster(tmp_path / "kubeconfig", None))
    assert "controllerCredential" not in backend.details() and "warnings" not in backend.details()
    record = {"serviceAccount": "argo-rollouts/argo-rollouts", "readFrom": "pod argo-rollouts/x", "bindings": [],
              "outsideRole": {"request": credential.OUTSIDE_ROLE, "expected": 403, "status": 200},
              "insideRole": {"request": credential.INSIDE_ROLE, "expected": 200, "status": 200},
              "warnings": credential.assess(200, 200)}
    backend.controller_credential = record
    details = backend.details()
    assert details["controllerCredential"] == {k: v for k, v in record.items() if k != "warnings"}
    assert details["warnings"] == [f"controller credential: {w}" for w in record["warnings"]]
    page = render_summary({"environment": {"backend": "existing", "backendDetails": details}})
    assert credential.BROADER.replace("'", "&#x27;") in page
