"""Where the suite's data files live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[-1]


# A checkout keeps openapi/ and fixtures/ beside the package; the wheel carries copies inside it.
CONTRACT_DIR = _first_existing(_PACKAGE / "_data" / "openapi", _PACKAGE.parent / "openapi")
FIXTURES_DIR = _first_existing(_PACKAGE / "_data" / "fixtures", _PACKAGE.parent / "fixtures")
CONTRACT_FILE = CONTRACT_DIR / "evermuse-ingest-v1.yaml"
CATALOGUE_FILE = CONTRACT_DIR / "rules.yaml"
LATITUDES_FILE = CONTRACT_DIR / "latitudes.yaml"
DOCS_MAP_FILE = CONTRACT_DIR / "docs-map.yaml"
# The reference docs beside a checkout (../shared/reference/); a wheel does not carry them.
REFERENCE_DIR = _PACKAGE.parent.parent / "shared" / "reference"
