"""The suite's tests need the suite's plugin and schemathesis's, which pytest loads from their entry points.

Where plugins are not loaded on their own (PYTEST_DISABLE_PLUGIN_AUTOLOAD, -p no:evermuse), the tests would end
in "fixture 'finished_run' not found" errors and exit 1, which reads as a broken API: the run ends as a usage
error (4) instead, naming the switches.
"""

from __future__ import annotations

import pytest

from conformance.pytest.cli import REQUIRED_PLUGINS as NEEDED


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config) -> None:
    missing = [name for name in NEEDED if not config.pluginmanager.has_plugin(name)]
    if missing:
        raise pytest.UsageError(f"the conformance suite needs the pytest plugins {' and '.join(NEEDED)}, and "
                                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not loaded "
                                f"(PYTEST_DISABLE_PLUGIN_AUTOLOAD, or -p no:...): "
                                f"add {' '.join(f'-p {name}' for name in NEEDED)} to the command line")
