"""The report: claims and exit status, informative requirements, JUnit and Allure extras, submission rules,
the HTML summary, and writers that survive empty or odd evidence. pytester runs with a fake backend."""

from __future__ import annotations

import json
import math
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

import fixtures.plots  # noqa: F401 - matplotlib loaded before pytester's in-process runs (numpy loads once)
from fixtures.config import ConfigError, load_options_file
from fixtures.evidence import Evidence
from fixtures.report.aggregate import RunInfo, build_report, is_informative, verdict
from fixtures.report.model import TestRecord
from fixtures.report.schema import check_report, schema_problems
from fixtures.report.writers import SUMMARY_FILE, WriteContext, write_all
from fixtures.spec import PROFILES
from fixtures.timeouts import Timeouts
from tests.test_plugin import CONFTEST, REPO, report

pytest_plugins = ["pytester"]

META = ["--impl-organization=example.com", "--impl-project=rollouts-fork", "--impl-url=https://example.com/rf",
        "--impl-version=v1.2.3", "--impl-contact=@maintainer,ops@example.com"]

SUITE = '''
import pytest
from fixtures.report import unsupported

@pytest.mark.conformance("LBL-1", profile="status-labels")
def test_labels(evidence):
    """Labels appear."""
    evidence.measure("label convergence", 0.4, "s", "LBL-8", budget=10.0)

@pytest.mark.conformance("LBL-9", profile="status-labels")
def test_refused(request):
    unsupported(request.node, "the controller refuses --enable-canary-status-labels")

@pytest.mark.conformance("MET-1", profile="metrics")
def test_metric():
    assert 1 + 1 == 3, "series missing"

@pytest.mark.conformance("RBK-1", "RBK-2", profile="rollback")
def test_aborted(evidence):
    evidence.timelines["canary error ratio (filtered)"] = [(100.0, 0.4), (101.0, 0.41)]
    evidence.timelines["all pods error ratio (unfiltered)"] = [(100.0, 0.08), (101.0, float("nan"))]
    evidence.levels["analysis threshold"] = 0.1
    evidence.deadlines["abort budget ends"] = 120.0
    evidence.events.append((100.5, "canary Ready"))

@pytest.mark.conformance("RBK-3", profile="rollback")
def test_unfiltered_misses(evidence):
    evidence.timelines["canary error ratio (filtered)"] = []
    assert False, "aborted anyway"

@pytest.mark.conformance("ANA-1", "ANA-2", profile="analysis")
def test_broken_backend():
    class BackendError(RuntimeError):
        pass
    raise BackendError("Prometheus stopped answering")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def profiles_of(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in report(pytester)["profiles"]}


# ---- claims and exit status ---------------------------------------------------------------
@pytest.mark.parametrize(("claims", "code"), [
    ([], 0),  # nothing claimed: no profile fails the run
    (["--claim=rollback"], 0),  # RBK-3 failed, but it is informative
    (["--claim=rollback,metrics"], 1),  # metrics failed
    (["--claim=status-labels"], 1),  # unsupported is not met
])
def test_claims_decide_the_exit_status(project: pytest.Pytester, claims: list[str], code: int) -> None:
    result = project.runpytest("-k", "not broken_backend", *claims)
    assert result.ret == code, result.outlines[-15:]
    doc = report(project)
    assert doc["claims"] == [c for arg in claims for c in arg.split("=")[1].split(",")]
    assert verdict(doc)[0] == code


def test_infrastructure_failure_exits_3_and_is_told_apart(project: pytest.Pytester) -> None:
    result = project.runpytest("--claim=rollback")
    assert result.ret == 3, result.outlines[-15:]
    analysis = profiles_of(project)["analysis"]
    test = analysis["tests"][0]
    assert test["category"] == "infrastructure" and "Prometheus stopped answering" in test["message"]
    metric = profiles_of(project)["metrics"]["tests"][0]
    assert metric["category"] == "implementation"
    result.stdout.fnmatch_lines(["*infrastructure failures (not the implementation's): broken_backend*"])


def test_informative_requirements_never_decide(project: pytest.Pytester) -> None:
    project.runpytest("-k", "not broken_backend")
    rollback = profiles_of(project)["rollback"]
    assert rollback["core"]["result"] == "success", rollback
    assert rollback["core"]["statistics"] == {"Passed": 1, "Failed": 0, "Skipped": 0, "Unsupported": 0}
    assert rollback["informative"]["tests"] == [{"name": "unfiltered_misses", "outcome": "failed"}]
    assert rollback["requirements"]["informative"] == ["RBK-3"]
    tests = {t["name"]: t for t in rollback["tests"]}
    assert tests["unfiltered_misses"]["informative"] is True and tests["aborted"]["informative"] is False


def test_report_is_gateway_api_shaped_and_valid(project: pytest.Pytester) -> None:
    project.runpytest("-k", "not broken_backend", *META)
    doc = report(project)
    assert schema_problems(doc) == []
    assert (doc["apiVersion"], doc["kind"], doc["mode"]) == ("rollouts-conformance/v1alpha3", "ConformanceReport",
                                                              "flag")
    assert doc["implementation"]["contact"] == ["@maintainer", "ops@example.com"]
    assert {k: doc["implementation"][k] for k in ("organization", "project", "url", "version")} == {
        "organization": "example.com", "project": "rollouts-fork", "url": "https://example.com/rf",
        "version": "v1.2.3"}
    sl = profiles_of(project)["status-labels"]
    assert sl["core"]["unsupported"] == {"reason": "the controller refuses --enable-canary-status-labels",
                                 "tests": ["refused"]}
    assert profiles_of(project)["metrics"]["core"]["failedTests"] == ["metric"]


def test_report_built_once_per_session(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    import fixtures.report.plugin as plugin

    calls = []
    real = plugin.build_report

    def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(plugin, "build_report", counting)
    project.runpytest_inprocess("-k", "not broken_backend", "--alluredir=allure")
    assert len(calls) == 1


# ---- JUnit and Allure ---------------------------------------------------------------------
def test_junit_properties_and_unsupported_apart(project: pytest.Pytester) -> None:
    project.runpytest("-k", "not broken_backend", "--junitxml=junit.xml")
    cases = {c.get("name"): c for c in ET.parse(project.path / "junit.xml").getroot().iter("testcase")}
    props = {name: {p.get("name"): p.get("value") for p in c.iter("property")} for name, c in cases.items()}
    assert props["test_aborted"] == {"requirements": "RBK-1 RBK-2", "profile": "rollback", "informative": "false"}
    assert props["test_unfiltered_misses"]["informative"] == "true"
    assert props["test_refused"]["outcome"] == "unsupported"
    assert "refuses" in props["test_refused"]["unsupported_reason"]
    skipped = cases["test_refused"].find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("UNSUPPORTED: ")


def test_allure_executor_categories_and_history(project: pytest.Pytester) -> None:
    previous = project.path / "previous" / "reference-flag" / "allure-history"
    previous.mkdir(parents=True)
    (previous / "history-trend.json").write_text('[{"data": {"passed": 3}}]')
    project.runpytest("-k", "not broken_backend", "--alluredir=allure", "--allure-history=previous")
    allure = project.path / "allure"
    executor = json.loads((allure / "executor.json").read_text())
    assert executor["reportName"].startswith("rollouts-conformance")
    names = [c["name"] for c in json.loads((allure / "categories.json").read_text())]
    assert any(n.startswith("Infrastructure") for n in names) and any(n.startswith("Unsupported") for n in names)
    assert any(n.startswith("Label") for n in names)
    assert (allure / "history" / "history-trend.json").read_text() == '[{"data": {"passed": 3}}]'
    assert "profile.rollback=success" in (allure / "environment.properties").read_text()


def allure_category_of(categories: list[dict[str, Any]], status: str, message: str, trace: str = "") -> list[str]:
    """The first word of each category Allure files a result under (its regexes are Java's; Python shares
    the syntax used here, and Allure, like `fullmatch`, matches the whole text)."""
    import re

    return [c["name"].split()[0] for c in categories if status in c["matchedStatuses"]
            and re.fullmatch(c.get("messageRegex", "(?s).*"), message)
            and re.fullmatch(c.get("traceRegex", "(?s).*"), trace)]


def test_allure_categories_tell_failures_apart() -> None:
    """The categories' regexes sort tagged messages as the report classifies them."""
    from fixtures.report.allure_categories import allure_categories, tagged_message

    cats = allure_categories()
    assert allure_category_of(cats, "failed", tagged_message("implementation", "AssertionError: no canary label"),
                              "suites/x.py:10: AssertionError") == ["Label,"]
    assert allure_category_of(cats, "broken", tagged_message("implementation", "WaitAborted: Rollout degraded")) \
        == ["Label,"]
    assert allure_category_of(cats, "broken", tagged_message("infrastructure", "BackendError: apiserver gone"),
                              "fixtures.backends.BackendError: apiserver gone") == ["Infrastructure"]
    assert allure_category_of(cats, "failed", tagged_message("infrastructure", "WaitTimeout: labels", "Prometheus "
                                                             "at http://127.0.0.9:9090 unreachable")) == ["Infrastructure"]
    assert allure_category_of(cats, "broken", "TypeError: a fixture outside any test") == ["Suite"]
    assert allure_category_of(cats, "skipped", "Skipped: UNSUPPORTED: refuses the flag") == ["Unsupported"]


DIAGNOSED_SUITE = '''
import pytest
from fixtures.outcome import mark_infrastructure

@pytest.fixture
def diagnosis(request):
    yield
    # What the scenario fixture does after a failure whose AnalysisRuns show Prometheus unreachable.
    mark_infrastructure(request.node, "AnalysisRun ar-1 metric error-ratio: Prometheus at http://127.0.0.9:9090 "
                                      "unreachable (dial tcp: connection refused)")

@pytest.mark.conformance("RBK-1", profile="rollback")
def test_aborted_when_prometheus_down(diagnosis):
    raise AssertionError("Rollout demo: no abort within 13 s (the label check that gave up)")

@pytest.mark.conformance("LBL-1", profile="status-labels")
def test_labels_wrong():
    raise AssertionError("ReplicaSet demo-abc: argo-rollouts-status is 'stable', expected 'canary'")

@pytest.mark.conformance("ANA-1", profile="analysis")
def test_backend_gone():
    class BackendError(RuntimeError):
        pass
    raise BackendError("the apiserver stopped answering")
'''


def test_allure_files_failures_as_the_report_does(pytester: pytest.Pytester) -> None:
    """A failure diagnosed as infrastructure after the fact (Prometheus unreachable) is in Allure's
    Infrastructure category, as in the report, not under the implementation; the others follow the report too."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=DIAGNOSED_SUITE)
    pytester.runpytest("--alluredir=allure")
    categories = json.loads((pytester.path / "allure" / "categories.json").read_text())
    in_report = {t["name"]: t["category"] for p in report(pytester)["profiles"] for t in p["tests"]}
    assert in_report == {"aborted_when_prometheus_down": "infrastructure", "labels_wrong": "implementation",
                         "backend_gone": "infrastructure"}, in_report
    filed = {}
    for path in (pytester.path / "allure").glob("*-result.json"):
        result = json.loads(path.read_text())
        details = result.get("statusDetails") or {}
        filed[result["name"].removeprefix("test_")] = (
            allure_category_of(categories, result["status"], details.get("message", ""), details.get("trace", "")),
            details.get("message", ""), {lb["name"]: lb["value"] for lb in result["labels"]})
    expected = {"infrastructure": ["Infrastructure"], "implementation": ["Label,"]}
    assert {name: got[0] for name, got in filed.items()} == {n: expected[c] for n, c in in_report.items()}, filed
    _, message, labels = filed["aborted_when_prometheus_down"]
    assert message.startswith("[infrastructure] infrastructure fault: AnalysisRun ar-1") and "no abort" in message
    assert labels["conformance-category"] == "infrastructure" and "conformance-infrastructure-cause" not in labels


# ---- submission ----------------------------------------------------------------------------
def test_submit_writes_a_valid_submission(project: pytest.Pytester) -> None:
    result = project.runpytest("--profile=rollback", "--submit", "--claim=rollback", *META)
    assert result.ret == 0, result.outlines[-10:]
    doc = report(project)
    assert doc["submission"] is True
    # This project's stand-in tests are not the suite's (validate-report says so); all else a submission needs holds.
    problems = check_report(doc)
    assert len(problems) == 1 and "profile rollback: its tests are not the suite's" in problems[0], problems


@pytest.mark.parametrize(("args", "message"), [
    (["--claim=rollback"], "--submit needs implementation metadata: --impl-organization"),
    (META, "--submit needs at least one --claim"),
    ([*META, "--claim=rollback", "--skip-tests=aborted"], "--submit refuses a run with --skip-tests"),
    ([*META, "--claim=rollback", "--run-test=aborted"], "--submit refuses a run with --run-test"),
    ([*META, "--claim=rollback", "--timeout-label-budget=20"], "--submit refuses a run with changed timeouts"),
])
def test_submit_refuses_incomplete_or_altered_runs(project: pytest.Pytester, args: list[str], message: str) -> None:
    result = project.runpytest("--submit", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(message in line for line in result.errlines), result.errlines
    assert not (project.path / "reports").exists()


def fake_submission(tmp_path: Path) -> dict[str, Any]:
    """A valid submission document: every profile, every test the suite declares passed, all claimed (no pytest
    run)."""
    from fixtures.declared_tests import suite_tests

    records = [TestRecord(t.name, t.profile, list(t.requirements), t.description,
                          informative=is_informative(list(t.requirements))) for t in suite_tests()]
    run = RunInfo(labelling_mode="flag", claims=list(PROFILES), submit=True,
                  implementation={"name": "reference", "version": "v1.10.1+ref"},
                  metadata={"organization": "example.com", "project": "p", "url": "https://example.com",
                            "version": "v1", "contact": "@someone"},
                  environment={"backend": "local", "kubernetesVersion": "v1.34.5", "prometheusVersion": "3.16.0",
                               "timeouts": Timeouts().as_dict()})
    ctx = write_all(WriteContext(tmp_path / "fake", records), lambda: build_report(records, run))
    assert ctx.problems == []
    doc: dict[str, Any] = yaml.safe_load((tmp_path / "fake" / "conformance-report.yaml").read_text())
    assert check_report(doc) == []
    return doc


def test_schema_checks_date_time_format(tmp_path: Path) -> None:
    doc = fake_submission(tmp_path)
    doc["date"] = "yesterday afternoon"
    assert any("date" in p and "date-time" in p for p in schema_problems(doc))


def test_timeline_shows_a_single_point_and_names_an_empty_line(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A canary aborted one scrape after its first sample may leave one point: it is drawn with a marker, and
    an empty series is named in the legend as no data (issue 8: the key plot showed no canary line)."""
    import matplotlib.pyplot as plt

    from fixtures.plots import timeline_plot

    seen: dict[str, tuple[str, int]] = {}
    legend: list[str] = []
    real_close = plt.close

    def spy(fig: Any = None) -> None:
        for ax in getattr(fig, "axes", []):
            seen.update({ln.get_label(): (str(ln.get_marker()), len(ln.get_xdata())) for ln in ax.lines})
            if ax.get_legend() is not None:
                legend.extend(t.get_text() for t in ax.get_legend().get_texts())
        real_close(fig)

    monkeypatch.setattr(plt, "close", spy)
    canary, stable = "canary error ratio (filtered, cumulative)", "stable error ratio (filtered, 5s rate)"
    ev = Evidence(timelines={canary: [(101.0, 0.41)], stable: [],
                             "all pods error ratio (unfiltered, 5s rate)": [(100.0, 0.0), (101.0, 0.0)]})
    timeline_plot(tmp_path / "p.png", "rollback", ev)
    marker, points = seen[canary]
    assert points == 1 and marker not in ("None", "", " "), seen[canary]
    assert f"{stable}: no data" in legend, legend


# ---- writers survive empty, partial and odd evidence ---------------------------------------
ODD = {
    "no evidence": None,
    "empty": Evidence(),
    "timeline without lines": Evidence(timelines={"canary error ratio (filtered)": [], "stable": []}),
    "events only": Evidence(events=[(1.0, "canary Ready"), (2.0, "aborted " + "x" * 200)]),
    "deadline only": Evidence(deadlines={"abort budget ends": 5.0}),
    "odd values": Evidence(
        timelines={"canary": [(1.0, math.nan), (2.0, math.inf), ("x", "y"), (3.0, None), (4.0, 0.2)],  # type: ignore[list-item]
                   "one point": [(1.0, 0.3)]},
        levels={"threshold": math.nan}, events=[(math.nan, "never")],
        attachments={"../escape.txt": "kept inside", "weird name ü.json": "{}"}),
}


def odd_records() -> list[TestRecord]:
    recs = []
    for i, (name, ev) in enumerate(ODD.items()):
        rec = TestRecord(name, "rollback", ["RBK-1"], "", outcome=["passed", "failed", "skipped", "unsupported"][i % 4])
        rec.evidence = ev
        if ev is not None:
            ev.measure("time to abort, filtered", math.nan if name == "odd values" else None, "s", "RBK-1", 27.0)
            ev.query("sum(rate(x[5s]))", object())
        recs.append(rec)
    return recs


def test_every_writer_survives_empty_and_odd_evidence(tmp_path: Path) -> None:
    records = odd_records()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as under the suite's filterwarnings = error
        ctx = write_all(WriteContext(tmp_path / "run", records, alluredir=tmp_path / "allure"),
                        lambda: build_report(records, RunInfo(labelling_mode="flag")))
    assert ctx.problems == [], ctx.problems
    out = tmp_path / "run"
    doc = yaml.safe_load((out / "conformance-report.yaml").read_text())
    assert schema_problems(doc) == []
    assert (out / SUMMARY_FILE).is_file() and (tmp_path / "allure" / "categories.json").is_file()
    plotted = {t["name"]: t.get("plots", []) for p in doc["profiles"] for t in p["tests"]}
    for name in ("timeline without lines", "odd values", "deadline only"):
        assert plotted[name] and (out / plotted[name][0]).stat().st_size > 0, name
    assert (out / "diagnostics" / "odd-values" / "escape.txt").read_text() == "kept inside"


def test_a_writer_that_breaks_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fixtures.report.writers as writers

    def broken(ctx: WriteContext) -> None:
        warnings.warn("No artists with labels found to put in legend.", UserWarning)
        raise RuntimeError("disk full")

    monkeypatch.setattr(writers, "WRITERS", [("broken", broken), *writers.WRITERS])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctx = write_all(WriteContext(tmp_path, odd_records()), lambda: build_report(odd_records(),
                                                                                     RunInfo(labelling_mode="flag")))
    assert any("disk full" in p for p in ctx.problems) and any("No artists" in p for p in ctx.problems)
    assert yaml.safe_load((tmp_path / "conformance-report.yaml").read_text())["writerErrors"] == ctx.problems


def test_empty_timeline_plot_says_so(tmp_path: Path) -> None:
    from fixtures.plots import timeline_plot

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = timeline_plot(tmp_path / "p.png", "empty", Evidence(timelines={"canary": []}))
    assert path.stat().st_size > 0
    # The text lands in the figure: check it through matplotlib's own record of the drawing.
    import matplotlib.pyplot as plt

    seen: list[str] = []
    real_close = plt.close

    def spy(fig: Any = None) -> None:
        if fig is not None:
            seen.extend(t.get_text() for ax in fig.axes for t in ax.texts)
        real_close(fig)

    plt.close = spy  # type: ignore[assignment]
    try:
        timeline_plot(tmp_path / "q.png", "empty", Evidence(timelines={"canary": []}))
    finally:
        plt.close = real_close  # type: ignore[assignment]
    assert any("no data recorded" in t for t in seen), seen


# ---- HTML summary --------------------------------------------------------------------------
def test_summary_page_renders_in_headless_chromium(project: pytest.Pytester) -> None:
    from fixtures.report.html import MARKER_ID
    from scripts.check_html import check_rendered, chromium

    project.runpytest("-k", "not broken_backend", *META)
    page = project.path / "reports" / "reference-flag" / SUMMARY_FILE
    text = page.read_text()
    for part in ("rollouts-fork", "Verdicts", "Requirements × tests", "Measurements against budgets",
                 "Rollback timelines", "data:image/png;base64,", "the controller refuses"):
        assert part in text, part
    if chromium() is None:
        pytest.skip("chromium is not installed (scripts/setup --html installs it)")
    verdict_line = check_rendered(page, project.path / "summary.png", expect=f'id="{MARKER_ID}"')
    assert "renders in headless Chromium" in verdict_line, verdict_line
    assert (project.path / "summary.png").stat().st_size > 0


# ---- options file types ---------------------------------------------------------------------
@pytest.mark.parametrize(("text", "message"), [
    ('keep_on_failure: "false"\n', "keep_on_failure must be true or false, got str 'false'"),
    ("error_ratio_tolerance: '0.1'\n", "error_ratio_tolerance must be a number"),
    ("timeouts: {label_budget: soon}\n", "timeouts must be a mapping of timeout names to seconds"),
    ("profile: 3\n", "profile must be a list of strings"),
    ("implementation_metadata: {contact: [a, b]}\n", "implementation_metadata must be a mapping of strings"),
    ("controller_binary: 12\n", "controller_binary must be a string"),
    ("submit: 'yes'\n", "submit must be true or false"),
    ("kubernetes_version: 1.34\n", "kubernetes_version must be a string"),
    ("workers: 1.5\n", "workers must be a whole number, got float 1.5"),
])
def test_options_file_values_are_type_checked(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "o.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_options_file(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_options_file_accepts_well_typed_values(tmp_path: Path) -> None:
    path = tmp_path / "o.yaml"
    path.write_text("keep_on_failure: false\nprofile: status-labels,metrics\nclaim: [metrics]\n"
                    "error_ratio_tolerance: 1\ntimeouts: {label_budget: 12}\nreport_dir: out\nkube_context:\n")
    assert load_options_file(path)["keep_on_failure"] is False


def test_every_suite_config_field_has_a_checked_type() -> None:
    """The check is derived from the dataclass: each field's annotation resolves to a known shape."""
    import typing

    from fixtures.config import SuiteConfig, _has_type

    for name, hint in typing.get_type_hints(SuiteConfig).items():
        if hint is Timeouts:
            continue
        ok, what = _has_type(object(), hint)
        assert not ok, f"{name}: {hint} accepts anything ({what})"
