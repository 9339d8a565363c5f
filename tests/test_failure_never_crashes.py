"""Failure must never crash the run (issue 11, section 2).

Every report writer and evidence collector is driven alone with empty, partial and odd evidence (and an
empty document): none raises, none lets a warning out (the suite runs with warnings as errors). Then a
whole profile set runs through the driver against a controller whose labels never arrive
(tests/variants/labels-never-arrive.patch: the reference build with `canaryStatusLabelsApply` returning
false, so the flag is accepted and nothing is ever labelled; no canary series reach Prometheus, the
rollback timeline has no canary line): every profile is still reported, the run ends normally, no
INTERNALERROR, no writer problem, and nothing in the report folder is a credential.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Callable

import pytest
import yaml

import fixtures.plots  # noqa: F401 - matplotlib loaded once, before any in-process run
from fixtures.evidence import Evidence
from fixtures.report.aggregate import RunInfo, build_report
from fixtures.report.html import render_summary
from fixtures.report.model import FAILED, FAILURE, INTERRUPTED, PASSED, TestRecord
from fixtures.report.schema import schema_problems
from fixtures.report.writers import COLLECTORS, REPORT_FILE, WRITERS, WriteContext, atomic_write, clean
from fixtures.spec import PROFILES
from tests.leftovers import secrets_in

REPO = Path(__file__).resolve().parents[1]
VARIANT = REPO / "tests" / "variants" / "labels-never-arrive.patch"
# One test of each profile: the label, series, analysis and rollback checks all meet missing labels; the
# explicit (ephemeral-metadata) one does not depend on the flag and passes.
SELECTION = {"status-labels": "labels_without_metadata", "metrics": "series_carry_status_label",
             "analysis": "filtered_measures_canary_alone", "rollback": "faulty_canary_aborted_within_budget",
             "ephemeral-metadata": "explicit_mid_update_labels"}

EVIDENCE: dict[str, Callable[[], Evidence | None]] = {
    "none": lambda: None,
    "empty": Evidence,
    "empty lines": lambda: Evidence(timelines={"canary error ratio (filtered)": [], "stable": []}),
    "partial": lambda: Evidence(timelines={"all pods error ratio (unfiltered)": [(1.0, 0.1)]},
                                events=[(1.5, "canary Ready")]),
    "odd": lambda: Evidence(timelines={"canary": [(math.nan, 1.0), ("t", None)]},  # type: ignore[list-item]
                            levels={"threshold": math.inf}, deadlines={"budget": math.nan},
                            attachments={"": "", "/abs/../x.txt": "y"}),
}


def records(kind: str) -> list[TestRecord]:
    recs = []
    for i, outcome in enumerate((PASSED, FAILED, INTERRUPTED)):
        rec = TestRecord(f"t{i}", "rollback", ["RBK-1"], "", outcome=outcome)
        rec.evidence = EVIDENCE[kind]()
        recs.append(rec)
    return recs


STEPS = [*COLLECTORS, *WRITERS]


@pytest.mark.parametrize("kind", list(EVIDENCE))
@pytest.mark.parametrize("name", [n for n, _ in STEPS])
def test_each_writer_survives_empty_and_odd_evidence(tmp_path: Path, name: str, kind: str) -> None:
    """Each collector and writer alone (not under write_all's guard): no exception, no warning."""
    step = dict(STEPS)[name]
    recs = records(kind)
    ctx = WriteContext(tmp_path / "run", recs, alluredir=tmp_path / "allure")
    ctx.doc = clean(build_report(recs, RunInfo(labelling_mode="flag")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step(ctx)
    for path in (tmp_path / "run").rglob("*"):
        assert not path.name.endswith(".tmp"), path


@pytest.mark.parametrize("name", [n for n, _ in WRITERS if n != "report yaml"])
def test_each_writer_survives_an_empty_document(tmp_path: Path, name: str) -> None:
    """A document that could not be built at all ({}): the other writers still write what they can."""
    ctx = WriteContext(tmp_path / "run", [], doc={}, alluredir=tmp_path / "allure")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dict(WRITERS)[name](ctx)


def test_summary_page_of_nothing_says_so() -> None:
    page = render_summary({})
    assert "no profile ran" in page and "no timelines recorded" in page and page.rstrip().endswith("</html>")


def test_atomic_write_leaves_the_old_file_when_it_fails(tmp_path: Path) -> None:
    target = tmp_path / "conformance-report.yaml"
    atomic_write(target, "old: whole\n")

    with pytest.raises(TypeError):
        atomic_write(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "old: whole\n"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_secret_scan_finds_keys_tokens_and_kubeconfig_credentials(tmp_path: Path) -> None:
    """The scanner the report tests rely on finds what it must (so an empty result means something)."""
    (tmp_path / "clean.yaml").write_text("summary: {result: failure}\nmessage: 'no canary label on pod x'\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "key.txt").write_text("-----BEGIN EC PRIVATE KEY-----\nMHc...\n")
    (tmp_path / "d" / "log.txt").write_text("GET /api Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345\n")
    (tmp_path / "d" / "sa.json").write_text(json.dumps({"t": "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJlX3NpZ24"}))
    (tmp_path / "d" / "kubeconfig").write_text("users:\n- user:\n    token: Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5\n")
    (tmp_path / "d" / "own.txt").write_text("the run's token: s3cr3t-of-this-run-0123456789abcdef\n")
    found = secrets_in(tmp_path, ["s3cr3t-of-this-run-0123456789abcdef"])
    files = {f.split(":", 1)[0] for f in found}
    assert files == {"d/key.txt", "d/log.txt", "d/sa.json", "d/kubeconfig", "d/own.txt"}, found


# ---- a whole profile set against labels that never arrive --------------------------------------------
@pytest.mark.local_backend
def test_every_profile_reported_when_labels_never_arrive(tmp_path: Path) -> None:
    from fixtures.artifacts.build import build_controller_variant

    binary = build_controller_variant(VARIANT.stem, [VARIANT])
    out = tmp_path / "reports"
    cmd = [sys.executable, "-m", "scripts.cli", "run", "--runs", "reference:flag", "--report-dir", str(out),
           "--controller-binary", str(binary), "--impl-project", "labels never arrive",
           *[a for t in SELECTION.values() for a in ("--run-test", t)]]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1500)
    log = tmp_path / "driver.log"
    log.write_text(res.stdout + res.stderr)
    see = f"see {log}"
    assert "INTERNALERROR" not in res.stdout + res.stderr, see
    summary = json.loads((out / "summary.json").read_text())
    [run] = summary["runs"]
    assert run["pytest_exit"] in (0, 1), (run, see)  # a finished run: no interruption, no internal error
    doc = yaml.safe_load((out / "reference-flag" / REPORT_FILE).read_text())
    assert schema_problems(doc) == [], see
    assert "writerErrors" not in doc, (doc.get("writerErrors"), see)
    assert "interrupted" not in doc["summary"], see
    profiles = {p["name"]: p for p in doc["profiles"]}
    assert set(profiles) == set(PROFILES), (sorted(profiles), see)
    tests = {t["name"].split("[")[0]: t for p in doc["profiles"] for t in p["tests"]}
    for profile, test in SELECTION.items():
        expected = PASSED if profile == "ephemeral-metadata" else FAILED
        assert tests[test]["outcome"] == expected, (test, tests[test].get("message"), see)
        if profile != "ephemeral-metadata":
            assert profiles[profile]["core"]["result"] == FAILURE, (profile, profiles[profile]["summary"])
            # Labels missing is the implementation's failure, never the machinery's.
            assert tests[test].get("category") == "implementation", (test, tests[test])
    # The rollback timeline with no canary line: drawn, and it says so.
    rollback = tests[SELECTION["rollback"]]
    assert rollback.get("plots"), rollback
    plot = out / "reference-flag" / rollback["plots"][0]
    assert plot.stat().st_size > 1000, plot
    assert (out / "reference-flag" / "conformance-summary.html").is_file()
    # A failed run's whole folder (diagnostics, logs, Allure results, JUnit): no key, token or credential.
    assert secrets_in(out) == [], see


def test_a_missing_line_is_named_in_the_picture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Labels that never arrive leave the canary series empty beside a drawn unfiltered one: the plot says so."""
    import matplotlib.pyplot as plt

    from fixtures.plots import timeline_plot

    texts: list[str] = []
    real_close = plt.close

    def spy(fig: object = None) -> None:
        texts.extend(t.get_text() for ax in getattr(fig, "axes", []) for t in ax.texts)
        real_close(fig)

    monkeypatch.setattr(plt, "close", spy)
    ev = Evidence(timelines={"canary error ratio (filtered)": [], "all pods error ratio (unfiltered)": [(1.0, 0.1),
                                                                                                      (2.0, 0.1)]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        timeline_plot(tmp_path / "p.png", "rollback", ev)
    assert any("no data recorded for canary error ratio (filtered)" in t for t in texts), texts
