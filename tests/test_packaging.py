"""The package installs and works without a checkout; the entry point and the root conftest coexist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What the local backend and the suite read from an installed copy (relative to site-packages).
DATA = ["fixtures/schema/conformance-report.schema.json", "fixtures/artifacts/gomod/kubernetes/go.mod",
        "fixtures/artifacts/gomod/etcd/main.go", "suites/templates/error-ratio-canary.yaml", "suites/conformance.ini",
        "apps/demo/app.py", "apps/demo/Dockerfile", "reference/enable-canary-status-labels.patch",
        "scripts/run_conformance.py", "fixtures/artifacts/versions.py"]


def tracked_copy(dest: Path) -> Path:
    """The checkout's files (tracked or new, not ignored): a wheel built from them, not from local leftovers."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, out):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tracked_copy(tmp_path_factory.mktemp("src"))
    dist = tmp_path_factory.mktemp("dist")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
                          "-w", str(dist), str(src)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    wheels = list(dist.glob("rollouts_conformance-*.whl"))
    assert len(wheels) == 1, wheels
    print(f"wheel {wheels[0].name}: {wheels[0].stat().st_size / 1024:.0f} KiB")
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh virtualenv with the wheel installed: (its folder, a working folder outside any checkout)."""
    env_dir = tmp_path_factory.mktemp("venv")
    # System site-packages spare downloading the dependencies; --no-index proves none is missing.
    venv.EnvBuilder(system_site_packages=True, with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    res = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check",
                          str(wheel)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return env_dir, tmp_path_factory.mktemp("elsewhere")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_wheel_installs_and_runs_without_a_checkout(installed: tuple[Path, Path]) -> None:
    env_dir, elsewhere = installed
    py, tool, env = env_dir / "bin" / "python", str(env_dir / "bin" / "rollouts-conformance"), clean_env()

    t0 = time.monotonic()
    listed = subprocess.run([tool, "list"], cwd=elsewhere, capture_output=True, text=True, env=env, timeout=120)
    took = time.monotonic() - t0
    assert listed.returncode == 0, listed.stderr
    assert "faulty_canary_aborted_within_budget" in listed.stdout and "RBK-3" in listed.stdout
    print(f"`rollouts-conformance list` took {took:.2f}s")

    version = subprocess.run([tool, "version"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert version.returncode == 0, version.stderr
    site = Path(version.stdout.split("(")[1].split(")")[0])
    assert env_dir in site.parents, f"the tool ran from {site}, not the installed copy"
    for rel in DATA:
        assert (site / rel).is_file(), f"{rel} is not installed"
    assert not (site / "tests").exists() and not (site / "conftest.py").exists()

    # The installed pytest plugin is found by its entry point, and the installed configuration is used.
    eps = subprocess.run([str(py), "-c", "import importlib.metadata as m; print([e.value for e in "
                          "m.entry_points(group='pytest11')])"], capture_output=True, text=True, env=env)
    assert "fixtures.plugin" in eps.stdout
    collect = subprocess.run([str(py), "-m", "pytest", "-c", str(site / "suites" / "conformance.ini"), "--rootdir",
                              str(site), str(site / "suites"), "--collect-only", "-q"], cwd=elsewhere,
                             capture_output=True, text=True, env=env, timeout=120)
    assert collect.returncode == 0, collect.stdout[-2000:] + collect.stderr[-2000:]
    # The installed copy collects the same conformance tests as the checkout (tests/test_plugin.py checks that
    # those are exactly the conformance-marked ones).
    installed_ids = [ln for ln in collect.stdout.splitlines() if "::" in ln]
    checkout = subprocess.run([sys.executable, "-m", "pytest", "suites", "--collect-only", "-q"], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
    assert checkout.returncode == 0, checkout.stdout[-2000:] + checkout.stderr[-2000:]
    assert installed_ids == [ln for ln in checkout.stdout.splitlines() if "::" in ln]
    assert f"{len(installed_ids)} tests collected" in collect.stdout, collect.stdout[-500:]


@pytest.mark.local_backend
def test_installed_copy_builds_the_local_backend(installed: tuple[Path, Path]) -> None:
    """The installed Go wrapper modules and reference patch key the same cached builds as the checkout's
    (a cache hit: the installed data is the checkout's, byte for byte)."""
    env_dir, elsewhere = installed
    res = subprocess.run([str(env_dir / "bin" / "python"), "-m", "fixtures.artifacts.build"], cwd=elsewhere,
                         capture_output=True, text=True, env=clean_env(), timeout=3600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "building into" not in res.stdout + res.stderr, "the installed copy rebuilt what the checkout had built"


PROBE = '''
def test_each_plugin_registered_once(request):
    from fixtures.plugin import PLUGINS
    pm = request.config.pluginmanager
    names = sorted(p.__name__ for p in pm.get_plugins() if getattr(p, "__name__", "").startswith("fixtures."))
    assert names == sorted(set(names)), names
    assert set(PLUGINS) <= set(names), names
    assert "conformance" in "".join(request.config.getini("markers"))
'''


def fake_install(site: Path) -> Path:
    """A distribution declaring the suite's pytest11 entry point, as `pip install` leaves one."""
    info = site / "rollouts_conformance_probe-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rollouts-conformance-probe\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nrollouts_conformance = fixtures.plugin\n")
    return site


@pytest.mark.parametrize("installed", [True, False], ids=["installed-and-checkout", "checkout-only"])
def test_root_conftest_and_entry_point_never_double_register(tmp_path: Path, installed: bool) -> None:
    """The checkout's conftest.py with the package's entry point active too (or not): each plugin once."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "conftest.py", project / "conftest.py")
    (project / "test_probe.py").write_text(PROBE)
    (project / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n"
                                        "markers =\n    conformance: declared by pyproject in a checkout\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake_install(tmp_path / "site")), str(REPO)])}
    if not installed:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    res = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=project, capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "1 passed" in res.stdout


def dockerfile_stages(path: Path) -> dict[str, list[str]]:
    """A Dockerfile's instructions (continuation lines joined, comments dropped) per stage, by stage name; the
    last stage is also under "final"."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            words = line.split()
            current = []
            stages[words[3] if len(words) > 3 and words[2].upper() == "AS" else f"stage{len(stages)}"] = current
            stages["final"] = current
        current.append(line)
    return stages


def env_of(stage: list[str]) -> dict[str, str]:
    return {k: v for line in stage if line.startswith("ENV ") for k, v in re.findall(r"(\w+)=(\S+)", line)}


SUITE_IMAGE = REPO / "images" / "suite.Dockerfile"
# What an in-cluster run takes from the builder's cache or PATH, and where the code reads it:
# fixtures/backends/incluster.py (install.yaml), suites/test_status_labels.py (the plugin), provider.py (kubectl).
IN_CLUSTER_ARTIFACTS = {"rollouts-manifests": "rollouts-install-yaml", "rollouts-plugin": "kubectl-argo-rollouts",
                        "kubectl": "kubectl"}


def test_suite_image_copies_what_exists() -> None:
    """images/suite.Dockerfile (no Docker daemon here to build it): every COPY source is in the checkout, the
    image installs the wheel and runs the console script."""
    stages = dockerfile_stages(SUITE_IMAGE)
    sources = [line.split()[1] for stage in stages.values() for line in stage
               if line.startswith("COPY ") and "--from" not in line]
    assert sources, stages
    for src in sources:
        assert (REPO / src).exists(), src
    final = stages["final"]
    assert 'ENTRYPOINT ["rollouts-conformance"]' in final and any(
        "pip install --no-cache-dir /tmp/*.whl" in line for line in final), final


def test_suite_image_final_stage_reads_the_artifacts_where_the_code_looks() -> None:
    """The final stage's cache folder is the artifacts stage's, copied whole and owned by the user the suite runs
    as, named by the variable the builder reads; the commands' folder is on PATH; the Go image is the reference
    image's."""
    from fixtures.artifacts import build

    stages = dockerfile_stages(SUITE_IMAGE)
    artifacts, final = stages["artifacts"], stages["final"]
    cache = env_of(final)["ROLLOUTS_CONFORMANCE_CACHE"]
    assert env_of(artifacts)["ROLLOUTS_CONFORMANCE_CACHE"] == cache
    copies = [line.split() for line in final if line.startswith("COPY --from=artifacts")]
    assert len(copies) == 1, final
    user = next(line.split()[1] for line in final if line.startswith("USER "))
    assert f"--chown={user}:{user}" in copies[0], copies
    src, dest = copies[0][-2:]
    assert src == dest and Path(cache).is_relative_to(dest), (copies, cache)
    assert env_of(final)["PATH"].split(":")[0] == f"{dest}/bin"
    assert "/usr/local/go/bin" not in env_of(final)["PATH"]
    # The builder reads the variable: the artifacts' folders are under it.
    old = os.environ.get("ROLLOUTS_CONFORMANCE_CACHE")
    os.environ["ROLLOUTS_CONFORMANCE_CACHE"] = cache
    try:
        assert build.default_cache_dir() == Path(cache)
    finally:
        if old is None:
            del os.environ["ROLLOUTS_CONFORMANCE_CACHE"]
        else:
            os.environ["ROLLOUTS_CONFORMANCE_CACHE"] = old
    go_image = re.search(r"^ARG GO_IMAGE=(\S+)", SUITE_IMAGE.read_text(), re.M)
    reference = re.search(r"^ARG GO_IMAGE=(\S+)", (REPO / "images" / "rollouts-reference.Dockerfile").read_text(), re.M)
    assert go_image and reference and go_image.group(1) == reference.group(1)


@pytest.mark.local_backend
def test_suite_image_build_steps_give_the_artifacts_an_in_cluster_run_needs(tmp_path: Path) -> None:
    """The artifacts stage's RUN steps, run here as a shell script against the warm cache (its folder moved to
    the builder's cache here, the rest under tmp_path): the builder names every artifact an in-cluster run reads,
    and the links on PATH run. Then the final stage as the suite sees it: only those artifacts' folders in a
    cache of its own, no Go on PATH: every artifact is a cache hit, kubectl and the plugin run from PATH."""
    from fixtures.artifacts import build

    stages = dockerfile_stages(SUITE_IMAGE)
    artifacts = stages["artifacts"]
    cache = env_of(artifacts)["ROLLOUTS_CONFORMANCE_CACHE"]
    dest = next(line.split()[-1] for line in stages["final"] if line.startswith("COPY --from=artifacts"))
    runs = [line[4:] for line in artifacts if line.startswith("RUN ")]
    assert len(runs) == 1, runs
    only = re.findall(r"--only (\S+)", runs[0])
    assert sorted(only) == sorted(IN_CLUSTER_ARTIFACTS), only
    here = tmp_path / "image"
    script = runs[0].replace(cache, str(build.default_cache_dir())).replace(dest, str(here)) \
        .replace("python -m", f"{sys.executable} -m")
    here.mkdir()
    t0 = time.monotonic()
    res = subprocess.run(["sh", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=3600,
                         env={**build.go_env(), "PYTHONPATH": str(REPO)})
    print(f"the artifacts stage's RUN took {time.monotonic() - t0:.1f}s")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    printed = dict(line.split("\t") for line in (here / "artifacts.tsv").read_text().splitlines())
    assert set(IN_CLUSTER_ARTIFACTS.values()) <= set(printed), printed

    # The final stage: a cache holding only what the COPY brings, Go nowhere on PATH.
    image_cache = here / "cache"
    table = build.artifacts()
    for name in IN_CLUSTER_ARTIFACTS:
        folder = table[name].folder(build.default_cache_dir())
        shutil.copytree(folder, image_cache / "bin" / folder.name, symlinks=True)
    no_go = os.pathsep.join([str(here / "bin"), "/usr/bin", "/bin"])
    assert shutil.which("go", path=no_go) is None
    env = {**clean_env(), "PATH": no_go, "ROLLOUTS_CONFORMANCE_CACHE": str(image_cache), "PYTHONPATH": str(REPO)}
    probe = ("from fixtures.artifacts import build; "
             f"paths = build.ensure({sorted(IN_CLUSTER_ARTIFACTS)!r}); "
             f"print([str(paths[k]) for k in "
             f"{sorted(IN_CLUSTER_ARTIFACTS.values())!r}])")
    hit = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=120)
    assert hit.returncode == 0, hit.stderr[-2000:]
    assert "building into" not in hit.stderr and str(image_cache) in hit.stdout, hit.stdout + hit.stderr
    for tool, args in (("kubectl", ["version", "--client"]), ("kubectl-argo-rollouts", ["version"])):
        found = shutil.which(tool, path=no_go)
        assert found == str(here / "bin" / tool), (tool, found)
        ran = subprocess.run([tool, *args], capture_output=True, text=True, env=env, timeout=60)
        assert ran.returncode == 0, (tool, ran.stdout + ran.stderr)
        assert "v1." in ran.stdout, (tool, ran.stdout)
