"""The conformance suite: its tests, their shared checks, and the AnalysisTemplates they create."""

from pathlib import Path

# The suite's AnalysisTemplates (Scenario.given_template reads them from here: see suites/conftest.py).
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
