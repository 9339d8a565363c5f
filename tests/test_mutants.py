"""Mutation self-test: the suite rejects wrong implementations, each on the right requirement.

Every variant in `tests/mutants/catalogue.py` (the reference controller with one deliberate defect) is
built, then run through the product's own driver (`rollouts-conformance run --controller-binary ...`)
with only the conformance tests the catalogue names, claiming every profile those tests belong to. The
report must say `failure` for each named test, with a message that names the requirement of the check
that failed (the catalogue's, one of the test's IDs), the object and the label that were wrong; no
profile may come out `unsupported` (the variant accepts the flag), and the driver must exit with "claim
not met". Variants run two at a time, each on its own local cluster.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fixtures.labels import STATUS_KEY
from fixtures.artifacts.build import build_controller_variant
from fixtures.report.model import EXIT_CLAIM_NOT_MET
from fixtures.declared_tests import SuiteTest, suite_tests
from tests.mutants.catalogue import MUTANTS, MUTANTS_DIR, Mutant, markdown_table

REPO = Path(__file__).resolve().parents[1]
CONCURRENT_VARIANTS = 2
# A failure message names the object (kind and name) that was wrong, as the suite's label checks write them.
NAMES_AN_OBJECT = re.compile(r"\b(ReplicaSet|[Pp]od|Rollout|Experiment|AnalysisRun) [a-z0-9][a-z0-9.-]*")


def names_requirement(message: str, requirement: str) -> bool:
    """Whether a failure message says it comes from a check of `requirement`: the suite's checks write the ID
    in parentheses after what they check, `(LBL-3)`, or before why, `(LBL-9: blueGreen strategy)`."""
    return re.search(rf"\({re.escape(requirement)}[):]", message) is not None


@dataclass
class VariantRun:
    mutant: Mutant
    exit: int
    report: dict
    seconds: float
    log: Path


def test_catalogue_matches_the_patches_and_the_suite() -> None:
    """Each patch has an entry, each entry a patch; each named test exists, once per variant, and is marked with
    the requirement its catching check checks."""
    patches = {p.stem for p in MUTANTS_DIR.glob("*.patch")}
    assert patches == {m.name for m in MUTANTS}
    tests = conformance_tests()
    for m in MUTANTS:
        assert m.catches and len(set(m.tests)) == len(m.tests), f"{m.name}: no test, or one named twice: {m.tests}"
        for c in m.catches:
            assert c.test in tests, f"{m.name}: no conformance test named {c.test}"
            assert c.requirement in tests[c.test].requirements, (
                f"{m.name}: {c.test} is not marked {c.requirement} (its IDs: {tests[c.test].requirements})")


def test_names_requirement_reads_the_checks_convention() -> None:
    assert names_requirement("timed out after 10.0s waiting for stable label after abort (RBK-2) on ns/r", "RBK-2")
    assert names_requirement("Rollout ns/bg (LBL-9: blueGreen strategy): ReplicaSet bg-1 has ...", "LBL-9")
    assert not names_requirement("status labels while paused (LBL-2) on ns/metrics", "MET-1")
    assert not names_requirement("(LBL-12) v2 unlabelled", "LBL-1")
    assert not names_requirement("RBK-2 in passing, not as the check's tag", "RBK-2")


def test_readme_table_is_the_catalogue() -> None:
    assert markdown_table() in (REPO / "README.md").read_text(), (
        "README's mutation table is out of date; paste tests.mutants.catalogue.markdown_table()")


@functools.cache
def conformance_tests() -> dict[str, SuiteTest]:
    """The suites' tests by short name (read from their source once per session)."""
    return {t.name: t for t in suite_tests()}


def profiles_of(m: Mutant) -> list[str]:
    tests = conformance_tests()
    return sorted({tests[t].profile for t in m.tests})


def run_variant(m: Mutant, binary: Path, out: Path) -> VariantRun:
    """The driver, as a contributor validating a controller build runs it."""
    cmd = [sys.executable, "-m", "scripts.cli", "run", "--runs", "reference:flag", "--report-dir", str(out),
           "--controller-binary", str(binary), "--impl-project", f"mutant {m.name}",
           "--claim", ",".join(profiles_of(m)), *[a for t in m.tests for a in ("--run-test", t)]]
    t0 = time.monotonic()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200)
    log = out / "driver.log"
    log.write_text(res.stdout + res.stderr)
    report_file = out / "reference-flag" / "conformance-report.yaml"
    report = yaml.safe_load(report_file.read_text()) if report_file.exists() else {}
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    return VariantRun(m, summary.get("exit", res.returncode), report, time.monotonic() - t0, log)


@pytest.fixture(scope="module")
def variant_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, VariantRun]:
    t0 = time.monotonic()
    # Built one after the other in one folder and one Go build cache: each recompiles only what its patch changes.
    binaries = {m.name: build_controller_variant(m.name, [m.patch]) for m in MUTANTS}
    built = time.monotonic() - t0
    with ThreadPoolExecutor(CONCURRENT_VARIANTS) as pool:
        futures = {m.name: pool.submit(run_variant, m, binaries[m.name], tmp_path_factory.mktemp(m.name))
                   for m in MUTANTS}
        runs = {name: f.result() for name, f in futures.items()}
    print(f"\nmutation self-test: {len(MUTANTS)} variants built in {built:.0f}s, run in "
          f"{time.monotonic() - t0 - built:.0f}s ({CONCURRENT_VARIANTS} at a time)")
    for r in runs.values():
        print(f"  {r.mutant.name}: exit {r.exit} in {r.seconds:.0f}s")
    return runs


@pytest.mark.local_backend
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_variant_is_rejected_on_its_requirements(mutant: Mutant, variant_runs: dict[str, VariantRun]) -> None:
    run = variant_runs[mutant.name]
    see = f"see {run.log}"
    assert run.report, f"no report written; {see}"
    profiles = {p["name"]: p for p in run.report["profiles"]}
    unsupported = [name for name, p in profiles.items() if p["core"]["result"] == "unsupported"]
    assert not unsupported, f"{unsupported} marked unsupported, but the variant accepts the flag; {see}"
    tests = {t["name"]: t for p in profiles.values() for t in p["tests"]}
    for c in mutant.catches:
        t = tests[c.test]
        message = t.get("message", "")
        assert t["outcome"] == "failed", f"{c.test} {t['outcome']} against {mutant.name}: {message}; {see}"
        assert c.requirement in t["requirements"], (c.test, t["requirements"])
        # The verdict must rest on the check of the variant's requirement, not on another one the test passes
        # through first (a precondition's wait).
        assert names_requirement(message, c.requirement), (
            f"{c.test} failed, but not at its {c.requirement} check: {message}; {see}")
        assert STATUS_KEY in message, f"{c.test}'s message does not name the label: {message}"
        assert NAMES_AN_OBJECT.search(message), f"{c.test}'s message names no object: {message}"
    for name in profiles_of(mutant):
        assert profiles[name]["core"]["result"] == "failure", (name, profiles[name]["core"]["result"], see)
    assert run.exit == EXIT_CLAIM_NOT_MET, f"driver exit {run.exit}; {see}"
