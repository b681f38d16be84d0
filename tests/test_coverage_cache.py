"""The coverage cases are drawn once and read back: the same cases, from a file safe to delete or spoil."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from schemathesis.core import NOT_SET

from conformance.pytest.coverage_cache import read
from tests.suite_runs import ROOT


def collect(cache: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")} | {"EVERMUSE_CACHE_DIR": str(cache)}
    workdir.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "conformance"), "--collect-only", "-q",
                           "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml")],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


def items(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if "::" in line]


def kept(cache: Path) -> dict[str, list[tuple]]:
    """Each file's cases, as what they send: method, path parameters, query, headers and body."""
    found = {}
    for path in sorted(cache.glob("coverage-*.pickle")):
        cases, _ = read(path)
        assert all(c["body"] is NOT_SET for c in cases if c["method"] == "GET"), "a read sends no body"
        found[path.name] = [(c["method"], repr(c["path_parameters"]), repr(c["query"]), repr(dict(c["headers"])),
                             repr(c["body"])) for c in cases]
    return found


def test_coverage_cases_are_drawn_once_read_back_and_drawn_again_when_spoilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = collect(cache, tmp_path / "w")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    drawn = kept(cache)
    assert len(drawn) == 3 and all(drawn.values()), "one file for each of the three operations"
    written = {path: path.stat().st_mtime_ns for path in cache.iterdir()}
    second = collect(cache, tmp_path / "w")
    assert second.returncode == 0 and items(second) == items(first)
    assert {path: path.stat().st_mtime_ns for path in cache.iterdir()} == written, "a kept file was drawn again"
    for path in cache.glob("coverage-*.pickle"):
        path.write_bytes(b"not a pickle")
    again = collect(cache, tmp_path / "w")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert kept(cache) == drawn
