"""--demo-image on the existing backend, end to end: demo pods that cannot get their image fail fast, as
infrastructure.

The existing backend against a local cluster started as a program (as tests/test_existing_preflight.py), with a
--demo-image the node agent has no command for: it refuses the pods with `ImageNotRunnable`, its kind of pull
failure, as a kubelet would report ErrImagePull. The test stops at once with one line naming the image and the
option, filed under infrastructure, and the run exits 3.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fixtures.kube import Kube
from fixtures.timeouts import Timeouts
from tests.existing_cluster import REPO, leftovers, local_cluster_program

pytestmark = pytest.mark.local_backend
REPOSITORY = "registry.invalid/vendor/demo-app"


def test_demo_pods_without_their_image_fail_fast_as_infrastructure(tmp_path: Path) -> None:
    with local_cluster_program(tmp_path) as kubeconfig:
        res = subprocess.run([sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider",
                              "--backend=existing", f"--kubeconfig={kubeconfig}", f"--demo-image={REPOSITORY}",
                              "--run-test=labels_without_metadata", f"--report-dir={tmp_path / 'reports'}"],
                             cwd=REPO, capture_output=True, text=True, timeout=600)
        out = res.stdout + res.stderr
        assert res.returncode == 3, out[-3000:]
        assert "Traceback" not in out
        doc = yaml.safe_load((tmp_path / "reports" / "reference-flag" / "conformance-report.yaml").read_text())
        (test,) = [t for p in doc["profiles"] for t in p["tests"] if t["outcome"] != "skipped"]
        assert test["name"] == "labels_without_metadata" and test["outcome"] == "failed", test
        assert test["category"] == "infrastructure", test
        assert f"cannot pull image {REPOSITORY}:v1 (ImageNotRunnable" in test["message"], test["message"]
        assert "--demo-image REPOSITORY" in test["message"]
        # At once, not after the Rollout's phase timeout.
        assert test["durationSeconds"] < Timeouts().rollout_phase, test["durationSeconds"]
        assert leftovers(Kube(kubeconfig)) == []
