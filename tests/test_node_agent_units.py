from __future__ import annotations

from types import SimpleNamespace

import pytest

from pathlib import Path

from fixtures.artifacts import versions
from fixtures.image_names import DEMO_APP_IMAGE
from fixtures.local.images import image_table
from fixtures.local.node_agent import IPAllocator, image_repository, refusal_message, table_key
from fixtures.local.podspec import expand, field_ref_value


@pytest.mark.parametrize(("image", "repo"), [
    (f"{DEMO_APP_IMAGE}:v2", DEMO_APP_IMAGE),
    (DEMO_APP_IMAGE, DEMO_APP_IMAGE),
    ("localhost:5000/demo-app:v1", "localhost:5000/demo-app"),
    ("reg.example:5000/a/b@sha256:abc", "reg.example:5000/a/b"),
])
def test_image_repository(image: str, repo: str) -> None:
    assert image_repository(image) == repo


BINARIES = {"rollouts-upstream": Path("/cache/upstream/rollouts-controller"),
            "rollouts-reference": Path("/cache/reference/rollouts-controller"),
            "prometheus": Path("/cache/prometheus/prometheus")}


def runs(image: str) -> list[str] | None:
    """What the local cluster's node agent would run for `image` (its entrypoint), or None if it refuses it."""
    table = image_table(BINARIES)
    key = table_key(table, image)
    return None if key is None else table[key]


@pytest.mark.parametrize(("image", "binary"), [
    (f"quay.io/argoproj/argo-rollouts:{versions.ARGO_ROLLOUTS}", "rollouts-upstream"),
    (f"rollouts-conformance/argo-rollouts-reference:{versions.ARGO_ROLLOUTS}", "rollouts-reference"),
    (f"quay.io/argoproj/argo-rollouts:{versions.ARGO_ROLLOUTS}@sha256:0123", "rollouts-upstream"),
    (f"quay.io/prometheus/prometheus:v{versions.PROMETHEUS}", "prometheus"),
])
def test_image_table_maps_the_installers_images_to_the_built_binaries(image: str, binary: str) -> None:
    assert runs(image) == [str(BINARIES[binary])]


def test_image_table_runs_the_demo_app_at_any_tag() -> None:
    assert runs(f"{DEMO_APP_IMAGE}:v1") == runs(f"{DEMO_APP_IMAGE}:v2") is not None
    assert runs(f"{DEMO_APP_IMAGE}:v2")[-1].endswith("apps/demo/app.py")  # type: ignore[index]


@pytest.mark.parametrize("image", [
    "nginx:1.27",
    "quay.io/argoproj/argo-rollouts:v1.7.0",  # another release is another program
    "quay.io/argoproj/argo-rollouts",  # :latest
    "rollouts-conformance/argo-rollouts-reference:v1.9.0",
    "quay.io/prometheus/prometheus:v2.53.0",
])
def test_an_image_not_in_the_table_is_refused_with_a_message_naming_the_pinned_tags(image: str) -> None:
    table = image_table(BINARIES)
    assert table_key(table, image) is None
    msg = refusal_message([image], table)
    assert msg.startswith(f"the local backend's node agent cannot run image(s) {image}: it runs only images with "
                          "a local command (")
    assert msg.endswith("); use a container backend (kind, k3s) for others")
    assert f"quay.io/argoproj/argo-rollouts:{versions.ARGO_ROLLOUTS}" in msg
    assert f"rollouts-conformance/argo-rollouts-reference:{versions.ARGO_ROLLOUTS}" in msg


def test_without_a_built_binary_its_image_is_not_runnable() -> None:
    table = image_table({})
    assert table_key(table, f"quay.io/argoproj/argo-rollouts:{versions.ARGO_ROLLOUTS}") is None
    assert table_key(table, f"{DEMO_APP_IMAGE}:v1") == DEMO_APP_IMAGE


def pod() -> SimpleNamespace:
    meta = SimpleNamespace(name="p", namespace="ns", uid="u1", labels={"app": "x"}, annotations={})
    return SimpleNamespace(metadata=meta, spec=SimpleNamespace(node_name="n", service_account_name=None))


def test_field_refs() -> None:
    assert field_ref_value(pod(), "status.podIP", "127.20.0.5") == "127.20.0.5"
    assert field_ref_value(pod(), "metadata.labels['app']", "") == "x"
    assert field_ref_value(pod(), "metadata.namespace", "") == "ns"
    with pytest.raises(ValueError, match="not supported"):
        field_ref_value(pod(), "spec.bogus", "")


def test_env_expansion() -> None:
    assert expand("$(A)-$(B)-$$(A)", {"A": "1"}) == "1-$(B)-$(A)"


def test_ip_allocator_stays_on_loopback_and_reuses() -> None:
    ips = IPAllocator("127.20.0.0/30")
    first = ips.allocate()
    assert first.startswith("127.20.0.")
    second = ips.allocate()
    assert second != first
    ips.release(first)
    assert ips.allocate() == first
    with pytest.raises(SystemExit, match="not inside 127.0.0.0/8"):
        IPAllocator("10.0.0.0/24")


# ---- podspec: environment and command line as the kubelet builds them ----------

from pathlib import Path  # noqa: E402

from kubernetes import client  # noqa: E402

from fixtures.local.kubelet_api import tail_lines  # noqa: E402
from fixtures.local.node_agent import backoff_delay  # noqa: E402
from fixtures.local.podspec import ContainerConfigError, container_argv, container_env  # noqa: E402
from fixtures.local.volumes import MountPoints  # noqa: E402


class FakeLookup:
    def __init__(self) -> None:
        self.config_maps = {"cm": {"A": "from-cm", "bad key": "skipped"}}
        self.secrets = {"sec": {"PASSWORD": "s3cret"}}

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.config_maps.get(name)

    def secret(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.secrets.get(name)


def k8s_pod() -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name="p", namespace="ns", uid="u1", labels={"app": "x"}),
                        spec=client.V1PodSpec(node_name="n", containers=[]))


def env_of(**kw: object) -> dict[str, str]:
    c = client.V1Container(name="c", **kw)  # type: ignore[arg-type]
    return container_env(k8s_pod(), c, "127.20.0.9", {"PATH": "/bin"}, FakeLookup())


def test_env_from_then_env_in_order_with_expansion() -> None:
    env = env_of(env_from=[client.V1EnvFromSource(config_map_ref=client.V1ConfigMapEnvSource(name="cm"), prefix="P_")],
                 env=[client.V1EnvVar(name="B", value="$(P_A)-$(NOPE)"),
                      client.V1EnvVar(name="S", value_from=client.V1EnvVarSource(
                          secret_key_ref=client.V1SecretKeySelector(name="sec", key="PASSWORD"))),
                      client.V1EnvVar(name="IP", value_from=client.V1EnvVarSource(
                          field_ref=client.V1ObjectFieldSelector(field_path="status.podIP")))])
    assert env["P_A"] == "from-cm" and "P_bad key" not in env
    assert env["B"] == "from-cm-$(NOPE)"
    assert env["S"] == "s3cret" and env["IP"] == "127.20.0.9"


def test_missing_reference_is_a_config_error_unless_optional() -> None:
    with pytest.raises(ContainerConfigError, match='configmap "gone" not found'):
        env_of(env=[client.V1EnvVar(name="X", value_from=client.V1EnvVarSource(
            config_map_key_ref=client.V1ConfigMapKeySelector(name="gone", key="k")))])
    with pytest.raises(ContainerConfigError, match="couldn't find key k"):
        env_of(env=[client.V1EnvVar(name="X", value_from=client.V1EnvVarSource(
            config_map_key_ref=client.V1ConfigMapKeySelector(name="cm", key="k")))])
    env = env_of(env=[client.V1EnvVar(name="X", value_from=client.V1EnvVarSource(
        config_map_key_ref=client.V1ConfigMapKeySelector(name="gone", key="k", optional=True)))])
    assert "X" not in env


@pytest.mark.parametrize(("command", "args", "argv"), [
    (None, None, ["/entry", "cmd-default"]),
    (None, ["a", "$(V)"], ["/entry", "a", "v"]),
    (["run", "$(V)"], None, ["run", "v"]),  # command drops the image's CMD
    (["run"], ["$$(V)", "$(U)"], ["run", "$(V)", "$(U)"]),
])
def test_command_and_args_over_entrypoint(command: list[str] | None, args: list[str] | None, argv: list[str]) -> None:
    c = client.V1Container(name="c", command=command, args=args)
    assert container_argv(["/entry"], ["cmd-default"], c, {"V": "v"}) == argv


def test_backoff_is_the_kubelets() -> None:
    assert backoff_delay(0, 1) == 10
    assert backoff_delay(10, 1) == 20
    assert backoff_delay(160, 1) == 300 and backoff_delay(300, 1) == 300
    assert backoff_delay(300, 601) == 0  # ran twice the cap: start over


def test_tail_lines() -> None:
    assert tail_lines(b"a\nb\nc\n", 2) == b"b\nc\n"
    assert tail_lines(b"a\nb", -1) == b"a\nb" and tail_lines(b"a\n", 0) == b""


def test_mount_points_are_created_refcounted_and_removed(tmp_path: Path) -> None:
    mp = MountPoints()
    target = tmp_path / "x" / "y" / "file"
    held_a = mp.acquire(str(target), is_dir=False)
    held_b = mp.acquire(str(target), is_dir=False)
    assert target.is_file() and len(held_a) == 3
    mp.release(held_a)
    assert target.exists()
    mp.release(held_b)
    assert not (tmp_path / "x").exists()
    existing = tmp_path / "kept"
    existing.mkdir()
    mp.release(mp.acquire(str(existing / "d"), is_dir=True))
    assert existing.is_dir() and not (existing / "d").exists()


def test_mount_points_are_counted_across_node_agents(tmp_path: Path) -> None:
    """Two agents on one machine (clusters side by side): a path stays while the other still uses it."""
    import os

    registry = tmp_path / "registry"
    first, second = MountPoints(registry), MountPoints(registry)
    second.me = str(os.getppid())  # another live process
    target = tmp_path / "home" / "plugin-bin"
    held_first = first.acquire(str(target), is_dir=True)
    held_second = second.acquire(str(target), is_dir=True)
    first.release(held_first)
    assert target.is_dir(), "removed while another agent's pod still mounts it"
    second.release(held_second)
    assert not (tmp_path / "home").exists()
    # An agent killed while holding a path does not keep it forever.
    held = first.acquire(str(target), is_dir=True)
    (first._entry(str(target)) / "999999999").touch()  # a holder that is no longer running
    first.release(held)
    assert not target.exists()


# ---- tokens are renewed before they expire -------------------------------------------

from typing import Any  # noqa: E402

from fixtures.local.volumes import PodVolumes  # noqa: E402


class FakeTokenApi:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def create_namespaced_service_account_token(self, name: str, namespace: str, body: dict[str, Any]) -> Any:
        self.requests.append(body)
        status = client.V1TokenRequestStatus(token=f"token-{len(self.requests)}", expiration_timestamp=None)
        return client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]), status=status)

    def read_namespaced_service_account(self, name: str, namespace: str) -> Any:
        return client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))


def test_token_is_bound_renewed_at_80_percent_and_replaced_atomically(tmp_path: Path) -> None:
    now = [1000.0]
    api = FakeTokenApi()
    pod = k8s_pod()
    pod.spec.service_account_name = "reader"
    vols = PodVolumes(api, pod, "127.20.0.9", tmp_path / "pod", b"CA", MountPoints(), clock=lambda: now[0])  # type: ignore[arg-type]
    vols.setup()
    token = tmp_path / "pod" / "serviceaccount" / "token"
    assert token.read_text() == "token-1"
    assert (tmp_path / "pod" / "serviceaccount" / "ca.crt").read_bytes() == b"CA"
    assert api.requests[0]["spec"]["boundObjectRef"] == {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "u1"}
    now[0] += 3607 * 0.8 - 1
    vols.refresh_tokens()
    assert token.read_text() == "token-1"
    now[0] += 2
    vols.refresh_tokens()
    assert token.read_text() == "token-2" and not list(token.parent.glob(".*tmp"))


def test_automount_follows_pod_then_service_account(tmp_path: Path) -> None:
    pod = k8s_pod()
    pod.spec.automount_service_account_token = False
    vols = PodVolumes(FakeTokenApi(), pod, "127.20.0.9", tmp_path, b"", MountPoints())  # type: ignore[arg-type]
    assert vols.automount_service_account() is False
    vols.setup()
    assert vols.service_account_dir is None


# ---- the exec helper: own mount namespace, exec failures reported -----------------------

import json as _json  # noqa: E402
import os as _os  # noqa: E402
import subprocess as _subprocess  # noqa: E402
import sys as _sys  # noqa: E402

from fixtures.local import pod_exec  # noqa: E402


def run_pod_exec(spec: dict[str, Any], tmp_path: Path) -> tuple[int, str, str]:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(_json.dumps(spec))
    read_fd, write_fd = _os.pipe()
    proc = _subprocess.run([_sys.executable, pod_exec.__file__, str(spec_file), str(write_fd)], pass_fds=(write_fd,),
                           capture_output=True, text=True, timeout=30)
    _os.close(write_fd)
    report = _os.read(read_fd, 4096).decode()
    _os.close(read_fd)
    return proc.returncode, proc.stdout, report


@pytest.mark.skipif(_os.geteuid() != 0, reason="mount namespaces need root")
def test_pod_exec_mounts_privately_and_reports_exec_failures(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "f").write_text("from the volume")
    target = tmp_path / "target"
    target.mkdir()
    spec = {"argv": ["sh", "-c", f"cat {target}/f; hostname"], "env": {"PATH": "/usr/bin:/bin"}, "cwd": str(tmp_path),
            "hostname": "the-pod", "mounts": [{"source": str(volume), "target": str(target), "readOnly": True}]}
    code, out, report = run_pod_exec(spec, tmp_path)
    assert (code, out, report) == (0, "from the volumethe-pod\n", "")
    assert not (target / "f").exists(), "the host's view changed"
    code, _, report = run_pod_exec({**spec, "argv": ["/bad-command"]}, tmp_path)
    assert code == pod_exec.START_ERROR_EXIT and "/bad-command" in report
