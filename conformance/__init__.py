"""evermuse-conformance: a conformance suite for the Evermuse Ingestion API."""

__version__ = "0.1.0"
