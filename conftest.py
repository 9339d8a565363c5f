"""Wiring only: the plugins live in fixtures/ (listed before the plugins that import them)."""

pytest_plugins = [
    "fixtures.options",
    "fixtures.outcome",
    "fixtures.report",
    "fixtures.cluster",
    "fixtures.suite",
]
