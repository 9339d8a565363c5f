"""Run upstream Argo Rollouts' own e2e CanarySuite against a controller on a fresh local cluster.

    python -m scripts.upstream_e2e [--controller upstream|reference] [--flag FLAG ...] [--run REGEX]
                                   [--no-skip] [--wait-timeout S] [--output FILE]

It builds (once, cached) upstream's e2e test binary from the Argo Rollouts module
(`fixtures.local.build`, artifact `rollouts-e2e`), starts a local cluster whose
node agent runs upstream's e2e images through stand-ins (`images.e2e_images()`),
starts the controller with `--instance-id argo-rollouts-e2e` plus the given flags,
and runs `TestCanarySuite` from the binary's folder (the tests read their
manifests as `@functional/...` from there). Tests that need a Service, an
Ingress or a mesh are skipped by name (SKIPPED below, with the reason): on this
backend Endpoints reject loopback pod addresses, so nothing routes through a
Service and no ingress controller or mesh runs.

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
from fixtures.local import build
from fixtures.local.images import e2e_images
from fixtures.timeouts import Timeouts

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_ID = "argo-rollouts-e2e"
SUITE = "TestCanarySuite"

# CanarySuite tests that cannot pass on the local backend, and why.
SERVICE_AND_INGRESS = "its manifest ({}) has canary/stable Services{}; the local backend cannot back a Service " \
                      "(Endpoints reject loopback pod addresses){}"
SKIPPED: dict[str, str] = {
    "TestCanarySetCanaryScale": SERVICE_AND_INGRESS.format(
        "functional/nginx-template.yaml", " and an Ingress with nginx traffic routing", " and runs no ingress controller"),
    "TestCanaryScaleDownDelayWithProgressDeadline": SERVICE_AND_INGRESS.format(
        "functional/canary-scaledowndelay.yaml", " and an Ingress with nginx traffic routing", " and runs no ingress controller"),
    "TestCanaryScaleDownDelay": SERVICE_AND_INGRESS.format(
        "functional/canary-scaledowndelay.yaml", " and an Ingress with nginx traffic routing", " and runs no ingress controller"),
    "TestCanaryScaleDownOnAbort": SERVICE_AND_INGRESS.format(
        "functional/canary-scaledownonabort.yaml", " and an Ingress with nginx traffic routing", "; it asserts Service selectors"),
    "TestCanaryScaleDownOnAbortNoTrafficRouting": SERVICE_AND_INGRESS.format(
        "functional/canary-scaledownonabortnotrafficrouting.yaml", "", "; it asserts Service selectors"),
    "TestCanaryWithPausedRollout": SERVICE_AND_INGRESS.format(
        "functional/rollout-canary-with-pause.yaml", "", ""),
    "TestCanaryUnScaleDownOnAbort": SERVICE_AND_INGRESS.format(
        "functional/canary-unscaledownonabort.yaml", " and an Ingress with nginx traffic routing", " and runs no ingress controller"),
    "TestCanaryDynamicStableScale": SERVICE_AND_INGRESS.format(
        "functional/canary-dynamic-stable-scale.yaml", " and an Ingress with nginx traffic routing", "; it asserts Service selectors"),
    "TestCanaryDynamicStableScaleRollbackToStable": SERVICE_AND_INGRESS.format(
        "functional/canary-dynamic-stable-scale.yaml", " and an Ingress with nginx traffic routing", "; it asserts Service selectors"),
}
# Upstream's knob for pod start/stop speed (postStart and preStop `sleep N` on every Rollout pod). Local
# pods are Ready a fraction of a second after creation, faster than on any container runtime, and some
# tests (TestRolloutWithMaxSurgeScalingDuringUpdate) assert a mid-update state that only lasts while
# new pods are starting.
POD_DELAY = 2
RESULT_LINE = re.compile(rf"^\s*--- (PASS|FAIL|SKIP): {SUITE}/(\w+) \(([\d.]+)s\)")


def parse_results(log: str) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for line in log.splitlines():
        m = RESULT_LINE.match(line)
        if m:
            results[m.group(2)] = {"result": m.group(1).lower(), "seconds": float(m.group(3))}
    return results


def run_suite(controller: str, flags: list[str], run: str, skip: bool, wait_timeout: int, pod_delay: int,
              log_path: Path) -> dict[str, Any]:
    t0 = time.monotonic()
    paths = build.ensure(["rollouts-e2e"])
    binary, test_dir = paths["rollouts-e2e"], paths["rollouts-e2e-dir"]
    backend = LocalBackend(Timeouts(), implementation=controller, extra_images=e2e_images())
    try:
        backend.start()
        backend.controller.start([f"--instance-id={INSTANCE_ID}", *flags])
        setup_s = time.monotonic() - t0
        pattern = f"^{SUITE}$" + (f"/{run}" if run else "")
        argv = [str(binary), "-test.v", "-test.run", pattern, "-test.timeout", "60m"]
        if skip:
            argv += ["-test.skip", f"^{SUITE}$/^({'|'.join(sorted(SKIPPED))})$"]
        env = {**os.environ, "KUBECONFIG": str(backend.kubeconfig), "E2E_INSTANCE_ID": INSTANCE_ID,
               "E2E_WAIT_TIMEOUT": str(wait_timeout), "E2E_POD_DELAY": str(pod_delay)}
        print(f"[e2e] {controller} {' '.join(flags) or '(no extra flags)'}: running {' '.join(argv[1:])}", flush=True)
        t1 = time.monotonic()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as out:
            proc = subprocess.Popen(argv, cwd=test_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert proc.stdout is not None
            with proc.stdout:
                for line in proc.stdout:
                    out.write(line)
                    out.flush()  # the log is what one watches during a run of several minutes
                    if RESULT_LINE.match(line):
                        print(f"[e2e] {line.strip()}", flush=True)
            rc = proc.wait()
        suite_s = time.monotonic() - t1
        controller_version = backend.controller.implementation.version
    finally:
        backend.stop()
    results = parse_results(log_path.read_text())
    if skip:
        for name, reason in SKIPPED.items():
            if name not in results and (not run or re.search(run, name)):
                results[name] = {"result": "skip", "reason": reason}
    return {"controller": controller, "controller_version": controller_version, "flags": flags, "run": run,
            "wait_timeout": wait_timeout, "pod_delay": pod_delay,
            "go_test_exit": rc, "setup_seconds": round(setup_s, 1), "suite_seconds": round(suite_s, 1),
            "log": str(log_path), "tests": dict(sorted(results.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controller", choices=["upstream", "reference"], default="upstream")
    parser.add_argument("--flag", action="append", default=[], help="extra controller flag (repeatable), e.g. --flag=--enable-canary-status-labels")
    parser.add_argument("--run", default="", help="regex over CanarySuite test names (go test -run, below the suite)")
    parser.add_argument("--no-skip", action="store_true", help="also run the tests that need Services/Ingress")
    parser.add_argument("--wait-timeout", type=int, default=90, help="E2E_WAIT_TIMEOUT: seconds each wait of the tests may take")
    parser.add_argument("--pod-delay", type=int, default=POD_DELAY,
                        help="E2E_POD_DELAY: seconds of postStart/preStop sleep upstream's fixtures add to every pod")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    tag = args.controller + "".join("-" + f.lstrip("-").split("=")[0] for f in args.flag)
    output = args.output or REPO_ROOT / "reports" / "upstream-e2e" / f"{tag}.json"
    try:
        report = run_suite(args.controller, args.flag, args.run, not args.no_skip, args.wait_timeout, args.pod_delay,
                           output.with_suffix(".log"))
    except build.BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    counts: dict[str, int] = {}
    for name, res in report["tests"].items():
        counts[res["result"]] = counts.get(res["result"], 0) + 1
        extra = f"{res['seconds']:.1f}s" if "seconds" in res else res.get("reason", "")
        print(f"{res['result'].upper():5} {name:50} {extra}")
    print(f"[e2e] {tag}: {counts}; set-up {report['setup_seconds']}s, suite {report['suite_seconds']}s; "
          f"results in {output}")
    failed = counts.get("fail", 0) > 0 or report["go_test_exit"] != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
