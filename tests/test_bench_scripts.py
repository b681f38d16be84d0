"""The benchmarks are not run here (timing lives in bench/), but each must still load against today's code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.suite_runs import ROOT

SCRIPTS = sorted((ROOT / "bench").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_each_bench_script_loads_and_has_a_main(script: Path) -> None:
    spec = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports only: every script runs its work under __main__
    assert callable(getattr(module, "main", None)), f"{script.name} has no main()"
