"""A pytest plugin for the project's tests: a backend named `broken` that cannot start (`-p tests.broken_backend`).

Registered in the one backend table, so the run goes through the real option
check, factory and `backend` fixture, which must end the session with exit 3.
"""

from __future__ import annotations

from pathlib import Path

from fixtures.backends import Backend, BackendError
from fixtures.backends.registry import BACKENDS, BackendEntry
from fixtures.config import SuiteConfig

REASON = "the apiserver at https://127.0.0.1:1 did not answer"


class BrokenBackend(Backend):
    name = "broken"

    def start(self) -> None:
        raise BackendError(REASON)

    def stop(self) -> None:
        pass

    @property
    def kubeconfig(self) -> Path:
        raise BackendError("not started")


def from_config(cfg: SuiteConfig) -> Backend:
    return BrokenBackend()


BACKENDS["broken"] = BackendEntry("broken", "a backend that cannot start (tests only)",
                                  "tests.broken_backend:from_config")
