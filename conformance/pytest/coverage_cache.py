"""The coverage cases schemathesis draws for each operation, kept between runs.

schemathesis draws the coverage phase's cases while pytest collects, and for this contract that is most of what
a run costs before its first request: seconds of hypothesis drawing, the same every time. Its drawing is
deterministic (schemathesis seeds it with 0), so the cases are a function of the contract, of schemathesis and
hypothesis, and of the coverage settings: kept in a file named by a digest of all of them, they are drawn once
and read back by every later run. The folder is a cache, safe to delete: a missing or unreadable file is drawn
again.

Where: $EVERMUSE_CACHE_DIR, else $XDG_CACHE_HOME/evermuse-conformance, else ~/.cache/evermuse-conformance.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
from schemathesis.core import NOT_SET
from schemathesis.generation.case import Case
from schemathesis.generation.hypothesis import builder

# Raised when what is kept changes shape, so files of an earlier suite are not read.
FORMAT = 1


def cache_dir() -> Path:
    if os.environ.get("EVERMUSE_CACHE_DIR"):
        return Path(os.environ["EVERMUSE_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "evermuse-conformance"


def _key(generator: Any, salt: bytes) -> str:
    operation = generator.operation
    coverage = operation.schema.config.phases.coverage
    parts = [FORMAT, schemathesis.__version__, hypothesis.__version__, hashlib.sha256(salt).hexdigest(),
             operation.label, json.dumps(operation.schema.raw_schema, sort_keys=True, default=repr),
             sorted(str(mode) for mode in generator._generation_modes), sorted(coverage.unexpected_methods or ())]
    return hashlib.sha256(json.dumps(parts, default=repr).encode()).hexdigest()


def _kept(case: Case) -> dict[str, Any]:
    """A case without its operation, which is the schema's own and is given back on reading."""
    return {slot: getattr(case, slot) for slot in Case.__slots__ if slot != "operation"}


def _rebuilt(kept: dict[str, Any], operation: Any) -> Case:
    """The case as it was drawn, on this run's operation; set as Case.__init__ sets it, past its change tracking."""
    case = Case.__new__(Case)
    for slot, value in {**kept, "operation": operation}.items():
        object.__setattr__(case, slot, value)
    return case


class _Pickler(pickle.Pickler):
    # schemathesis tells a case without a body by identity (body is NOT_SET): the marker is kept by name.
    def persistent_id(self, obj: Any) -> str | None:
        return "NOT_SET" if obj is NOT_SET else None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        if pid == "NOT_SET":
            return NOT_SET
        raise pickle.UnpicklingError(f"unknown marker {pid!r}")


def _write(path: Path, payload: Any) -> None:
    """Atomically: another run (an xdist worker) may read the file meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(handle, "wb") as out:
        _Pickler(out).dump(payload)
    os.replace(temporary, path)


def read(path: Path) -> tuple[list[dict[str, Any]], set[str]]:
    """A kept file: each case as its fields, and the media types schemathesis could not serialise."""
    with path.open("rb") as kept:
        return _Unpickler(kept).load()


def cached(order: Callable[[Iterable[Case]], list[Case]], schema: Any, salt: bytes) -> Callable[[Any], list[Case]]:
    """schemathesis's ordering of an operation's coverage cases, kept on disk for the operations of schema.

    salt: what else decides the cases (the source that sets the schema's auth and hooks up).
    """

    def coverage_cases(generator: Any) -> list[Case]:
        operation = generator.operation
        # parametrize works on a copy of the schema, which shares its document.
        if operation.schema.raw_schema is not schema.raw_schema:
            return order(generator)
        path = cache_dir() / f"coverage-{_key(generator, salt)}.pickle"
        try:
            cases, unserializable = read(path)
            generator.controller.unserializable_media_types.update(unserializable)
            return [_rebuilt(case, operation) for case in cases]
        except Exception:  # absent, partly written by an older suite, or unreadable: drawn again
            pass
        cases = order(generator)
        # A cache that cannot be written costs time, never the run.
        with contextlib.suppress(OSError, pickle.PicklingError, TypeError, AttributeError):
            _write(path, ([_kept(case) for case in cases], set(generator.controller.unserializable_media_types)))
        return cases

    return coverage_cases


def install(schema: Any, salt: bytes) -> None:
    """Keep the coverage cases of this schema's operations between runs."""
    builder.content_type_probes_first = cached(builder.content_type_probes_first, schema, salt)
