"""Demo app for the conformance suite: HTTP with an injectable fault, and its own load.

Configuration comes from the environment, so a Rollout's pod template decides
how a version behaves:

  LISTEN_HOST   address to bind (the pod IP on the local backend); default 0.0.0.0
  PORT          HTTP port; default 8080
  ERROR_RATE    share of `/` requests answered 500, 0..1; default 0
  LATENCY_MS    added latency of `/`, milliseconds; default 0
  LOAD_RPS      requests per second the app sends to its own `/`; default 10, 0 = none
  APP_VERSION   reported in `demo_app_info`; default "dev"
  CRASH_AFTER_S exit with code 3 this many seconds after start (a crash fault); default never

Errors are spread deterministically and as evenly as counts allow (request n
fails when floor((n+1)*rate + 1/2) exceeds floor(n*rate + 1/2)): after N
requests a pod has answered round(N*rate) errors, so its error ratio is
exactly ERROR_RATE over any whole number of 1/rate requests and within 0.5/N
of it after any N; with the self-generated load each pod's traffic is known
without a Service or an external load generator.

`/metrics` serves the Prometheus text format: `http_requests_total{code}`, a
latency histogram and `demo_app_info`. `/healthz` answers 200 (a faulty
version is still Ready: the fault is in its answers, which is what analysis must see).
Standard library only, so the container image and the local backend need nothing else.
"""

from __future__ import annotations

import http.client
import math
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def env_float(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"error: {name}={raw!r} is not a number; set it to a value in [{low}, {high}]")
    if not low <= value <= high:
        raise SystemExit(f"error: {name}={value} is outside [{low}, {high}]")
    return value


class Metrics:
    def __init__(self, error_rate: float) -> None:
        self.lock = threading.Lock()
        self.error_rate = error_rate
        self.served = 0
        self.by_code: dict[str, int] = {"200": 0, "500": 0}
        self.bucket_counts = [0] * len(BUCKETS)
        self.latency_sum = 0.0
        self.latency_count = 0

    def next_is_error(self) -> bool:
        with self.lock:
            n = self.served
            self.served += 1
        return math.floor((n + 1) * self.error_rate + 0.5) > math.floor(n * self.error_rate + 0.5)

    def observe(self, code: int, seconds: float) -> None:
        with self.lock:
            self.by_code[str(code)] = self.by_code.get(str(code), 0) + 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.bucket_counts[i] += 1
            self.latency_sum += seconds
            self.latency_count += 1

    def render(self, version: str) -> str:
        with self.lock:
            lines = [
                "# HELP http_requests_total Requests served by the demo app, by status code.",
                "# TYPE http_requests_total counter",
            ]
            lines += [f'http_requests_total{{code="{c}"}} {n}' for c, n in sorted(self.by_code.items())]
            lines += [
                "# HELP http_request_duration_seconds Latency of / requests.",
                "# TYPE http_request_duration_seconds histogram",
            ]
            lines += [f'http_request_duration_seconds_bucket{{le="{b}"}} {n}' for b, n in zip(BUCKETS, self.bucket_counts)]
            lines += [
                f'http_request_duration_seconds_bucket{{le="+Inf"}} {self.latency_count}',
                f"http_request_duration_seconds_sum {self.latency_sum}",
                f"http_request_duration_seconds_count {self.latency_count}",
                "# HELP demo_app_info The demo app's version and configured fault.",
                "# TYPE demo_app_info gauge",
                f'demo_app_info{{version="{version}",error_rate="{self.error_rate}"}} 1',
            ]
        return "\n".join(lines) + "\n"


def make_handler(metrics: Metrics, latency: float, version: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/metrics":
                self.reply(200, metrics.render(version), "text/plain; version=0.0.4")
            elif self.path == "/healthz":
                self.reply(200, "ok\n")
            elif self.path == "/" or self.path.startswith("/?"):
                start = time.monotonic()
                if latency > 0:
                    time.sleep(latency)  # the injected latency fault itself
                code = 500 if metrics.next_is_error() else 200
                self.reply(code, "injected error\n" if code == 500 else f"hello from {version}\n")
                metrics.observe(code, time.monotonic() - start)
            else:
                self.reply(404, "not found\n")

        def reply(self, code: int, body: str, ctype: str = "text/plain") -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet access log
            pass

    return Handler


def generate_load(host: str, port: int, rps: float, stop: threading.Event) -> None:
    """Send `rps` requests a second to `/`, paced on a monotonic schedule.

    One kept-alive HTTP/1.1 connection, opened again after any error: a connection (and a server thread)
    per request cost nearly twice the CPU (1.42 % of a core a pod against 0.75 %), and every pod of every run
    sends this load."""
    period = 1.0 / rps
    next_at = time.monotonic()
    conn: http.client.HTTPConnection | None = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/")
            conn.getresponse().read()  # a 500 is an answer too, counted by the server
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
        next_at += period
        delay = next_at - time.monotonic()
        if delay < -1.0:  # fell far behind: don't burst to catch up
            next_at = time.monotonic()
        elif delay > 0:
            stop.wait(delay)


def main() -> int:
    host = os.environ.get("LISTEN_HOST") or "0.0.0.0"
    port = int(env_float("PORT", 8080, 1, 65535))
    error_rate = env_float("ERROR_RATE", 0.0, 0.0, 1.0)
    latency = env_float("LATENCY_MS", 0.0, 0.0, 60_000.0) / 1000.0
    rps = env_float("LOAD_RPS", 10.0, 0.0, 1000.0)
    version = os.environ.get("APP_VERSION", "dev")
    crash_after = env_float("CRASH_AFTER_S", 0.0, 0.0, 86_400.0)
    metrics = Metrics(error_rate)
    server = ThreadingHTTPServer((host, port), make_handler(metrics, latency, version))
    server.daemon_threads = True
    stop = threading.Event()

    def on_term(*_: object) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if rps > 0:
        target = "127.0.0.1" if host == "0.0.0.0" else host
        threading.Thread(target=generate_load, args=(target, port, rps, stop), daemon=True).start()
    if crash_after > 0:
        timer = threading.Timer(crash_after, lambda: os._exit(3))  # the crash fault: no clean shutdown
        timer.daemon = True
        timer.start()
    print(f"demo app {version} on {host}:{port}, error_rate={error_rate}, latency={latency}s, load={rps}/s", flush=True)
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
