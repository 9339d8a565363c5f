"""The node agent on the real local control plane: restarts, refusals, deletion, environment."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest
import requests

from fixtures.backends.local import LocalBackend
from fixtures.image_names import DEMO_APP_IMAGE
from fixtures.labels import RUN_LABEL
from fixtures.scenario import pod_ready
from fixtures.wait import wait_until

pytestmark = pytest.mark.local_backend


@pytest.fixture
def ns(local_backend: LocalBackend) -> Iterator[str]:
    name = f"agent-{int(time.time() * 1000) % 10**8}"
    local_backend.kube.create_namespace(name, {RUN_LABEL: "node-agent-test"})
    yield name
    local_backend.kube.delete_namespace(name)


def demo_pod(name: str, env: dict[str, str], image: str = f"{DEMO_APP_IMAGE}:v1") -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": name}},
            "spec": {"terminationGracePeriodSeconds": 2, "containers": [{
                "name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}],
                "env": [{"name": "LISTEN_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {"name": "APP_VERSION", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        *({"name": k, "value": v} for k, v in env.items())],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1}}]}}


def test_pod_runs_on_its_own_loopback_address_with_its_environment(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    core.create_namespaced_pod(ns, demo_pod("env", {"LOAD_RPS": "0"}))
    res = wait_until("pod env Ready", lambda: (pod_ready(p := core.read_namespaced_pod("env", ns)), p.status.phase),
                     local_backend.timeouts.pods_ready)
    pod = core.read_namespaced_pod("env", ns)
    ip = pod.status.pod_ip
    assert ip.startswith("127.") and ip != "127.0.0.1", ip
    metrics = requests.get(f"http://{ip}:8080/metrics", timeout=2).text
    assert 'demo_app_info{version="env"' in metrics, "fieldRef metadata.name did not reach the process"
    assert res.elapsed < local_backend.timeouts.pods_ready


def test_crash_is_counted_as_restart(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    core.create_namespaced_pod(ns, demo_pod("crasher", {"CRASH_AFTER_S": "1", "LOAD_RPS": "0"}))

    def restarted() -> tuple[bool, object]:
        st = core.read_namespaced_pod("crasher", ns).status.container_statuses or []
        return bool(st) and st[0].restart_count >= 1, [(s.restart_count, s.last_state) for s in st]

    wait_until("crashing container restarted", restarted, local_backend.timeouts.pods_ready)
    last = core.read_namespaced_pod("crasher", ns).status.container_statuses[0].last_state.terminated
    assert last.exit_code == 3


def test_unknown_image_is_refused_with_a_message(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    core.create_namespaced_pod(ns, demo_pod("foreign", {}, image="nginx:1.27"))

    def refused() -> tuple[bool, object]:
        st = core.read_namespaced_pod("foreign", ns).status.container_statuses or []
        waiting = st[0].state.waiting if st and st[0].state else None
        return waiting is not None and waiting.reason == "ImageNotRunnable", waiting

    res = wait_until("pod refused", refused, local_backend.timeouts.pods_ready)
    assert "nginx:1.27" in res.state.message and "kind, k3s" in res.state.message


def test_deletion_stops_the_process_and_removes_the_pod(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    core.create_namespaced_pod(ns, demo_pod("gone", {"LOAD_RPS": "0"}))
    wait_until("pod gone Ready", lambda: (pod_ready(core.read_namespaced_pod("gone", ns)), None),
               local_backend.timeouts.pods_ready)
    ip = core.read_namespaced_pod("gone", ns).status.pod_ip
    core.delete_namespaced_pod("gone", ns)
    wait_until("pod object removed", lambda: ("gone" not in [p.metadata.name for p in core.list_namespaced_pod(ns).items],
                                              None), local_backend.timeouts.pods_ready)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{ip}:8080/healthz", timeout=2)


def test_session_cleanup_deletes_a_run_namespace_nobody_registered(local_backend: LocalBackend) -> None:
    """A test interrupted between creating its namespace and registering its clean-up leaves the namespace to
    the session's label-selected sweep: it must delete it, not only wait for it."""
    from fixtures.cluster_plugin import delete_run_namespaces

    run_id = f"orphan{int(time.time() * 1000) % 10**8}"
    kube = local_backend.kube
    for name in (f"{run_id}-a", f"{run_id}-b"):
        kube.create_namespace(name, {RUN_LABEL: run_id})
    kube.create_namespace(f"{run_id}-other", {RUN_LABEL: f"{run_id}x"})  # another run's: left alone
    try:
        delete_run_namespaces(kube, run_id, local_backend.timeouts.namespace_delete)
        left = [n.metadata.name for n in kube.core.list_namespace(label_selector=f"{RUN_LABEL}={run_id}").items]
        assert left == []
        other = kube.core.read_namespace(f"{run_id}-other")
        assert other.metadata.deletion_timestamp is None, "another run's namespace was deleted"
    finally:
        kube.delete_namespace(f"{run_id}-other")
