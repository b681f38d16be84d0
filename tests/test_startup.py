"""What a run pays before its first request: pytest's rewriting of the libraries, and hypothesis's tables."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis.configuration import storage_directory

from conformance.pytest import hypothesis_home
from conformance.simulator import SimulatorServer, make_settings

ROOT = Path(__file__).resolve().parent.parent

USERS_TESTS = '''
import sys

import schemathesis.specs.openapi.schemas  # imported lazily in a run, after the plugin is loaded
import hypothesis.core


def test_libraries_are_not_rewritten():
    for module in (sys.modules["schemathesis"], schemathesis.specs.openapi.schemas, hypothesis.core):
        assert type(module.__loader__).__name__ != "AssertionRewritingHook", module.__name__


def test_a_users_own_assert_is_rewritten():
    assert [1, 2] == [1, 3]
'''


def run_users_tests(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_mine.py").write_text(USERS_TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVERMUSE_", "PYTEST_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args, "test_mine.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_the_plugin_loaded_early_spares_the_libraries_and_keeps_rewriting_a_users_tests(tmp_path: Path) -> None:
    done = run_users_tests(tmp_path, "-p", "evermuse")
    assert "PASSED test_mine.py::test_libraries_are_not_rewritten" in done.stdout, done.stdout[-3000:]
    assert "FAILED test_mine.py::test_a_users_own_assert_is_rewritten" in done.stdout
    assert "At index 1 diff: 2 != 3" in done.stdout, "pytest's own explanation of a rewritten assert"


def test_without_the_plugin_pytest_rewrites_the_libraries(tmp_path: Path) -> None:
    # The probe above can fail: pytest alone rewrites every module of a distribution that registers a plugin.
    done = run_users_tests(tmp_path, "-p", "no:evermuse")
    assert "FAILED test_mine.py::test_libraries_are_not_rewritten" in done.stdout, done.stdout[-3000:]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVERMUSE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_hypothesis_home_keeps_its_tables_and_nothing_else_between_runs(cache: Path) -> None:
    first = hypothesis_home.enter()
    try:
        assert storage_directory("unicode_data").path == Path(first) / "unicode_data"
        tables = {"unicode_data/14.0.0/charmap.json.gz": gzip.compress(b"[]"), "constants/0123456789abcdef": b"x",
                  "examples/0123/4567": b"a failure hypothesis would replay first"}
        for name, content in tables.items():
            (Path(first) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(first) / name).write_bytes(content)
    finally:
        hypothesis_home.leave(first)
    assert not Path(first).exists()
    kept = hypothesis_home.kept_folder()
    assert kept.parent == cache
    assert sorted(str(p.relative_to(kept)) for p in kept.rglob("*") if p.is_file()) == [
        "constants/0123456789abcdef", "unicode_data/14.0.0/charmap.json.gz"]

    second = hypothesis_home.enter()
    try:
        assert second != first
        home = Path(second)
        charmap = "unicode_data/14.0.0/charmap.json.gz"
        assert (home / charmap).read_bytes() == tables[charmap]
        assert (home / "constants/0123456789abcdef").read_bytes() == b"x"
        assert not (home / "examples").exists(), "nothing one run saved steers the next"
    finally:
        hypothesis_home.leave(second)


def test_hypothesis_home_without_a_writable_cache_still_gives_a_fresh_home(cache: Path) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("a file where the cache folder would be")
    home = hypothesis_home.enter()
    try:
        (Path(home) / "unicode_data").mkdir()
        (Path(home) / "unicode_data" / "charmap.json.gz").write_bytes(b"")
    finally:
        hypothesis_home.leave(home)
    assert not Path(home).exists()
    assert cache.read_text() == "a file where the cache folder would be"


# Modules a run against a target of the user's, without --drift-report, has no use for.
NOT_NEEDED = re.compile(r"\|\s+(uvicorn|starlette|markdown|conformance\.simulator|conformance\.report\.drift)(\.\S+)?$",
                        re.MULTILINE)


def imports_of_a_run(tmp_path: Path, *args: str) -> str:
    """What a run of the suite imported, as python -X importtime lists it (its stderr)."""
    settings = make_settings(write_key="em_sk_startup_write")
    with SimulatorServer(settings) as simulator:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")}
        env.update(EVERMUSE_API_KEY="em_sk_startup_write", PYTHONDONTWRITEBYTECODE="1")
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "pytest", str(ROOT / "conformance"),
                               "-c", str(ROOT / "pyproject.toml"), "-q", "--base-url", simulator.base_url, *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:]
    return done.stderr


def test_a_run_against_a_target_imports_neither_the_simulator_nor_the_report(tmp_path: Path) -> None:
    assert NOT_NEEDED.findall(imports_of_a_run(tmp_path)) == []


def test_a_run_that_writes_the_report_imports_it(tmp_path: Path) -> None:
    # The probe above can fail: a run that needs the report's code shows it in the same listing.
    imported = {name for name, _ in NOT_NEEDED.findall(
        imports_of_a_run(tmp_path, "--drift-report", str(tmp_path / "drift"),
                         "--published-spec", "http://127.0.0.1:9/none.yaml"))}
    assert {"conformance.report.drift", "markdown"} <= imported
