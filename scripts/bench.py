"""The dilution benchmark: how fast a faulty canary is aborted, filtered on the canary or not.

    python -m scripts.bench [--quick] [--reps N] [--concurrency K] [--out reports/bench]

On the local backend with the reference controller and its flag on, each
point of the grid (canary error ratio x canary share x filtered/unfiltered
analysis x repetition) is the rollback profile's scenario: a healthy Rollout
of `share` pods with step analysis, updated to a version whose canary pod
fails that ratio of requests. The benchmark records, from the moment the
canary pod is Ready, the time to the Failed AnalysisRun and to the abort (or
"not aborted within N s", N = twice the template's SPEC RBK-1 abort budget),
the ratio the analysis measured beside the true one, and the physical bound
(Prometheus' second sample of the canary, plus one analysis interval) with the
time to abort over it.

Points run side by side in one cluster (each in its own namespace); output in
`--out`: results.csv, results.md (the table) and dilution.png (time to abort
against canary error ratio, one line per canary share, filtered solid,
unfiltered dashed, the threshold marked).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import logging
import os
import secrets
import statistics
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fixtures.backends.local import LocalBackend
from fixtures.controller import STATUS_LABELS_FLAG
from fixtures.evidence import Evidence
from fixtures.kube import Kube
from fixtures.labels import RUN_LABEL
from fixtures.scenario import HEALTHY_V1, AppVersion, Scenario, canary_rollout, measurement_values
from fixtures.timeouts import Timeouts
from fixtures.wait import WaitTimeout, wait_until
from suites import TEMPLATES_DIR
from suites.analysis import FILTERED, THRESHOLD, UNFILTERED, abort_budget, analysis_steps, canary_samples_at, seconds

log = logging.getLogger("bench")
REPO = Path(__file__).resolve().parents[1]

FULL_GRID = {"error_ratios": (0.05, 0.1, 0.2, 0.4, 0.8), "shares": (2, 5, 10), "reps": 3}
QUICK_GRID = {"error_ratios": (0.2, 0.8), "shares": (2, 5), "reps": 1}
TEMPLATES = {"filtered": FILTERED, "unfiltered": UNFILTERED}
APP = "bench"


@dataclass(frozen=True)
class Point:
    error_ratio: float
    share: int  # the canary is 1 pod of this many
    analysis: str  # filtered | unfiltered
    rep: int


@dataclass
class Result:
    error_ratio: float
    canary_share: str
    analysis: str
    rep: int
    outcome: str  # aborted | passed | not aborted within N s | error: ...
    time_to_failed_s: float | None
    time_to_abort_s: float | None
    measured_ratio: float | None
    true_ratio: float  # what the query should see: the canary's ratio, or diluted over all pods
    cap_s: float
    bound_s: float | None = None  # Prometheus' 2nd canary sample + one analysis interval, from canary Ready
    abort_over_bound: float | None = None


def run_point(backend: LocalBackend, point: Point, run_id: str, index: int) -> Result:
    timeouts = backend.timeouts
    kube = Kube(backend.kubeconfig)  # a client per thread
    ns = f"bench-{run_id}-{index}"
    labels = {RUN_LABEL: f"bench-{run_id}"}
    kube.create_namespace(ns, labels)
    sc = Scenario(kube, backend.prometheus, ns, timeouts, Evidence(), labels, backend.prometheus_url_for_cluster,
                  templates_dir=TEMPLATES_DIR)
    true_ratio = point.error_ratio if point.analysis == "filtered" else point.error_ratio / point.share
    result = Result(point.error_ratio, f"1/{point.share}", point.analysis, point.rep, "", None, None, None,
                    round(true_ratio, 4), 0.0)
    try:
        template = sc.given_template(TEMPLATES[point.analysis])
        metric = template["spec"]["metrics"][0]["name"]
        cap = 2 * abort_budget(template, backend.scrape_interval_seconds, timeouts.abort_slack)
        result.cap_s = round(cap, 1)
        steps = analysis_steps(sc, APP, [template["metadata"]["name"]], THRESHOLD, 100 // point.share)
        sc.given_rollout(canary_rollout(APP, HEALTHY_V1, point.share, steps, sc.labels))
        sc.wait_healthy(APP)
        sc.update(APP, AppVersion("v2", point.error_ratio))
        roles = sc.wait_role_change(APP, "canary")
        sc.wait_pods_ready(APP, roles["canary"], 1)
        ready_at, ready_wall = time.monotonic(), time.time()
        seen: dict[str, float] = {}

        def decided() -> tuple[bool, Any]:
            runs = sc.analysis_runs()
            phase = runs[-1].get("status", {}).get("phase") if runs else None
            if phase == "Failed":
                seen.setdefault("failed", time.monotonic())
            aborted = bool(sc.rollout(APP).get("status", {}).get("abort"))
            if aborted:
                seen.setdefault("aborted", time.monotonic())
            return aborted or phase in ("Successful", "Inconclusive"), {"analysisRun": phase, "aborted": aborted}

        try:
            state = wait_until(f"{ns}/{APP} aborted or its analysis decided", decided, cap, interval=0.2).state
            result.outcome = "aborted" if state["aborted"] else "passed"
        except WaitTimeout:
            result.outcome = f"not aborted within {cap:.0f} s"
        result.time_to_failed_s = round(seen["failed"] - ready_at, 2) if "failed" in seen else None
        result.time_to_abort_s = round(seen["aborted"] - ready_at, 2) if "aborted" in seen else None
        runs = sc.analysis_runs()
        values = [v for v in measurement_values(runs[-1], metric) if v is not None] if runs else []
        result.measured_ratio = round(values[-1], 4) if values else None
        samples = canary_samples_at(sc, APP, ready_wall - 30)
        if len(samples) == 2:
            result.bound_s = round(samples[1] - ready_wall + seconds(template["spec"]["metrics"][0]["interval"]), 2)
            if result.time_to_abort_s is not None and result.bound_s > 0:
                result.abort_over_bound = round(result.time_to_abort_s / result.bound_s, 2)
    except Exception as exc:  # noqa: BLE001 - one broken point is reported, the grid goes on
        result.outcome = f"error: {str(exc).splitlines()[0][:200]}"
    finally:
        kube.delete_namespace(ns)
    log.info("%s %s share 1/%d ratio %.2f rep %d: %s (abort %s s, measured %s)", ns, point.analysis, point.share,
             point.error_ratio, point.rep, result.outcome, result.time_to_abort_s, result.measured_ratio)
    return result


def grid(quick: bool, reps: int | None) -> list[Point]:
    g = QUICK_GRID if quick else FULL_GRID
    return [Point(r, s, a, k) for r, s, a, k in itertools.product(
        g["error_ratios"], g["shares"], TEMPLATES, range(reps or int(g["reps"])))]  # type: ignore[call-overload]


def median_or_none(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return round(statistics.median(got), 2) if got else None


def write_csv(results: list[Result], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(results[0]) if results else Result.__annotations__))
        writer.writeheader()
        for r in results:
            writer.writerow(asdict(r))


def summary_rows(results: list[Result]) -> list[dict[str, Any]]:
    rows = []
    key = lambda r: (int(r.canary_share.split("/")[1]), r.canary_share, r.error_ratio, r.analysis)  # noqa: E731
    for (_, share, ratio, analysis), group in itertools.groupby(sorted(results, key=key), key=key):
        rs = list(group)
        aborted = [r for r in rs if r.outcome == "aborted"]
        rows.append({"share": share, "ratio": ratio, "analysis": analysis, "runs": len(rs),
                     "aborted": len(aborted), "abort_s": median_or_none([r.time_to_abort_s for r in aborted]),
                     "failed_s": median_or_none([r.time_to_failed_s for r in rs]),
                     "measured": median_or_none([r.measured_ratio for r in rs]),
                     "bound_s": median_or_none([r.bound_s for r in rs]),
                     "over_bound": median_or_none([r.abort_over_bound for r in aborted]),
                     "true": rs[0].true_ratio, "cap": rs[0].cap_s,
                     "other": sorted({r.outcome for r in rs if r.outcome not in ("aborted",)})})
    return rows


def write_markdown(results: list[Result], path: Path, wall: float, interrupted: int = 0) -> None:
    lines = [f"# Dilution benchmark ({len(results)} runs, {wall:.0f} s wall time)", "",
             *([f"**Interrupted: {interrupted} point(s) did not finish and are not in the table.**", ""]
               if interrupted else []),
             f"Threshold {THRESHOLD}; times from the canary pod Ready; medians over repetitions. Bound: "
             "Prometheus' second sample of the canary plus one analysis interval of the template (filtered "
             f"{FILTERED}, unfiltered {UNFILTERED}).", "",
             "| canary share | canary error ratio | analysis | aborted | time to abort (s) | time to Failed run (s) "
             "| measured ratio | true ratio | bound (s) | abort / bound | otherwise |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in summary_rows(results):
        lines.append(f"| {row['share']} | {row['ratio']} | {row['analysis']} | {row['aborted']}/{row['runs']} | "
                     f"{row['abort_s'] if row['abort_s'] is not None else '-'} | "
                     f"{row['failed_s'] if row['failed_s'] is not None else '-'} | "
                     f"{row['measured'] if row['measured'] is not None else '-'} | {row['true']} | "
                     f"{row['bound_s'] if row['bound_s'] is not None else '-'} | "
                     f"{row['over_bound'] if row['over_bound'] is not None else '-'} | "
                     f"{', '.join(row['other']) or ''} |")
    path.write_text("\n".join(lines) + "\n")


def write_plot(results: list[Result], path: Path) -> None:
    """Time to abort against canary error ratio: a line per share, filtered solid, unfiltered dashed."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        # A picture is evidence after the verdict: a library warning must not stop it.
        warnings.simplefilter("ignore")
        fig, ax = plt.subplots(figsize=(9, 5.5))
        rows = summary_rows(results)
        cap = max((r["cap"] for r in rows), default=0.0)
        colours = dict(zip(sorted({r["share"] for r in rows}, key=lambda s: int(s.split("/")[1])),
                           ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]))
        for (share, analysis), group in itertools.groupby(
                sorted(rows, key=lambda r: (int(r["share"].split("/")[1]), r["analysis"], r["ratio"])),
                key=lambda r: (r["share"], r["analysis"])):
            pts = list(group)
            xs = [p["ratio"] for p in pts]
            ys = [p["abort_s"] if p["abort_s"] is not None else cap for p in pts]
            style = "-" if analysis == "filtered" else "--"
            ax.plot(xs, ys, style, marker="o", color=colours.get(share), label=f"canary {share}, {analysis}")
            missed = [x for x, p in zip(xs, pts) if p["abort_s"] is None]
            if missed:
                ax.scatter(missed, [cap] * len(missed), marker="x", s=80, color=colours.get(share), zorder=3)
        if rows:
            ax.axvline(THRESHOLD, color="grey", linestyle=":", label=f"threshold {THRESHOLD}")
            ax.axhline(cap, color="black", linestyle=":", linewidth=0.8, label=f"not aborted within {cap:.0f} s (x)")
            ax.set_xscale("log")
            ticks = sorted({r["ratio"] for r in rows} | {THRESHOLD})
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
            ax.legend(fontsize=8, loc="center right")
        else:
            ax.text(0.5, 0.5, "no data: no benchmark point completed", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_xlabel("canary error ratio")
        ax.set_ylabel("time to abort from canary Ready (s)")
        ax.set_title("Faulty canary: time to abort, canary-filtered vs unfiltered analysis")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small grid (CI): ratios 0.2, 0.8; shares 1/2, 1/5")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per point (default 3; quick: 1)")
    parser.add_argument("--concurrency", type=int, default=4, help="points run side by side (default 4)")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "bench")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("conformance.wait").setLevel(logging.WARNING)
    points = grid(args.quick, args.reps)
    t0 = time.monotonic()
    backend = LocalBackend(Timeouts(), implementation="reference")
    pool = ThreadPoolExecutor(max_workers=args.concurrency)
    futures: list[Future[Result]] = []
    interrupted: list[Future[Result]] | None = None  # on Ctrl-C: the points finished by then
    try:
        backend.start()
        backend.controller.start([STATUS_LABELS_FLAG])
        run_id = secrets.token_hex(2)
        print(f"[bench] {len(points)} points, {args.concurrency} at a time", flush=True)
        futures = [pool.submit(run_point, backend, point, run_id, i) for i, point in enumerate(points)]
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        # As the driver does (exit 3, interrupted): the points not started are dropped, the running ones end
        # when the cluster goes, and what finished is still written.
        interrupted = [f for f in futures if f.done()]
        print("[bench] interrupted: writing the points that finished", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        print(f"error: the benchmark could not run: {exc}", file=sys.stderr)
        return 3
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        backend.stop()
    finished = futures if interrupted is None else interrupted
    results = [f.result() for f in finished if not f.cancelled() and f.exception() is None]
    wall = time.monotonic() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(results, args.out / "results.csv")
    write_markdown(results, args.out / "results.md", wall,
                   interrupted=0 if interrupted is None else len(points) - len(results))
    write_plot(results, args.out / "dilution.png")
    print((args.out / "results.md").read_text())
    print(f"[bench] wrote {args.out}/results.csv, results.md, dilution.png in {wall:.0f} s")
    if interrupted is not None:
        return 3
    return 1 if any(r.outcome.startswith("error") for r in results) else 0


if __name__ == "__main__":
    code = main()
    if code == 3:
        # Interrupted or broken: the cluster is already stopped, and points still running would only wait out
        # their timeouts against a stopped API server before the interpreter could join their threads.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
