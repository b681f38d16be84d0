"""evermuse-conformance: a conformance suite for the Evermuse Ingestion API.

PYTEST_DONT_REWRITE: the evermuse-conformance command imports this package before pytest starts, and pytest
would otherwise warn that it cannot rewrite it (it holds no assert).
"""

__version__ = "0.1.0"
