"""The backend table and the per-backend options: each option is read by its backends or refused, never ignored."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import NotFoundError

from fixtures.backends.registry import BACKENDS, backend_help, backend_names
from fixtures.config import ConfigError, SuiteConfig
from fixtures.install import rollouts
from fixtures.install.apply import Applier, InstallError, ObjectRef
from fixtures.install.controller import managed, version_from_log
from fixtures.kube import Kube
from fixtures.labels import INSTALL_LABEL

REPO = Path(__file__).resolve().parents[1]


def test_every_backend_is_in_the_help_and_loads() -> None:
    help_text = backend_help()
    for name in backend_names():
        assert name in help_text
    for entry in BACKENDS.values():
        assert callable(entry.load()), entry


@pytest.mark.parametrize(("backend", "field", "value", "owner"), [
    ("local", "kubeconfig", Path("/etc/hostname"), "existing"),
    ("local", "controller_image", "x/y:1", "kind or k3s or existing"),
    ("local", "controller_mode", "preinstalled", "existing"),
    ("kind", "kube_context", "ctx", "existing"),
    ("existing", "controller_binary", Path("/bin/true"), "local"),
    ("existing", "kubernetes_version", "1.34", "kind or k3s"),
])
def test_an_option_the_backend_does_not_read_is_an_error(backend: str, field: str, value: object, owner: str) -> None:
    cfg = SuiteConfig(backend=backend, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as err:
        cfg.check_backend_options(backend)
    assert f"not used by the {backend} backend" in str(err.value)
    assert owner in str(err.value)


def test_preinstalled_options_need_preinstalled_mode() -> None:
    with pytest.raises(ConfigError, match="go with --controller preinstalled"):
        SuiteConfig(backend="existing", controller_deployment="a/b").validate(["status-labels"])
    SuiteConfig(backend="existing", controller_mode="preinstalled", controller_deployment="a/b").validate(["x"])


@pytest.mark.parametrize("backend", ["kind", "k3s", "existing"])
def test_an_implementation_without_an_image_needs_controller_image(backend: str) -> None:
    with pytest.raises(ConfigError) as err:
        SuiteConfig(backend=backend, implementation="mine").check_backend_options(backend)
    assert str(err.value) == (f"--implementation 'mine' on the {backend} backend installs no image of its own: pass "
                              "--controller-image IMAGE (only reference and upstream have a default)")
    for ok in (SuiteConfig(backend=backend, implementation="mine", controller_image="example.com/mine:1"),
               SuiteConfig(backend=backend, implementation="upstream"), SuiteConfig(backend=backend)):
        ok.check_backend_options(backend)
    # Nothing is installed in preinstalled mode, so no image is needed.
    SuiteConfig(backend="existing", implementation="mine", controller_mode="preinstalled").check_backend_options(
        "existing")


def test_controller_image_names_only_the_builds_we_have() -> None:
    from fixtures.artifacts import versions
    from fixtures.image_names import controller_image

    assert controller_image("reference") == f"rollouts-conformance/argo-rollouts-reference:{versions.ARGO_ROLLOUTS}"
    assert controller_image("upstream") == f"quay.io/argoproj/argo-rollouts:{versions.ARGO_ROLLOUTS}"
    with pytest.raises(ValueError, match="pass --controller-image"):
        controller_image("mine")


def run_suite(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_an_option_for_another_backend_ends_the_run_with_one_line(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    res = run_suite("--backend=local", f"--kubeconfig={kubeconfig}")
    assert res.returncode == 4, res.stdout[-2000:] + res.stderr[-2000:]  # pytest's usage error
    assert "--kubeconfig is not used by the local backend; it is for --backend existing" in res.stderr
    assert "Traceback" not in res.stdout + res.stderr


def test_an_implementation_without_an_image_ends_the_run_with_one_usage_line(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    res = run_suite("--backend=existing", f"--kubeconfig={kubeconfig}", "--implementation=mine")
    out = res.stdout + res.stderr
    assert res.returncode == 4, out[-3000:]  # pytest's usage error
    lines = [ln for ln in out.splitlines() if "--controller-image" in ln]
    assert len(lines) == 1 and "--implementation 'mine' on the existing backend" in lines[0], out[-3000:]
    assert "Traceback" not in out


def test_unreachable_cluster_ends_the_run_with_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    # A port nothing listens on, on loopback: the cluster cannot be reached.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
current-context: c
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
""")
    t0 = time.monotonic()
    res = run_suite("--backend=existing", f"--kubeconfig={kubeconfig}", f"--report-dir={tmp_path / 'reports'}")
    out = res.stdout + res.stderr
    assert res.returncode == 3, out[-3000:]
    lines = [ln for ln in out.splitlines() if "could not start" in ln]
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], out[-3000:]
    assert "Traceback" not in out
    assert time.monotonic() - t0 < 60


def test_upstream_install_manifest_rendering_keeps_what_ships() -> None:
    from fixtures.artifacts import build

    manifest = build.ensure(["rollouts-manifests"])["rollouts-install-yaml"]
    shipped = rollouts.render(manifest, "img:1", [], local_cluster=False)
    local = rollouts.render(manifest, "img:1", ["--loglevel=debug"], local_cluster=True,
                            local_ports={"healthz": 18080, "metrics": 18090})
    dep = next(o for o in shipped.objects if o["kind"] == "Deployment")
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate"}  # as upstream ships it
    assert rollouts.controller_container(dep)["image"] == "img:1"
    assert all(o["metadata"].get("namespace") in (None, rollouts.NAMESPACE) for o in shipped.objects)
    local_dep = next(o for o in local.objects if o["kind"] == "Deployment")
    assert local_dep["spec"]["strategy"] == {"type": "Recreate"}
    local_container = rollouts.controller_container(local_dep)
    assert local_container["args"] == ["--loglevel=debug", "--healthzPort=18080", "--metricsPort=18090"]
    # The probes and the Service name the ports, so they follow; nothing of the controller is left on 8080/8090.
    assert {p["name"]: p["containerPort"] for p in local_container["ports"]} == {"healthz": 18080, "metrics": 18090}
    assert local_container["livenessProbe"]["httpGet"]["port"] == "healthz"
    service = next(o for o in local.objects if o["kind"] == "Service" and o["metadata"]["name"] == "argo-rollouts-metrics")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    shipped_container = rollouts.controller_container(dep)
    assert {p["name"]: p["containerPort"] for p in shipped_container["ports"]} == {"healthz": 8080, "metrics": 8090}
    assert "args" not in shipped_container
    assert any("Recreate" in o for o in local.overrides) and not any("Recreate" in o for o in shipped.overrides)
    binding = next(o for o in shipped.objects if o["kind"] == "ClusterRoleBinding")
    assert binding["subjects"][0]["namespace"] == rollouts.NAMESPACE


def test_managed_flags_and_version_line() -> None:
    assert managed(["--loglevel=info", "--enable-canary-status-labels"]) == ["--enable-canary-status-labels"]
    assert managed(["--enable-canary-status-labels=false"]) == []
    line = ('time="2026-11-27T14:00:00Z" level=info msg="Argo Rollouts controller starting" healthzPort=8080 '
            'instanceID= metricsPort=8090 namespace= version=v1.10.1+canary-status-labels.abc123')
    assert version_from_log(line) == "v1.10.1+canary-status-labels.abc123"


def test_prometheus_manifests_scrape_like_the_local_backend() -> None:
    import yaml as _yaml

    from fixtures.install import prometheus as prom
    from fixtures.prom import scrape_config

    objects = {o["kind"]: o for o in prom.manifests("quay.io/prometheus/prometheus:v3.16.0", "1000ms")}
    config = _yaml.safe_load(objects["ConfigMap"]["data"]["prometheus.yml"])
    assert config == scrape_config("1000ms")  # the same job as the local backend, with in-cluster discovery
    relabel = config["scrape_configs"][0]["relabel_configs"]
    assert {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"} in relabel
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert f"--web.listen-address=$(POD_IP):{prom.PORT}" in container["args"]
    # New pods are scraped as soon as the local backend's (the fast template waits for the canary's first data).
    assert "--scrape.discovery-reload-interval=200ms" in container["args"]
    assert objects["ClusterRole"]["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                                                "verbs": ["get", "list", "watch"]}]
    assert objects["ClusterRoleBinding"]["subjects"][0]["namespace"] == prom.NAMESPACE


def test_kind_without_docker_ends_the_run_with_one_line(tmp_path: Path) -> None:
    from fixtures.backends.factory import docker_answers

    if docker_answers()[0]:
        pytest.skip("a Docker daemon answers here: kind could start (this test is for machines without one)")
    res = run_suite("--backend=kind", f"--report-dir={tmp_path / 'reports'}")
    out = res.stdout + res.stderr
    assert res.returncode == 3, out[-3000:]
    lines = [ln for ln in out.splitlines() if "could not start" in ln]
    assert len(lines) == 1 and "Docker daemon does not answer" in lines[0], out[-3000:]
    assert "Traceback" not in out
    assert not (REPO / ".pytest-kind").exists()


# ---- the installer changes nothing it did not create (a fake dynamic client: objects in a dict) --------------------
class FakeResource:
    def __init__(self, store: dict[tuple[str, str | None, str], dict[str, Any]], kind: str) -> None:
        self.store, self.kind = store, kind

    def get(self, name: str, namespace: str | None = None) -> Any:
        obj = self.store.get((self.kind, namespace, name))
        if obj is None:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))
        return FakeLive(obj)

    def server_side_apply(self, body: dict[str, Any], name: str, namespace: str | None, **_: Any) -> Any:
        live = self.store.setdefault((self.kind, namespace, name), {"metadata": {"name": name}})
        live.update(copy.deepcopy({k: v for k, v in body.items() if k != "metadata"}))
        live["metadata"].setdefault("labels", {}).update(body["metadata"].get("labels") or {})
        return FakeLive(live)

    def delete(self, name: str, namespace: str | None = None, **_: Any) -> None:
        if self.store.pop((self.kind, namespace, name), None) is None:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))


@dataclass
class FakeLive:
    obj: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.obj)


class FakeApplier(Applier):
    """The real Applier over a dict of objects instead of an API server."""

    def __post_init__(self) -> None:
        self.store: dict[tuple[str, str | None, str], dict[str, Any]] = {}

    def resource(self, ref: ObjectRef) -> Any:
        return FakeResource(self.store, ref.kind)


def fake_applier(install_id: str = "abc123") -> FakeApplier:
    return FakeApplier(cast(Kube, None), install_id)


def config_map(name: str, labels: dict[str, str] | None = None, data: str = "ours") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns",
                                                                  **({"labels": labels} if labels else {})},
            "data": {"k": data}}


def test_applier_refuses_an_object_it_did_not_create_and_leaves_it_in_place() -> None:
    applier = fake_applier()
    theirs = config_map("theirs", {"team": "x"}, data="theirs")
    applier.store[("ConfigMap", "ns", "theirs")] = copy.deepcopy(theirs)
    with pytest.raises(InstallError, match="ConfigMap ns/theirs already exists and was not installed by this suite"):
        applier.apply(config_map("theirs"))
    assert applier.store[("ConfigMap", "ns", "theirs")] == theirs
    assert applier.created == []
    applier.apply(config_map("new"))
    assert applier.created == [ObjectRef("v1", "ConfigMap", "new", "ns")]
    applier.remove_all(timeout=5)
    assert list(applier.store) == [("ConfigMap", "ns", "theirs")]


def test_applier_takes_over_and_removes_what_an_interrupted_run_of_ours_left() -> None:
    applier = fake_applier("abc123")
    applier.store[("ConfigMap", "ns", "left")] = config_map("left", {INSTALL_LABEL: "killed1"}, data="old")
    applier.apply(config_map("left"))
    applier.apply(config_map("left"))
    assert applier.created == [ObjectRef("v1", "ConfigMap", "left", "ns")]
    assert applier.store[("ConfigMap", "ns", "left")]["metadata"]["labels"] == {INSTALL_LABEL: "abc123"}
    assert applier.store[("ConfigMap", "ns", "left")]["data"] == {"k": "ours"}
    applier.remove_all(timeout=5)
    assert applier.store == {}


def test_prometheus_install_refuses_before_changing_anything_if_a_name_is_taken() -> None:
    from fixtures.install import prometheus as prom_manifests

    objects = prom_manifests.manifests("quay.io/prometheus/prometheus:v0", "1000ms")
    role = next(o for o in objects if o["kind"] == "ClusterRole")
    applier = fake_applier()
    theirs = {**copy.deepcopy(role), "rules": []}
    applier.store[("ClusterRole", None, role["metadata"]["name"])] = copy.deepcopy(theirs)
    with pytest.raises(InstallError) as err:
        prom_manifests.install(applier, objects)
    assert f"ClusterRole {role['metadata']['name']}" in str(err.value) and "--prometheus-url" in str(err.value)
    assert "\n" not in str(err.value)
    assert applier.store == {("ClusterRole", None, role["metadata"]["name"]): theirs} and applier.created == []

    applier = fake_applier()
    prom_manifests.install(applier, objects)
    assert [str(r) for r in applier.created] == [str(ObjectRef.of(o)) for o in objects]
    applier.remove_all(timeout=5)
    assert applier.store == {}


# ---- --kube-context reaches every program run against the cluster, not only the Python client ---------------------
TWO_CONTEXTS = """apiVersion: v1
kind: Config
current-context: a
clusters:
- {name: a, cluster: {server: "https://127.0.0.1:1"}}
- {name: b, cluster: {server: "https://127.0.0.1:2"}}
users: [{name: u, user: {token: t}}]
contexts:
- {name: a, context: {cluster: a, user: u}}
- {name: b, context: {cluster: b, user: u}}
"""


@pytest.mark.parametrize("context", [None, "b"])
def test_the_plugins_undo_runs_against_the_scenarios_cluster_and_context(tmp_path: Path, context: str | None) -> None:
    from fixtures.evidence import Evidence
    from fixtures.prom import Prometheus
    from fixtures.scenario import Scenario
    from fixtures.timeouts import Timeouts

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(TWO_CONTEXTS)
    kube = Kube(kubeconfig, context)
    assert kube.api.configuration.host == ("https://127.0.0.1:2" if context else "https://127.0.0.1:1")
    sc = Scenario(kube, cast(Prometheus, None), "ns1", Timeouts(), cast(Evidence, None), {}, "http://prom")
    chosen = ["--context", "b"] if context else []
    assert sc.undo_argv("ro", Path("/p/kubectl-argo-rollouts")) == [
        "/p/kubectl-argo-rollouts", "undo", "ro", "-n", "ns1", "--kubeconfig", str(kubeconfig), *chosen]
    assert sc.undo_argv("ro", Path("/p/kubectl-argo-rollouts"), to_revision=2)[-1] == "--to-revision=2"


@pytest.mark.parametrize("context", [None, "b"])
def test_port_forward_runs_kubectl_with_the_context(tmp_path: Path, context: str | None) -> None:
    from fixtures.backends.existing import ExistingCluster

    # A stand-in kubectl: records its command line, says it listens as kubectl does, and runs until stopped.
    argv_file = tmp_path / "argv"
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(f'#!/bin/sh\necho "$@" > {argv_file}\necho "Forwarding from 127.0.0.1:4321 -> 9090"\n'
                       "exec tail -f /dev/null\n")
    kubectl.chmod(0o755)
    provider = ExistingCluster(tmp_path / "kubeconfig", context)
    provider.kubectl = str(kubectl)
    with provider.port_forward(tmp_path / "kubeconfig", "ns", "pod", 9090, timeout=20) as url:
        assert url == "http://127.0.0.1:4321"
    chosen = "--context b " if context else ""
    assert argv_file.read_text().split() == (f"--kubeconfig {tmp_path / 'kubeconfig'} {chosen}-n ns port-forward "
                                             "pod/pod :9090 --address 127.0.0.1").split()


def test_the_plugin_is_the_pinned_build_or_a_one_line_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fixtures.artifacts import build, versions

    def no_go(names: list[str], cache: Path | None = None) -> dict[str, Path]:
        assert names == ["rollouts-plugin"]
        raise build.BuildError("the `go` command is not on PATH: install the Go toolchain\nmore detail")

    # A plugin on PATH is no substitute for the pinned one.
    (tmp_path / "kubectl-argo-rollouts").write_text("#!/bin/sh\n")
    (tmp_path / "kubectl-argo-rollouts").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(build, "ensure", no_go)
    with pytest.raises(build.BuildError) as err:
        build.rollouts_plugin()
    assert str(err.value) == (f"kubectl-argo-rollouts {versions.ARGO_ROLLOUTS} (the pinned plugin) could not be built: "
                              "the `go` command is not on PATH: install the Go toolchain; fix that and run "
                              "`python -m fixtures.artifacts.build --only rollouts-plugin`")

    monkeypatch.setattr(build, "ensure", lambda names, cache=None: {"kubectl-argo-rollouts": Path("/cache/plugin")})
    assert build.rollouts_plugin() == Path("/cache/plugin")


def test_the_real_plugin_goes_to_the_context_it_is_given(tmp_path: Path) -> None:
    """The pinned kubectl-argo-rollouts, pointed at two unreachable servers: it dials the chosen context's."""
    from fixtures.artifacts import build
    from fixtures.evidence import Evidence
    from fixtures.prom import Prometheus
    from fixtures.scenario import Scenario
    from fixtures.timeouts import Timeouts

    plugin = build.rollouts_plugin()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(TWO_CONTEXTS)
    for context, server in ((None, "127.0.0.1:1"), ("b", "127.0.0.1:2")):
        sc = Scenario(Kube(kubeconfig, context), cast(Prometheus, None), "ns1", Timeouts(), cast(Evidence, None), {},
                      "http://prom")
        with pytest.raises(AssertionError) as err:
            sc.undo("ro", plugin)
        assert f"dial tcp {server}: connect: connection refused" in str(err.value), str(err.value)
