"""The pinned versions agree with the wrapper modules that build them."""

from __future__ import annotations

import re
from pathlib import Path

from fixtures.artifacts import versions

GOMOD = Path(__file__).resolve().parents[1] / "fixtures" / "artifacts" / "gomod"


def test_kubernetes_pin_matches_wrapper_module() -> None:
    text = (GOMOD / "kubernetes" / "go.mod").read_text()
    assert re.search(rf"^\s*k8s\.io/kubernetes {re.escape(versions.KUBERNETES)}\b", text, re.M)
    staging = re.findall(r"=> (k8s\.io/\S+) (v\S+)", text)
    assert staging, "no staging replace lines"
    minor = versions.KUBERNETES.lstrip("v").split(".", 1)[1]
    assert {v for _, v in staging} == {f"v0.{minor}"}, staging


def test_etcd_pin_matches_wrapper_module() -> None:
    text = (GOMOD / "etcd" / "go.mod").read_text()
    assert re.search(rf"go\.etcd\.io/etcd/server/v3 {re.escape(versions.ETCD)}\b", text)


def test_prometheus_module_version_matches_release() -> None:
    major_minor = int(versions.PROMETHEUS_MODULE.split(".")[1])
    assert versions.PROMETHEUS.startswith(f"{major_minor // 100}.{major_minor % 100}.")
