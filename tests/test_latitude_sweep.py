"""The mirror of the fault sweep: a server that makes any choice the docs leave open passes the suite.

For every alternative of every latitude, `pytest conformance --strict` against the simulator making that
choice fails nothing but the SHOULD rules the latitude says report it: no MUST violation, no schemathesis
failure (--strict adds invalid_data_refused), no other SHOULD; and every rule the latitude names was still
judged and held, so that a choice that leaves a rule nothing to judge cannot pass unseen. A --strict run
judges everything a plain run does and more, at the same verdicts, so one run per alternative answers for
both. Then with every other alternative at the same time, with and without --strict.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.rules.latitudes import load_latitudes
from tests.suite_runs import SuiteRun, run_suite

EXIT_OK, EXIT_FAILED = 0, 1
# The embedded simulator holds each stage of a batch until a read has shown it, so a short lifecycle misses
# nothing; the lifecycle timeout is a bound a busy machine stays well within, not a figure the sweep checks.
FAST = ("--lifecycle-timeout", "15", "--simulator-lifecycle", "0.5")
LATITUDES = load_latitudes()
ALTERNATIVES = [(latitude.name, value) for latitude in LATITUDES.values() for value in latitude.values[1:]]
# Alternatives swept beside another choice that makes them bite: an id of another alphabet is worth most
# against a server that refuses ids not of its own shape.
ALONGSIDE = {"batch-id-form": ("batch-id-format", "other-shapes-400")}
# What choices made together leave a rule nothing to judge, beyond what each does alone.
NEITHER_SOURCE_NOR_TYPE = "source-field=absent and type-field=absent leave a batch neither field it judges"
UNJUDGED_TOGETHER: dict[str, dict[str, str]] = {
    "first": {"EM-SHAPE-004": NEITHER_SOURCE_NOR_TYPE},
    "last": {"EM-SHAPE-004": NEITHER_SOURCE_NOR_TYPE,
             "EM-SENT-004": "status-errors=omitted-unless-failed shows errors only on a FAILED batch: "
                            "no-valid-record=422-with-errors refuses the batch that would end FAILED, and the one that "
                            "fails in processing has more errors than its 202 listed"},
}
# What one choice leaves nothing to judge that another, made at the same time, gives something to.
FAILED_IN_PROCESSING = ("no-valid-record-end=COMPLETE leaves no batch FAILED, but processing-failure ends "
                        "some FAILED")
JUDGED_TOGETHER: dict[str, dict[str, str]] = {
    "first": {"EM-STATUS-002": FAILED_IN_PROCESSING},
    "last": {"EM-STATUS-002": FAILED_IN_PROCESSING},
}


def reported_should_rules(run: SuiteRun) -> set[str]:
    return {dict(case.properties)["rule"] for case in run.cases.values()
            if dict(case.properties).get("outcome") == "violated" and dict(case.properties).get("level") == "SHOULD"}


def assert_clean(run: SuiteRun, allowed_reports: set[str], *, strict: bool = False) -> None:
    """Nothing failed, or under --strict nothing but the SHOULD rules the choices are reported by."""
    if strict:
        assert run.findings <= allowed_reports, run.output[-4000:]
        assert run.returncode == (EXIT_FAILED if run.findings else EXIT_OK), run.output[-4000:]
    else:
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
    choices = [f"{name}={value}"] + (["=".join(ALONGSIDE[name])] if name in ALONGSIDE else [])
    run = run_suite(tmp_path, *(arg for choice in choices for arg in ("--simulator-choice", choice)), "--strict",
                    *FAST)
    latitude = LATITUDES[name]
    allowed = set(latitude.reported_by.get(value, ()))
    assert_clean(run, allowed, strict=True)
    unjudged = set(latitude.unjudged.get(value, ()))
    assert_judged_and_held(run, set(latitude.rules) - unjudged, allowed, unjudged)
    header = next(line for line in run.output.splitlines() if line.strip().startswith("simulator choices"))
    assert all(choice in header for choice in choices)


@pytest.mark.parametrize("strict", [False, True], ids=["plain", "strict"])
@pytest.mark.parametrize("pick", ["first", "last"])
def test_suite_accepts_every_other_choice_at_once(tmp_path: Path, pick: str, strict: bool) -> None:
    chosen = {latitude.name: latitude.values[1] if pick == "first" else latitude.values[-1]
              for latitude in LATITUDES.values()}
    args = [arg for name, value in chosen.items() for arg in ("--simulator-choice", f"{name}={value}")]
    run = run_suite(tmp_path, *args, *(("--strict",) if strict else ()), *FAST)
    allowed = {rule for name, value in chosen.items() for rule in LATITUDES[name].reported_by.get(value, ())}
    assert_clean(run, allowed, strict=strict)
    unjudged = {rule for name, value in chosen.items() for rule in LATITUDES[name].unjudged.get(value, ())}
    unjudged = (unjudged | set(UNJUDGED_TOGETHER[pick])) - set(JUDGED_TOGETHER[pick])
    assert_judged_and_held(run, {rule for name in chosen for rule in LATITUDES[name].rules} - unjudged, allowed,
                           unjudged)
