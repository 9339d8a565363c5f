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

