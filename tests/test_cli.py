"""The console script: list, version, validate-report, verdict, and `run`'s exit codes for bad input.

`run`'s codes for real runs (0 and 1 from claims) are checked by test_conformance_pair.py on the local backend.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from fixtures.artifacts import versions
from fixtures.report.model import EXIT_CLAIM_NOT_MET, EXIT_INFRASTRUCTURE, EXIT_OK, EXIT_USAGE
from fixtures.spec import PROFILES, REQUIREMENTS
from scripts.cli import GENERATED_BEGIN, GENERATED_END, catalogue_markdown, generated_part, suite_tests

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "submissions").glob("*/*/*-report.yaml"))


def cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scripts.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def one_problem_line(res: subprocess.CompletedProcess[str]) -> str:
    """The run's last stderr line: the one line naming the problem."""
    lines = res.stderr.strip().splitlines()
    assert lines, res.stdout[-2000:]
    return lines[-1]


def test_list_shows_every_profile_requirement_and_test() -> None:
    t0 = time.monotonic()
    res = cli("list", "--format", "yaml")
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    listed = yaml.safe_load(res.stdout)
    assert [p["profile"] for p in listed] == list(PROFILES)
    for p in listed:
        assert [r["id"] for r in p["requirements"]] == list(PROFILES[p["profile"]].requirements)
        for r in p["requirements"]:
            assert r["informative"] == REQUIREMENTS[r["id"]].informative
    tests_listed = {t for p in listed for r in p["requirements"] for t in r["tests"]}
    assert tests_listed == {t.name for t in suite_tests()}
    assert took < 10, f"list took {took:.1f}s"


def test_list_reads_the_suites_markers() -> None:
    """The static reading of markers agrees with pytest's collection of the suites."""
    res = subprocess.run([sys.executable, "-m", "pytest", "suites", "--collect-only", "-q", "-p", "no:cacheprovider"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    collected = {line.split("::")[-1].removeprefix("test_").split("[")[0] for line in res.stdout.splitlines()
                 if "::" in line}
    assert collected == {t.name for t in suite_tests()}


REGENERATE = "python -m scripts.cli list --format markdown --update docs/requirements.md"


def test_requirements_doc_is_current() -> None:
    """docs/requirements.md's tables are generated from fixtures/spec.py and the suites' markers."""
    doc = REPO / "docs" / "requirements.md"
    part = generated_part(doc.read_text())
    assert part is not None, f"{doc} lost its generated part's markers; put them back and run `{REGENERATE}`"
    assert part == catalogue_markdown(), f"{doc} is stale: regenerate its tables with `{REGENERATE}`"
    assert REGENERATE in GENERATED_BEGIN


def test_list_markdown_prints_and_updates_the_generated_part(tmp_path: Path) -> None:
    res = cli("list", "--format", "markdown")
    assert res.returncode == 0, res.stderr
    assert res.stdout == catalogue_markdown()
    for rid in REQUIREMENTS:
        assert f"| {rid} |" in res.stdout
    doc = tmp_path / "doc.md"
    doc.write_text(f"# title\n\n{GENERATED_BEGIN}\nold table\n{GENERATED_END}\n\nprose kept\n")
    res = cli("list", "--format", "markdown", "--update", str(doc))
    assert res.returncode == EXIT_OK, res.stderr
    assert doc.read_text() == f"# title\n\n{GENERATED_BEGIN}\n{catalogue_markdown()}{GENERATED_END}\n\nprose kept\n"
    (tmp_path / "bare.md").write_text("no markers\n")
    res = cli("list", "--format", "markdown", "--update", str(tmp_path / "bare.md"))
    assert res.returncode == EXIT_USAGE and "has no generated part" in res.stderr, res.stderr


def test_version_names_the_pins() -> None:
    res = cli("version")
    assert res.returncode == 0, res.stderr
    for pin in (versions.KUBERNETES, versions.ARGO_ROLLOUTS, versions.PROMETHEUS):
        assert pin in res.stdout


def test_installed_pytest_configuration_matches_pyproject() -> None:
    """suites/conformance.ini (installed runs) says what pyproject.toml (checkout runs) says."""
    ini = configparser.ConfigParser()
    ini.read(REPO / "suites" / "conformance.ini")
    py = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert ini["pytest"]["addopts"].split() == py["addopts"]
    assert [x.strip() for x in ini["pytest"]["filterwarnings"].strip().splitlines()] == py["filterwarnings"]
    assert ini["pytest"]["xfail_strict"] == str(py["xfail_strict"]).lower()


@pytest.mark.parametrize(("args", "problem"), [
    (["--bogus-option"], "unrecognized arguments: --bogus-option"),
    (["--options-file", "opts.yaml"], "keep_on_failure must be true or false, got str 'false'"),
    (["--backend", "broken", "-p", "tests.broken_backend"], "backend broken could not start"),
    # a worker's pytest.exit stops the run with the same line (fixtures/parallel.py)
    (["--backend", "broken", "-p", "tests.broken_backend", "--workers", "2"], "backend broken could not start"),
    (["--claim", "nonsense"], "unknown --claim ['nonsense']"),
    (["--submit", "--claim", "metrics"], "--submit needs implementation metadata"),
], ids=["bad-option", "bad-options-file", "backend-cannot-start", "backend-cannot-start-workers", "unknown-claim", "submit-without-metadata"])
def test_run_exit_codes_for_bad_input_and_broken_backend(tmp_path: Path, args: list[str], problem: str) -> None:
    (tmp_path / "opts.yaml").write_text('keep_on_failure: "false"\n')
    res = cli("run", "--runs", "reference:flag", "--report-dir", str(tmp_path / "reports"), *args, cwd=tmp_path)
    want = EXIT_INFRASTRUCTURE if "could not start" in problem else EXIT_USAGE
    assert res.returncode == want, res.stdout[-3000:] + res.stderr
    line = one_problem_line(res)
    assert problem in line, line
    assert line.startswith("rollouts-conformance run: reference-flag: ") and line.endswith(f"(exit {want})")
    if "could not start" in problem:
        from tests.broken_backend import REASON

        assert REASON in line
    summary = yaml.safe_load((tmp_path / "reports" / "summary.json").read_text())
    assert summary["exit"] == want and summary["runs"][0]["exit"] == want


def test_run_help_lists_the_suite_options_it_passes_through() -> None:
    """`run --help` lists the driver's options and every suite option pytest itself declares (read from pytest's
    own --help, not from the list the driver generates its help from)."""
    import re

    res = cli("run", "--help")
    assert res.returncode == EXIT_OK, res.stderr
    listed = set(re.findall(r"^\s+(--[a-z][a-z-]*)", res.stdout, re.M))
    assert {"--runs", "--report-dir", "--sequential"} <= listed, res.stdout
    pytest_help = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"], cwd=REPO,
                                 capture_output=True, text=True, timeout=120)
    assert pytest_help.returncode == 0, pytest_help.stderr
    section = pytest_help.stdout.split("\nrollouts-conformance:\n", 1)[1].split("\n\n", 1)[0]
    declared = set(re.findall(r"^\s+(--[a-z][a-z-]*)", section, re.M))
    assert {"--claim", "--submit", "--backend", "--allure-history", "--options-file", "--timeout-label-budget"} \
        <= declared, section
    assert declared <= listed, f"not in `run --help`: {sorted(declared - listed)}"


def test_run_driver_arguments_are_usage_errors(tmp_path: Path) -> None:
    res = cli("run", "--runs", "reference:sideways", cwd=tmp_path)
    assert res.returncode == EXIT_USAGE
    assert res.stderr.strip().count("\n") == 0 and "--runs 'reference:sideways'" in res.stderr


def test_validate_report_accepts_the_example_submissions() -> None:
    assert EXAMPLES, "no example submission under submissions/"
    for path in EXAMPLES:
        res = cli("validate-report", str(path))
        assert res.returncode == EXIT_OK, res.stdout + res.stderr
        doc = yaml.safe_load(path.read_text())
        impl = doc["implementation"]
        minor = ".".join(doc["argoRolloutsVersion"].split(".")[:2])
        assert path.parent.parent.name == minor, path
        assert path.parent.name == f"{impl['organization']}-{impl['project']}", path
        assert path.name == f"{impl['version']}-{doc['mode']}-report.yaml", path
        assert (path.parent / "README.md").is_file(), path


def profile_of(doc: dict, name: str) -> dict:
    return next(p for p in doc["profiles"] if p["name"] == name)


def named_test(doc: dict, name: str) -> dict:
    return next(t for p in doc["profiles"] for t in p["tests"] if t["name"] == name)


def bump_label_budget(doc: dict) -> None:
    doc["environment"]["timeouts"]["label_budget"] += 10


# One field of the example submission edited, and the one-line reason validate-report gives. The report's own
# verdict fields are never trusted: each is recomputed from its tests, and its tests from the suite's markers.
REJECTIONS = {
    "success-with-a-failed-normative-test": (
        lambda d: named_test(d, "faulty_canary_aborted_within_budget").update(outcome="failed"),
        "profile rollback: result success disagrees with its tests' outcomes, which make it failure"),
    "statistics-disagree": (
        lambda d: profile_of(d, "metrics")["core"]["statistics"].update(Passed=2),
        "profile metrics: statistics disagree with its tests (reported, counted): {'Passed': (2, 1)}"),
    "failedTests-disagree": (
        lambda d: profile_of(d, "analysis")["core"].update(failedTests=["healthy_canary_passes"]),
        "profile analysis: failedTests ['healthy_canary_passes'] disagree with its tests, which say []"),
    "skippedTests-disagree": (
        lambda d: profile_of(d, "status-labels")["core"].update(skippedTests=["bluegreen_untouched"]),
        "profile status-labels: skippedTests ['bluegreen_untouched'] disagree with its tests, which say []"),
    "informative-flag-on-a-normative-test": (
        lambda d: named_test(d, "healthy_canary_passes").update(informative=True),
        "profile analysis: test healthy_canary_passes says informative=True, but its requirements"),
    "a-test-left-out": (
        lambda d: profile_of(d, "analysis")["tests"].remove(named_test(d, "healthy_canary_passes")),
        "profile analysis: its tests are not the suite's for it (missing ['healthy_canary_passes'], not the "
        "suite's [])"),
    "a-test-not-the-suites": (
        lambda d: named_test(d, "bluegreen_untouched").update(name="bluegreen_roughly_untouched"),
        "profile status-labels: its tests are not the suite's for it (missing ['bluegreen_untouched'], not the "
        "suite's ['bluegreen_roughly_untouched'])"),
    "a-test-with-other-requirements": (
        lambda d: named_test(d, "series_carry_status_label").update(requirements=["MET-1", "LBL-1"]),
        "profile metrics: tests ['series_carry_status_label'] list other requirements than the suite's markers"),
    "requirements-not-checked": (
        lambda d: profile_of(d, "metrics")["requirements"].update(notChecked=["MET-1"]),
        "profile metrics: requirements ['MET-1'] not checked: a claimed profile has every normative requirement "
        "checked"),
    "timeouts-missing": (
        lambda d: d["environment"].pop("timeouts"),
        "environment.timeouts is missing: a submission records the timeouts it ran with"),
    "timeouts-changed": (
        bump_label_budget,
        "timeouts differ from the suite's defaults (reported, default): {'label_budget': (20.0, 10.0)}"),
    "summary-result-disagrees": (
        lambda d: d["summary"].update(result="partial"),
        "summary.result partial disagrees with the profiles' results, which make it success"),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_validate_report_rejects_verdicts_its_tests_do_not_bear_out(tmp_path: Path, case: str) -> None:
    edit, reason = REJECTIONS[case]
    assert len(EXAMPLES) >= 1
    doc = yaml.safe_load(EXAMPLES[0].read_text())
    edit(doc)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    res = cli("validate-report", str(path))
    assert res.returncode == EXIT_CLAIM_NOT_MET, res.stdout + res.stderr
    problems = [line.removeprefix("  - ") for line in res.stdout.splitlines()[1:]]
    assert any(p.startswith(reason) for p in problems), problems


def test_validate_report_lets_informative_tests_fail(tmp_path: Path) -> None:
    """SPEC RBK-3 and ANA-2 are informative (fixtures/spec.py): a failed RBK-3 test decides no verdict."""
    doc = yaml.safe_load(EXAMPLES[0].read_text())
    named_test(doc, "unfiltered_analysis_misses_fault").update(outcome="failed", message="aborted within the budget")
    path = tmp_path / "informative-failed.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    res = cli("validate-report", str(path))
    assert res.returncode == EXIT_OK, res.stdout + res.stderr


def submission(tmp_path: Path) -> dict:
    """A valid submission to spoil: the example, or one made by a fake run (see test_report.py)."""
    from tests.test_report import fake_submission

    return fake_submission(tmp_path)


def test_validate_report_rejects_skipped_test_and_missing_contact(tmp_path: Path) -> None:
    good = submission(tmp_path)
    path = tmp_path / "good.yaml"
    path.write_text(yaml.safe_dump(good))
    assert cli("validate-report", str(path)).returncode == EXIT_OK

    skipped = yaml.safe_load(path.read_text())
    test = skipped["profiles"][0]["tests"][0]
    test["outcome"] = "skipped"
    (tmp_path / "skipped.yaml").write_text(yaml.safe_dump(skipped))
    res = cli("validate-report", str(tmp_path / "skipped.yaml"))
    assert res.returncode == EXIT_CLAIM_NOT_MET and "skipped tests" in res.stdout, res.stdout

    no_contact = yaml.safe_load(path.read_text())
    no_contact["implementation"]["contact"] = []
    (tmp_path / "no-contact.yaml").write_text(yaml.safe_dump(no_contact))
    res = cli("validate-report", str(tmp_path / "no-contact.yaml"))
    assert res.returncode == EXIT_CLAIM_NOT_MET and "implementation.contact is missing" in res.stdout, res.stdout

    del no_contact["implementation"]["contact"]
    (tmp_path / "no-contact-key.yaml").write_text(yaml.safe_dump(no_contact))
    res = cli("validate-report", str(tmp_path / "no-contact-key.yaml"), "--schema-only")
    assert res.returncode == EXIT_CLAIM_NOT_MET and "'contact' is a required property" in res.stdout, res.stdout

    res = cli("validate-report", str(tmp_path / "missing.yaml"))
    assert res.returncode == EXIT_USAGE and "does not exist" in res.stderr


def test_verdict_recomputes_claims(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    doc = submission(tmp_path)
    doc["profiles"][0]["core"]["result"] = "unsupported"
    path.write_text(yaml.safe_dump(doc))
    name = doc["profiles"][0]["name"]
    assert cli("verdict", str(path), "--claim", name).returncode == EXIT_CLAIM_NOT_MET
    others = [p["name"] for p in doc["profiles"][1:]]
    assert cli("verdict", str(path), "--claim", ",".join(others)).returncode == EXIT_OK


def test_driver_maps_pytest_exit_status_to_its_codes(tmp_path: Path) -> None:
    from fixtures.report.model import worst_exit
    from scripts.run_conformance import classify

    missing = tmp_path / "none.yaml"
    assert classify(4, ["ERROR: usage: python -m pytest [options]", "python -m pytest: error: unrecognized "
                        "arguments: --x"], missing) == (EXIT_USAGE, "unrecognized arguments: --x")
    assert classify(4, ["ERROR: unknown --profile ['x']; known profiles: a"], missing)[1].startswith("unknown --prof")
    assert classify(3, ["!!!!! _pytest.outcomes.Exit: backend local could not start: no etcd !!!!!"], missing) == (
        EXIT_INFRASTRUCTURE, "backend local could not start: no etcd")
    assert classify(2, ["Interrupted: 1 error during collection"], missing)[0] == EXIT_INFRASTRUCTURE
    assert classify(0, [], missing) == (EXIT_OK, "")
    doc = submission(tmp_path)
    doc["profiles"][1]["core"]["result"] = "failure"
    report = tmp_path / "r.yaml"
    report.write_text(yaml.safe_dump(doc))
    code, problem = classify(1, [], report)
    assert code == EXIT_CLAIM_NOT_MET and problem == f"claimed profile(s) not met: {doc['profiles'][1]['name']}"
    doc["profiles"][1]["tests"][0].update(outcome="failed", category="infrastructure")
    report.write_text(yaml.safe_dump(doc))
    assert classify(3, [], report)[1].startswith("infrastructure failures (not the implementation's): ")
    assert worst_exit([0, 1, 3]) == 3 and worst_exit([3, 2, 1]) == 2 and worst_exit([0, 1]) == 1
    assert worst_exit([]) == 0
