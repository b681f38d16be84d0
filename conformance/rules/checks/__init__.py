"""The Python checks of the catalogue, one module per area; importing this package registers them all."""

from conformance.rules.checks import access, batch, http, listing, sent, series  # noqa: F401
