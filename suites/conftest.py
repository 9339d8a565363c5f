"""What the suite tells the fixture layer (fixtures/suite.py) about itself: where its AnalysisTemplates are."""

from __future__ import annotations

from pathlib import Path

import pytest

from suites import TEMPLATES_DIR


@pytest.fixture(scope="session")
def templates_dir() -> Path:
    return TEMPLATES_DIR
