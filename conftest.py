"""Wiring only, for running from a checkout: the plugins live in fixtures/ (see fixtures/plugin.py).

When the package is installed too, its `pytest11` entry point has already
registered these modules by the same names, and pytest skips them here.
"""

from fixtures.plugin import PLUGINS

pytest_plugins = PLUGINS
