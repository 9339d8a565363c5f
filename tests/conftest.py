"""Fixtures of the project's own tests (the suite's plugins come from the root conftest)."""

from __future__ import annotations

from typing import Iterator

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

