"""Smoke test of the local backend: real control plane, controller and Prometheus, our node agent."""

from __future__ import annotations

import time

import pytest

from fixtures.backends.local import LocalBackend
from fixtures.evidence import Evidence
from fixtures.labels import HASH_KEY, RUN_LABEL
from fixtures.scenario import HEALTHY_V1, HEALTHY_V2, Scenario, canary_rollout
from fixtures.wait import wait_until

pytestmark = pytest.mark.local_backend


def test_canary_update_promote_and_scrape(local_backend: LocalBackend) -> None:
    be = local_backend
    ns = f"smoke-{int(time.time())}"
    labels = {RUN_LABEL: "smoke"}
    be.kube.create_namespace(ns, labels)
    sc = Scenario(be.kube, be.prometheus, ns, be.timeouts, Evidence(), labels, be.prometheus_url_for_cluster)
    try:
        t0 = time.monotonic()
        sc.given_rollout(canary_rollout("smoke", HEALTHY_V1, 5, [{"setWeight": 20}, {"pause": {}}], labels))
        sc.wait_healthy("smoke")
        old = sc.roles("smoke")["stable"]
        sc.update("smoke", HEALTHY_V2)
        sc.wait_paused("smoke")
        roles = sc.roles("smoke")
        assert roles["stable"] == old and roles.get("canary") not in (None, old), roles
        canary = sc.wait_pods_ready("smoke", roles["canary"], 1)
        stable = sc.wait_pods_ready("smoke", roles["stable"], 4)
        pods = {p.metadata.name: p.metadata.labels[HASH_KEY] for p in canary + stable}

        def scraped() -> tuple[bool, object]:
            res = be.prometheus.query(f'count by (pod, rollouts_pod_template_hash) (up{{namespace="{ns}"}} == 1)')
            seen = {r["metric"].get("pod"): r["metric"].get("rollouts_pod_template_hash") for r in res}
            return all(seen.get(p) == h for p, h in pods.items()), seen

        wait_until("Prometheus series from all 5 pods with their template hash", scraped, be.timeouts.series_visible)
        sc.promote("smoke")
        sc.wait_healthy("smoke")
        new = sc.wait_pods_ready("smoke", roles["canary"], 5)
        assert len(new) == 5
        assert not sc.pods(old, "smoke"), "old pods still present after promotion"
        print(f"smoke scenario took {time.monotonic() - t0:.1f}s")
    finally:
        be.kube.delete_namespace(ns)
