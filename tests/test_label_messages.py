"""Label waits say what was seen instead: the object, the wanted value, and the key/value found (near misses too)."""

from __future__ import annotations

from typing import Any

from fixtures.labels import STATUS_KEY
from fixtures.scenario.views import compact_view, describe_status_label, key_carriers, label_problems, near_miss_keys


def rs_view(template: dict[str, str], pods: dict[str, dict[str, str]], fully_labeled: int = 1) -> dict[str, Any]:
    return {"template": template.get(STATUS_KEY), "template_labels": template, "replicas": len(pods),
            "status_replicas": len(pods), "fully_labeled": fully_labeled,
            "pods": {n: {"label": labels.get(STATUS_KEY), "labels": labels} for n, labels in pods.items()}}


def test_near_miss_keys() -> None:
    labels = {"app": "x", "argo_rollouts_status": "canary", "example.com/argo-rollouts-status": "canary",
              "argo-rollout-status": "stable", "status": "ok", STATUS_KEY: "stable"}
    assert near_miss_keys(labels) == {"argo_rollouts_status": "canary", "example.com/argo-rollouts-status": "canary",
                                      "argo-rollout-status": "stable"}
    assert describe_status_label({STATUS_KEY: "canary"}) == f"{STATUS_KEY}=canary"
    assert describe_status_label({"app": "x"}) == f"no {STATUS_KEY}"
    assert describe_status_label({"argo_rollouts_status": "canary"}) == (
        f"no {STATUS_KEY} (near miss: argo_rollouts_status=canary)")


def test_label_problems_name_object_want_and_seen() -> None:
    view = {"abc": rs_view({"app": "x", STATUS_KEY: "stable"},
                           {"p1": {"argo_rollouts_status": "canary"}, "p2": {STATUS_KEY: "canary"}}, fully_labeled=1)}
    problems = label_problems(view, {"abc": "canary", "def": "stable"}, "app")
    assert problems == [
        f"ReplicaSet app-abc template: want {STATUS_KEY}=canary, has {STATUS_KEY}=stable",
        "ReplicaSet app-abc: fullyLabeledReplicas 1 of 2",
        f"pod p1: want {STATUS_KEY}=canary, has no {STATUS_KEY} (near miss: argo_rollouts_status=canary)",
        "ReplicaSet app-def: not found (ReplicaSets: ['abc'])",
    ]
    assert compact_view(view)["abc"]["pods"] == {"p1": f"no {STATUS_KEY} (near miss: argo_rollouts_status=canary)",
                                             "p2": f"{STATUS_KEY}=canary"}


def test_key_carriers_list_every_carrier_with_its_value() -> None:
    view = {"abc": rs_view({STATUS_KEY: "canary"}, {"p1": {STATUS_KEY: "canary"}, "p2": {"app": "x"}})}
    assert key_carriers(view, "app") == [f"ReplicaSet app-abc template has {STATUS_KEY}=canary",
                                         f"pod p1 has {STATUS_KEY}=canary"]
