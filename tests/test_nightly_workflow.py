"""The nightly workflow (.github/workflows/nightly.yaml) is well formed and asks only for what exists.

The workflow runs on GitHub's runners (Docker, kind), never here; so its YAML,
its matrix and every option its run steps pass are checked against the code
they call: the pytest plugin's options (collected from `fixtures.options`'
`pytest_addoption`), the run driver's, the image builder's and the Go
builder's.
"""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures import images, options
from fixtures.backends.k3s import K3S_IMAGES
from fixtures.backends.kind import KIND_NODE_IMAGES, KindProvider
from fixtures.backends.registry import backend_names
from fixtures.config import LABELLING_MODES
from fixtures.artifacts import build
from fixtures.spec import PROFILES, profiles_in_mode

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "nightly.yaml"
OPTION = re.compile(r"^--[a-z][a-z0-9-]*")
EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def job(workflow: dict[Any, Any]) -> dict[str, Any]:
    """The kind job (the matrix the nightly is about)."""
    assert set(workflow["jobs"]) == {"kind", "k3s"}
    return workflow["jobs"]["kind"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=["kind", "k3s"])
def any_job(workflow: dict[Any, Any], request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, workflow["jobs"][request.param]


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads a bare `on:` key as the boolean True.
    return workflow.get("on") or workflow[True]  # type: ignore[no-any-return]


def test_runs_nightly_and_on_demand(workflow: dict[Any, Any]) -> None:
    on = triggers(workflow)
    assert set(on) == {"schedule", "workflow_dispatch"}
    (cron,) = [s["cron"] for s in on["schedule"]]
    assert len(cron.split()) == 5, cron
    assert workflow["permissions"] == {"contents": "read"}


def test_matrix_three_newest_pinned_minors_times_two_runs(job: dict[str, Any]) -> None:
    matrix = job["strategy"]["matrix"]
    newest = sorted(KIND_NODE_IMAGES, key=lambda m: tuple(map(int, m.split("."))), reverse=True)[:3]
    assert matrix["kubernetes"] == newest
    runs = {r["runs"]: r for r in matrix["run"]}
    assert set(runs) == {"reference:flag", "upstream:explicit"}
    # The reference claims every profile; upstream (no flag) every profile that runs in explicit mode.
    assert sorted(runs["reference:flag"]["claim"].split(",")) == sorted(PROFILES)
    assert sorted(runs["upstream:explicit"]["claim"].split(",")) == sorted(profiles_in_mode("explicit"))
    for r in runs.values():
        impl, mode = r["runs"].split(":")
        assert impl in ("reference", "upstream") and mode in LABELLING_MODES
        assert set(r["claim"].split(",")) <= set(PROFILES)
    assert job["strategy"]["fail-fast"] is False
    for minor in matrix["kubernetes"]:
        KindProvider(minor)  # a pinned minor: no error


def combinations(job: dict[str, Any]) -> list[dict[str, Any]]:
    matrix = job["strategy"]["matrix"]
    keys = list(matrix)
    return [dict(zip(keys, values)) for values in itertools.product(*(matrix[k] for k in keys))]


def expand(text: str, combo: dict[str, Any]) -> str:
    """Substitute `${{ matrix.a.b }}` with the combination's value; other expressions with a word."""
    def value(m: re.Match[str]) -> str:
        expr = m.group(1)
        if not expr.startswith("matrix."):
            return "EXPR"
        v: Any = combo
        for part in expr.split(".")[1:]:
            v = v[part]
        return str(v)

    return EXPR.sub(value, text)


def python_commands(job: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(module, arguments) of every `python -m MODULE ...` of every run step, for every matrix cell."""
    out = []
    for combo in combinations(job):
        for step in job["steps"]:
            if "run" not in step:
                continue
            argv = shlex.split(expand(step["run"], combo))
            if argv[:2] == ["python", "-m"] and argv[2] != "pip":
                out.append((argv[2], argv[3:]))
    return out


def options_of(args: list[str]) -> set[str]:
    return {m.group(0) for a in args if (m := OPTION.match(a))}


class RecordingParser:
    """Stands in for pytest's parser: records every option string `pytest_addoption` declares."""

    def __init__(self) -> None:
        self.options: set[str] = set()

    def getgroup(self, *args: Any, **kwargs: Any) -> "RecordingParser":
        return self

    def addoption(self, *names: str, **kwargs: Any) -> None:
        self.options |= {n for n in names if n.startswith("--")}

    def addini(self, *args: Any, **kwargs: Any) -> None:
        pass


def plugin_options() -> set[str]:
    parser = RecordingParser()
    options.pytest_addoption(parser)  # type: ignore[arg-type]
    return parser.options


def help_options(module: str, *args: str) -> set[str]:
    res = subprocess.run([sys.executable, "-m", module, *args, "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", res.stdout))


def test_the_recording_parser_sees_the_plugins_options() -> None:
    seen = plugin_options()
    assert {"--backend", "--kubernetes-version", "--profile", "--labelling-mode", "--timeout-cluster-start",
            "--impl-url"} <= seen


def test_every_option_of_the_run_steps_exists(any_job: tuple[str, dict[str, Any]]) -> None:
    _, job = any_job
    known = {
        "scripts.run_conformance": help_options("scripts.run_conformance") | plugin_options(),
        "fixtures.images": help_options("fixtures.images", "build"),
        "fixtures.artifacts.build": help_options("fixtures.artifacts.build"),
    }
    commands = python_commands(job)
    assert {m for m, _ in commands} == set(known), commands
    for module, args in commands:
        unknown = options_of(args) - known[module]
        assert not unknown, f"python -m {module}: unknown option(s) {sorted(unknown)}"


def test_run_step_values_are_valid(any_job: tuple[str, dict[str, Any]]) -> None:
    backend, job = any_job
    pins = {"kind": KIND_NODE_IMAGES, "k3s": K3S_IMAGES}[backend]
    tools = {"kind": ["kind", "kubectl"], "k3s": ["kubectl"]}[backend]
    for module, args in python_commands(job):
        pairs = dict(zip(args, args[1:]))
        if module == "scripts.run_conformance":
            assert pairs["--backend"] == backend and backend in backend_names()
            assert pairs["--kubernetes-version"] in pins
            assert set(pairs["--claim"].split(",")) <= set(PROFILES)
            assert re.fullmatch(r"(reference|upstream):(flag|explicit)", pairs["--runs"])
        elif module == "fixtures.images":
            wanted = [b for a, b in zip(args, args[1:]) if a == "--only"]
            assert args[0] == "build" and set(wanted) <= set(images.builds()) and "demo" in wanted
        elif module == "fixtures.artifacts.build":
            wanted = [b for a, b in zip(args, args[1:]) if a == "--only"]
            assert wanted == tools and set(wanted) <= set(build.artifacts())


def test_both_jobs_run_the_same_pairs_and_claims(workflow: dict[Any, Any]) -> None:
    kind, k3s = (workflow["jobs"][j]["strategy"]["matrix"]["run"] for j in ("kind", "k3s"))
    assert kind == k3s
    assert workflow["jobs"]["k3s"]["strategy"]["matrix"]["kubernetes"] == [
        max(K3S_IMAGES, key=lambda m: tuple(map(int, m.split("."))))]


def test_reference_runs_build_the_reference_image(any_job: tuple[str, dict[str, Any]]) -> None:
    _, job = any_job
    for r in job["strategy"]["matrix"]["run"]:
        assert ("--only reference" in r["images"]) == r["runs"].startswith("reference:"), r


def test_every_run_uploads_its_report_folder(any_job: tuple[str, dict[str, Any]]) -> None:
    _, job = any_job
    uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    (upload,) = uploads
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ env.REPORT_DIR }}"
    assert "${{ matrix.kubernetes }}" in upload["with"]["name"] and "${{ matrix.run.name }}" in upload["with"]["name"]
    run_step = next(s for s in job["steps"] if "scripts.run_conformance" in s.get("run", ""))
    # The driver writes <report-dir>/<impl>-<mode>/{conformance-report.yaml,junit.xml,html/} there.
    assert '--report-dir "$REPORT_DIR"' in run_step["run"]
    assert job["env"]["REPORT_DIR"].startswith("reports/")
    # ... and summary.txt/summary.json, whose phases give the cluster start time (kind's and k3s' are measured
    # only here, on a runner with Docker); summary.txt also goes on the run's page.
    page = next(s for s in job["steps"] if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert page["if"] == "always()" and '"$REPORT_DIR/summary.txt"' in page["run"], page


def test_the_summary_phases_start_with_the_cluster_start() -> None:
    from scripts.run_conformance import phases_of

    doc = {"environment": {"backendDetails": {"timings": {"cluster_start": 41.25, "controller_install": 12.0,
                                                          "backend_start": 60.0}}},
           "profiles": [{"name": "metrics", "tests": [{"durationSeconds": 3.0}]}]}
    assert list(phases_of(doc).items()) == [("cluster_start", 41.25), ("controller_install", 12.0),
                                            ("profile metrics", 3.0)]


def test_every_run_carries_the_previous_allure_history(any_job: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    """Trend charts: each job and matrix cell restores the previous run's history (a key per run, found by its
    prefix), passes it with --allure-history when one was restored, and saves this run's under the same path,
    laid out as --allure-history looks for it (<dir>/<run>/allure-history, fixtures/report/writers.py)."""
    from fixtures.report.writers import find_history

    name, job = any_job
    steps = job["steps"]
    uses = [str(s.get("uses", "")) for s in steps]
    restore = steps[next(i for i, u in enumerate(uses) if u.startswith("actions/cache/restore@"))]
    save = steps[next(i for i, u in enumerate(uses) if u.startswith("actions/cache/save@"))]
    run_at = next(i for i, s in enumerate(steps) if "scripts.run_conformance" in s.get("run", ""))
    keep_at = next(i for i, s in enumerate(steps) if "allure-history" in s.get("run", "") and i != run_at)
    assert uses.index(restore["uses"]) < run_at < keep_at < uses.index(save["uses"])
    assert save["if"] == steps[keep_at]["if"] == "always()"  # a failed run's history counts for the trend too
    folder = restore["with"]["path"]
    assert save["with"]["path"] == folder, "a cache is restored only under the path it was saved with"
    cell = f"allure-history-{name}-${{{{ matrix.kubernetes }}}}-${{{{ matrix.run.name }}}}-"
    assert restore["with"]["restore-keys"] == cell
    assert restore["with"]["key"].startswith(cell) and "github.run_id" in restore["with"]["key"]
    assert save["with"]["key"] == f"${{{{ steps.{restore['id']}.outputs.cache-primary-key }}}}"
    # The run step passes the option only when something was restored (a missing history is an error).
    run = steps[run_at]["run"]
    passed = [m.group(1) for m in EXPR.finditer(run) if "allure-history" in m.group(1)]
    assert passed == [f"steps.{restore['id']}.outputs.cache-matched-key && '--allure-history {folder}' || ''"], run
    assert "--allure-history" in help_options("scripts.run_conformance") and "--allure-history" in plugin_options()
    # The keep step, run as a shell script: the driver's <report-dir>/<run>/allure-history lands where
    # --allure-history FOLDER finds this run's history.
    for combo in combinations(job)[:1]:
        report_dir = tmp_path / "reports"
        run_name = combo["run"]["name"]
        (report_dir / run_name / "allure-history").mkdir(parents=True)
        (report_dir / run_name / "allure-history" / "history-trend.json").write_text("[]")
        res = subprocess.run(["bash", "-c", expand(steps[keep_at]["run"], combo)], cwd=tmp_path, text=True,
                             capture_output=True, env={"REPORT_DIR": str(report_dir), "PATH": "/usr/bin:/bin"})
        assert res.returncode == 0, res.stderr
        assert find_history(tmp_path / folder / run_name) == tmp_path / folder / run_name / "allure-history"
