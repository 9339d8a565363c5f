"""Canary analysis scenarios shared by the analysis and rollback profiles."""

from __future__ import annotations

import re
import time
from typing import Any

from fixtures.labels import STATUS_SERIES_LABEL
from fixtures.scenario import Scenario

# The shipped filtered template waits for the canary's data; its conservative variant waits a fixed 10 s
# (initialDelay), like the unfiltered twin, which cannot tell the canary's data from the stable pods' and so
# cannot wait for it.
FILTERED = "error-ratio-canary.yaml"
FILTERED_CONSERVATIVE = "error-ratio-canary-conservative.yaml"
UNFILTERED = "error-ratio-all.yaml"
THRESHOLD = 0.1
# A faulty canary whose errors a 1-in-5 canary share dilutes below THRESHOLD:
# 0.4 alone, 0.2 x 0.4 = 0.08 mixed with healthy stable pods.
FAULTY_ERROR_RATE = 0.4


def seconds(duration: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(duration))
    if not m:
        raise ValueError(f"cannot read duration {duration!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def abort_budget(template: dict[str, Any], scrape_interval: float, slack: float) -> float:
    """SPEC RBK-1: initialDelay + (failureLimit + 1) x interval + 2 x scrape interval + slack, of the template's
    judging metric (its first; the fast template's second metric only guards against no data, SPEC ANA-4)."""
    metric = template["spec"]["metrics"][0]
    return (seconds(metric.get("initialDelay", "0s")) + (int(metric.get("failureLimit", 0)) + 1)
            * seconds(metric["interval"]) + 2 * scrape_interval + slack)


def analysis_steps(sc: Scenario, app: str, templates: list[str], threshold: float, weight: int) -> list[dict[str, Any]]:
    return [
        {"setWeight": weight},
        {"analysis": {"templates": [{"templateName": t} for t in templates], "args": sc.analysis_args(app, threshold)}},
        {"pause": {}},
    ]


def error_ratio_query(sc: Scenario, app: str, role: str | None, window: str = "5s") -> str:
    sel = f'namespace="{sc.ns}",app="{app}"' + (f',{STATUS_SERIES_LABEL}="{role}"' if role else "")
    return (f'sum(rate(http_requests_total{{{sel},code=~"5.."}}[{window}])) / '
            f'sum(rate(http_requests_total{{{sel}}}[{window}]))')


def cumulative_error_ratio_query(sc: Scenario, app: str, role: str) -> str:
    """The ratio the shipped filtered template judges (error-ratio-canary.yaml): the pods' counters summed,
    their errors over their whole life. It exists from a series' first sample; a rate() needs two, over its
    window, and a faulty canary is aborted within seconds of Ready. No 5xx series yet reads as 0, not as no
    data."""
    sel = f'namespace="{sc.ns}",app="{app}",{STATUS_SERIES_LABEL}="{role}"'
    return (f'(sum(http_requests_total{{{sel},code=~"5.."}}) or on() vector(0)) / '
            f'sum(http_requests_total{{{sel}}})')


def measured_values(run: dict[str, Any], metric: str, phases: tuple[str, ...]) -> list[float | None]:
    """The values of `metric`'s measurements whose phase is one of `phases`, in order; None for an empty
    result."""
    values: list[float | None] = []
    for result in run.get("status", {}).get("metricResults", []) or []:
        if result.get("name") != metric:
            continue
        for m in result.get("measurements", []) or []:
            if m.get("phase") in phases:
                raw = str(m.get("value", "")).strip("[] ")
                values.append(float(raw.split(",")[0]) if raw else None)
    return values


def metric_phase(run: dict[str, Any], metric: str) -> str | None:
    """The phase of `metric` in the AnalysisRun (None before its first measurement)."""
    return next((r.get("phase") for r in run.get("status", {}).get("metricResults", []) or []
                 if r.get("name") == metric), None)


def judged_values(run: dict[str, Any], metric: str) -> list[float | None]:
    """The values of `metric`'s measurements that were judged (Successful or Failed), in order: the fast
    template leaves "no canary data yet" Inconclusive, and those say nothing about the canary's ratio."""
    return measured_values(run, metric, ("Successful", "Failed"))


def canary_samples_at(sc: Scenario, app: str, since: float) -> list[float]:
    """Wall times at which Prometheus holds its first and second sample of a canary series of `app` (the
    earliest canary pod series; scrape timestamps), from the raw samples since `since`; fewer if it has fewer.
    Issue 10's physical bound on a time to abort is the second of them plus one analysis interval: rate()
    needs two samples, and the analysis looks once per interval."""
    window = max(1, int(time.time() - since) + 2)
    q = f'http_requests_total{{namespace="{sc.ns}",app="{app}",{STATUS_SERIES_LABEL}="canary"}}[{window}s]'
    result = sc.samples(q)
    firsts = sorted((sorted(float(t) for t, _ in r["values"])[:2] for r in result if r.get("values")),
                    key=lambda ts: ts[-1] if len(ts) == 2 else float("inf"))
    sc.evidence.query(q, f"{len(result)} series; first samples {firsts[:1]}")
    return firsts[0] if firsts else []


def record_physical_bound(sc: Scenario, app: str, ready_wall: float, interval: float,
                          took: float | None) -> float | None:
    """Measure issue 10's physical bound (the canary's second sample in Prometheus, plus one analysis interval,
    from canary Ready) beside the time to abort, and their ratio; returns the bound."""
    samples = canary_samples_at(sc, app, ready_wall - 30)
    if samples:
        sc.evidence.measure("first canary sample after Ready", round(samples[0] - ready_wall, 2), "s")
    if len(samples) < 2:
        sc.evidence.measure("physical bound (2nd canary sample + 1 interval)", None, "s",
                            note=f"Prometheus holds {len(samples)} canary sample(s)")
        return None
    bound = samples[1] - ready_wall + interval
    sc.evidence.measure("physical bound (2nd canary sample + 1 interval)", round(bound, 2), "s",
                        note=f"2nd sample {samples[1] - ready_wall:.2f}s after Ready, interval {interval:g}s")
    if took is not None and bound > 0:
        sc.evidence.measure("time to abort / physical bound", round(took / bound, 2), "ratio")
    return bound


def failed_measurement_values(run: dict[str, Any], metric: str) -> list[float | None]:
    """The values of `metric`'s measurements that came out Failed, in order; None for an empty result
    (no series: a template may fail it, as SPEC ANA-4 allows)."""
    return measured_values(run, metric, ("Failed",))


# The plot's series: the canary's as the filtered analysis judged it (cumulative, from its first sample), beside
# the stable pods' and all pods' 5 s rates (the unfiltered, diluted ratio an analysis without labels sees).
CANARY_TIMELINE = "canary error ratio (filtered, cumulative: what the analysis judges)"
STABLE_TIMELINE = "stable error ratio (filtered, 5s rate)"
UNFILTERED_TIMELINE = "all pods error ratio (unfiltered, 5s rate)"
# Seconds between the plot's points: a quarter of the 1 s scrape interval, so that a canary aborted one scrape
# after its first sample (the usual case: Ready, first sample 2-3 s later, abort at the next measurement) still
# draws a line of several points, not one.
TIMELINE_STEP = 0.25


def record_timeline(sc: Scenario, app: str, since: float) -> None:
    """Canary, stable and all pods' error ratios from `since` until now, for the report's plot."""
    end = time.time()
    for label, q in ((CANARY_TIMELINE, cumulative_error_ratio_query(sc, app, "canary")),
                     (STABLE_TIMELINE, error_ratio_query(sc, app, "stable")),
                     (UNFILTERED_TIMELINE, error_ratio_query(sc, app, None))):
        series = sc.promql_range(q, since, end, TIMELINE_STEP)
        sc.evidence.query(q, f"{sum(len(s['values']) for s in series)} points")
        sc.evidence.timelines[label] = [
            (float(t), float(v)) for s in series for t, v in s["values"] if v not in ("NaN", "+Inf", "-Inf")]
    sc.evidence.levels["analysis threshold"] = THRESHOLD
