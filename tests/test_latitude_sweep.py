"""The mirror of the fault sweep: a server that makes any choice the docs leave open passes the suite.

For every alternative of every latitude, `pytest conformance` against the simulator making that choice
exits 0, with no MUST violation, no schemathesis failure, and no SHOULD violation beyond those the
latitude says report it. Then once more with every other alternative at the same time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.rules.latitudes import load_latitudes
from tests.suite_runs import SuiteRun, run_suite

EXIT_OK = 0
FAST = ("--lifecycle-timeout", "4", "--request-timeout", "2", "--simulator-lifecycle", "2")
LATITUDES = load_latitudes()
ALTERNATIVES = [(latitude.name, value) for latitude in LATITUDES.values() for value in latitude.values[1:]]


def reported_should_rules(run: SuiteRun) -> set[str]:
    return {dict(case.properties)["rule"] for case in run.cases.values()
            if dict(case.properties).get("outcome") == "violated" and dict(case.properties).get("level") == "SHOULD"}


def assert_clean(run: SuiteRun, allowed_reports: set[str]) -> None:
    assert run.returncode == EXIT_OK, run.output[-4000:]
    assert run.failing == [], run.output[-4000:]
    assert reported_should_rules(run) <= allowed_reports, run.output[-4000:]


@pytest.mark.parametrize(("name", "value"), ALTERNATIVES, ids=[f"{name}={value}" for name, value in ALTERNATIVES])
def test_suite_accepts_each_choice_the_docs_leave_open(tmp_path: Path, name: str, value: str) -> None:
    run = run_suite(tmp_path, "--simulator-choice", f"{name}={value}", *FAST)
    assert_clean(run, set(LATITUDES[name].reported_by.get(value, ())))
    header = next(line for line in run.output.splitlines() if line.strip().startswith("simulator choices"))
    assert f"{name}={value}" in header


@pytest.mark.parametrize("pick", ["first", "last"])
def test_suite_accepts_every_other_choice_at_once(tmp_path: Path, pick: str) -> None:
    chosen = {latitude.name: latitude.values[1] if pick == "first" else latitude.values[-1]
              for latitude in LATITUDES.values()}
    args = [arg for name, value in chosen.items() for arg in ("--simulator-choice", f"{name}={value}")]
    run = run_suite(tmp_path, *args, *FAST)
    allowed = {rule for name, value in chosen.items() for rule in LATITUDES[name].reported_by.get(value, ())}
    assert_clean(run, allowed)
