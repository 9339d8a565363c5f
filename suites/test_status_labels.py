"""Profile status-labels: the controller flag and the labels it sets (FLAG-*, LBL-*)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fixtures.backends import Backend
from fixtures.controller import STATUS_LABELS_FLAG
from fixtures.suite import require_controller_flags, restarts_controller
from fixtures.labels import STATUS_KEY
from fixtures.scenario import HEALTHY_V1, HEALTHY_V2, Scenario, bluegreen_rollout, canary_rollout
from suites import checks
from suites.checks import PAUSE_AT_25

PROFILE = "status-labels"
NO_METADATA: dict[str, object] = {}


def assert_no_carriers(sc: Scenario, name: str, why: str, requirement: str) -> None:
    found = sc.key_carriers(name)
    assert not found, f"Rollout {sc.ns}/{name} ({requirement}: {why}): {'; '.join(found)}; want no {STATUS_KEY} key"


@pytest.mark.conformance("FLAG-2", profile=PROFILE)
@restarts_controller
def test_no_labels_without_flag(controller_without_flag: Backend, scenario: Scenario) -> None:
    """Without the flag, no ReplicaSet or pod gets the argo-rollouts-status key, mid-update or after."""
    sc, name = scenario, "noflag"
    roles = checks.paused_canary(sc, name, 4, NO_METADATA)
    sc.wait_pods_ready(name, roles["canary"], 1)
    assert_no_carriers(sc, name, "controller without the flag", "FLAG-2")
    sc.promote(name, full=True)
    sc.wait_healthy(name)
    assert_no_carriers(sc, name, "controller without the flag", "FLAG-2")


@pytest.mark.conformance("LBL-6", profile=PROFILE)
@restarts_controller
def test_enabling_flag_keeps_revision_and_pods(controller_without_flag: Backend, scenario: Scenario,
                                               request: pytest.FixtureRequest) -> None:
    """Enabling the flag on a healthy Rollout creates no revision, restarts no pod, and labels it stable."""
    sc, name = scenario, "enable"
    sc.given_rollout(canary_rollout(name, HEALTHY_V1, 3, PAUSE_AT_25, sc.labels))
    ro = sc.wait_healthy(name)
    before = sc.label_view(name)
    assert list(before) == [ro["status"]["stableRS"]], f"expected one ReplicaSet, got {list(before)}"
    assert_no_carriers(sc, name, "before the flag was enabled", "LBL-6")
    require_controller_flags(request, controller_without_flag, [STATUS_LABELS_FLAG])
    sc.evidence.mark("controller restarted with the flag")
    took, _ = sc.wait_role_labels(name, {"stable": "stable"}, "stable label after enabling the flag (LBL-6)",
                                  hold=sc.t.label_hold)
    sc.evidence.measure("label convergence after enabling the flag", round(took, 2), "s", "LBL-8",
                        sc.t.label_budget)
    after = checks.assert_no_new_revision(sc, name, before, "LBL-6", "enabling the flag")
    h = list(before)[0]
    for pod, seen in before[h]["pods"].items():
        now = after[h]["pods"].get(pod)
        assert now is not None, f"pod {pod} (LBL-6) was replaced after enabling the flag"
        assert (now["uid"], now["restarts"]) == (seen["uid"], seen["restarts"]), (
            f"pod {pod} (LBL-6) restarted after enabling the flag: {seen} -> {now}")
    current = sc.rollout(name)["status"]["currentPodHash"]
    assert current == h, f"Rollout {sc.ns}/{name} (LBL-6): currentPodHash {current} after enabling the flag, want {h}"


@pytest.mark.conformance("FLAG-1", profile=PROFILE)
@restarts_controller
def test_controller_accepts_flag(controller_with_flag: Backend, scenario: Scenario) -> None:
    """With the flag the controller starts and reconciles a canary Rollout to Healthy through an update."""
    sc, name = scenario, "flag"
    sc.given_rollout(canary_rollout(name, HEALTHY_V1, 2, [{"setWeight": 50}], sc.labels))
    sc.wait_healthy(name)
    sc.update(name, HEALTHY_V2)
    ro = sc.wait_healthy(name)
    assert ro["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v2")
    assert controller_with_flag.controller.running(), "controller exited while reconciling"


@pytest.mark.conformance("LBL-1", "LBL-2", "LBL-8", profile=PROFILE)
def test_labels_without_metadata(controller_with_flag: Backend, scenario: Scenario) -> None:
    """A Rollout with no canary/stable metadata gets canary and stable labels mid-update, within the budget."""
    checks.check_mid_update_labels(scenario, NO_METADATA)


@pytest.mark.conformance("LBL-3", "LBL-8", profile=PROFILE)
def test_promotion_relabels_in_place(controller_with_flag: Backend, scenario: Scenario) -> None:
    """After promotion the former canary pods are relabelled stable in place (same UIDs, no restarts)."""
    checks.check_promotion(scenario, NO_METADATA)


@pytest.mark.conformance("LBL-4", "LBL-8", profile=PROFILE)
def test_abort_leaves_stable_labels(controller_with_flag: Backend, scenario: Scenario) -> None:
    """After an abort the stable set says stable and no Ready pod says canary."""
    checks.check_abort(scenario, NO_METADATA)


@pytest.mark.conformance("LBL-5", profile=PROFILE)
def test_new_pods_carry_role(controller_with_flag: Backend, scenario: Scenario) -> None:
    """Replacement and scale-up pods carry their ReplicaSet's role from creation."""
    checks.check_new_pods(scenario, NO_METADATA)


@pytest.mark.conformance("LBL-7", profile=PROFILE)
def test_user_metadata_kept_controller_wins(controller_with_flag: Backend, scenario: Scenario) -> None:
    """User canary/stable metadata still apply, and the controller's value of the status key wins."""
    sc, name = scenario, "usermeta"
    metadata = {
        # Deliberately wrong values for the status key: the controller's must win.
        "canary_metadata": {"labels": {"team": "checkout", STATUS_KEY: "stable"}, "annotations": {"note": "canary"}},
        "stable_metadata": {"labels": {"tier": "gold", STATUS_KEY: "canary"}},
    }
    roles = checks.paused_canary(sc, name, 4, metadata)
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"}, "controller's status labels (LBL-7)")
    sc.wait_pods_ready(name, roles["canary"], 1)
    view = sc.label_view(name)
    for pod, p in view[roles["canary"]]["pods"].items():
        assert p["labels"].get("team") == "checkout", f"canary pod {pod} (LBL-7) lost the user's label: {p['labels']}"
    for pod, p in view[roles["stable"]]["pods"].items():
        assert p["labels"].get("tier") == "gold", f"stable pod {pod} (LBL-7) lost the user's label: {p['labels']}"
    canary_pod = sc.pod(sorted(view[roles["canary"]]["pods"])[0])
    assert (canary_pod.metadata.annotations or {}).get("note") == "canary", canary_pod.metadata.annotations
    spec = sc.rollout(name)["spec"]["strategy"]["canary"]
    assert spec["canaryMetadata"]["labels"][STATUS_KEY] == "stable", f"the controller rewrote the Rollout spec: {spec}"


@pytest.mark.conformance("LBL-9", profile=PROFILE)
def test_bluegreen_untouched(controller_with_flag: Backend, scenario: Scenario) -> None:
    """A blueGreen Rollout works as before under the flag and gets no status label."""
    sc, name = scenario, "bluegreen"
    sc.given_service("bluegreen-active", name)
    sc.given_rollout(bluegreen_rollout(name, HEALTHY_V1, 2, "bluegreen-active", sc.labels))
    sc.wait_healthy(name)
    sc.update(name, HEALTHY_V2)
    sc.wait_paused(name)
    roles = sc.roles(name)
    sc.wait_pods_ready(name, roles["canary"], 2)
    assert_no_carriers(sc, name, "blueGreen strategy", "LBL-9")
    sc.promote(name)
    sc.wait_healthy(name)
    assert_no_carriers(sc, name, "blueGreen strategy", "LBL-9")


@pytest.mark.conformance("LBL-10", profile=PROFILE)
def test_undo_keeps_label_out_of_rollout(controller_with_flag: Backend, scenario: Scenario,
                                         rollouts_plugin: Path) -> None:
    """`kubectl argo rollouts undo` mid-update bakes no status label into spec.template and returns to the
    stable ReplicaSet without creating one."""
    sc, name = scenario, "undo"
    roles = checks.paused_canary(sc, name, 4, NO_METADATA)
    # The labels are in place, so the plugin copies a labelled ReplicaSet template.
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"}, "status labels before the undo (LBL-2)")
    before = set(sc.label_view(name))
    out = sc.undo(name, rollouts_plugin)
    sc.evidence.notes.append(f"undo: {out}")
    sc.wait_observed(name, "reconciled after the undo")
    labels = sc.rollout(name)["spec"]["template"]["metadata"].get("labels") or {}
    assert STATUS_KEY not in labels, (
        f"Rollout {sc.ns}/{name} (LBL-10) spec.template.metadata.labels has {STATUS_KEY}={labels[STATUS_KEY]} "
        f"after the undo (copied from ReplicaSet {name}-{roles['stable']}'s template); want no {STATUS_KEY} key")
    ro = sc.wait_rollout(name, f"back on the stable ReplicaSet {roles['stable']} (LBL-10)",
                         lambda r: r["status"].get("currentPodHash") == r["status"].get("stableRS") == roles["stable"])
    after = set(sc.label_view(name))
    assert after == before, (f"Rollout {sc.ns}/{name} (LBL-10): the undo created ReplicaSet(s) "
                             f"{sorted(after - before)}; want none (currentPodHash "
                             f"{ro['status'].get('currentPodHash')}, stableRS {ro['status'].get('stableRS')})")
    labels = ro["spec"]["template"]["metadata"].get("labels") or {}
    assert STATUS_KEY not in labels, (
        f"Rollout {sc.ns}/{name} (LBL-10) spec.template.metadata.labels has {STATUS_KEY}={labels[STATUS_KEY]}")
    sc.wait_role_labels(name, {"stable": "stable"}, "stable label after the undo (LBL-10)",
                        hold=sc.t.label_hold)


EXPERIMENT_STEPS: list[dict[str, Any]] = [
    {"setWeight": 25},
    {"experiment": {"templates": [{"name": "baseline", "specRef": "stable", "replicas": 1},
                                  {"name": "candidate", "specRef": "canary", "replicas": 1}]}},
    {"pause": {}},
]


@pytest.mark.conformance("LBL-11", profile=PROFILE)
def test_experiment_pods_unlabelled(controller_with_flag: Backend, scenario: Scenario) -> None:
    """Pods of an Experiment started by a Rollout's step (specRef stable and canary) carry no status label."""
    sc, name = scenario, "experiment"
    sc.given_rollout(canary_rollout(name, HEALTHY_V1, 4, EXPERIMENT_STEPS, sc.labels))
    sc.wait_healthy(name)
    sc.update(name, HEALTHY_V2)
    experiment = sc.current_experiment(name)["metadata"]["name"]
    # The sets the templates are copied from are labelled: the copies would carry the label.
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"},
                        "status labels while the Experiment runs (LBL-2)")
    pods = sc.wait_experiment_pods_ready(experiment, {"baseline": 1, "candidate": 1})
    sc.evidence.mark(f"Experiment {experiment} pods Ready")

    found = sc.experiment_key_carriers(experiment)
    assert not found, (f"Experiment {experiment} pods (LBL-11): {'; '.join(found)}; want no {STATUS_KEY} key "
                       f"(they belong to neither set)")
    for t, ps in pods.items():
        rs = sc.replica_set(f"{experiment}-{t}")
        tpl = rs.spec.template.metadata.labels or {}
        assert STATUS_KEY not in tpl, (f"Experiment ReplicaSet {experiment}-{t} template (LBL-11) has "
                                       f"{STATUS_KEY}={tpl[STATUS_KEY]}; want no {STATUS_KEY} key")
    # And stays so: the controller does not label them later either.
    sc.wait_role_labels(name, {"canary": "canary", "stable": "stable"}, "status labels holding (LBL-2)",
                        hold=sc.t.label_hold)
    found = sc.experiment_key_carriers(experiment)
    assert not found, (f"Experiment {experiment} pods (LBL-11): {'; '.join(found)}; want no {STATUS_KEY} key "
                       f"(they belong to neither set)")


@pytest.mark.conformance("LBL-12", "LBL-8", profile=PROFILE)
def test_superseded_canary_unlabelled(controller_with_flag: Backend, scenario: Scenario) -> None:
    """A canary superseded by a newer update (v1 stable, v2 canary, then v3) loses the key within the budget."""
    checks.check_superseded_canary(scenario, NO_METADATA)
