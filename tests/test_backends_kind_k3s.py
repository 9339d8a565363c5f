"""The kind and k3s backends without a Docker daemon: pins, configuration, command lines, option handling.

Neither backend can run on this project's build machine (no Docker daemon); the
nightly workflow runs them. These tests check everything that does not need a
daemon, against the real libraries where they build the commands.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from fixtures import images
from fixtures.backends import BackendError, factory
from fixtures.backends import k3s as k3s_mod
from fixtures.backends import kind as kind_mod
from fixtures.backends.containerized import (
    PINNED,
    UnknownKubernetesVersion,
    default_minor,
    pick_pinned,
    pinned_version,
    require_docker,
    write_private,
)
from fixtures.backends.k3s import K3S_IMAGES, K3sProvider, k3s_image
from fixtures.backends.kind import KIND_NODE_IMAGES, KindProvider, cluster_config, node_image, node_image_available
from fixtures.backends.provider import ProviderError
from fixtures.backends.registry import BACKENDS
from fixtures.config import ConfigError, SuiteConfig
from fixtures.artifacts import build, versions
from fixtures.image_names import DEMO_APP_IMAGE, REFERENCE_CONTROLLER_IMAGE, controller_image

REPO = Path(__file__).resolve().parents[1]
NO_DAEMON = (False, "the Docker daemon does not answer (Cannot connect to the Docker daemon)")


def minor_key(minor: str) -> tuple[int, ...]:
    return tuple(int(p) for p in minor.split("."))


# ---- pins -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("table", [KIND_NODE_IMAGES, K3S_IMAGES], ids=["kind", "k3s"])
def test_every_image_is_pinned_by_digest_under_its_minor(table: dict[str, str]) -> None:
    for minor, image in table.items():
        assert PINNED.match(image), image
        assert pinned_version(image).startswith(f"v{minor}."), (minor, image)
    assert default_minor() in table, "the local backend's minor must be runnable on kind and k3s too"


def test_default_is_the_local_backends_minor() -> None:
    assert default_minor() == "1.34" == ".".join(versions.KUBERNETES.lstrip("v").split(".")[:2])
    assert node_image() == KIND_NODE_IMAGES["1.34"]
    assert KindProvider().kubernetes_version_wanted() == "v1.34.11"
    assert k3s_image() == K3S_IMAGES["1.34"]
    assert K3sProvider().kubernetes_version_wanted() == "v1.34.11"


@pytest.mark.parametrize("asked", ["1.35", "v1.35", " 1.35 ", "1.35.8", "v1.35.8"])
def test_a_minor_or_its_pinned_patch_picks_the_pinned_image(asked: str) -> None:
    assert pick_pinned(asked, KIND_NODE_IMAGES, "node image") == ("1.35", KIND_NODE_IMAGES["1.35"])
    assert KindProvider(asked).node_image.startswith("kindest/node:v1.35.8@sha256:")
    assert K3sProvider(asked).image.startswith("rancher/k3s:v1.35.8-k3s1@sha256:")


def test_an_unknown_minor_is_a_one_line_error_listing_the_known_ones() -> None:
    with pytest.raises(UnknownKubernetesVersion) as err:
        KindProvider("1.30")
    msg = str(err.value)
    assert "\n" not in msg
    assert "1.30" in msg and "known minors: 1.37, 1.36, 1.35, 1.34" in msg, msg
    with pytest.raises(UnknownKubernetesVersion, match="known minors: 1.37, 1.36, 1.35, 1.34"):
        K3sProvider("1.99")


@pytest.mark.parametrize("asked", ["latest", "1", "1.35.x", "stable"])
def test_a_version_that_is_no_minor_is_refused(asked: str) -> None:
    with pytest.raises(UnknownKubernetesVersion, match="is not a Kubernetes minor like 1.35"):
        KindProvider(asked)


def test_another_patch_than_the_pinned_one_is_refused_with_the_fix() -> None:
    with pytest.raises(UnknownKubernetesVersion, match=r"pins Kubernetes 1.35 as v1.35.8; pass --kubernetes-version 1.35"):
        KindProvider("1.35.2")


def test_kind_pin_agrees_with_the_kind_module_when_it_was_downloaded() -> None:
    """kind's own default node image (pkg/apis/config/defaults/image.go) is one of our pins."""
    assert kind_mod.KIND_VERSION == versions.KIND
    image_go = module_dir(versions.KIND_MODULE, versions.KIND) / "pkg/apis/config/defaults/image.go"
    default = re.search(r'const Image = "([^"]+)"', image_go.read_text())
    assert default is not None and default.group(1) in KIND_NODE_IMAGES.values(), default


# ---- the kind cluster configuration and commands -------------------------------------------------------

def test_kind_cluster_configuration() -> None:
    cfg = cluster_config(KIND_NODE_IMAGES["1.36"])
    assert cfg["kind"] == "Cluster" and cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert cfg["nodes"] == [{"role": "control-plane", "image": KIND_NODE_IMAGES["1.36"]}]
    assert cfg["networking"] == {"apiServerAddress": "127.0.0.1"}
    assert yaml.safe_load(yaml.safe_dump(cfg)) == cfg


def module_dir(module: str, version: str) -> Path:
    """A module's folder in the Go module cache; skip the test when it was never downloaded."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("no go command")
    modcache = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True).stdout.strip()
    folder = Path(modcache) / f"{module}@{version}"
    if not folder.is_dir():
        pytest.skip(f"{module}@{version} not downloaded (python -m fixtures.artifacts.build builds it)")
    return folder


# A program inside (a copy of) kind's module, so it may use kind's internal config loader.
KIND_CONFIG_CHECK = """package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kind/pkg/internal/apis/config/encoding"
)

func main() {
	for _, path := range os.Args[2:] {
		c, err := encoding.Load(path) // strict: an unknown field is an error
		if err == nil {
			c.Name = os.Args[1] // what `kind create cluster --name` sets
			err = c.Validate()
		}
		if err != nil {
			fmt.Println(path, err)
			os.Exit(1)
		}
		fmt.Println(c.Nodes[0].Image)
	}
}
"""


def test_kind_itself_accepts_our_cluster_configuration(tmp_path: Path) -> None:
    """kind v0.33.0's own loader (strict YAML, defaults, validation) accepts every configuration we write."""
    src = build.writable_copy(module_dir(versions.KIND_MODULE, versions.KIND), tmp_path / "kind")
    (src / "pkg" / "rcconfigcheck").mkdir()
    (src / "pkg" / "rcconfigcheck" / "main.go").write_text(KIND_CONFIG_CHECK)
    files = []
    for minor, image in KIND_NODE_IMAGES.items():
        files.append(tmp_path / f"kind-config-{minor}.yaml")
        files[-1].write_text(yaml.safe_dump(cluster_config(image), sort_keys=False))
    res = subprocess.run(["go", "run", "./pkg/rcconfigcheck", KindProvider().cluster_name, *map(str, files)],
                         cwd=src, env=build.go_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.split() == list(KIND_NODE_IMAGES.values())


def test_each_kind_provider_gets_its_own_cluster_name_and_context() -> None:
    a, b = KindProvider(), KindProvider()
    assert a.cluster_name != b.cluster_name
    assert re.fullmatch(r"rollouts-conformance-[0-9a-f]{6}", a.cluster_name)
    assert a.context == f"kind-{a.cluster_name}"


def test_kind_load_is_kind_load_docker_image_as_pytest_kind_runs_it(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The command we document is the one the library runs (pytest-kind's load_docker_image)."""
    import pytest_kind.cluster as pk

    monkeypatch.chdir(tmp_path)  # KindCluster makes .pytest-kind/<name>/ in the working directory
    provider = KindProvider()
    provider.kind = str(tmp_path / "kind")
    ran: list[list[str]] = []
    monkeypatch.setattr(pk.subprocess, "run", lambda argv, **kw: ran.append([str(a) for a in argv]))
    cluster = pk.KindCluster(provider.cluster_name, kind_path=Path(provider.kind), kubectl_path=tmp_path / "kubectl")
    cluster.load_docker_image(f"{DEMO_APP_IMAGE}:v1")
    assert ran == [provider.load_command(f"{DEMO_APP_IMAGE}:v1")]
    assert ran[0][1:4] == ["load", "docker-image", "--name"]


class FakeKindCluster:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.loaded: list[str] = []
        self.deleted = 0

    def load_docker_image(self, image: str) -> None:
        self.loaded.append(image)

    def delete(self) -> None:
        self.deleted += 1


def test_kind_load_image_makes_the_image_local_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    provider = KindProvider()
    with pytest.raises(ProviderError, match="before start"):
        provider.load_image("x:v1")
    fake = FakeKindCluster(tmp_path / ".pytest-kind" / provider.cluster_name)
    provider._cluster = fake
    asked: list[str] = []
    monkeypatch.setattr(images, "ensure_local", lambda image, **kw: asked.append(image) or "built")
    provider.load_image(f"{DEMO_APP_IMAGE}:v2")
    assert asked == fake.loaded == [f"{DEMO_APP_IMAGE}:v2"]

    def refuse(image: str, **kw: Any) -> str:
        raise images.ImageError("no such image")

    monkeypatch.setattr(images, "ensure_local", refuse)
    with pytest.raises(ProviderError, match="no such image"):
        provider.load_image("nope:v1")


def test_kind_stop_deletes_the_cluster_and_its_files_unless_kept(tmp_path: Path) -> None:
    for keep in (False, True):
        provider = KindProvider(keep=keep)
        pk_dir = tmp_path / str(keep) / ".pytest-kind" / provider.cluster_name
        pk_dir.mkdir(parents=True)
        provider.workdir = tmp_path / str(keep) / "work"
        provider.workdir.mkdir()
        fake = FakeKindCluster(pk_dir)
        provider._cluster = fake
        provider.stop()
        provider.stop()  # idempotent
        assert fake.deleted == (0 if keep else 1)
        assert provider.workdir.exists() == keep
        assert not pk_dir.parent.exists(), "the empty .pytest-kind folder is left behind"


def test_start_without_a_docker_daemon_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "docker_answers", lambda: NO_DAEMON)
    for provider in (KindProvider(), K3sProvider()):
        with pytest.raises(ProviderError) as err:
            provider.start()
        assert "\n" not in str(err.value) and "--backend local" in str(err.value)
    with pytest.raises(ProviderError, match="does not answer"):
        require_docker()


# ---- node_image_available (what `auto` asks) -----------------------------------------------------------

def test_node_image_available_when_docker_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "docker_answers", lambda: NO_DAEMON)

    def no_registry(*a: Any, **kw: Any) -> None:
        raise AssertionError("asked docker (and so the registry) without a daemon")

    monkeypatch.setattr(kind_mod.subprocess, "run", no_registry)
    ok, why = node_image_available("")
    assert not ok and "does not answer" in why


def test_node_image_available_here_says_no_without_asking_a_registry() -> None:
    """On this machine, for real: the daemon does not answer, so the answer is no, with the reason."""
    ok, why = factory.docker_answers()
    if ok:
        pytest.skip("a Docker daemon answers here")
    assert node_image_available(default_minor()) == (False, why)


def test_resolve_auto_falls_back_to_local_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "docker_answers", lambda: NO_DAEMON)
    assert factory.resolve_auto(SuiteConfig()) == ("local", NO_DAEMON[1])


def fake_docker(monkeypatch: pytest.MonkeyPatch, results: dict[str, int]) -> list[list[str]]:
    """docker answers; `docker image inspect` / `docker manifest inspect` exit as `results` says."""
    calls: list[list[str]] = []
    monkeypatch.setattr(factory, "docker_answers", lambda: (True, "Docker 29.0.0 answers"))
    monkeypatch.setattr(kind_mod.shutil, "which", lambda name: "/usr/bin/docker")

    def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        key = " ".join(argv[1:3])
        if results[key] == -1:
            raise subprocess.TimeoutExpired(argv, kw["timeout"])
        return subprocess.CompletedProcess(argv, results[key], "", "" if results[key] == 0 else f"{key}: no such")

    monkeypatch.setattr(kind_mod.subprocess, "run", run)
    return calls


def test_node_image_available_present_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_docker(monkeypatch, {"image inspect": 0, "manifest inspect": 1})
    ok, why = node_image_available("1.36")
    assert ok and "present locally" in why and KIND_NODE_IMAGES["1.36"] in why
    assert calls == [["/usr/bin/docker", "image", "inspect", "--format", "{{.Id}}", KIND_NODE_IMAGES["1.36"]]]


def test_node_image_available_pullable_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_docker(monkeypatch, {"image inspect": 1, "manifest inspect": 0})
    assert node_image_available("1.35") == (True, f"kind's node image {KIND_NODE_IMAGES['1.35']} is pullable")
    assert calls[-1] == ["/usr/bin/docker", "manifest", "inspect", KIND_NODE_IMAGES["1.35"]]
    fake_docker(monkeypatch, {"image inspect": 1, "manifest inspect": 1})
    ok, why = node_image_available("1.35")
    assert not ok and "neither present locally" in why and "manifest inspect: no such" in why
    fake_docker(monkeypatch, {"image inspect": -1, "manifest inspect": 0})
    ok, why = node_image_available("1.35", timeout=2)
    assert not ok and "did not answer within 2s" in why


def test_node_image_available_for_an_unknown_version(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_docker(monkeypatch, {"image inspect": 0, "manifest inspect": 0})
    ok, why = node_image_available("1.20")
    assert not ok and "known minors" in why


# ---- k3s ----------------------------------------------------------------------------------------------

def test_k3s_container_class_is_where_testcontainers_4_keeps_it() -> None:
    from testcontainers.community.k3s import K3SContainer
    from testcontainers.core.container import DockerContainer

    assert issubclass(K3SContainer, DockerContainer)
    assert callable(K3SContainer.config_yaml)
    assert K3SContainer.KUBE_SECURE_PORT == 6443


def test_k3s_image_choice() -> None:
    assert k3s_image("1.37") == K3S_IMAGES["1.37"]
    assert k3s_image("v1.36").startswith("rancher/k3s:v1.36.4-k3s1@sha256:")
    for minor, image in K3S_IMAGES.items():
        assert image.startswith(f"rancher/k3s:v{minor}.") and "-k3s1@sha256:" in image
    # kind and k3s pin the same minors, so every --kubernetes-version works on both.
    assert set(K3S_IMAGES) == set(KIND_NODE_IMAGES)


def test_k3s_load_is_docker_save_into_ctr_import() -> None:
    save, load = K3sProvider().load_commands(f"{DEMO_APP_IMAGE}:v1", "abc123")
    assert save == ["docker", "save", f"{DEMO_APP_IMAGE}:v1"]
    assert load == ["docker", "exec", "-i", "abc123", "ctr", "-n", "k8s.io", "images", "import", "-"]


def test_k3s_load_pipes_save_into_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipe itself, with stand-ins for docker: what `save` writes is what `import` reads."""
    provider = K3sProvider(docker=sys.executable)
    provider._container = SimpleNamespace(get_container_id=lambda: "abc123")
    monkeypatch.setattr(images, "ensure_local", lambda *a, **kw: "present")
    seen: dict[str, Any] = {}

    def commands(image: str, cid: str) -> tuple[list[str], list[str]]:
        seen["args"] = (image, cid)
        return ([sys.executable, "-c", "print('IMAGE-TAR')"],
                [sys.executable, "-c", "import sys; d = sys.stdin.read(); sys.exit(0 if d == 'IMAGE-TAR\\n' else 7)"])

    monkeypatch.setattr(provider, "load_commands", commands)
    provider.load_image("x:v1")
    assert seen["args"] == ("x:v1", "abc123")
    monkeypatch.setattr(provider, "load_commands", lambda image, cid: (
        [sys.executable, "-c", "print('x')"], [sys.executable, "-c", "import sys; sys.stderr.write('ctr: bad\\n'); sys.exit(3)"]))
    with pytest.raises(ProviderError, match="ctr import exit 3.*ctr: bad"):
        provider.load_image("x:v1")


def test_kubeconfig_files_are_private(tmp_path: Path) -> None:
    path = write_private(tmp_path / "kubeconfig", "apiVersion: v1\n")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == "apiVersion: v1\n"


def test_k3s_stop_removes_the_container_unless_kept(tmp_path: Path) -> None:
    for keep in (False, True):
        provider = K3sProvider(keep=keep)
        stopped: list[int] = []
        provider._container = SimpleNamespace(get_container_id=lambda: "abc123def456789",
                                              stop=lambda: stopped.append(1))
        provider.workdir = tmp_path / f"k3s-{keep}"
        provider.workdir.mkdir()
        provider.stop()
        provider.stop()
        assert stopped == ([] if keep else [1])
        assert provider.workdir.exists() == keep


# ---- option handling through the registry ------------------------------------------------------------

def test_registry_names_our_factories() -> None:
    assert BACKENDS["kind"].load() is kind_mod.from_config
    assert BACKENDS["k3s"].load() is k3s_mod.from_config


@pytest.mark.parametrize("backend", ["kind", "k3s"])
def test_kind_and_k3s_read_kubernetes_version_and_refuse_local_options(backend: str) -> None:
    SuiteConfig(backend=backend, kubernetes_version="1.36").check_backend_options(backend)
    with pytest.raises(ConfigError, match=r"--controller-binary is not used by the .* backend; it is for --backend local"):
        SuiteConfig(backend=backend, controller_binary=Path("/bin/true")).check_backend_options(backend)


def test_local_refuses_kubernetes_version_naming_kind_and_k3s() -> None:
    with pytest.raises(ConfigError, match=r"--kubernetes-version is not used by the local backend; it is for "
                                          r"--backend kind or k3s"):
        SuiteConfig(backend="local", kubernetes_version="1.36").check_backend_options("local")


@pytest.mark.parametrize("module", [kind_mod, k3s_mod], ids=["kind", "k3s"])
def test_from_config_an_unknown_version_is_a_backend_error(module: Any) -> None:
    with pytest.raises(BackendError, match="known minors: 1.37, 1.36, 1.35, 1.34"):
        module.from_config(SuiteConfig(backend=module.__name__.rsplit(".", 1)[1], kubernetes_version="1.29"))


@pytest.mark.parametrize("module,provider_class", [(kind_mod, KindProvider), (k3s_mod, K3sProvider)],
                         ids=["kind", "k3s"])
def test_from_config_hands_the_provider_to_the_in_cluster_backend(module: Any, provider_class: type,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[Any, Any]] = []
    stub = types.ModuleType("fixtures.backends.incluster")

    class InClusterBackend:
        def __init__(self, cfg: Any, provider: Any) -> None:
            made.append((cfg, provider))

    stub.InClusterBackend = InClusterBackend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fixtures.backends.incluster", stub)
    cfg = SuiteConfig(backend=module.__name__.rsplit(".", 1)[1], kubernetes_version="1.36")
    module.from_config(cfg)
    (got_cfg, provider), = made
    assert got_cfg is cfg and isinstance(provider, provider_class)
    assert provider.minor == "1.36" and provider.timeouts is cfg.timeouts


# ---- tools built from Go modules -------------------------------------------------------------------------

def test_kind_and_kubectl_are_artifacts_built_only_when_named() -> None:
    table = build.artifacts()
    assert table["kind"].version == versions.KIND and table["kind"].module == "sigs.k8s.io/kind"
    assert table["kubectl"].version == versions.KUBERNETES
    assert not table["kind"].default and not table["kubectl"].default
    assert all(a.default for n, a in table.items() if n not in ("kind", "kubectl", "rollouts-e2e", "kubectl-argo-rollouts"))
    # kubectl comes from the control plane's wrapper module; the control plane's key is untouched.
    assert table["kubectl"].key_extra == table["kubernetes"].key_extra
    assert table["kubernetes"].key_extra == build._digest(build.GOMOD_DIR / "kubernetes" / "go.mod")
    cache = Path("/cache")
    assert table["kubectl"].folder(cache) != table["kubernetes"].folder(cache)
    assert table["kind"].paths(cache) == {"kind": cache / "bin" / f"kind-{versions.KIND}" / "kind"}


# ---- images --------------------------------------------------------------------------------------------

def test_demo_image_build_command() -> None:
    argv = images.builds()["demo"].argv()
    assert argv == ["docker", "build", "-f", str(REPO / "apps/demo/Dockerfile"),
                    "-t", f"{DEMO_APP_IMAGE}:v1", "-t", f"{DEMO_APP_IMAGE}:v2",
                    str(REPO / "apps/demo")]


def test_reference_image_build_command() -> None:
    argv = images.builds()["reference"].argv("/usr/bin/docker")
    digest_tag = f"{REFERENCE_CONTROLLER_IMAGE}:{versions.ARGO_ROLLOUTS}-canary-status-labels.{images.patch_digest()}"
    assert argv == ["/usr/bin/docker", "build", "-f", str(REPO / "images/rollouts-reference.Dockerfile"),
                    "--build-arg", f"ARGO_ROLLOUTS_VERSION={versions.ARGO_ROLLOUTS}",
                    "-t", controller_image("reference"), "-t", digest_tag, str(REPO / "reference")]


def test_demo_tags_cover_every_version_the_scenarios_deploy() -> None:
    used = set()
    for path in [*sorted((REPO / "fixtures" / "scenario").glob("*.py")), *sorted((REPO / "suites").glob("*.py"))]:
        used |= set(re.findall(r'AppVersion\(\s*"([^"]+)"', path.read_text()))
    assert used and used <= set(images.DEMO_APP_TAGS), used


def test_reference_version_is_the_local_builds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stamped: list[str] = []
    monkeypatch.setattr(build, "_build_rollouts", lambda art, out, patch, version: stamped.append(version))
    build.build_rollouts_reference(build.artifacts()["rollouts-reference"], tmp_path)
    assert stamped == [images.reference_version()]
    assert images.patch_digest() == build._digest(build.REFERENCE_PATCH)


def test_reference_dockerfile_builds_like_the_local_build() -> None:
    text = (REPO / "images" / "rollouts-reference.Dockerfile").read_text()
    assert f"ARG ARGO_ROLLOUTS_VERSION={versions.ARGO_ROLLOUTS}" in text
    assert f'go mod download "{versions.ARGO_ROLLOUTS_MODULE}@${{ARGO_ROLLOUTS_VERSION}}"' in text
    assert "git apply -p1 --whitespace=nowarn --check /build/enable-canary-status-labels.patch" in text
    assert "./cmd/rollouts-controller" in text and "CGO_ENABLED=0" in text
    # The version string, as the local build stamps it (same four -X stamps).
    assert ('version="${ARGO_ROLLOUTS_VERSION}+canary-status-labels.$(sha256sum '
            '/build/enable-canary-status-labels.patch | cut -c1-12)"') in text
    for stamp in ("version=${version}", "gitTag=${version}", "gitCommit=gomodule-${ARGO_ROLLOUTS_VERSION}",
                  "gitTreeState=clean"):
        assert f"-X ${{pkg}}.{stamp}" in text, stamp
    # Upstream's final image: distroless static, numeric user 999, the controller as entrypoint.
    final = text[text.rindex("FROM "):]
    assert "USER 999" in final and 'ENTRYPOINT ["/bin/rollouts-controller"]' in final
    assert "WORKDIR /home/argo-rollouts" in final
    assert "gcr.io/distroless/static-debian12" in text


def test_the_dockerfiles_build_steps_apply_the_patch_and_stamp_the_local_version(tmp_path: Path) -> None:
    """The reference Dockerfile's RUN steps, run here as a shell script (paths moved under tmp_path,
    `go build` replaced by echo: no compile): the patch applies and the version is the local build's."""
    module_dir(versions.ARGO_ROLLOUTS_MODULE, versions.ARGO_ROLLOUTS)  # downloaded: no network needed
    text = re.sub(r"\\\n", " ", (REPO / "images" / "rollouts-reference.Dockerfile").read_text())
    runs = [line[4:] for line in text.splitlines() if line.startswith("RUN ")]
    env = dict(re.findall(r"(\w+)=(\S+)", next(line for line in text.splitlines() if line.startswith("ENV "))))
    arg = re.search(r"^ARG ARGO_ROLLOUTS_VERSION=(\S+)", text, re.M)
    assert arg is not None and len(runs) == 3, runs
    root = tmp_path / "b"
    (root / "build").mkdir(parents=True)
    shutil.copy(images.REFERENCE_PATCH, root / "build" / images.REFERENCE_PATCH.name)  # the COPY
    script = ["set -e"]
    for i, run in enumerate(runs):
        script += [f"cd {root / 'build' / 'src'}"] if i == 1 else []  # the WORKDIR
        script.append(run.replace("/build", str(root / "build")).replace("/out", str(root / "out"))
                      .replace("go build -v", "echo go build -v"))
    (root / "out").mkdir()
    res = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=300,
                         env={**build.go_env(), **env, "ARGO_ROLLOUTS_VERSION": arg.group(1),
                              "GIT_CEILING_DIRECTORIES": str(root)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert (root / "out" / "VERSION").read_text().strip() == images.reference_version()
    assert f"-X github.com/argoproj/argo-rollouts/utils/version.version={images.reference_version()}" in res.stdout
    assert (root / "build" / "src" / "rollout" / "canarystatuslabels.go").is_file()


def test_the_dockerfiles_digest_command_gives_the_patch_digest() -> None:
    sha = shutil.which("sha256sum")
    if sha is None:
        pytest.skip("no sha256sum")
    out = subprocess.run(f"{sha} {images.REFERENCE_PATCH} | cut -c1-12", shell=True, capture_output=True, text=True)
    assert out.stdout.strip() == images.patch_digest()


def fake_image_docker(monkeypatch: pytest.MonkeyPatch, present: bool, pull_rc: int = 0) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        if argv[1:3] == ["image", "inspect"]:
            return subprocess.CompletedProcess(argv, 0 if present else 1, "", "")
        return subprocess.CompletedProcess(argv, pull_rc, "", "" if pull_rc == 0 else "denied: no such image")

    monkeypatch.setattr(images.subprocess, "run", run)
    return calls


def test_ensure_local_present_built_or_pulled(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[list[str] | None] = []
    monkeypatch.setattr(images, "build", lambda names=None, docker=None: built.append(list(names or [])) or [])
    fake_image_docker(monkeypatch, present=True)
    assert images.ensure_local(f"{DEMO_APP_IMAGE}:v1", "docker") == "present"
    fake_image_docker(monkeypatch, present=False)
    assert images.ensure_local(f"{DEMO_APP_IMAGE}:v2", "docker") == "built"
    assert images.ensure_local(images.reference_image_by_digest(), "docker") == "built"
    assert built == [["demo"], ["reference"]]
    calls = fake_image_docker(monkeypatch, present=False)
    assert images.ensure_local(controller_image("upstream"), "docker") == "pulled"
    assert calls[-1] == ["docker", "pull", f"quay.io/argoproj/argo-rollouts:{versions.ARGO_ROLLOUTS}"]
    fake_image_docker(monkeypatch, present=False, pull_rc=1)
    with pytest.raises(images.ImageError, match="docker pull. failed: denied: no such image"):
        images.ensure_local("quay.io/example/missing:v1", "docker")


def test_a_failed_docker_build_is_an_image_error() -> None:
    false = shutil.which("false")
    if false is None:
        pytest.skip("no false command")
    with pytest.raises(images.ImageError, match=r"failed \(exit 1\)"):
        images.build(["demo"], docker=false)
    with pytest.raises(images.ImageError, match="unknown image"):
        images.build(["nope"], docker=false)


def test_images_list_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert images.main(["list"]) == 0
    assert capsys.readouterr().out.split() == [*images.demo_app_images(), *images.reference_images()]


# ---- start(), with the daemon-facing parts replaced ---------------------------------------------------------

def test_kind_start_creates_the_cluster_from_our_config_with_our_binaries(monkeypatch: pytest.MonkeyPatch,
                                                                           tmp_path: Path) -> None:
    import pytest_kind

    created: list[dict[str, Any]] = []

    class RecordingKindCluster:
        def __init__(self, name: str, kubeconfig: Path, kind_path: Path, kubectl_path: Path) -> None:
            self.name, self.kubeconfig_path = name, kubeconfig
            self.kind_path, self.kubectl_path = kind_path, kubectl_path
            self.path = tmp_path / ".pytest-kind" / name
            self.path.mkdir(parents=True)
            self.deleted = False

        def create(self, config_file: Path) -> None:
            created.append({"cluster": self, "config": yaml.safe_load(Path(config_file).read_text())})
            self.kubeconfig_path.write_text("apiVersion: v1\n")

        def delete(self) -> None:
            self.deleted = True

    waited: list[tuple[Path, str | None, float]] = []
    monkeypatch.setattr(factory, "docker_answers", lambda: (True, "Docker 29.0.0 answers"))
    monkeypatch.setattr(kind_mod, "tools", lambda cache=None: (tmp_path / "kind", tmp_path / "kubectl"))
    monkeypatch.setattr(pytest_kind, "KindCluster", RecordingKindCluster)
    monkeypatch.setattr(kind_mod, "wait_node_ready", lambda kc, ctx, what, timeout: waited.append((kc, ctx, timeout)))
    provider = KindProvider("1.36")
    kubeconfig = provider.start()
    (call,) = created
    assert call["config"] == cluster_config(KIND_NODE_IMAGES["1.36"])
    cluster = call["cluster"]
    assert (cluster.name, cluster.kind_path, cluster.kubectl_path) == (
        provider.cluster_name, tmp_path / "kind", tmp_path / "kubectl")
    assert kubeconfig == cluster.kubeconfig_path and kubeconfig.parent == provider.workdir
    assert provider.workdir is not None and provider.workdir.stat().st_mode & 0o777 == 0o700
    assert provider.kubectl == str(tmp_path / "kubectl")  # port-forward uses our kubectl
    assert waited == [(kubeconfig, provider.context, provider.timeouts.cluster_start)]
    provider.stop()
    assert cluster.deleted and not provider.workdir.exists()


def test_kind_start_reports_a_failed_create_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import pytest_kind

    class FailingKindCluster(FakeKindCluster):
        def __init__(self, name: str, **kw: Any) -> None:
            super().__init__(tmp_path / ".pytest-kind" / name)

        def create(self, config_file: Path) -> None:
            raise subprocess.CalledProcessError(1, ["kind", "create", "cluster"])

    monkeypatch.setattr(factory, "docker_answers", lambda: (True, "Docker 29.0.0 answers"))
    monkeypatch.setattr(kind_mod, "tools", lambda cache=None: (tmp_path / "kind", tmp_path / "kubectl"))
    monkeypatch.setattr(pytest_kind, "KindCluster", FailingKindCluster)
    provider = KindProvider()
    with pytest.raises(ProviderError, match=r"kind create cluster --name rollouts-conformance-\w+. failed \(exit 1\)"):
        provider.start()
    cluster = provider._cluster
    provider.stop()  # a half-created cluster is still deleted
    assert cluster.deleted == 1


def test_k3s_start_writes_a_private_kubeconfig_from_the_container(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    import testcontainers.community.k3s as tc_k3s

    class RecordingK3SContainer:
        def __init__(self, image: str) -> None:
            self.image = image
            self.started = self.stopped = False

        def start(self) -> "RecordingK3SContainer":
            self.started = True
            return self

        def config_yaml(self) -> str:
            return "apiVersion: v1\nclusters: []\n"

        def get_container_id(self) -> str:
            return "0123456789abcdef"

        def stop(self) -> None:
            self.stopped = True

    waited: list[Any] = []
    monkeypatch.setattr(factory, "docker_answers", lambda: (True, "Docker 29.0.0 answers"))
    monkeypatch.setattr(build, "ensure", lambda names, cache=None: {"kubectl": tmp_path / "kubectl"})
    monkeypatch.setattr(tc_k3s, "K3SContainer", RecordingK3SContainer)
    monkeypatch.setattr(k3s_mod, "wait_node_ready", lambda *a: waited.append(a))
    provider = K3sProvider("1.35")
    kubeconfig = provider.start()
    container = provider._container
    assert container.image == K3S_IMAGES["1.35"] and container.started
    assert kubeconfig.read_text() == "apiVersion: v1\nclusters: []\n"
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    assert provider.kubectl == str(tmp_path / "kubectl")
    assert waited == [(kubeconfig, None, "k3s container 0123456789ab", provider.timeouts.cluster_start)]
    provider.stop()
    assert container.stopped and not kubeconfig.exists()
