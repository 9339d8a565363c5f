"""The demo app as a real process on a loopback address of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import requests

from apps.demo.app import Metrics
from fixtures.local.process import free_port
from fixtures.wait import wait_until

APP = Path(__file__).resolve().parents[1] / "apps" / "demo" / "app.py"


def start_app(env: dict[str, str], capture: bool = False) -> subprocess.Popen[bytes]:
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, str(APP)], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def faulty_app() -> Iterator[str]:
    port = free_port("127.0.0.1")
    host = "127.33.0.7"
    proc = start_app({"LISTEN_HOST": host, "PORT": str(port), "ERROR_RATE": "0.4", "LOAD_RPS": "0",
                      "APP_VERSION": "v9"})
    url = f"http://{host}:{port}"
    try:
        wait_until("demo app healthz", lambda: (requests.get(f"{url}/healthz", timeout=1).ok, url), 10)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def counts(url: str) -> dict[str, int]:
    text = requests.get(f"{url}/metrics", timeout=2).text
    return {m.group(1): int(m.group(2)) for m in re.finditer(r'http_requests_total\{code="(\d+)"\} (\d+)', text)}


def test_error_ratio_is_exact_over_whole_periods(faulty_app: str) -> None:
    codes = [requests.get(faulty_app + "/", timeout=2).status_code for _ in range(50)]
    assert codes.count(500) == 20
    assert counts(faulty_app) == {"200": 30, "500": 20}
    assert 'demo_app_info{version="v9",error_rate="0.4"} 1' in requests.get(faulty_app + "/metrics", timeout=2).text


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.2, 0.4, 0.8, 1.0])
def test_errors_spread_within_half_a_request(rate: float) -> None:
    # The fast analysis template judges a canary after 20 requests: its ratio must be within the ANA-1
    # tolerance (0.03) by then, and 0.5/N <= 0.025 is what rounding the spread gives.
    m = Metrics(rate)
    errors = 0
    for n in range(1, 501):
        errors += m.next_is_error()
        assert abs(errors - n * rate) <= 0.5 + 1e-9, (rate, n, errors)


def test_self_generated_load_counts_requests() -> None:
    port = free_port("127.0.0.1")
    proc = start_app({"LISTEN_HOST": "127.33.0.8", "PORT": str(port), "LOAD_RPS": "50"})
    url = f"http://127.33.0.8:{port}"
    try:
        res = wait_until("self load served 20 requests", lambda: (sum(counts(url).values()) >= 20, counts(url)), 10)
        assert res.state.get("500", 0) == 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_bad_environment_is_a_one_line_error() -> None:
    proc = start_app({"ERROR_RATE": "lots", "PORT": str(free_port())}, capture=True)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode != 0
    assert out.decode().strip() == "error: ERROR_RATE='lots' is not a number; set it to a value in [0.0, 1.0]"
