"""--workers: a run's tests on pytest-xdist workers (fixtures/parallel.py), with a stand-in backend per worker.

What must hold with workers as without: the same report (records, evidence, measurements, deselected tests),
junit, Allure results, the HTML summary and plots written once by the controller; the tests marked
`restarts_controller` on one worker, in order; each worker's backend torn down; SIGTERM to the controller
(what the driver sends) marks the run interrupted and every worker tears its backend down; bad input is still
one line. The real suite with workers runs in tests/test_conformance_pair.py through the driver.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.backends.registry import BACKENDS
from fixtures.config import SuiteConfig
from fixtures.parallel import workers_for
from fixtures.wait import wait_until
from tests.test_plugin import REPO

CONFTEST = f'''
import os, sys
sys.path.insert(0, {str(REPO)!r})
from pathlib import Path
from types import SimpleNamespace
import pytest
pytest_plugins = ["fixtures.options", "fixtures.parallel", "fixtures.outcome", "fixtures.report.plugin",
                  "fixtures.cluster_plugin", "fixtures.suite"]

@pytest.fixture(scope="session")
def backend():
    # A stand-in per worker, as the real backends are (session scope): it says where it ran and that it stopped.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(f"backend-started-{{worker}}").write_text(str(os.getpid()))
    impl = SimpleNamespace(name="fake", version="v0", binary="/bin/fake", image="", base_flags=[])
    yield SimpleNamespace(name="fake", kubernetes_version=lambda: "v1.34.5", prometheus_version=lambda: "3.16.0",
                          details=lambda: {{"timings": {{"cluster_start": 1.0}}}},
                          controller=SimpleNamespace(implementation=impl))
    Path(f"backend-stopped-{{worker}}").write_text(str(os.getpid()))
'''

SUITE = '''
import logging, os
from pathlib import Path
import pytest
from fixtures.report import unsupported
from fixtures.suite import restarts_controller

log = logging.getLogger("conformance")


def ran_on(name):
    Path(f"ran-{name}").write_text(os.environ.get("PYTEST_XDIST_WORKER", "main"))


@pytest.mark.conformance("FLAG-2", profile="status-labels")
@restarts_controller
def test_no_flag(backend):
    ran_on("no_flag")


@pytest.mark.conformance("LBL-6", profile="status-labels")
@restarts_controller
def test_enable_flag(backend):
    ran_on("enable_flag")


@pytest.mark.conformance("FLAG-1", profile="status-labels")
@restarts_controller
def test_accepts_flag(backend):
    ran_on("accepts_flag")


@pytest.mark.conformance("LBL-1", profile="status-labels")
def test_labels(backend, evidence):
    """Labels appear."""
    ran_on("labels")
    log.info("waited 1.25s for labels in ns x")
    evidence.measure("label convergence", 0.4, "s", "LBL-8", budget=10.0)


@pytest.mark.conformance("LBL-9", profile="status-labels")
def test_refused(backend, request):
    ran_on("refused")
    unsupported(request.node, "the controller refuses --enable-canary-status-labels")


@pytest.mark.conformance("MET-1", profile="metrics")
def test_metric(backend):
    ran_on("metric")
    assert 1 + 1 == 3, "series missing"


@pytest.mark.conformance("RBK-1", "RBK-2", profile="rollback")
def test_aborted(backend, evidence):
    ran_on("aborted")
    evidence.timelines["canary error ratio (filtered)"] = [(100.0, 0.4), (101.0, 0.41)]
    evidence.levels["analysis threshold"] = 0.1
    evidence.events.append((100.5, "canary Ready"))
    evidence.measure("time to abort", 2.1, "s", "RBK-1", budget=13.0)


@pytest.mark.conformance("ANA-3", profile="analysis")
def test_one(backend):
    ran_on("one")


@pytest.mark.conformance("ANA-4", profile="analysis")
def test_two(backend):
    ran_on("two")
'''

# The test the interruption lands in: it waits (fixtures/wait.py) for a file nobody writes.
BLOCKING = '''
from fixtures.wait import wait_until


@pytest.mark.conformance("ANA-1", profile="analysis")
def test_blocks(backend):
    ran_on("blocks")
    wait_until("a file nobody writes", lambda: (Path("never").exists(), None), 600)
'''


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
                           "--alluredir=allure-results", "--junitxml=junit.xml", "-o", "log_cli=true",
                           "-o", "log_cli_level=INFO", *args], cwd=folder, env=env, capture_output=True, text=True)


def project(tmp_path: Path, name: str, extra: str = "") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_suite.py").write_text(SUITE + extra)
    return folder


def comparable(doc: Any) -> Any:
    """The report without what differs from run to run (times, dates)."""
    if isinstance(doc, dict):
        return {k: comparable(v) for k, v in doc.items()
                if k not in ("date", "durationSeconds", "duration", "at", "seconds", "generated")}
    if isinstance(doc, list):
        return [comparable(v) for v in doc]
    return doc


def report(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "reports" / "reference-flag" / "conformance-report.yaml").read_text())


def test_two_workers_write_the_same_report_as_one_process(tmp_path: Path) -> None:
    one, two = project(tmp_path, "one"), project(tmp_path, "two")
    plain = run(one, "--skip-tests=two")
    parallel = run(two, "--skip-tests=two", "--workers", "2")
    assert plain.returncode == parallel.returncode == 0, parallel.stdout[-3000:] + parallel.stderr[-2000:]
    assert "scheduling tests via SerialGroupScheduling" in parallel.stdout
    assert comparable(report(two)) == comparable(report(one))
    doc = report(two)
    assert doc["environment"]["kubernetesVersion"] == "v1.34.5" and doc["implementation"]["version"] == "v0"
    assert "interrupted" not in doc["summary"]
    by_name = {t["name"]: t for p in doc["profiles"] for t in p["tests"]}
    assert by_name["labels"]["measurements"][0]["value"] == 0.4  # evidence crossed from the worker

    # Every test ran, each once, on a worker; the serial group on one worker, in collection order.
    ran = {p.name.removeprefix("ran-"): p.read_text() for p in two.glob("ran-*")}
    assert set(ran) == {"no_flag", "enable_flag", "accepts_flag", "labels", "refused", "metric", "aborted", "one"}
    assert set(ran.values()) == {"gw0", "gw1"}
    assert len({ran["no_flag"], ran["enable_flag"], ran["accepts_flag"]}) == 1
    group_worker = ran["no_flag"]
    lines = [ln for ln in parallel.stdout.splitlines() if ln.startswith(f"[{group_worker}] [")]
    order = [ln.split("::")[-1].strip() for ln in lines if "::test_" in ln]
    group_order = [t for t in order if t in ("test_no_flag", "test_enable_flag", "test_accepts_flag")]
    assert group_order == ["test_no_flag", "test_enable_flag", "test_accepts_flag"]

    # Each worker started its own backend and stopped it.
    for worker in ("gw0", "gw1"):
        assert (two / f"backend-started-{worker}").exists() and (two / f"backend-stopped-{worker}").exists()

    # The worker's log lines reach the controller's output, each naming its test.
    assert any(ln.startswith("test_suite.py::test_labels [gw") and "waited 1.25s for labels in ns x" in ln
               for ln in parallel.stdout.splitlines())

    # junit, Allure, the HTML summary and the plots: once each, for every test.
    cases = {c.get("name") for c in ET.parse(two / "junit.xml").getroot().iter("testcase")}
    assert cases == {f"test_{n}" for n in ran} | {"test_two"}
    results = [json.loads(p.read_text()) for p in (two / "allure-results").glob("*-result.json")]
    assert sorted(r["name"] for r in results) == sorted(c for c in cases if c != "test_two") + ["test_two"]
    out = two / "reports" / "reference-flag"
    assert (out / "conformance-summary.html").is_file() and (out / "plots" / "aborted.png").is_file()
    assert sorted(p.name for p in (one / "reports" / "reference-flag").rglob("*")) == \
        sorted(p.name for p in out.rglob("*"))


def test_sigterm_to_the_controller_interrupts_every_worker(tmp_path: Path) -> None:
    folder = project(tmp_path, "stop", BLOCKING)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--workers", "2",
                             "--junitxml=junit.xml"], cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_until("the blocking test started", lambda: ((folder / "ran-blocks").exists(), None), 120)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    doc = report(folder)
    assert doc["summary"]["interrupted"]["reason"] == "SIGTERM"
    assert "blocks" in doc["summary"]["interrupted"]["test"]
    tests = {t["name"]: t for p in doc["profiles"] for t in p["tests"]}
    assert tests["blocks"]["outcome"] == "interrupted"
    assert tests["blocks"]["message"].startswith("interrupted during its call")
    # Each worker that started a backend tore it down, and no worker is left.
    started = sorted(p.name.removeprefix("backend-started-") for p in folder.glob("backend-started-*"))
    assert started and started == sorted(p.name.removeprefix("backend-stopped-")
                                         for p in folder.glob("backend-stopped-*"))
    for pid_file in folder.glob("backend-started-*"):
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.read_text()), 0)


def test_bad_workers_is_one_line(tmp_path: Path) -> None:
    result = run(project(tmp_path, "bad"), "--workers", "0")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--workers 0: at least 1" in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_workers_precedence_and_the_shared_cluster(tmp_path: Path) -> None:
    folder = project(tmp_path, "prec")
    (folder / "options.yaml").write_text("workers: 3\n")
    ini = ["-o", "conformance_workers=2", "--collect-only", "-q"]
    # --collect-only: xdist stays out of it, the config is still built; the numbers are read back from it.
    probe = ("\nimport pytest\n@pytest.fixture(scope='session', autouse=True)\ndef _x(): pass\n"
             "def pytest_collection_finish(session):\n"
             "    from fixtures.options import suite_config\n"
             "    print('WORKERS', suite_config(session.config).workers)\n")
    (folder / "conftest.py").write_text(CONFTEST + probe)
    assert "WORKERS 2" in run(folder, *ini).stdout
    assert "WORKERS 3" in run(folder, *ini, "--options-file", "options.yaml").stdout
    assert "WORKERS 4" in run(folder, *ini, "--options-file", "options.yaml", "--workers", "4").stdout
    shared = [name for name, entry in BACKENDS.items() if entry.shared_cluster]
    assert shared and all(workers_for(SuiteConfig(backend=name, workers=3)) == 1 for name in shared)
    assert workers_for(SuiteConfig(backend="local", workers=3)) == 3
