"""Helpers of the in-cluster path's tests: a local cluster started as a program of its own, used as an
`existing` one, and the README's driver run against it (tests/test_existing_*.py)."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import yaml

from fixtures.kube import Kube
from fixtures.labels import INSTALL_LABEL, RUN_LABEL
from fixtures.spec import PROFILES, profiles_in_mode
from fixtures.timeouts import Timeouts
from fixtures.wait import wait_until

REPO = Path(__file__).resolve().parents[1]

# The verdicts the local backend gives the pair (tests/test_conformance_pair.py holds it to the same).
EXPECTED = {
    "reference-flag": {p: "success" for p in PROFILES},
    "upstream-explicit": {p: ("success" if p in profiles_in_mode("explicit") else "unsupported") for p in PROFILES},
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
    return {p["name"]: p["core"]["result"] for p in doc["profiles"]}


def leftovers(kube: Kube) -> list[str]:
    """Anything the suite created that is still in the cluster."""
    left = [f"namespace {n.metadata.name}" for n in kube.core.list_namespace(label_selector=RUN_LABEL).items]
    left += [f"namespace {n.metadata.name}" for n in kube.core.list_namespace(label_selector=INSTALL_LABEL).items]
    left += [f"CRD {c.metadata.name}" for c in
             kube.ext.list_custom_resource_definition(label_selector=INSTALL_LABEL).items]
    return left
