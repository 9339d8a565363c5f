"""scripts/soak's comparison of rounds, on reports written by hand (no cluster)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from scripts.soak import differences, read_round, render, spread


def write_round(folder: Path, promotion: str, took: float, seconds: float) -> None:
    run = folder / "reference-flag"
    run.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"exit": 0, "runs": [
        {"run": "reference-flag", "exit": 0, "seconds": seconds, "problem": ""}]}))
    (run / "conformance-report.yaml").write_text(yaml.safe_dump({"profiles": [
        {"name": "status-labels", "core": {"result": "success" if promotion == "passed" else "failure"}, "tests": [
            {"name": "promotion_relabels_in_place", "outcome": promotion, "message": "timed out",
             "measurements": [{"name": "label convergence after promotion", "value": took, "unit": "s"}]},
            {"name": "labels_without_metadata", "outcome": "passed", "measurements": [
                {"name": f"wait: promote recording {seconds:x}bbf8d as stable", "value": 1.0, "unit": "s"}]}]}]}))


def test_rounds_that_differ_are_named_and_measurements_spread(tmp_path: Path) -> None:
    write_round(tmp_path / "round-1", "passed", 4.5, 260)
    write_round(tmp_path / "round-2", "failed", 9.5, 300)
    rounds = [read_round(1, 0, 261, tmp_path / "round-1"), read_round(2, 1, 301, tmp_path / "round-2")]
    diffs = differences(rounds)
    assert diffs == ["reference-flag profile status-labels: round 1 success, round 2 failure",
                     "reference-flag test promotion_relabels_in_place: round 1 passed, round 2 failed"]
    assert rounds[1].failed == ["reference-flag/promotion_relabels_in_place: timed out"]
    s = spread(rounds)
    assert s["reference-flag: label convergence after promotion (s)"] == {"n": 2, "min": 4.5, "median": 7.0, "max": 9.5}
    assert s["reference-flag: run time (s)"]["max"] == 300
    # Per-round ReplicaSet hashes in a measurement's name are folded, so the rounds line up.
    assert s["reference-flag: wait: promote recording <hash> as stable (s)"]["n"] == 2
    text = render(rounds, diffs, s)
    assert "| 2 | 1 | 301 s | reference-flag: status-labels=failure |" in text


def test_identical_rounds_have_no_differences(tmp_path: Path) -> None:
    for i in (1, 2):
        write_round(tmp_path / f"round-{i}", "passed", 4.0 + i, 250)
    rounds = [read_round(i, 0, 250, tmp_path / f"round-{i}") for i in (1, 2)]
    assert differences(rounds) == [] and not any(r.failed for r in rounds)


def test_a_round_without_reports_says_so(tmp_path: Path) -> None:
    rnd = read_round(1, 3, 10, tmp_path / "missing")
    assert rnd.verdicts == {"(no summary)": {"driver": f"exit 3, no summary.json in {tmp_path / 'missing'}"}}
