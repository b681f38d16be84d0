"""The docs' own text, in ../shared/reference beside the checkout: where the quote checks read it.

A clone without it cannot check quotes, and its tests say so as a skip. Where CI is set the folder is always
laid beside the clone, so its absence there is a broken set-up, and the tests that need it fail instead of
passing unseen as skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference"
PUBLISHED = REFERENCE / "ingest-v1.published.yaml"


def reference_dir() -> Path:
    """The folder of the docs' text; skips the calling test without it, or fails it where CI is set."""
    if REFERENCE.is_dir():
        return REFERENCE
    why = f"{REFERENCE} (the docs' text) is not beside this checkout"
    if os.environ.get("CI"):
        pytest.fail(f"{why}, and CI is set: CI lays ../shared beside the clone, so the quote checks must run there")
    pytest.skip(why)


def published_document() -> Path:
    """The published OpenAPI document, on the same terms as reference_dir."""
    return reference_dir() / PUBLISHED.name
