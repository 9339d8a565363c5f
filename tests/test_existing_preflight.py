"""--prometheus-url: the preflight refuses a Prometheus whose relabeling loses the pod labels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fixtures.kube import Kube
from tests.existing_cluster import REPO, leftovers, local_cluster_program

pytestmark = pytest.mark.local_backend


def test_prometheus_without_the_labelmap_is_refused_by_the_preflight(tmp_path: Path) -> None:
    """--prometheus-url: a Prometheus whose pod job lacks the labelmap stops the run, naming what to add."""
    from fixtures.artifacts import build
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
