"""The driver's `--workers auto`: two workers a run on a quiet machine, one beside other work (no cluster)."""

from __future__ import annotations

import pytest

from scripts.run_conformance import AUTO_MAX_WORKERS, resolve_auto_workers


def load(one_minute: float):  # type: ignore[no-untyped-def]
    return lambda: (one_minute, 0.0, 0.0)


@pytest.mark.parametrize(("args", "expected"), [
    (["--workers", "auto", "--profile", "rollback"], ["--workers=2", "--profile", "rollback"]),
    (["--workers=auto"], ["--workers=2"]),
    # The user's later --workers N is left where it is: the last one wins, as pytest reads them.
    (["--workers", "auto", "--workers", "1"], ["--workers=2", "--workers", "1"]),
])
def test_auto_on_a_quiet_machine_is_two_workers(args: list[str], expected: list[str]) -> None:
    out, why = resolve_auto_workers(args, load=load(1.4), cores=lambda: 2)
    assert out == expected and AUTO_MAX_WORKERS == 2
    assert why.startswith("--workers auto: 2 a run (load average 1.4 on 2 cores, below 0.75 a core")


def test_auto_beside_other_work_is_one_worker() -> None:
    out, why = resolve_auto_workers(["--workers", "auto"], load=load(7.0), cores=lambda: 2)
    assert out == ["--workers=1"]
    assert "load average 7.0 on 2 cores, not below 0.75 a core" in why


def test_without_auto_nothing_changes_and_the_load_is_not_read() -> None:
    def unread() -> tuple[float, float, float]:
        raise AssertionError("the load average was read without --workers auto")

    for args in (["--workers", "2"], ["--profile", "auto"], []):
        assert resolve_auto_workers(args, load=unread, cores=lambda: 2) == (args, "")
