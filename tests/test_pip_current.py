"""scripts/setup skips `pip install -e .[dev]` only when it has nothing to do (scripts/pip_current.py)."""

from __future__ import annotations

import importlib.metadata as metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import pip_current

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "pip_current.py"


def run(action: str, checkout: Path, stamps: Path) -> int:
    return subprocess.run([sys.executable, "-I", str(SCRIPT), action, str(checkout), str(stamps)],
                          capture_output=True, text=True, timeout=60).returncode


def test_this_checkout_is_current_once_recorded(tmp_path: Path) -> None:
    # The project's tests run after scripts/setup installed this checkout editable.
    assert run("check", REPO, tmp_path) == 1, "current without a stamp"
    assert run("record", REPO, tmp_path) == 0
    assert run("check", REPO, tmp_path) == 0


def test_another_checkout_or_a_changed_pyproject_is_not_current(tmp_path: Path) -> None:
    other = tmp_path / "clone"
    other.mkdir()
    shutil.copy(REPO / "pyproject.toml", other / "pyproject.toml")
    stamps = tmp_path / "stamps"
    assert run("record", other, stamps) == 0
    assert run("check", other, stamps) == 1, "the editable install is this checkout's, not the clone's"
    before = pip_current.install_key(other)
    (other / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text() + "\n# a new dependency\n")
    assert pip_current.install_key(other) != before


def test_a_missing_or_too_old_requirement_is_not_met(monkeypatch: pytest.MonkeyPatch) -> None:
    dist = metadata.distribution(pip_current.DIST)
    assert pip_current.requirements_met(dist)
    real = metadata.version

    def without_pytest_kind(name: str) -> str:
        if name == "pytest-kind":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "version", without_pytest_kind)
    assert not pip_current.requirements_met(dist)
    monkeypatch.setattr(metadata, "version", lambda name: "0.0.1" if name == "pytest" else real(name))
    assert not pip_current.requirements_met(dist)


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert subprocess.run([sys.executable, "-I", str(SCRIPT), "nonsense"], capture_output=True).returncode == 2
