"""The suite tells right from wrong: the reference build passes, the upstream build is unsupported.

Runs the installed console script, `rollouts-conformance run` (installed editable by `scripts/setup`; run
with this checkout first on PYTHONPATH, and checked to run this checkout's code), once: one pytest process
per run, each on its own local cluster, every profile claimed, into a temporary report folder. It checks the
verdicts and exit codes the issues set as the bar: the reference build meets every claim (exit 0), the
upstream build does not (exit 1, status-labels unsupported), and the driver exits with the worst (1).

The bar's third case, the upstream build in explicit mode claiming ephemeral-metadata, metrics, analysis and
rollback (exit 0), is not a run of its own: measured here (load average 9-15), the pair took 5 min 33 s, of which
the upstream explicit run 286 s with its HTML; a third run would add as much again one after the other, or a
third cluster beside the two on this machine's two cores. It is recomputed from the pair's upstream-explicit run,
which is that very run but for the claims it records, through the code path the console script takes to its exit
code: the report plugin's `verdict` on the report with those claims (pytest's exit status), then the driver's
`classify` of that status and report (the run's code) and `worst_exit` (the driver's code).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fixtures.report.aggregate import verdict
from fixtures.report.model import EXIT_CLAIM_NOT_MET, EXIT_OK, worst_exit
from fixtures.report.schema import schema_problems
from fixtures.spec import PROFILES, profiles_in_mode
from scripts.run_conformance import classify

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.local_backend
ALL = list(PROFILES)
WITHOUT_FLAG = profiles_in_mode("explicit")


def report(report_dir: Path, run: str) -> dict:
    return yaml.safe_load((report_dir / run / "conformance-report.yaml").read_text())


def profiles(report_dir: Path, run: str) -> dict[str, dict]:
    return {p["name"]: p for p in report(report_dir, run)["profiles"]}


def console_script() -> tuple[str, dict[str, str]]:
    """The installed `rollouts-conformance` and an environment in which it runs this checkout's code."""
    tool = shutil.which("rollouts-conformance")
    if tool is None:
        pytest.fail("the rollouts-conformance console script is not on PATH: run scripts/setup "
                    "(pip install -e .[dev]) first", pytrace=False)
    # An editable install may point at another checkout: this one's packages come first.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    version = subprocess.run([tool, "version"], capture_output=True, text=True, env=env, timeout=120)
    assert version.returncode == EXIT_OK, version.stderr
    assert f"({REPO})" in version.stdout.splitlines()[0], f"{tool} does not run this checkout: {version.stdout}"
    return tool, env


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    tool, env = console_script()
    out = tmp_path_factory.mktemp("reports")
    res = subprocess.run([tool, "run", "--report-dir", str(out), "--claim", ",".join(ALL)], cwd=REPO,
                         capture_output=True, text=True, timeout=3600, env=env)
    print(res.stdout[-6000:])
    (out / "driver.log").write_text(res.stdout + res.stderr)
    return out, res.returncode


@pytest.fixture(scope="module")
def report_dir(pair: tuple[Path, int]) -> Path:
    return pair[0]


def test_exit_codes_of_the_claims(pair: tuple[Path, int]) -> None:
    out, code = pair
    runs = {r["run"]: r["exit"] for r in json.loads((out / "summary.json").read_text())["runs"]}
    assert runs == {"reference-flag": EXIT_OK, "upstream-explicit": EXIT_CLAIM_NOT_MET}, (
        f"{runs}; see {out / 'driver.log'}")
    assert code == EXIT_CLAIM_NOT_MET, f"the driver exits with the worst run's code; see {out / 'driver.log'}"
    # The same upstream run, claiming what an implementation without the flag can meet (explicit mode), through
    # the console script's path to its exit code (module docstring).
    upstream = report(out, "upstream-explicit")
    assert upstream["mode"] == "explicit" and upstream["claims"] == ALL, upstream.get("claims")
    claimed = {**upstream, "claims": WITHOUT_FLAG}
    (out / "upstream-explicit-claims.yaml").write_text(yaml.safe_dump(claimed, sort_keys=False))
    pytest_status, lines = verdict(claimed)  # what the report plugin makes the session's exit status
    run_code, problem = classify(pytest_status, [], out / "upstream-explicit-claims.yaml")
    assert (pytest_status, run_code, worst_exit([run_code])) == (EXIT_OK, EXIT_OK, EXIT_OK), (problem, lines)
    # With every profile claimed the same path gives the run's recorded code: the recomputation is faithful.
    assert classify(verdict(upstream)[0], [], out / "upstream-explicit" / "conformance-report.yaml")[0] == \
        runs["upstream-explicit"]


def test_reference_build_succeeds_on_every_profile(report_dir: Path) -> None:
    got = {name: p["core"]["result"] for name, p in profiles(report_dir, "reference-flag").items()}
    assert got == {p: "success" for p in ALL}, f"{got}; see {report_dir / 'driver.log'}"
    assert schema_problems(report(report_dir, "reference-flag")) == []


def test_upstream_build_is_unsupported_for_status_labels_only(report_dir: Path) -> None:
    got = profiles(report_dir, "upstream-explicit")
    assert got["status-labels"]["core"]["result"] == "unsupported", got["status-labels"]
    assert "enable-canary-status-labels" in got["status-labels"]["core"]["unsupported"]["reason"]
    unsupported = [t for t in got["status-labels"]["tests"] if t["outcome"] == "unsupported"]
    # Refusal is detected at controller start, not by waiting out a timeout.
    assert all(t["durationSeconds"] < 15 for t in unsupported), unsupported
    for name in WITHOUT_FLAG:
        assert got[name]["core"]["result"] == "success", (name, got[name])


def test_rollback_timing_filtered_within_budget_unfiltered_not(report_dir: Path) -> None:
    for run in ("reference-flag", "upstream-explicit"):
        tests = {t["name"]: t for t in profiles(report_dir, run)["rollback"]["tests"]}
        filtered = next(m for m in tests["faulty_canary_aborted_within_budget"]["measurements"]
                        if m["name"] == "time to abort, filtered")
        assert filtered["value"] is not None and filtered["value"] <= filtered["budget"], filtered
        unfiltered = next(m for m in tests["unfiltered_analysis_misses_fault"]["measurements"]
                          if m["name"] == "time to abort, unfiltered")
        assert unfiltered["value"] is None, unfiltered
        assert tests["unfiltered_analysis_misses_fault"]["informative"] is True
        assert tests["faulty_canary_aborted_within_budget"].get("plots"), "no timeline plot"
        assert (report_dir / run / tests["faulty_canary_aborted_within_budget"]["plots"][0]).is_file()


def test_html_reports_render(report_dir: Path) -> None:
    summary = (report_dir / "summary.txt").read_text()
    # Per run: Allure's report and the conformance summary page.
    assert summary.count("renders in headless Chromium") == 4, summary
