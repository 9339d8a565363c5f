"""Run the conformance pair N times in a row and compare the runs: a verdict that changes is a flake.

    scripts/soak [-n N] [--report-dir DIR] [driver options...]     (default N 5, DIR reports/soak)

Each round is one `python -m scripts.run_conformance` (the pair `reference:flag,upstream:explicit` unless
`--runs` says otherwise; every other option goes to it unchanged), writing DIR/round-<i>/ and its output to
DIR/round-<i>.log. Nothing reruns a test. Afterwards, per round: the driver's exit code, its duration and
each run's profile verdicts; across rounds: every test whose outcome differs, every failed test, and the
spread (min / median / max) of each measurement (time to abort, label convergence, ...) and of each run's
duration. The comparison goes to the terminal and to DIR/soak.md and DIR/soak.json.

Exit status: 0 when every round gave the same verdicts and no test failed; 1 when verdicts differ between
rounds or a test failed; 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
# A ReplicaSet's pod-template hash in a measurement's name ("recording 6587b6fbb8 as stable"): it differs per
# round (the run's id is among the template's labels), so it is folded for the names to line up.
TEMPLATE_HASH = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,10}\b")


@dataclass
class Round:
    index: int
    exit: int
    seconds: float
    # run (implementation-mode) -> profile -> result
    verdicts: dict[str, dict[str, str]] = field(default_factory=dict)
    # run -> test -> outcome
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)
    # "run: measurement name" -> values measured this round
    measurements: dict[str, list[float]] = field(default_factory=dict)
    # run -> seconds the driver reported for it
    run_seconds: dict[str, float] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def read_round(index: int, exit_code: int, seconds: float, folder: Path) -> Round:
    """What one round's reports say (the driver's summary.json and each run's conformance-report.yaml)."""
    rnd = Round(index, exit_code, round(seconds, 1))
    summary = folder / "summary.json"
    runs = json.loads(summary.read_text())["runs"] if summary.is_file() else []
    for run in runs:
        rnd.run_seconds[run["run"]] = float(run["seconds"])
        report = folder / run["run"] / "conformance-report.yaml"
        if not report.is_file():
            rnd.verdicts[run["run"]] = {"(no report)": run.get("problem") or f"exit {run['exit']}"}
            continue
        doc = yaml.safe_load(report.read_text())
        rnd.verdicts[run["run"]] = {p["name"]: str((p.get("core") or {}).get("result")) for p in doc.get("profiles", [])}
        tests = rnd.outcomes.setdefault(run["run"], {})
        for profile in doc.get("profiles", []):
            for test in profile.get("tests", []):
                tests[test["name"]] = test["outcome"]
                if test["outcome"] == "failed":
                    rnd.failed.append(f"{run['run']}/{test['name']}: {test.get('message', '')[:300]}")
                for m in test.get("measurements", []) or []:
                    if isinstance(m.get("value"), (int, float)):
                        key = f"{run['run']}: {TEMPLATE_HASH.sub('<hash>', m['name'])} ({m.get('unit', '')})"
                        rnd.measurements.setdefault(key, []).append(float(m["value"]))
    if not runs:
        rnd.verdicts["(no summary)"] = {"driver": f"exit {exit_code}, no summary.json in {folder}"}
    return rnd


def differences(rounds: list[Round]) -> list[str]:
    """One line per profile verdict or test outcome that is not the same in every round."""
    out = []
    for attr, what in (("verdicts", "profile"), ("outcomes", "test")):
        keys = sorted({(run, name) for r in rounds for run, items in getattr(r, attr).items() for name in items})
        for run, name in keys:
            seen = [getattr(r, attr).get(run, {}).get(name, "(absent)") for r in rounds]
            if len(set(seen)) > 1:
                out.append(f"{run} {what} {name}: " + ", ".join(f"round {r.index} {s}" for r, s in zip(rounds, seen)))
    return out


def spread(rounds: list[Round]) -> dict[str, dict[str, float | int]]:
    """min / median / max (and how many values) of each measurement and each run's duration over all rounds."""
    values: dict[str, list[float]] = {}
    for r in rounds:
        for key, vs in r.measurements.items():
            values.setdefault(key, []).extend(vs)
        for run, s in r.run_seconds.items():
            values.setdefault(f"{run}: run time (s)", []).append(s)
        values.setdefault("round time (s)", []).append(r.seconds)
    return {k: {"n": len(v), "min": round(min(v), 2), "median": round(statistics.median(v), 2),
                "max": round(max(v), 2)} for k, v in sorted(values.items())}


def render(rounds: list[Round], diffs: list[str], spreads: dict[str, dict[str, float | int]]) -> str:
    lines = [f"# Soak: {len(rounds)} round(s) of the conformance pair", "", "## Rounds", "",
             "| round | exit | duration | verdicts |", "|---|---|---|---|"]
    for r in rounds:
        verdicts = "; ".join(f"{run}: " + ", ".join(f"{p}={v}" for p, v in ps.items()) for run, ps in r.verdicts.items())
        lines.append(f"| {r.index} | {r.exit} | {r.seconds:.0f} s | {verdicts} |")
    lines += ["", "## Differences between rounds", ""] + ([f"- {d}" for d in diffs] or ["none"])
    failed = [f"round {r.index}: {f}" for r in rounds for f in r.failed]
    lines += ["", "## Failed tests", ""] + ([f"- {f}" for f in failed] or ["none"])
    lines += ["", "## Spread of measurements", "", "| measurement | n | min | median | max |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {s['n']} | {s['min']} | {s['median']} | {s['max']} |" for k, s in spreads.items()]
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--rounds", type=int, default=5, help="how many rounds (default 5)")
    parser.add_argument("--report-dir", type=Path, default=ROOT / "reports" / "soak",
                        help="where the rounds' reports and the comparison go (default reports/soak)")
    args, driver_args = parser.parse_known_args(argv)
    if args.rounds < 1:
        parser.error("-n must be at least 1")
    return args, driver_args


def main(argv: list[str] | None = None) -> int:
    args, driver_args = parse(argv)
    out: Path = args.report_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    rounds = []
    for i in range(1, args.rounds + 1):
        folder = out / f"round-{i}"
        cmd = [sys.executable, "-m", "scripts.run_conformance", f"--report-dir={folder}", *driver_args]
        print(f"[soak] round {i}/{args.rounds}: {' '.join(cmd[1:])} (output in {folder}.log)", flush=True)
        t0 = time.monotonic()
        with open(f"{folder}.log", "wb") as log:
            # In the caller's folder, as the driver itself would run (its relative paths stay the caller's).
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
            rc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
        rnd = read_round(i, rc, time.monotonic() - t0, folder)
        rounds.append(rnd)
        print(f"[soak] round {i}: exit {rc} in {rnd.seconds:.0f} s; " + "; ".join(
            f"{run}: " + ", ".join(f"{p}={v}" for p, v in ps.items()) for run, ps in rnd.verdicts.items()), flush=True)
    diffs, spreads = differences(rounds), spread(rounds)
    text = render(rounds, diffs, spreads)
    (out / "soak.md").write_text(text)
    (out / "soak.json").write_text(json.dumps({"rounds": [asdict(r) for r in rounds], "differences": diffs,
                                               "spread": spreads}, indent=1) + "\n")
    print(text + f"\nwritten to {out / 'soak.md'} and {out / 'soak.json'}", flush=True)
    return 1 if diffs or any(r.failed for r in rounds) else 0


if __name__ == "__main__":
    sys.exit(main())
