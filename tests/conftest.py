"""No test writes into the source tree: every write under the checkout, bar bytecode and the virtual environment,
fails the test that made it.

An audit hook sees every file opened for writing and every directory made, whoever does it (a test, a library,
the code under test); the finding is kept and the test fails at teardown, so an error swallowed on the way
still counts. Subprocesses are not seen here: they run in a temporary working directory (tests/suite_runs.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Written by Python, pip and pytest, not by tests: bytecode caches, pytest's cache of the last failures, and the
# checkout's own virtual environments.
MAY_BE_WRITTEN = ("__pycache__", ".pytest_cache")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_writes: list[str] = []


def _in_source_tree(path: object) -> bool:
    if not isinstance(path, str | bytes | os.PathLike):
        return False
    try:
        absolute = Path(os.fsdecode(path)).absolute()
    except (TypeError, ValueError):
        return False
    if ROOT not in absolute.parents:
        return False
    parts = absolute.relative_to(ROOT).parts
    return not (any(part in MAY_BE_WRITTEN for part in parts) or parts[0].startswith(".venv"))


def _watch(event: str, args: tuple) -> None:
    if event == "open" and len(args) == 3:
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS)
        if writing and _in_source_tree(path):
            _writes.append(f"{os.fsdecode(path)} opened to write")
    elif event in ("os.mkdir", "os.rename", "os.remove") and args:
        path = _beside(args[0], args[-1] if event != "os.rename" else args[2])
        if _in_source_tree(path):
            _writes.append(f"{os.fsdecode(path)}: {event}")


def _beside(path: object, dir_fd: object) -> object:
    """The path an event names: relative to dir_fd when one is given (shutil.rmtree removes so), else as given."""
    if not isinstance(dir_fd, int) or dir_fd < 0 or not isinstance(path, str | bytes) or os.path.isabs(path):
        return path
    try:
        return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), os.fsdecode(path))
    except OSError:
        return path


sys.addaudithook(_watch)


@pytest.fixture(autouse=True)
def _writes_nothing_into_the_source_tree() -> Iterator[None]:
    before = len(_writes)
    yield
    made = _writes[before:]
    assert not made, f"the test wrote into the source tree: {made[:5]}"
