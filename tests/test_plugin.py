"""The suite's pytest plugins, exercised with pytester: options, declarations, selection, report."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import fixtures.plots  # noqa: F401 - matplotlib loaded before pytester's in-process runs (numpy loads once)

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]

CONFTEST = f'''
import sys
sys.path.insert(0, {str(REPO)!r})
from types import SimpleNamespace
import pytest
pytest_plugins = ["fixtures.options", "fixtures.outcome", "fixtures.report.plugin", "fixtures.cluster_plugin", "fixtures.suite"]

@pytest.fixture(scope="session")
def backend():
    # A stand-in: these tests check the plugins' bookkeeping, not a cluster.
    impl = SimpleNamespace(name="fake", version="v0", binary="/bin/fake", image="", base_flags=[])
    return SimpleNamespace(name="fake", kubernetes_version=lambda: "v1.34.5", prometheus_version=lambda: "3.16.0",
                           details=lambda: {{}}, controller=SimpleNamespace(implementation=impl))
'''

TESTS = '''
import pytest
from fixtures.report import unsupported

@pytest.mark.conformance("LBL-1", profile="status-labels")
def test_passes():
    """Passes."""

@pytest.mark.conformance("LBL-9", profile="status-labels")
def test_refused(request):
    unsupported(request.node, "the controller refuses --enable-canary-status-labels")

@pytest.mark.conformance("MET-1", profile="metrics")
def test_metric():
    assert 1 + 1 == 3, "series missing"

@pytest.mark.conformance("ANA-3", profile="analysis")
def test_one():
    pass

@pytest.mark.conformance("ANA-4", profile="analysis")
def test_two():
    pass
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=TESTS)
    return pytester


def report(pytester: pytest.Pytester, name: str = "reference-flag") -> dict:
    return yaml.safe_load((pytester.path / "reports" / name / "conformance-report.yaml").read_text())


def test_profile_results_keep_unsupported_apart(project: pytest.Pytester) -> None:
    result = project.runpytest("--skip-tests=two", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, skipped=2)
    doc = report(project)
    by_name = {p["name"]: p for p in doc["profiles"]}
    assert by_name["status-labels"]["core"]["result"] == "unsupported"
    assert "refuses --enable-canary-status-labels" in by_name["status-labels"]["core"]["unsupported"]["reason"]
    assert by_name["metrics"]["core"]["result"] == "failure"
    assert by_name["analysis"]["core"]["result"] == "partial"
    assert by_name["analysis"]["requirements"] == {"checked": ["ANA-3"], "notChecked": ["ANA-1", "ANA-4"],
                                                   "informative": ["ANA-2"]}
    assert by_name["analysis"]["core"]["statistics"] == {"Passed": 1, "Failed": 0, "Skipped": 1, "Unsupported": 0}
    assert by_name["analysis"]["core"]["skippedTests"] == ["two"]
    assert by_name["metrics"]["core"]["failedTests"] == ["metric"]
    assert by_name["status-labels"]["core"]["unsupported"]["tests"] == ["refused"]
    outcomes = {t["name"]: t["outcome"] for p in doc["profiles"] for t in p["tests"]}
    assert outcomes == {"passes": "passed", "refused": "unsupported", "metric": "failed", "one": "passed",
                        "two": "skipped"}
    assert doc["implementation"]["controllerVersion"] == "v0"
    assert doc["environment"]["kubernetesVersion"] == "v1.34.5"


def test_profile_selection_deselects_others(project: pytest.Pytester) -> None:
    result = project.runpytest("--profile=analysis")
    result.assert_outcomes(passed=2, deselected=3)
    assert [p["name"] for p in report(project)["profiles"]] == ["analysis"]
    assert report(project)["profiles"][0]["core"]["result"] == "success"


def test_run_test_and_options_file(project: pytest.Pytester) -> None:
    project.makefile(".yaml", opts="implementation: upstream\nlabelling_mode: explicit\nrun_test: [one]\n"
                                   "timeouts: {label_budget: 12}\n")
    result = project.runpytest("--options-file=opts.yaml", "--timeout-label-budget=14")
    result.assert_outcomes(passed=1, deselected=4)
    doc = report(project, "upstream-explicit")
    assert doc["mode"] == "explicit"
    assert doc["environment"]["timeouts"]["label_budget"] == 14.0  # the command line wins over the file
    analysis = next(p for p in doc["profiles"] if p["name"] == "analysis")
    assert analysis["core"]["result"] == "partial", analysis  # "two" was not selected: not a full success


@pytest.mark.parametrize(("args", "message"), [
    (["--profile=bogus"], "unknown --profile ['bogus']"),
    (["--labelling-mode=magic"], "--labelling-mode 'magic' is not one of flag, explicit"),
    (["--run-test=nope"], "unknown conformance test name(s) ['nope']"),
    (["--timeout-label-budget=-1"], "timeout label_budget must be positive"),
    (["--options-file=missing.yaml"], "--options-file missing.yaml does not exist"),
])
def test_bad_input_is_a_one_line_usage_error(project: pytest.Pytester, args: list[str], message: str) -> None:
    result = project.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(message in line for line in result.errlines), result.errlines
    assert not any("Traceback" in line for line in result.errlines + result.outlines)


def test_unknown_requirement_id_fails_collection(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_bad='''
import pytest

@pytest.mark.conformance("LBL-99", profile="status-labels")
def test_x():
    pass
''')
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any("unknown requirement ID(s) ['LBL-99']" in line for line in result.errlines)


def test_every_spec_requirement_is_checked_by_a_suite_test() -> None:
    """Each requirement ID of the catalogue is named by at least one conformance test in suites/."""
    import re

    from fixtures.spec import REQUIREMENTS

    named = set()
    for path in (REPO / "suites").glob("test_*.py"):
        for args in re.findall(r"@pytest\.mark\.conformance\(([^)]*)\)", path.read_text()):
            named |= set(re.findall(r'"([A-Z]+-\d+)"', args))
    assert set(REQUIREMENTS) - named == set(), "requirements without a test"
    assert sys.version_info >= (3, 11)


def test_suites_collect_cleanly() -> None:
    """Every suite module imports and every conformance test declares itself (no cluster needed): the suite
    collects exactly the conformance-marked test functions of suites/ (with their parametrizations)."""
    import re
    import subprocess

    def collect(*extra: str) -> list[str]:
        res = subprocess.run([sys.executable, "-m", "pytest", "suites", "--collect-only", "-q", "-p",
                              "no:cacheprovider", *extra], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
        ids = [ln for ln in res.stdout.splitlines() if "::" in ln]
        assert f"{len(ids)} tests collected" in res.stdout, res.stdout[-500:]
        return ids

    collected = collect()
    assert collect("-m", "conformance") == collected, "suite tests without a conformance marker"
    declared = set()
    for path in (REPO / "suites").glob("test_*.py"):
        declared |= set(re.findall(r"@pytest\.mark\.conformance\([^)]*\)\n(?:@[^\n]*\n)*def (test_\w+)",
                                   path.read_text()))
    assert declared, "no conformance-marked test found in suites/"
    assert {i.split("::")[-1].split("[")[0] for i in collected} == declared
