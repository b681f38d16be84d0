"""The mirror of the fault sweep: a server that makes any choice the docs leave open passes the suite.

For every alternative of every latitude, `pytest conformance` against the simulator making that choice
exits 0, with no MUST violation, no schemathesis failure, and no SHOULD violation beyond those the
latitude says report it; and every rule the latitude names was still judged and held, so that a choice
that leaves a rule nothing to judge cannot pass unseen. Then once more with every other alternative at
the same time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.rules.latitudes import load_latitudes
from tests.suite_runs import SuiteRun, run_suite

EXIT_OK = 0
# The embedded simulator holds each stage of a batch until a read has shown it, so a short lifecycle misses
# nothing; the lifecycle timeout is a bound a busy machine stays well within, not a figure the sweep checks.
FAST = ("--lifecycle-timeout", "15", "--simulator-lifecycle", "1")
LATITUDES = load_latitudes()
ALTERNATIVES = [(latitude.name, value) for latitude in LATITUDES.values() for value in latitude.values[1:]]
# What choices made together leave a rule nothing to judge, beyond what each does alone.
NEITHER_SOURCE_NOR_TYPE = "source-field=absent and type-field=absent leave a batch neither field it judges"
UNJUDGED_TOGETHER: dict[str, dict[str, str]] = {
    "first": {"EM-SHAPE-004": NEITHER_SOURCE_NOR_TYPE},
    "last": {"EM-SHAPE-004": NEITHER_SOURCE_NOR_TYPE,
             **dict.fromkeys(("EM-SENT-004", "EM-SENT-011"),
                             "status-errors=omitted-unless-failed shows errors only for a FAILED batch, and "
                             "no-valid-record=400-with-errors refuses the one batch that would end FAILED")},
}


def reported_should_rules(run: SuiteRun) -> set[str]:
    return {dict(case.properties)["rule"] for case in run.cases.values()
            if dict(case.properties).get("outcome") == "violated" and dict(case.properties).get("level") == "SHOULD"}


def assert_clean(run: SuiteRun, allowed_reports: set[str]) -> None:
    assert run.returncode == EXIT_OK, run.output[-4000:]
    assert run.findings == set(), run.output[-4000:]
    assert reported_should_rules(run) <= allowed_reports, run.output[-4000:]


def assert_judged_and_held(run: SuiteRun, rules: set[str], allowed_reports: set[str], unjudged: set[str]) -> None:
    """Each rule judged at least one exchange and held (violated only where the latitude says a SHOULD reports it);
    the rules the choices leave nothing to judge were indeed not exercised, so that list cannot go stale."""
    wrong = {}
    for rule in sorted(rules | unjudged):
        properties = dict(run.cases[f"test_rule_holds[{rule}]"].properties)
        if rule in unjudged:
            expected = {"not exercised"}
        else:
            expected = {"held", "violated"} if rule in allowed_reports else {"held"}
        if properties["outcome"] not in expected or (rule not in unjudged and int(properties["judged"]) == 0):
            wrong[rule] = f"{properties['outcome']} after judging {properties['judged']}, not {' or '.join(expected)}"
    assert wrong == {}, run.output[-3000:]


@pytest.mark.parametrize(("name", "value"), ALTERNATIVES, ids=[f"{name}={value}" for name, value in ALTERNATIVES])
def test_suite_accepts_each_choice_the_docs_leave_open(tmp_path: Path, name: str, value: str) -> None:
    run = run_suite(tmp_path, "--simulator-choice", f"{name}={value}", *FAST)
    latitude = LATITUDES[name]
    allowed = set(latitude.reported_by.get(value, ()))
    assert_clean(run, allowed)
    unjudged = set(latitude.unjudged.get(value, ()))
    assert_judged_and_held(run, set(latitude.rules) - unjudged, allowed, unjudged)
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
    unjudged = {rule for name, value in chosen.items() for rule in LATITUDES[name].unjudged.get(value, ())}
    unjudged |= set(UNJUDGED_TOGETHER[pick])
    assert_judged_and_held(run, {rule for name in chosen for rule in LATITUDES[name].rules} - unjudged, allowed,
                           unjudged)
