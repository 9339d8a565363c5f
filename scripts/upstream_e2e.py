"""Run upstream Argo Rollouts' own e2e CanarySuite against a controller on a fresh local cluster.

    python -m scripts.upstream_e2e [--controller upstream|reference] [--flag FLAG ...] [--run REGEX]
                                   [--no-skip] [--wait-timeout S] [--output FILE]

It builds (once, cached) upstream's e2e test binary from the Argo Rollouts module
(`fixtures.artifacts.build`, artifact `rollouts-e2e`), starts a local cluster whose
node agent runs upstream's e2e images through stand-ins (`images.e2e_images()`),
starts the controller with `--instance-id argo-rollouts-e2e` plus the given flags,
and runs `TestCanarySuite` from the binary's folder (the tests read their
manifests as `@functional/...` from there). Tests that cannot pass here would be
skipped by name (SKIPPED below, with the reason); for v1.10.1 there are none.
A failed test runs again alone (`--reruns`, default 1), as upstream's CI reruns
failures; the results file records the first attempt.

Per-test results go to stdout and to `--output` (JSON; default
`reports/upstream-e2e/<controller>[-flags].json`), with the go test log beside it.
The exit code is 0 when every test that ran passed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fixtures.backends.local import LocalBackend
from fixtures.artifacts import build
from fixtures.local.images import e2e_images
from fixtures.timeouts import Timeouts

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_ID = "argo-rollouts-e2e"
SUITE = "TestCanarySuite"

# CanarySuite tests that cannot pass on the local backend, and why: none (v1.10.1). Nine of them create
# canary/stable Services and most an Ingress with nginx traffic routing, which cannot carry traffic here
# (Endpoints reject loopback pod addresses; no ingress controller runs), but they only check what the
# controller writes (Service selectors, the canary Ingress, weights, pod counts), and that works. A test
# that needs traffic or a mesh would go here, by name, with its reason; --no-skip runs it anyway.
SKIPPED: dict[str, str] = {}

# Upstream's knob for pod start/stop speed: E2E_POD_DELAY=N gives every Rollout pod a postStart and a
# preStop `sleep N`. Local pods are Ready a fraction of a second after creation, faster than on any
# container runtime, and some tests assert a mid-update state that only lasts while new pods start.
# Only those run with it: the hooks change the pod template, and so the pod-template-hash that
# other tests compare with hard-coded values.
POD_DELAY = 2
POD_DELAY_TESTS: dict[str, str] = {
    "TestRolloutWithMaxSurgeScalingDuringUpdate": "scales 8 -> 4 while the update runs and expects 4 canary + 3 "
                                                  "stable pods; without the delay the update has completed by then",
}
RESULT_LINE = re.compile(rf"^\s*--- (PASS|FAIL|SKIP): {SUITE}/(\w+) \(([\d.]+)s\)")


def parse_results(log: str) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for line in log.splitlines():
        m = RESULT_LINE.match(line)
        if m:
            results[m.group(2)] = {"result": m.group(1).lower(), "seconds": float(m.group(3))}
    return results


def _names_regex(names: list[str]) -> str:
    return f"^{SUITE}$/^({'|'.join(sorted(names))})$"


def _go_test(binary: Path, test_dir: Path, env: dict[str, str], run: str, skip: str, out: Any) -> int:
    argv = [str(binary), "-test.v", "-test.run", run, "-test.timeout", "60m", *(["-test.skip", skip] if skip else [])]
    print(f"[e2e] E2E_POD_DELAY={env['E2E_POD_DELAY']}: {' '.join(argv[1:])}", flush=True)
    proc = subprocess.Popen(argv, cwd=test_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            out.write(line)
            out.flush()  # the log is what one watches during a run of several minutes
            if RESULT_LINE.match(line):
                print(f"[e2e] {line.strip()}", flush=True)
    return proc.wait()


def run_suite(controller: str, flags: list[str], run: str, skip: bool, wait_timeout: int, pod_delay: int | None,
              log_path: Path, reruns: int = 1) -> dict[str, Any]:
    """Run the CanarySuite; `pod_delay` None: the tests in POD_DELAY_TESTS in a second pass with
    E2E_POD_DELAY=POD_DELAY, all others without; a number: one pass, every test with that delay."""
    t0 = time.monotonic()
    paths = build.ensure(["rollouts-e2e"])
    binary, test_dir = paths["rollouts-e2e"], paths["rollouts-e2e-dir"]
    backend = LocalBackend(Timeouts(), implementation=controller, extra_images=e2e_images())
    try:
        backend.start()
        backend.controller.start([f"--instance-id={INSTANCE_ID}", *flags])
        setup_s = time.monotonic() - t0
        print(f"[e2e] {controller} {' '.join(flags) or '(no extra flags)'}", flush=True)
        env = {**os.environ, "KUBECONFIG": str(backend.kubeconfig), "E2E_INSTANCE_ID": INSTANCE_ID,
               "E2E_WAIT_TIMEOUT": str(wait_timeout)}
        pattern = f"^{SUITE}$" + (f"/{run}" if run else "")
        skipped = sorted(SKIPPED) if skip else []
        t1 = time.monotonic()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as out:
            if pod_delay is not None:
                rcs = [_go_test(binary, test_dir, {**env, "E2E_POD_DELAY": str(pod_delay)}, pattern,
                                _names_regex(skipped) if skipped else "", out)]
            else:
                delayed = [n for n in POD_DELAY_TESTS if not run or re.search(run, n)]
                rcs = [_go_test(binary, test_dir, {**env, "E2E_POD_DELAY": "0"}, pattern,
                                _names_regex(skipped + list(POD_DELAY_TESTS)), out)]
                if delayed:
                    rcs.append(_go_test(binary, test_dir, {**env, "E2E_POD_DELAY": str(POD_DELAY)},
                                        _names_regex(delayed), "", out))
            first = parse_results(log_path.read_text())
            failed = sorted(n for n, r in first.items() if r["result"] == "fail")
            reran: dict[str, list[str]] = {}
            for attempt in range(reruns):
                if not failed:
                    break
                # As upstream's CI does (gotestsum --rerun-fails): a failed test runs again, alone.
                for name in failed:
                    delay = POD_DELAY if pod_delay is None and name in POD_DELAY_TESTS else (pod_delay or 0)
                    _go_test(binary, test_dir, {**env, "E2E_POD_DELAY": str(delay)}, _names_regex([name]), "", out)
                again = parse_results(log_path.read_text())  # the last line per test wins
                for name in failed:
                    reran.setdefault(name, []).append(again.get(name, {}).get("result", "missing"))
                failed = [n for n in failed if again.get(n, {}).get("result") != "pass"]
        suite_s = time.monotonic() - t1
        controller_version = backend.controller.implementation.version
    finally:
        backend.stop()
    results = parse_results(log_path.read_text())
    for name, outcomes in reran.items():
        results[name]["first_attempt"] = first[name]["result"]
        results[name]["reruns"] = outcomes
    for name in results:
        if pod_delay is None and name in POD_DELAY_TESTS:
            results[name]["pod_delay"] = POD_DELAY
    if skip:
        for name, reason in SKIPPED.items():
            if name not in results and (not run or re.search(run, name)):
                results[name] = {"result": "skip", "reason": reason}
    return {"controller": controller, "controller_version": controller_version, "flags": flags, "run": run,
            "wait_timeout": wait_timeout, "pod_delay": pod_delay if pod_delay is not None else
            {"default": 0, **{n: POD_DELAY for n in POD_DELAY_TESTS}},
            "go_test_exit_first_pass": max(rcs, key=abs), "reruns_allowed": reruns,
            "setup_seconds": round(setup_s, 1), "suite_seconds": round(suite_s, 1),
            "log": str(log_path), "tests": dict(sorted(results.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controller", choices=["upstream", "reference"], default="upstream")
    parser.add_argument("--flag", action="append", default=[], help="extra controller flag (repeatable), e.g. --flag=--enable-canary-status-labels")
    parser.add_argument("--run", default="", help="regex over CanarySuite test names (go test -run, below the suite)")
    parser.add_argument("--no-skip", action="store_true", help="also run the tests that need Services/Ingress")
    parser.add_argument("--wait-timeout", type=int, default=90, help="E2E_WAIT_TIMEOUT: seconds each wait of the tests may take")
    parser.add_argument("--pod-delay", type=int, default=None,
                        help="E2E_POD_DELAY for every test (seconds of postStart/preStop sleep upstream's fixtures add "
                             "to every pod); default: 0, and POD_DELAY for the tests in POD_DELAY_TESTS")
    parser.add_argument("--reruns", type=int, default=1,
                        help="run a failed test again, alone, up to this many times (upstream's CI: 5); default 1")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    tag = args.controller + "".join("-" + f.lstrip("-").split("=")[0] for f in args.flag)
    output = args.output or REPO_ROOT / "reports" / "upstream-e2e" / f"{tag}.json"
    try:
        report = run_suite(args.controller, args.flag, args.run, not args.no_skip, args.wait_timeout, args.pod_delay,
                           output.with_suffix(".log"), args.reruns)
    except build.BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    counts: dict[str, int] = {}
    for name, res in report["tests"].items():
        counts[res["result"]] = counts.get(res["result"], 0) + 1
        extra = f"{res['seconds']:.1f}s" if "seconds" in res else res.get("reason", "")
        if "reruns" in res:
            extra += f" (first attempt {res['first_attempt']}, reruns {res['reruns']})"
        print(f"{res['result'].upper():5} {name:50} {extra}")
    print(f"[e2e] {tag}: {counts}; set-up {report['setup_seconds']}s, suite {report['suite_seconds']}s; "
          f"results in {output}")
    return 1 if counts.get("fail", 0) > 0 else 0


if __name__ == "__main__":
    sys.exit(main())
