"""Whose --base-url a session has, and whether the suite was given one on it.

pytest-base-url, which pytest-playwright and pytest-selenium pull in, adds --base-url too. Where it is loaded its
option is shared: the suite reads it when it is given on the command line. It also fills the option from its
own PYTEST_BASE_URL and `base_url` ini key, which name a web application under test, not an API: the suite
reads neither, so a CI image set up for browser tests does not send the suite's POSTs to its web application.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

import pytest

DEST = "base_url"  # the same as pytest-base-url's, so that either plugin's option reads alike
OPTION = "--base-url"
OTHER_PLUGIN_MODULE = "pytest_base_url.plugin"


def owned_by_another(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether a plugin other than the suite's has added --base-url (pytest-base-url, or one that embeds it)."""
    return any(getattr(plugin, "__name__", None) == OTHER_PLUGIN_MODULE for plugin in pluginmanager.get_plugins())


def on_command_line(config: pytest.Config, option: str = OPTION) -> bool:
    """Whether the option was written in the session's arguments: the command line, PYTEST_ADDOPTS or addopts."""
    words = [*config.invocation_params.args, *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
             *config.getini("addopts")]
    return any(word == option or str(word).startswith(f"{option}=") for word in words)


def given(config: pytest.Config) -> Any:
    """The --base-url the suite was given, or None: with pytest-base-url loaded, only a --base-url of the
    command line counts."""
    value = config.getoption(DEST, None)
    if value is None or not owned_by_another(config.pluginmanager):
        return value
    return value if on_command_line(config) else None


def left_unread(config: pytest.Config) -> str | None:
    """Which of pytest-base-url's own settings are set and were not read, for the header; None when none."""
    if not owned_by_another(config.pluginmanager) or on_command_line(config):
        return None
    named = [name for name, value in (("PYTEST_BASE_URL", os.environ.get("PYTEST_BASE_URL")),
                                      ("the base_url ini key", config.getini("base_url"))) if value]
    if not named:
        return None
    return (f"{' and '.join(named)} not read: pytest-base-url's, for a web application; name the API with "
            f"--base-url, EVERMUSE_BASE_URL or evermuse_base_url")
