"""The guard of tests/conftest.py sees a write into the source tree, and nothing else."""

from __future__ import annotations

import os

from tests import conftest


def seen(event: str, *args: object) -> list[str]:
    before = len(conftest._writes)
    conftest._watch(event, args)
    made = conftest._writes[before:]
    del conftest._writes[before:]  # a probe of the guard, not a write this test made
    return made


def test_a_file_opened_to_write_in_the_tree_is_seen() -> None:
    probe = conftest.ROOT / "conformance" / "settings" / "_probe_for_test.py"
    assert seen("open", str(probe), "w", os.O_WRONLY | os.O_CREAT) == [f"{probe} opened to write"]
    assert seen("open", str(probe), None, os.O_RDWR) != []
    assert seen("os.mkdir", str(conftest.ROOT / ".hypothesis"), 0o777, -1) != []


def test_reads_bytecode_and_places_outside_the_tree_are_not_seen(tmp_path: object) -> None:
    assert seen("open", str(conftest.ROOT / "README.md"), "r", os.O_RDONLY) == []
    assert seen("open", str(conftest.ROOT / "conformance" / "__pycache__" / "x.pyc"), "wb", os.O_WRONLY) == []
    assert seen("open", str(conftest.ROOT / ".venv" / "lib" / "x"), "w", os.O_WRONLY) == []
    assert seen("open", "/tmp/elsewhere.txt", "w", os.O_WRONLY) == []
