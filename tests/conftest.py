"""Fixtures of the project's own tests (the suite's plugins come from the root conftest)."""

from __future__ import annotations

from typing import Iterator

import pytest

from fixtures.backends.local import LocalBackend
from fixtures.timeouts import Timeouts


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


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for `pytest -n N --dist loadgroup` (./run-tests): what shares a cluster stays on one worker.

    Tests of the session's `local_backend` share one cluster; a module-scoped run (the pair) is one group;
    every other test that starts clusters of its own is a group of its own, so the long ones spread over
    the workers; unit tests go wherever a worker is free.
    """
    for item in items:
        module = item.path.stem
        if "local_backend" in getattr(item, "fixturenames", ()):
            group = "local-cluster"
        elif module == "test_conformance_pair":
            group = "pair"
        elif item.get_closest_marker("local_backend") or item.get_closest_marker("gotest"):
            group = item.nodeid
        else:
            continue
        item.add_marker(pytest.mark.xdist_group(group))
