"""The controller wrapper tells a refused flag from a crash, fast (unit level: a stand-in binary)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fixtures.controller import ControllerFailed, ControllerRefused, Implementation, refusal_reason
from fixtures.local.controller import LocalRolloutsController
from fixtures.timeouts import Timeouts


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "rollouts-controller"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_refusal_reason_from_cobra_output() -> None:
    log = 'Error: unknown flag: --enable-canary-status-labels\nUsage:\n  rollouts-controller [flags]'
    assert refusal_reason(log) == "Error: unknown flag: --enable-canary-status-labels"
    assert refusal_reason("panic: something else") is None


def test_refused_flag_is_reported_within_seconds(tmp_path: Path) -> None:
    binary = script(tmp_path, 'echo "Error: unknown flag: $7" >&2; exit 1')
    ctl = LocalRolloutsController(Implementation("fake", binary=binary), tmp_path / "kc", tmp_path, Timeouts())
    t0 = time.monotonic()
    with pytest.raises(ControllerRefused, match="unknown flag: --enable-canary-status-labels"):
        ctl.start(["--enable-canary-status-labels"])
    assert time.monotonic() - t0 < 5


def test_crash_is_a_failure_not_a_refusal(tmp_path: Path) -> None:
    binary = script(tmp_path, 'echo "panic: boom" >&2; exit 2')
    ctl = LocalRolloutsController(Implementation("fake", binary=binary), tmp_path / "kc", tmp_path, Timeouts())
    with pytest.raises(ControllerFailed, match="panic: boom"):
        ctl.start([])


def test_refusal_is_remembered_without_a_restart(tmp_path: Path) -> None:
    binary = script(tmp_path, 'echo "Error: unknown flag: $7" >&2; exit 1')
    ctl = LocalRolloutsController(Implementation("fake", binary=binary), tmp_path / "kc", tmp_path, Timeouts())
    for _ in range(2):
        with pytest.raises(ControllerRefused):
            ctl.ensure(["--enable-canary-status-labels"])
    assert ctl.starts == 1
