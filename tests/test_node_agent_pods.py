"""The node agent doing a kubelet's work for ordinary pods, on the real local control plane.

Service-account tokens and RBAC, volumes in per-pod mount namespaces, command/args/env,
logs through the apiserver, crash back-off, lifecycle hooks, graceful termination and
probes. Most pods run a short Python program (the demo app's image with `command`
replaced) that prints what it sees as one JSON line, read back through the pod log API.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes.client.rest import ApiException

from fixtures.backends.local import LocalBackend
from fixtures.image_names import DEMO_APP_IMAGE
from fixtures.labels import RUN_LABEL
from fixtures.scenario import pod_ready
from fixtures.wait import wait_until

pytestmark = pytest.mark.local_backend

IMAGE = f"{DEMO_APP_IMAGE}:v1"


@pytest.fixture
def ns(local_backend: LocalBackend) -> Iterator[str]:
    name = f"kubelet-{int(time.time() * 1000) % 10**8}"
    local_backend.kube.create_namespace(name, {RUN_LABEL: "node-agent-test"})
    yield name
    local_backend.kube.delete_namespace(name)


def program_pod(name: str, code: str, restart: str = "Never", **container: Any) -> dict[str, Any]:
    """A pod running a Python program in place of the demo app's entrypoint."""
    return {"metadata": {"name": name, "labels": {"app": name}},
            "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": 2, "containers": [{
                "name": "main", "image": IMAGE, "command": [sys.executable, "-c", textwrap.dedent(code)], **container}]}}


def finished_output(be: LocalBackend, ns: str, name: str) -> Any:
    """Wait for a run-once pod to succeed; its last log line, as JSON."""
    core = be.kube.core

    def done() -> tuple[bool, object]:
        pod = core.read_namespaced_pod(name, ns)
        st = pod.status.container_statuses or []
        return pod.status.phase in ("Succeeded", "Failed"), (pod.status.phase, [s.state for s in st])

    res = wait_until(f"pod {ns}/{name} finished", done, be.timeouts.pods_ready)
    text = core.read_namespaced_pod_log(name, ns)
    assert res.state[0] == "Succeeded", f"pod {name} ended {res.state}; log:\n{text}"
    return json.loads(text.strip().splitlines()[-1])


def wait_ready(be: LocalBackend, ns: str, name: str) -> Any:
    core = be.kube.core
    return wait_until(f"pod {ns}/{name} Ready", lambda: (pod_ready(p := core.read_namespaced_pod(name, ns)),
                                                        (p.status.phase, p.status.container_statuses)),
                      be.timeouts.pods_ready)


# ---- 1. service account --------------------------------------------------------------

IN_CLUSTER = """
    import json, os
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
    config.load_incluster_config()
    core = client.CoreV1Api()
    ns = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
    out = {"namespace": ns, "host": os.environ["KUBERNETES_SERVICE_HOST"]}
    out["pods"] = sorted(p.metadata.name for p in core.list_namespaced_pod(ns).items)
    try:
        core.list_namespaced_secret(ns)
        out["secrets"] = "allowed"
    except ApiException as exc:
        out["secrets"] = exc.status
    print(json.dumps(out))
"""


def test_service_account_token_is_bound_and_rbac_applies(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    rbac = __import__("kubernetes").client.RbacAuthorizationV1Api(local_backend.kube.api)
    core.create_namespaced_service_account(ns, {"metadata": {"name": "pod-reader"}})
    rbac.create_namespaced_role(ns, {"metadata": {"name": "pod-reader"}, "rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "get"]}]})
    rbac.create_namespaced_role_binding(ns, {"metadata": {"name": "pod-reader"},
                                             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                                             "subjects": [{"kind": "ServiceAccount", "name": "pod-reader", "namespace": ns}]})
    pod = program_pod("in-cluster", IN_CLUSTER)
    pod["spec"]["serviceAccountName"] = "pod-reader"
    core.create_namespaced_pod(ns, pod)
    out = finished_output(local_backend, ns, "in-cluster")
    assert out == {"namespace": ns, "host": "127.0.0.1", "pods": ["in-cluster"], "secrets": 403}


def test_no_token_when_automount_is_off(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    code = 'import json, os; print(json.dumps(os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token")))'
    pod = program_pod("no-token", code)
    pod["spec"]["automountServiceAccountToken"] = False
    core.create_namespaced_pod(ns, pod)
    assert finished_output(local_backend, ns, "no-token") is False


# ---- 2. volumes ------------------------------------------------------------------------

READ_FILES = """
    import json, os, stat
    out = {}
    for root in ("/etc/conformance-test", "/var/run/secrets/kubernetes.io/serviceaccount"):
        for dirpath, _, files in os.walk(root):
            for f in files:
                p = os.path.join(dirpath, f)
                if f.startswith("."):
                    continue
                out[p] = [open(p).read() if not p.endswith("token") else "<token>", oct(stat.S_IMODE(os.stat(p).st_mode))]
    try:
        open("/etc/conformance-test/cm/extra", "w")
        out["cm-writable"] = True
    except OSError:
        out["cm-writable"] = False
    open("/etc/conformance-test/scratch/note", "w").write("written")
    out["scratch"] = open("/etc/conformance-test/scratch/note").read()
    out["hostname"] = os.uname().nodename
    print(json.dumps(out))
"""


def test_volumes_are_mounted_in_the_pods_own_mount_namespace(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"}, "data": {"a.txt": "alpha", "b.txt": "beta"}})
    core.create_namespaced_secret(ns, {"metadata": {"name": "sec"}, "stringData": {"password": "s3cret"}})
    host_root = Path("/etc/conformance-test")
    assert not host_root.exists(), "test precondition: the mount point must be absent on the host"
    pod = program_pod("volumes", READ_FILES, volumeMounts=[
        {"name": "cm", "mountPath": "/etc/conformance-test/cm"},
        {"name": "sec", "mountPath": "/etc/conformance-test/sec", "readOnly": True},
        {"name": "cm", "mountPath": "/etc/conformance-test/single.txt", "subPath": "b.txt"},
        {"name": "proj", "mountPath": "/etc/conformance-test/proj"},
        {"name": "down", "mountPath": "/etc/conformance-test/down"},
        {"name": "scratch", "mountPath": "/etc/conformance-test/scratch"}])
    pod["metadata"]["labels"]["tier"] = "test"
    pod["spec"]["serviceAccountName"] = "default"  # a projected serviceAccountToken source requires one
    pod["spec"]["volumes"] = [
        {"name": "cm", "configMap": {"name": "cfg", "items": [{"key": "a.txt", "path": "renamed.txt", "mode": 0o600}]}},
        {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400}},
        {"name": "proj", "projected": {"sources": [
            {"configMap": {"name": "cfg", "items": [{"key": "b.txt", "path": "from-cm"}]}},
            {"secret": {"name": "sec"}},
            {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 600}}]}},
        {"name": "down", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "scratch", "emptyDir": {}}]
    # subPath from the whole ConfigMap: give that mount its own volume without items.
    pod["spec"]["volumes"].append({"name": "cmall", "configMap": {"name": "cfg"}})
    pod["spec"]["containers"][0]["volumeMounts"][2]["name"] = "cmall"
    core.create_namespaced_pod(ns, pod)
    out = finished_output(local_backend, ns, "volumes")
    base = "/etc/conformance-test"
    assert out[f"{base}/cm/renamed.txt"] == ["alpha", "0o600"]
    assert out[f"{base}/sec/password"] == ["s3cret", "0o400"]
    assert out[f"{base}/single.txt"][0] == "beta"
    assert out[f"{base}/proj/from-cm"][0] == "beta" and out[f"{base}/proj/password"][0] == "s3cret"
    assert out[f"{base}/proj/name"][0] == "volumes" and out[f"{base}/proj/token"][0] == "<token>"
    assert out[f"{base}/down/labels"][0] == 'app="volumes"\ntier="test"'
    assert out["/var/run/secrets/kubernetes.io/serviceaccount/namespace"][0] == ns
    assert out["cm-writable"] is False and out["scratch"] == "written"
    assert out["hostname"] == "volumes"

    # The host keeps its view: the pod is gone and so is every mount point created for it.
    wait_until("mount points removed from the host", lambda: (not host_root.exists(), host_root.exists()),
               local_backend.timeouts.pods_ready)


def test_two_pods_mount_different_files_at_one_path_and_the_host_sees_neither(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    target = "/etc/conformance-test-shared/which"
    code = f"""
        import json, time, sys
        print(json.dumps(open("{target}").read()), flush=True)
        time.sleep(3600)
    """
    for name in ("one", "two"):
        core.create_namespaced_config_map(ns, {"metadata": {"name": name}, "data": {"which": name}})
        pod = program_pod(f"pod-{name}", code, restart="Always",
                          volumeMounts=[{"name": "v", "mountPath": target, "subPath": "which"}])
        pod["spec"]["volumes"] = [{"name": "v", "configMap": {"name": name}}]
        core.create_namespaced_pod(ns, pod)
    for name in ("one", "two"):
        wait_ready(local_backend, ns, f"pod-{name}")
        wait_until(f"pod-{name} printed its file", lambda n=name: (  # type: ignore[misc]
            json.dumps(n) in (log := core.read_namespaced_pod_log(f"pod-{n}", ns)), log), local_backend.timeouts.pods_ready)
    host = Path(target)
    assert host.exists() and host.read_text() == "", "the host sees the empty mount point, not a pod's file"
    for name in ("one", "two"):
        core.delete_namespaced_pod(f"pod-{name}", ns)
    wait_until("shared mount point removed", lambda: (not host.parent.exists(), host.parent.exists()),
               local_backend.timeouts.pods_ready)


# ---- 3. command, args, environment ---------------------------------------------------------

def test_command_args_env_and_working_dir(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    core.create_namespaced_config_map(ns, {"metadata": {"name": "env"}, "data": {"MODE": "fast", "LEVEL": "3"}})
    core.create_namespaced_secret(ns, {"metadata": {"name": "creds"}, "stringData": {"user": "alice"}})
    code = 'import json, os, sys; print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}))'
    pod = program_pod("cmd", code, args=["--mode=$(MODE)", "$(GREETING)", "$$(MODE)", "$(UNSET)"], workingDir="/tmp",
                      envFrom=[{"configMapRef": {"name": "env"}, "prefix": "CFG_"}, {"configMapRef": {"name": "env"}}],
                      env=[{"name": "GREETING", "value": "hello-$(CFG_LEVEL)"},
                           {"name": "USER_NAME", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
                           {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                           {"name": "MAYBE", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k", "optional": True}}}])
    core.create_namespaced_pod(ns, pod)
    out = finished_output(local_backend, ns, "cmd")
    assert out["argv"] == ["--mode=fast", "hello-3", "$(MODE)", "$(UNSET)"]
    assert out["cwd"] == "/tmp"
    env = out["env"]
    assert (env["CFG_MODE"], env["MODE"], env["USER_NAME"], env["MY_NS"]) == ("fast", "fast", "alice", ns)
    assert "MAYBE" not in env and env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"


def test_missing_config_map_holds_the_container_until_it_exists(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    pod = program_pod("waits", 'import json, os; print(json.dumps(os.environ["K"]))',
                      env=[{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "k"}}}])
    core.create_namespaced_pod(ns, pod)

    def waiting() -> tuple[bool, object]:
        st = core.read_namespaced_pod("waits", ns).status.container_statuses or []
        w = st[0].state.waiting if st else None
        return w is not None and w.reason == "CreateContainerConfigError", w

    res = wait_until("CreateContainerConfigError", waiting, local_backend.timeouts.pods_ready)
    assert 'configmap "later" not found' in res.state.message
    core.create_namespaced_config_map(ns, {"metadata": {"name": "later"}, "data": {"k": "now"}})
    assert finished_output(local_backend, ns, "waits") == "now"


# ---- 4. logs through the apiserver ------------------------------------------------------------

def test_logs_through_the_apiserver_tail_previous_follow(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    code = """
        import os, sys, time
        marker = "/etc/conformance-logs/runs"
        n = len(open(marker).read()) if os.path.exists(marker) else 0
        open(marker, "a").write("x")
        for i in range(3):
            print(f"run {n} line {i}", flush=True)
        if n == 0:
            sys.exit(1)
        for i in range(3, 6):
            time.sleep(0.5)
            print(f"run {n} line {i}", flush=True)
        time.sleep(3600)
    """
    pod = program_pod("logs", code, restart="Always", volumeMounts=[{"name": "state", "mountPath": "/etc/conformance-logs"}])
    pod["spec"]["volumes"] = [{"name": "state", "emptyDir": {}}]
    core.create_namespaced_pod(ns, pod)
    # The first run exits at once and is restarted at once (the kubelet backs off from the second crash on).
    wait_until("second run Ready", lambda: (pod_ready(p := core.read_namespaced_pod("logs", ns)) and
                                            p.status.container_statuses[0].restart_count == 1, p.status.phase),
               local_backend.timeouts.pods_ready)
    # follow streams until the last line of the second run shows up
    stream = core.read_namespaced_pod_log("logs", ns, follow=True, _preload_content=False)
    seen = b""
    for chunk in stream.stream(64):
        seen += chunk
        if b"run 1 line 5" in seen:
            break
    stream.release_conn()
    assert seen.startswith(b"run 1 line 0\n"), seen
    assert core.read_namespaced_pod_log("logs", ns, tail_lines=2) == "run 1 line 4\nrun 1 line 5\n"
    assert core.read_namespaced_pod_log("logs", ns, previous=True) == "run 0 line 0\nrun 0 line 1\nrun 0 line 2\n"


def test_logs_of_a_pod_without_previous_instance_are_refused(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    core.create_namespaced_pod(ns, program_pod("once", 'print("[1]")'))
    finished_output(local_backend, ns, "once")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("once", ns, previous=True)
    assert "previous terminated container" in str(err.value.body)


# ---- 5. crash loop -----------------------------------------------------------------------------

def test_bad_command_backs_off_in_place(local_backend: LocalBackend, ns: str) -> None:
    """A command that cannot start is restarted in place with back-off, never Failed, never replaced."""
    core, apps = local_backend.kube.core, local_backend.kube.apps
    apps.create_namespaced_replica_set(ns, {"metadata": {"name": "bad"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "bad"}},
        "template": {"metadata": {"labels": {"app": "bad"}}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [
            {"name": "main", "image": IMAGE, "command": ["/bad-command"]}]}}}})

    def crash_looping() -> tuple[bool, object]:
        pods = core.list_namespaced_pod(ns, label_selector="app=bad").items
        st = pods[0].status.container_statuses if pods else None
        if not st:
            return False, [p.status.phase for p in pods]
        s = st[0]
        waiting = s.state.waiting.reason if s.state and s.state.waiting else None
        return s.restart_count >= 2 and waiting == "CrashLoopBackOff", (len(pods), pods[0].status.phase, s.restart_count, waiting)

    wait_until("bad command in CrashLoopBackOff with 2 restarts", crash_looping, local_backend.timeouts.pods_ready)
    pods = core.list_namespaced_pod(ns, label_selector="app=bad").items
    assert len(pods) == 1, [p.metadata.name for p in pods]
    pod = pods[0]
    st = pod.status.container_statuses[0]
    assert pod.status.phase == "Running" and not pod_ready(pod)
    last = st.last_state.terminated
    assert (last.exit_code, last.reason) == (128, "StartError") and "/bad-command" in last.message
    assert "back-off" in st.state.waiting.message


# ---- 6. lifecycle hooks and graceful termination -------------------------------------------------

HOOKED = """
    import signal, sys, time
    out = "/hostdir/events"
    def term(*_):
        open(out, "a").write("sigterm\\n")
        time.sleep(2)
        open(out, "a").write("exit\\n")
        sys.exit(0)
    signal.signal(signal.SIGTERM, term)
    open(out, "a").write("main\\n")
    while True:
        time.sleep(1)
"""


def test_hooks_and_graceful_termination(local_backend: LocalBackend, ns: str, tmp_path: Path) -> None:
    core = local_backend.kube.core
    os.chmod(tmp_path, 0o777)
    pod = program_pod("hooked", HOOKED, restart="Always", volumeMounts=[{"name": "host", "mountPath": "/hostdir"}],
                      lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "echo poststart >> /hostdir/events"]}},
                                 "preStop": {"exec": {"command": ["sh", "-c", "echo prestop >> /hostdir/events"]}}})
    pod["spec"]["terminationGracePeriodSeconds"] = 10
    pod["spec"]["volumes"] = [{"name": "host", "hostPath": {"path": str(tmp_path)}}]
    core.create_namespaced_pod(ns, pod)
    # A second pod ignores SIGTERM: it is SIGKILLed when its grace period ends.
    stubborn = program_pod("stubborn", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(3600)",
                           restart="Always")
    stubborn["spec"]["terminationGracePeriodSeconds"] = 3
    core.create_namespaced_pod(ns, stubborn)
    wait_ready(local_backend, ns, "hooked")
    wait_ready(local_backend, ns, "stubborn")
    events = tmp_path / "events"
    wait_until("postStart ran", lambda: ("poststart" in (t := events.read_text()), t), local_backend.timeouts.pods_ready)

    t0 = time.monotonic()
    core.delete_namespaced_pod("hooked", ns)
    core.delete_namespaced_pod("stubborn", ns)
    # Termination runs beside the loop: a new pod comes up while both are still terminating.
    core.create_namespaced_pod(ns, program_pod("during", "import time; time.sleep(3600)", restart="Always"))
    wait_ready(local_backend, ns, "during")
    names = {p.metadata.name for p in core.list_namespaced_pod(ns).items}
    assert {"hooked", "stubborn"} <= names, f"terminating pods must stay visible until their processes end: {names}"

    def gone(name: str) -> float:
        wait_until(f"{name} removed", lambda: (name not in {p.metadata.name for p in core.list_namespaced_pod(ns).items}, None),
                   local_backend.timeouts.pods_ready)
        return time.monotonic() - t0

    hooked_s, stubborn_s = gone("hooked"), gone("stubborn")
    assert events.read_text().split() == ["main", "poststart", "prestop", "sigterm", "exit"] or \
        events.read_text().split() == ["poststart", "main", "prestop", "sigterm", "exit"], events.read_text()
    assert 2.0 <= hooked_s < 10, hooked_s  # it took its own 2 s after SIGTERM, not the whole grace period
    assert 3.0 <= stubborn_s < 8, stubborn_s  # SIGKILL after its 3 s grace


# ---- 7. probes -------------------------------------------------------------------------------------

PROBED = """
    import http.server, os, socket, threading, time
    open("/probe/alive", "w").write("1")
    time.sleep(2)
    ip = socket.gethostbyname(socket.gethostname())
    srv = http.server.HTTPServer((ip, 8080), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("serving", flush=True)
    time.sleep(float(os.environ["LIVE_FOR"]))
    os.remove("/probe/alive")
    time.sleep(3600)
"""


def test_probes_startup_readiness_liveness(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    pod = program_pod("probed", PROBED, restart="Always", env=[{"name": "LIVE_FOR", "value": "4"}],
                      ports=[{"name": "http", "containerPort": 8080}],
                      volumeMounts=[{"name": "probe", "mountPath": "/probe"}],
                      startupProbe={"tcpSocket": {"port": "http"}, "periodSeconds": 1, "failureThreshold": 10},
                      readinessProbe={"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1, "successThreshold": 2},
                      livenessProbe={"exec": {"command": ["cat", "/probe/alive"]}, "periodSeconds": 1, "failureThreshold": 2})
    pod["spec"]["volumes"] = [{"name": "probe", "emptyDir": {}}]
    t0 = time.monotonic()
    core.create_namespaced_pod(ns, pod)

    def status() -> Any:
        return core.read_namespaced_pod("probed", ns).status.container_statuses[0]

    wait_until("started after the startup probe", lambda: (bool((s := status()).started), (s.started, s.ready)),
               local_backend.timeouts.pods_ready)
    assert time.monotonic() - t0 >= 2, "started before the server listened"
    wait_ready(local_backend, ns, "probed")
    # Liveness fails 4 s after serving (file removed), twice in a row: the container restarts in place.
    res = wait_until("restarted by the liveness probe", lambda: ((s := status()).restart_count >= 1, s.last_state),
                     local_backend.timeouts.pods_ready)
    assert "Liveness probe failed" in res.state.terminated.message


def test_empty_dir_over_tmp_hides_the_hosts_tmp(local_backend: LocalBackend, ns: str) -> None:
    """As in upstream's install.yaml (emptyDir at /tmp): the pod sees its own empty /tmp, exec probes work in it."""
    core = local_backend.kube.core
    code = """
        import json, os, time
        open("/tmp/mine", "w").write("x")
        print(json.dumps(sorted(os.listdir("/tmp"))), flush=True)
        time.sleep(3600)
    """
    pod = program_pod("tmp", code, restart="Always", volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}],
                      readinessProbe={"exec": {"command": ["cat", "/tmp/mine"]}, "periodSeconds": 1})
    pod["spec"]["volumes"] = [{"name": "tmp", "emptyDir": {}}]
    core.create_namespaced_pod(ns, pod)
    wait_ready(local_backend, ns, "tmp")
    assert json.loads(core.read_namespaced_pod_log("tmp", ns).splitlines()[0]) == ["mine"]
    assert not Path("/tmp/mine").exists()


def test_readiness_gate_holds_ready_until_its_condition_is_true(local_backend: LocalBackend, ns: str) -> None:
    core = local_backend.kube.core
    pod = program_pod("gated", "import time; time.sleep(3600)", restart="Always")
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/gate"}]
    core.create_namespaced_pod(ns, pod)

    def conditions() -> dict[str, str]:
        return {c.type: c.status for c in core.read_namespaced_pod("gated", ns).status.conditions or []}

    wait_until("containers ready, pod not", lambda: ((c := conditions()).get("ContainersReady") == "True", c),
               local_backend.timeouts.pods_ready)
    assert conditions()["Ready"] == "False"
    core.patch_namespaced_pod_status("gated", ns, {"status": {"conditions": [
        {"type": "example.com/gate", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    wait_ready(local_backend, ns, "gated")
