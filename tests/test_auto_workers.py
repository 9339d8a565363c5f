"""The driver's `--workers auto`: two workers a run on a quiet machine, one beside other work (no cluster)."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from scripts.run_conformance import AUTO_MAX_WORKERS, cpu_busy_share, resolve_auto_workers


def busy(share: float):  # type: ignore[no-untyped-def]
    return lambda: share


@pytest.mark.parametrize(("args", "expected"), [
    (["--workers", "auto", "--profile", "rollback"], ["--workers=2", "--profile", "rollback"]),
    (["--workers=auto"], ["--workers=2"]),
    # The user's later --workers N is left where it is: the last one wins, as pytest reads them.
    (["--workers", "auto", "--workers", "1"], ["--workers=2", "--workers", "1"]),
])
def test_auto_on_a_quiet_machine_is_two_workers(args: list[str], expected: list[str]) -> None:
    out, why = resolve_auto_workers(args, busy=busy(0.12), cores=lambda: 2)
    assert out == expected and AUTO_MAX_WORKERS == 2
    assert why.startswith("--workers auto: 2 a run (CPUs 12% busy over 1 s on 2 cores, below 50%")


def test_auto_beside_other_work_is_one_worker() -> None:
    out, why = resolve_auto_workers(["--workers", "auto"], busy=busy(0.97), cores=lambda: 2)
    assert out == ["--workers=1"]
    assert "CPUs 97% busy over 1 s on 2 cores, not below 50%" in why


def test_without_auto_nothing_changes_and_the_load_is_not_read() -> None:
    def unread() -> float:
        raise AssertionError("the CPUs were sampled without --workers auto")

    for args in (["--workers", "2"], ["--profile", "auto"], []):
        assert resolve_auto_workers(args, busy=unread, cores=lambda: 2) == (args, "")


def test_the_sample_sees_a_spinning_process() -> None:
    """The real /proc/stat sample: a process spinning on one of this machine's cores shows in it (that an idle
    machine reads low cannot be asserted on a shared one: the first sample is only checked for its range)."""
    cores = os.cpu_count() or 1
    idle_share = cpu_busy_share(0.5)
    stop = multiprocessing.Event()
    spinner = multiprocessing.Process(target=spin, args=(stop,))
    spinner.start()
    try:
        spun_share = cpu_busy_share(0.5)
    finally:
        stop.set()
        spinner.join(10)
    assert 0.0 <= idle_share <= 1.0 and 0.0 <= spun_share <= 1.0
    # One spinning core is 1/cores of the machine (other work may add to either sample, never take away).
    assert spun_share >= 0.9 / cores, (idle_share, spun_share)


def spin(stop) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        pass
