"""Ctrl-C on a shared cluster (issue 11, "Reliability"): on an `existing` cluster, no namespace of ours is left.

A local cluster is started as a program of its own and used as a user's existing cluster; the driver runs one
quick test against it with `--backend existing` (installing Argo Rollouts and Prometheus itself) and is stopped
with SIGINT once a namespace of the run exists, seen through the kube API by the run label. Then: the driver
exits within its bound, no namespace carrying the run label is left, the install is removed as on a normal end,
and the report says the run was interrupted, as does the driver's summary.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from fixtures.child_processes import stoppable_child
from fixtures.kube import Kube
from fixtures.labels import INSTALL_LABEL, RUN_LABEL
from fixtures.report.model import EXIT_INFRASTRUCTURE, INTERRUPTED
from fixtures.report.schema import schema_problems
from fixtures.timeouts import DEFAULT_TIMEOUTS
from fixtures.wait import wait_until
from scripts.run_conformance import STOP_GRACE
from tests.existing_cluster import REPO, leftovers, local_cluster_program

pytestmark = pytest.mark.local_backend

QUICK_TEST = "controller_accepts_flag"  # one Rollout, one update: the shortest whole test
# Up to a namespace of the run: the install (controller, its flag toggle, Prometheus), loaded machine.
NAMESPACE_TIMEOUT = 4 * DEFAULT_TIMEOUTS.cluster_start
# After SIGINT: the driver's own bound on a run's teardown (it kills the run after it), and its summary.
EXIT_TIMEOUT = STOP_GRACE + DEFAULT_TIMEOUTS.process_stop


def run_namespaces(kube: Kube) -> list[str]:
    return [n.metadata.name for n in kube.core.list_namespace(label_selector=RUN_LABEL).items]


def test_sigint_on_an_existing_cluster_leaves_nothing_of_ours(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with local_cluster_program(tmp_path) as kubeconfig:
        kube = Kube(kubeconfig)
        assert run_namespaces(kube) == [] and leftovers(kube) == [], "the cluster is not fresh"
        cmd = [sys.executable, "-m", "scripts.run_conformance", "--runs", "reference:flag", f"--report-dir={reports}",
               "--backend=existing", f"--kubeconfig={kubeconfig}", "--run-test", QUICK_TEST, "-p", "no:randomly"]
        # Its own session: the signal goes to the driver alone, as `kill -INT PID` would; it dies with this test.
        driver = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"}, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                  preexec_fn=stoppable_child)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(driver.stdout or []), daemon=True)
        reader.start()
        try:
            seen = wait_until("a namespace of the run", lambda: (bool(run_namespaces(kube)), run_namespaces(kube)),
                              NAMESPACE_TIMEOUT, interval=0.2,
                              abort=lambda: None if driver.poll() is None else
                              f"the driver exited {driver.returncode}:\n{''.join(lines[-40:])}")
            installed = {n.metadata.name for n in kube.core.list_namespace(label_selector=INSTALL_LABEL).items}
            assert installed, f"the suite installed nothing it labels (its namespaces: {seen.state})"
            driver.send_signal(signal.SIGINT)
            try:
                code = driver.wait(EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the driver still ran {EXIT_TIMEOUT:.0f}s after SIGINT:\n{''.join(lines[-40:])}")
            reader.join(10)
            out = "".join(lines[-60:])
            assert code == EXIT_INFRASTRUCTURE, out
            # Right after the exit, nothing to wait for: the run waits for its namespaces and its install to go.
            assert run_namespaces(kube) == [], out
            assert leftovers(kube) == [], out
            assert kube.apps.list_deployment_for_all_namespaces(
                label_selector="app.kubernetes.io/name=argo-rollouts").items == [], out
            rbac = client.RbacAuthorizationV1Api(kube.api)
            assert not [c.metadata.name for c in rbac.list_cluster_role(label_selector=INSTALL_LABEL).items], out
            assert not [c.metadata.name for c in rbac.list_cluster_role_binding(label_selector=INSTALL_LABEL).items], out
        finally:
            if driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
                driver.wait(30)
            if driver.stdout is not None:
                driver.stdout.close()
            (tmp_path / "driver.log").write_text("".join(lines))

    doc = yaml.safe_load((reports / "reference-flag" / "conformance-report.yaml").read_text())
    assert schema_problems(doc) == []
    stopped = doc["summary"].get("interrupted")
    assert stopped and "SIGINT" in stopped["reason"] and stopped["test"] == QUICK_TEST, doc["summary"]
    test = next(t for p in doc["profiles"] for t in p["tests"] if t["name"] == QUICK_TEST)
    assert test["outcome"] == INTERRUPTED, test
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["interrupted"] == "SIGINT" and [r["state"] for r in summary["runs"]] == ["interrupted"], summary
