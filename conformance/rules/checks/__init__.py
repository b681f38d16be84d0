"""The Python checks of the catalogue, one module per area; importing this package registers them all."""

from conformance.rules.checks import (  # noqa: F401
    access,
    batch,
    bounds,
    effects,
    http,
    listing,
    sent,
    series,
    valid_requests,
)
