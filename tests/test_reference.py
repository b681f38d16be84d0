"""The quote checks run wherever the docs' text can be: a missing folder is a skip on a clone, a failure in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import reference


def test_the_docs_folder_missing_in_ci_fails_the_quote_checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(reference, "REFERENCE", tmp_path / "absent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"CI lays \.\./shared beside the clone"):
        reference.reference_dir()


def test_the_docs_folder_missing_on_a_clone_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.setattr(reference, "REFERENCE", tmp_path / "absent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="the docs' text\\) is not beside this checkout"):
        reference.reference_dir()


def test_the_docs_folder_present_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(reference, "REFERENCE", tmp_path)
    monkeypatch.setenv("CI", "true")
    assert reference.reference_dir() == tmp_path
    assert reference.published_document() == tmp_path / "ingest-v1.published.yaml"
