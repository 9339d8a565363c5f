"""The in-cluster path, run for real: a local cluster started as a program of its own, used as an `existing` one.

Argo Rollouts is installed from upstream's install.yaml and Prometheus from our
manifests, as pods; the verdicts must be those of the local backend (the pair:
reference build in flag mode succeeds everywhere, upstream in explicit mode is
unsupported for status-labels only). Then a vendor's case: a controller
installed beforehand, found with `--controller preinstalled`.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from fixtures.kube import Kube
from fixtures.labels import INSTALL_LABEL, RUN_LABEL
from fixtures.report.model import EXIT_CLAIM_NOT_MET, EXIT_OK
from fixtures.spec import PROFILES
from fixtures.timeouts import Timeouts
from fixtures.wait import wait_until

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.local_backend

# The verdicts the local backend gives the pair (tests/test_conformance_pair.py holds it to the same).
EXPECTED = {
    "reference-flag": {p: "success" for p in PROFILES},
    "upstream-explicit": {p: ("unsupported" if p == "status-labels" else "success") for p in PROFILES},
}


@contextlib.contextmanager
def local_cluster_program(workdir: Path, *extra: str) -> Iterator[Path]:
    """`python -m fixtures.local up` as a separate program; yields its kubeconfig, stops it with SIGTERM."""
    kubeconfig = workdir / "kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "fixtures.local", "up", "--kubeconfig-out", str(kubeconfig), *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        wait_until("local cluster program ready", lambda: (any(ln.startswith("ready:") for ln in lines), lines[-3:]),
                   Timeouts().cluster_start * 3,
                   abort=lambda: None if proc.poll() is None else f"exited {proc.returncode}: {''.join(lines[-20:])}")
        yield kubeconfig
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(10)  # the pipe's end came with the program's
        if proc.stdout is not None:
            proc.stdout.close()
        (workdir / "cluster.log").write_text("".join(lines))
    assert proc.returncode == 0, "".join(lines[-30:])


def run_driver(report_dir: Path, runs: str, *pytest_args: str,
               claims: list[str] = list(PROFILES)) -> tuple[str, dict[str, int]]:
    """The README's driver with `claims` (default: every profile); its output tail and each run's exit code."""
    res = subprocess.run([sys.executable, "-m", "scripts.run_conformance", "--report-dir", str(report_dir),
                          "--runs", runs, "--claim", ",".join(claims), *pytest_args], cwd=REPO,
                         capture_output=True, text=True, timeout=3600)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "driver.log").write_text(res.stdout + res.stderr)
    summary = report_dir / "summary.json"
    codes = {r["run"]: r["exit"] for r in json.loads(summary.read_text())["runs"]} if summary.exists() else {}
    return res.stdout[-4000:] + res.stderr[-2000:], codes


def report(report_dir: Path, run: str) -> dict:
    return yaml.safe_load((report_dir / run / "conformance-report.yaml").read_text())


def verdicts(doc: dict) -> dict[str, str]:
    return {p["name"]: p["result"] for p in doc["profiles"]}


def leftovers(kube: Kube) -> list[str]:
    """Anything the suite created that is still in the cluster."""
    left = [f"namespace {n.metadata.name}" for n in kube.core.list_namespace(label_selector=RUN_LABEL).items]
    left += [f"namespace {n.metadata.name}" for n in kube.core.list_namespace(label_selector=INSTALL_LABEL).items]
    left += [f"CRD {c.metadata.name}" for c in
             kube.ext.list_custom_resource_definition(label_selector=INSTALL_LABEL).items]
    return left


def test_existing_backend_installs_from_manifests_and_gives_the_local_verdicts(tmp_path: Path) -> None:
    with local_cluster_program(tmp_path) as kubeconfig:
        out, codes = run_driver(tmp_path / "reports", "reference:flag,upstream:explicit", "--backend=existing",
                                f"--kubeconfig={kubeconfig}")
        assert codes == {"reference-flag": EXIT_OK, "upstream-explicit": EXIT_CLAIM_NOT_MET}, (codes, out)
        for run, expected in EXPECTED.items():
            doc = report(tmp_path / "reports", run)
            assert verdicts(doc) == expected, (run, verdicts(doc), out)
            details = doc["environment"]["backendDetails"]
            assert doc["environment"]["backend"] == "existing"
            assert details["localCluster"] is True and details["controllerMode"] == "install"
            assert any("Recreate" in o for o in details["overrides"]), details
        kube = Kube(kubeconfig)
        assert leftovers(kube) == []
        assert kube.apps.list_deployment_for_all_namespaces(label_selector="app.kubernetes.io/name=argo-rollouts").items == []


def test_preinstalled_controller_gives_the_same_verdicts_and_is_restored(tmp_path: Path) -> None:
    with local_cluster_program(tmp_path, "--preinstall-controller", "reference") as kubeconfig:
        kube = Kube(kubeconfig)
        before = kube.apps.read_namespaced_deployment("argo-rollouts", "argo-rollouts")
        out, codes = run_driver(tmp_path / "reports", "reference:flag", "--backend=existing",
                                f"--kubeconfig={kubeconfig}", "--controller=preinstalled", "--allow-controller-restart")
        assert codes == {"reference-flag": EXIT_OK}, (codes, out)
        doc = report(tmp_path / "reports", "reference-flag")
        assert verdicts(doc) == EXPECTED["reference-flag"], (verdicts(doc), out)
        recorded = doc["environment"]["backendDetails"]["controllerDeployment"]
        assert recorded["name"] == "argo-rollouts/argo-rollouts"
        assert recorded["image"] == before.spec.template.spec.containers[0].image
        assert recorded["args"] == list(before.spec.template.spec.containers[0].args or [])
        after = kube.apps.read_namespaced_deployment("argo-rollouts", "argo-rollouts")
        assert after.spec.template.spec.containers[0].args == before.spec.template.spec.containers[0].args
        assert leftovers(kube) == []


def test_preinstalled_controller_without_restart_permission_is_partial(tmp_path: Path) -> None:
    with local_cluster_program(tmp_path, "--preinstall-controller", "reference") as kubeconfig:
        out, codes = run_driver(tmp_path / "reports", "reference:flag", "--backend=existing",
                                f"--kubeconfig={kubeconfig}", "--controller=preinstalled", "--profile=status-labels",
                                claims=["status-labels"])
        # Claimed but only partly checked: a partial profile never meets a claim.
        assert codes == {"reference-flag": EXIT_CLAIM_NOT_MET}, (codes, out)
        doc = report(tmp_path / "reports", "reference-flag")
        status = next(p for p in doc["profiles"] if p["name"] == "status-labels")
        assert status["result"] == "partial", status
        skipped = [t for t in status["tests"] if t["outcome"] == "skipped"]
        assert skipped and all("--allow-controller-restart" in t["message"] for t in skipped), skipped


def test_prometheus_without_the_labelmap_is_refused_by_the_preflight(tmp_path: Path) -> None:
    """--prometheus-url: a Prometheus whose pod job lacks the labelmap stops the run, naming what to add."""
    from fixtures.local import build
    from fixtures.local.process import ManagedProcess, free_port
    from fixtures.prom import scrape_config

    with local_cluster_program(tmp_path) as kubeconfig:
        config = scrape_config("1s", str(kubeconfig))
        job = config["scrape_configs"][0]
        job["relabel_configs"] = [r for r in job["relabel_configs"] if r.get("action") != "labelmap"]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        prometheus = ManagedProcess("prometheus", [
            str(build.ensure(["prometheus"])["prometheus"]), f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
            tmp_path / "prometheus.log").start()
        try:
            res = subprocess.run([sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider",
                                  "--backend=existing", f"--kubeconfig={kubeconfig}",
                                  f"--prometheus-url=http://127.0.0.1:{port}", "--run-test=controller_accepts_flag",
                                  f"--report-dir={tmp_path / 'reports'}"],
                                 cwd=REPO, capture_output=True, text=True, timeout=600)
        finally:
            prometheus.stop()
        out = res.stdout + res.stderr
        assert res.returncode == 3, out[-3000:]
        assert "lack argo_rollouts_status" in out and "labelmap" in out, out[-3000:]
        assert "Traceback" not in out
        assert leftovers(Kube(kubeconfig)) == []
