"""Label checks shared by the status-labels and ephemeral-metadata profiles.

The two profiles assert the same behaviour (LBL-2 ... LBL-5, LBL-8, LBL-12); they
differ only in where the labels come from: the controller's flag, or
canaryMetadata/stableMetadata in the Rollout. `metadata` is what
`Labelling.metadata()` returns for the profile.

Each label check's message names the requirement it checks, in parentheses (`... (LBL-3)`), a precondition's
too (`status labels while paused (LBL-2)`), so a failure says which requirement was not met, not only which test.
"""

from __future__ import annotations

import functools
from typing import Any

from fixtures.labels import STATUS_KEY
from fixtures.scenario import HEALTHY_V1, HEALTHY_V2, AppVersion, Scenario, canary_rollout

PAUSE_AT_25: list[dict[str, Any]] = [{"setWeight": 25}, {"pause": {}}]
# A third revision: another pod template on an image tag the in-cluster backends build (v1 and v2 only).
HEALTHY_V3 = AppVersion("v2", load_rps=12.0)


def paused_canary(sc: Scenario, name: str, replicas: int, metadata: dict[str, Any],
                  steps: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """Given a healthy Rollout, when updated, then paused mid-update: returns its roles."""
    sc.given_rollout(canary_rollout(name, HEALTHY_V1, replicas, steps or PAUSE_AT_25, sc.labels, **metadata))
    sc.wait_healthy(name)
    sc.update(name, HEALTHY_V2)
    sc.wait_paused(name)
    return sc.roles(name)


def check_mid_update_labels(sc: Scenario, metadata: dict[str, Any], requirement: str = "LBL-2") -> None:
    """LBL-2 / LBL-8: canary and stable sets labelled mid-update, within the budget, and staying so."""
    name = "labels"
    sc.given_rollout(canary_rollout(name, HEALTHY_V1, 4, PAUSE_AT_25, sc.labels, **metadata))
    sc.wait_healthy(name)
    sc.update(name, HEALTHY_V2)
    sc.wait_role_change(name, "canary")  # LBL-8's clock starts when the controller records the canary set
    took, state = sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"},
                                      f"status labels after update ({requirement})", hold=sc.t.label_hold)
    sc.evidence.measure("label convergence after update", round(took, 2), "s", "LBL-8", sc.t.label_budget)
    sc.wait_paused(name)
    roles = sc.roles(name)
    canary = sc.wait_pods_ready(name, roles["canary"], 1)
    stable = sc.wait_pods_ready(name, roles["stable"], 3)
    assert [p.metadata.labels.get(STATUS_KEY) for p in canary] == ["canary"], (
        f"Ready canary pod of ReplicaSet {name}-{roles['canary']} ({requirement}): {STATUS_KEY} "
        f"{[p.metadata.labels.get(STATUS_KEY) for p in canary]}, want ['canary']; {state}")
    assert {p.metadata.labels.get(STATUS_KEY) for p in stable} == {"stable"}, (
        f"Ready stable pods of ReplicaSet {name}-{roles['stable']} ({requirement}): {STATUS_KEY} "
        f"{sorted(str(p.metadata.labels.get(STATUS_KEY)) for p in stable)}, want only 'stable'; {state}")


def assert_no_new_revision(sc: Scenario, name: str, before: dict[str, Any], requirement: str, action: str,
                           instead: str = "") -> dict[str, Any]:
    """After `action` (enabling the flag, a promotion), the Rollout's ReplicaSets are still those of `before`
    (a `label_view`): a new one is a new revision, its pods replacing the old ones. Returns the view now."""
    after = sc.label_view(name)
    new_sets = {f"{name}-{h}": rs["template_labels"] for h, rs in after.items() if h not in before}
    assert not new_sets, (
        f"Rollout {sc.ns}/{name} ({requirement}): {action} created ReplicaSet(s) {new_sets} (template labels "
        f"shown): a new revision, so the pods were replaced{', ' + instead if instead else ''}; the {STATUS_KEY} "
        f"label must not be part of the pod-template hash")
    return after


def check_promotion(sc: Scenario, metadata: dict[str, Any]) -> None:
    """LBL-3 / LBL-8: after full promotion the former canary pods say stable, same UIDs, no restarts."""
    name = "promote"
    roles = paused_canary(sc, name, 4, metadata)
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"}, "status labels while paused (LBL-2)")
    sets_before = sc.label_view(name)
    before = sets_before[roles["canary"]]["pods"]
    assert before, f"no canary pods before promotion: {sets_before}"
    sc.promote(name, full=True)
    # LBL-8's clock starts when the controller records the former canary as stable (after the full
    # promotion scaled it up and its pods became Ready), not at the promote call.
    sc.wait_role_change(name, "stable", roles["canary"])
    took, _ = sc.wait_labels(name, {roles["canary"]: "stable"}, "former canary set relabelled stable (LBL-3)",
                             hold=sc.t.label_hold)
    sc.evidence.measure("label convergence after promotion", round(took, 2), "s", "LBL-8", sc.t.label_budget)
    # Checked before waiting for Healthy: a new revision at promotion would first run through the steps again.
    assert_no_new_revision(sc, name, sets_before, "LBL-3", "promotion", "not relabelled in place")
    ro = sc.wait_healthy(name)
    assert ro["status"]["stableRS"] == roles["canary"], f"promoted stableRS {ro['status']['stableRS']} is not the former canary {roles['canary']}"
    after = sc.label_view(name)[roles["canary"]]["pods"]
    for pod, seen in before.items():
        assert pod in after, f"former canary pod {pod} (LBL-3) was replaced instead of relabelled: now {sorted(after)}"
        assert after[pod]["uid"] == seen["uid"], f"pod {pod} (LBL-3) changed UID {seen['uid']} -> {after[pod]['uid']}"
        assert after[pod]["restarts"] == seen["restarts"], (
            f"pod {pod} (LBL-3) restarted: {seen['restarts']} -> {after[pod]['restarts']}")
        assert after[pod]["label"] == "stable", (
            f"pod {pod} (LBL-3) says {STATUS_KEY}={after[pod]['label']!r} after promotion")


def check_abort(sc: Scenario, metadata: dict[str, Any]) -> None:
    """LBL-4: after an abort the stable set says stable and no Ready pod says canary."""
    name = "abort"
    roles = paused_canary(sc, name, 4, metadata)
    sc.wait_pods_ready(name, roles["canary"], 1)
    sc.abort(name)
    sc.wait_aborted(name)

    def no_ready_canary(view: dict[str, Any]) -> list[str]:
        return [n for rs in view.values() for n, p in rs["pods"].items() if p["ready"] and p["label"] == "canary"]

    took, _ = sc.wait_role_labels(name, {"stable": "stable"}, "stable label after abort (LBL-4)",
                                  hold=sc.t.label_hold)
    sc.evidence.measure("label convergence after abort", round(took, 2), "s", "LBL-8", sc.t.label_budget)
    view = sc.label_view(name)
    assert view[roles["canary"]]["replicas"] == 0, (
        f"canary ReplicaSet {name}-{roles['canary']} (LBL-4) not scaled to zero: {view[roles['canary']]}")
    assert not no_ready_canary(view), (
        f"Ready pods (LBL-4) still labelled {STATUS_KEY}=canary after abort: {no_ready_canary(view)}")


def check_new_pods(sc: Scenario, metadata: dict[str, Any]) -> None:
    """LBL-5: pods created later (replacement, scale-up) carry their ReplicaSet's role from creation."""
    name = "newpods"
    roles = paused_canary(sc, name, 4, metadata)
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"}, "status labels while paused (LBL-2)")
    for role in ("stable", "canary"):
        view = sc.label_view(name)
        victim = sorted(view[roles[role]]["pods"])[0]
        known = {n for rs in view.values() for n in rs["pods"]}
        created = sc.first_pod_labels_after(functools.partial(sc.delete_pod, victim), name, known)
        assert created["hash"] == roles[role], f"replacement {created} is not of the {role} ReplicaSet {roles[role]}"
        assert created["labels"].get(STATUS_KEY) == role, (
            f"replacement of {role} pod {victim} (LBL-5) was created with labels {created['labels']}; want "
            f"{STATUS_KEY}={role}")
    view = sc.label_view(name)
    known = {n for rs in view.values() for n in rs["pods"]}
    created = sc.first_pod_labels_after(lambda: sc.scale(name, 8), name, known)
    role = "canary" if created["hash"] == roles["canary"] else "stable"
    assert created["labels"].get(STATUS_KEY) == role, (
        f"scale-up pod {created['name']} of the {role} set (LBL-5) created with {created['labels']}; want "
        f"{STATUS_KEY}={role}")
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"}, "status labels after scale-up (LBL-5)",
                        hold=sc.t.label_hold)


def check_superseded_canary(sc: Scenario, metadata: dict[str, Any]) -> None:
    """LBL-12 / LBL-8: v1 stable, v2 canary (paused), then v3: the v2 set is neither canary nor stable, so its
    template and remaining pods lose the key within the budget; v3 is the canary, v1 still the stable."""
    name = "third"
    roles = paused_canary(sc, name, 4, metadata)
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"}, "status labels while v2 is the canary (LBL-2)")
    v1, v2 = roles["stable"], roles["canary"]
    sc.update(name, HEALTHY_V3)
    # LBL-8's clock starts when the controller records v3 as the current ReplicaSet.
    now = sc.wait_superseded(name, v2)
    took, _ = sc.wait_key_absent(name, v2, "superseded canary (v2) unlabelled (LBL-12)",
                                hold=sc.t.label_hold)
    sc.evidence.measure("label removal from the superseded canary", round(took, 2), "s", "LBL-8", sc.t.label_budget)
    assert now["stable"] == v1, f"the stable ReplicaSet changed from {v1} to {now['stable']} on the v3 update"
    assert now.get("canary") not in (None, v2), f"no new canary ReplicaSet recorded after the v3 update: {now}"
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"}, "status labels with v3 as the canary (LBL-2)",
                        hold=sc.t.label_hold)
