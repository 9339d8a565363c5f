"""Our own latencies on the local backend, pod by pod (issue 10).

    python -m scripts.latencies [--pods 8] [--discovery-reload-interval 5s]

Starts a local cluster with Prometheus (no controller), then creates demo-app
pods one after another in one namespace, a random 0.3-2 s apart (so pod
discovery keeps changing, as during a test), and records for each pod, from
the moment it was created:

- `started`: the node agent ran its container (the pod watch sees it Running);
- `ready`: the readiness probe passed and the agent wrote Ready;
- `first request`: the demo app had served its own first request (its
  counter read straight from the pod, polled every 50 ms);
- `first sample`, `second sample`: Prometheus' first and second sample of the
  pod's `http_requests_total` (scrape timestamps), the discovery latency.

Prints one line per pod and the medians; `--discovery-reload-interval` sets
Prometheus' scrape-manager reload interval (its default 5 s, ours 200 ms) to
compare the two.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import threading
import time
from typing import Any

import requests
from kubernetes import watch

from fixtures import prom
from fixtures.backends.local import LocalBackend
from fixtures.kube import Kube
from fixtures.scenario.manifests import APP_PORT, HEALTHY_V1, pod_template
from fixtures.timeouts import Timeouts
from fixtures.wait import wait_until

COLUMNS = ("started", "ready", "first request", "first sample", "second sample")


def watch_pods(kube: Kube, ns: str, seen: dict[str, dict[str, float]], stop: threading.Event) -> None:
    w = watch.Watch()
    try:
        events = list_events(w, kube, ns)
        for ev in events:
            pod, now = ev["object"], time.time()
            marks = seen.setdefault(pod.metadata.name, {})
            if pod.status.phase == "Running":
                marks.setdefault("started", now)
            if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
                marks.setdefault("ready", now)
            if pod.status.pod_ip:
                marks["_ip"] = pod.status.pod_ip
            if stop.is_set():
                w.stop()
                return
    except Exception:  # noqa: BLE001 - the cluster stopping under the watch ends it
        return


def list_events(w: watch.Watch, kube: Kube, ns: str) -> Any:
    return w.stream(kube.core.list_namespaced_pod, ns, timeout_seconds=600)


def first_request(seen: dict[str, dict[str, float]], name: str, deadline: float) -> None:
    while time.time() < deadline:
        ip = seen.get(name, {}).get("_ip")
        if ip:
            try:
                text = requests.get(f"http://{ip}:{APP_PORT}/metrics", timeout=0.5).text
                if any(line.startswith("http_requests_total") and not line.endswith(" 0")
                       for line in text.splitlines()):
                    seen[name]["first request"] = time.time()
                    return
            except requests.RequestException:
                pass
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.latencies", description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=8)
    parser.add_argument("--discovery-reload-interval", default=prom.DISCOVERY_RELOAD_INTERVAL)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    prom.DISCOVERY_RELOAD_INTERVAL = args.discovery_reload_interval
    backend = LocalBackend(Timeouts(), implementation="reference")
    rows: list[dict[str, float]] = []
    try:
        backend.start()
        kube = Kube(backend.kubeconfig)
        ns = "latencies"
        kube.create_namespace(ns, {})
        seen: dict[str, dict[str, float]] = {}
        stop = threading.Event()
        threading.Thread(target=watch_pods, args=(kube, ns, seen, stop), daemon=True).start()
        created: dict[str, float] = {}
        pollers = []
        for i in range(args.pods):
            name = f"demo-{i}"
            tpl = pod_template("latencies", HEALTHY_V1, {})
            created[name] = time.time()
            kube.core.create_namespaced_pod(ns, {"apiVersion": "v1", "kind": "Pod",
                                                 "metadata": {"name": name, **tpl["metadata"]}, "spec": tpl["spec"]})
            t = threading.Thread(target=first_request, args=(seen, name, time.time() + 30), daemon=True)
            t.start()
            pollers.append(t)
            time.sleep(random.uniform(0.3, 2.0))
        for name in created:
            def two_samples(pod: str = name) -> tuple[bool, Any]:
                r = backend.prometheus.query(f'http_requests_total{{namespace="{ns}",pod="{pod}"}}[60s]')
                ts = sorted({float(t) for s in r for t, _ in s["values"]})
                return len(ts) >= 2, ts

            ts = wait_until(f"two samples of {name}", two_samples, 60).state
            seen[name]["first sample"], seen[name]["second sample"] = ts[0], ts[1]
        for t in pollers:
            t.join()
        stop.set()
        print(f"[latencies] discovery reload interval {args.discovery_reload_interval}; seconds from pod creation")
        print("pod      " + "".join(f"{c:>15}" for c in COLUMNS))
        for name, t0 in created.items():
            row = {c: seen[name][c] - t0 for c in COLUMNS if c in seen[name]}
            rows.append(row)
            print(f"{name:8} " + "".join(f"{row.get(c, float('nan')):15.2f}" for c in COLUMNS))
        med = {c: statistics.median([r[c] for r in rows if c in r]) for c in COLUMNS}
        print("median   " + "".join(f"{med[c]:15.2f}" for c in COLUMNS))
        print(f"median ready -> first sample {statistics.median(r['first sample'] - r['ready'] for r in rows):.2f} s, "
              f"started -> first sample {statistics.median(r['first sample'] - r['started'] for r in rows):.2f} s, "
              f"started -> ready {statistics.median(r['ready'] - r['started'] for r in rows):.2f} s")
    finally:
        backend.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
