from __future__ import annotations

import itertools
import time

import pytest

from fixtures.report.model import IMPLEMENTATION, INFRASTRUCTURE, failure_category
from fixtures.timeouts import Timeouts
from fixtures.wait import WaitAborted, WaitTimeout, wait_until


def test_wait_returns_state_and_time() -> None:
    counter = itertools.count()
    res = wait_until("counter reaches 3", lambda: ((n := next(counter)) >= 3, n), timeout=5, interval=0.01)
    assert res.state == 3
    assert res.elapsed < 5


def test_timeout_names_object_and_last_state() -> None:
    with pytest.raises(WaitTimeout) as err:
        wait_until("Rollout ns/app Healthy", lambda: (False, {"phase": "Paused"}), timeout=0.2, interval=0.05)
    assert "Rollout ns/app Healthy" in str(err.value)
    assert "'phase': 'Paused'" in str(err.value)


def test_probe_errors_count_as_not_yet_and_are_reported() -> None:
    def probe() -> tuple[bool, str]:
        raise ConnectionError("apiserver hiccup")

    with pytest.raises(WaitTimeout, match="ConnectionError: apiserver hiccup"):
        wait_until("x", probe, timeout=0.2, interval=0.05)


def test_a_wait_that_gave_up_on_the_backend_is_infrastructure() -> None:
    """The last probe could not reach the backend: the timeout carries that error, so the report files the
    failure under infrastructure (exit 3), not as the implementation's (exit 1)."""
    def unreachable() -> tuple[bool, str]:
        raise ConnectionError("connection refused")

    with pytest.raises(WaitTimeout) as err:
        wait_until("Rollout ns/app Healthy", unreachable, timeout=0.2, interval=0.05)
    assert failure_category(err.value) == INFRASTRUCTURE
    # The backend answered at the end, with a state that is not the wanted one: the implementation's failure.
    answers = iter([ConnectionError("hiccup")] + [None] * 100)

    def recovered() -> tuple[bool, str]:
        exc = next(answers)
        if exc:
            raise exc
        return False, "Paused"

    with pytest.raises(WaitTimeout) as err:
        wait_until("Rollout ns/app Healthy", recovered, timeout=0.2, interval=0.05)
    assert failure_category(err.value) == IMPLEMENTATION


def test_abort_stops_at_once() -> None:
    with pytest.raises(WaitAborted, match="controller exited"):
        wait_until("x", lambda: (False, None), timeout=30, abort=lambda: "controller exited")


def test_hold_requires_consecutive_good_observations() -> None:
    seq = iter([True, False, True, True, True, True, True, True, True, True] + [True] * 100)
    res = wait_until("stable", lambda: (next(seq), None), timeout=5, interval=0.02, hold=0.1)
    assert res.elapsed >= 0.1
    assert res.met_after <= res.elapsed


def test_hold_is_watched_on_top_of_the_budget() -> None:
    """Met just inside the timeout and held: passes (the hold does not shorten a budget such as LBL-8's)."""
    t0 = time.monotonic()
    res = wait_until("late but stable", lambda: (time.monotonic() - t0 >= 0.25, None), timeout=0.3, interval=0.02,
                     hold=0.2)
    assert 0.2 <= res.met_after <= 0.3 and res.elapsed >= res.met_after + 0.2


def test_state_breaking_during_the_hold_after_the_deadline_times_out() -> None:
    t0 = time.monotonic()
    with pytest.raises(WaitTimeout, match="flapping"):
        wait_until("flapping", lambda: (0.25 <= time.monotonic() - t0 < 0.35, None), timeout=0.3, interval=0.02,
                   hold=0.2)


def test_timeouts_overrides_and_errors() -> None:
    t = Timeouts().with_overrides({"label_budget": "15"})
    assert t.label_budget == 15.0
    with pytest.raises(ValueError, match="unknown timeout"):
        Timeouts().with_overrides({"nope": 1})
    with pytest.raises(ValueError, match="positive"):
        Timeouts().with_overrides({"label_budget": 0})
    assert all(Timeouts.doc(n) for n in Timeouts.names())
