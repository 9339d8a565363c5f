"""Fixtures of the project's own tests (the suite's plugins come from the root conftest)."""

from __future__ import annotations

import resource
from collections import defaultdict
from typing import Any, Iterator

import pytest

from fixtures.backends.local import LocalBackend
from fixtures.timeouts import Timeouts


# The test files that take minutes, longest first, in rough minutes on 2 cores under CI's load (from
# `--durations` of CI runs). `./run-tests` hands whole files to three xdist workers in collection order
# (`--dist loadfile --no-loadscope-reorder`), so starting the long ones first keeps one worker from
# picking up a 20-minute file when the others are nearly done (longest-first scheduling). A file not
# listed runs after these, in its usual order; a wrong guess here costs time, never a result.
LONG_FILES_MINUTES = {
    "test_existing_install.py": 20, "test_conformance_pair.py": 10, "test_upstream_e2e.py": 8,
    "test_mutants.py": 7, "test_existing_preinstalled.py": 6, "test_teardown.py": 5, "test_faults.py": 3,
    "test_failure_never_crashes.py": 3, "test_reference_patch.py": 3, "test_bench.py": 3,
    "test_existing_interrupt.py": 3,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def weight(item: pytest.Item) -> int:
        return -LONG_FILES_MINUTES.get(item.path.name, 0)

    items.sort(key=weight)  # stable: the tests of a file keep their order


def cpu_seconds() -> float:
    """CPU used so far by this process and by every child it has reaped (a driver run's whole tree: each
    parent there reaps its own children, so their time is folded into the child we reap)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


CPU_PROPERTY = "cpu_seconds"
_cpu_at_setup: dict[str, float] = {}


def pytest_runtest_setup(item: pytest.Item) -> None:
    _cpu_at_setup[item.nodeid] = cpu_seconds()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # The CPU a test cost, setup to teardown, rides on its teardown report (user_properties cross xdist's
    # wire), so the controller can say where CI's CPU goes: the bound on 2 cores is CPU / 2, not wall / 3.
    # A module fixture's processes are reaped at the module's last teardown, so a file's sum is exact and
    # a test's share of it approximate.
    if call.when == "teardown" and item.nodeid in _cpu_at_setup:
        item.user_properties.append((CPU_PROPERTY, round(cpu_seconds() - _cpu_at_setup.pop(item.nodeid), 1)))
    return (yield)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    by_file: dict[str, float] = defaultdict(float)
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if getattr(rep, "when", None) != "teardown":
                continue
            for name, value in getattr(rep, "user_properties", ()):
                if name == CPU_PROPERTY:
                    by_file[rep.nodeid.split("::")[0]] += value
    if not by_file:
        return
    total = sum(by_file.values())
    terminalreporter.write_sep("=", f"CPU by test file: {total / 60:.1f} CPU-minutes in all (user + system, "
                                    "the tests' own processes and everything they started)")
    for path, seconds in sorted(by_file.items(), key=lambda kv: -kv[1])[:15]:
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")


@pytest.fixture(scope="session")
def local_backend() -> Iterator[LocalBackend]:
    """A local backend with the reference controller started without extra flags."""
    be = LocalBackend(Timeouts(), implementation="reference")
    try:
        be.start()
        be.controller.start([])
        yield be
    finally:
        be.stop()

