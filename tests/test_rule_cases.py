"""Every rule proves it can fail: the fixture cases against the checker, and the catalogue against both."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import jsonschema
import pytest

from conformance.model.exchange import Observation
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checker import check_observation
from conformance.rules.contract import load_contract
from conformance.rules.expectations import NONE
from conformance.rules.registry import registered_checks, registered_run_checks
from conformance.rules.verdicts import Outcome, Verdict, judge
from tests.cases import CASES_DIR, Case, case_files, iter_cases, to_exchange

CASES = list(iter_cases())
BY_ID = {case.id: case for case in CASES}
ROOT = Path(__file__).resolve().parent.parent


@cache
def _verdicts_of(case_id: str) -> dict[str, Verdict]:
    case = BY_ID[case_id]
    observation = Observation(f"case {case.id}", to_exchange(case.document))
    return judge([check_observation(observation)], load_catalogue(), NONE, dt.date(2026, 11, 29))


def _verdicts(case: Case) -> dict[str, Verdict]:
    """The verdicts of a run that saw only this exchange, through the one verdict stage."""
    return _verdicts_of(case.id)


def _flagged(case: Case) -> set[str]:
    return {rule_id for rule_id, verdict in _verdicts(case).items() if verdict.outcome == Outcome.VIOLATED}


@pytest.mark.parametrize("case", [c for c in CASES if c.valid], ids=lambda c: c.id)
def test_conforming_case_draws_no_violation(case: Case) -> None:
    assert _flagged(case) == set()


@pytest.mark.parametrize("case", [c for c in CASES if not c.valid], ids=lambda c: f"{'+'.join(c.violates)} {c.id}")
def test_violating_case_draws_exactly_its_rules(case: Case) -> None:
    assert _flagged(case) == set(case.violates)


def test_every_rule_holds_on_evidence_in_some_conforming_case() -> None:
    """A check that never says it judged an exchange could only ever leave its rule not exercised."""
    judged = {rule_id for case in CASES if case.valid
              for rule_id, verdict in _verdicts(case).items() if verdict.outcome == Outcome.HELD}
    assert sorted(set(load_catalogue().ids) - judged) == []


def test_a_rule_nothing_judged_is_not_exercised_never_held() -> None:
    case = next(c for c in CASES if c.valid and c.document["request"]["method"] == "DELETE")
    verdict = _verdicts(case)["EM-STATUS-002"]
    assert (verdict.outcome, verdict.judged) == (Outcome.NOT_EXERCISED, 0)
    assert "every status read of a FAILED batch" in verdict.reason


def test_case_files_follow_their_schema() -> None:
    schema = json.loads((CASES_DIR / "case-file.schema.json").read_text())
    for path in case_files():
        jsonschema.validate(json.loads(path.read_text()), schema)


def test_case_descriptions_are_unique_and_plain() -> None:
    per_group: dict[str, list[str]] = defaultdict(list)
    for case in CASES:
        per_group[f"{case.file}: {case.group}"].append(case.description)
        assert "should" not in case.description.lower(), case.id
    for group, descriptions in per_group.items():
        assert len(descriptions) == len(set(descriptions)), f"repeated description in {group}"


def test_every_rule_has_a_conforming_and_a_violating_case() -> None:
    conforming = {rule for case in CASES if case.valid for rule in case.rules}
    violating = {rule for case in CASES for rule in case.violates}
    ids = set(load_catalogue().ids)
    assert sorted(ids - conforming) == [], "rules without a conforming case"
    assert sorted(ids - violating) == [], "rules without a violating case"


def test_every_rule_has_a_check() -> None:
    contract = load_contract()
    schema_rules = set(re.findall(r"EM-[A-Z]+-\d{3}", json.dumps(contract.document)))
    python_rules = {registered.rule_id for registered in registered_checks()} | set(registered_run_checks())
    assert sorted(set(load_catalogue().ids) - schema_rules - python_rules) == []


RULE_REFERENCE = re.compile(r"EM-[A-Z]+-\d{3}")
SCANNED = ("conformance", "fixtures", "openapi", "tests", "bench", "README.md", ".github")


def test_nothing_names_a_rule_the_catalogue_lacks() -> None:
    known = set(load_catalogue().ids)
    unknown: dict[str, set[str]] = defaultdict(set)
    for top in SCANNED:
        base = ROOT / top
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        for path in files:
            if path.suffix not in (".py", ".json", ".yaml", ".yml", ".md", ".txt") or "__pycache__" in path.parts:
                continue
            for rule_id in RULE_REFERENCE.findall(path.read_text(encoding="utf-8", errors="replace")):
                if rule_id not in known:
                    unknown[str(path.relative_to(ROOT))].add(rule_id)
    assert dict(unknown) == {}


def test_every_response_constraint_answers_to_a_rule() -> None:
    contract = load_contract()

    def walk(node: object, enclosing: object, where: str) -> list[str]:
        orphans: list[str] = []
        if isinstance(node, dict):
            enclosing = node.get("x-rule", enclosing)
            constraints = {"type", "required", "additionalProperties", "minimum", "maximum", "minLength",
                           "maxLength", "maxItems", "minItems", "enum", "pattern"} & set(node)
            if constraints and enclosing is None:
                orphans.append(f"{where}: {sorted(constraints)}")
            for key, value in node.items():
                if key in ("properties",):
                    for name, sub in value.items():
                        orphans += walk(sub, enclosing, f"{where}/properties/{name}")
                elif isinstance(value, dict | list) and key != "x-rule":
                    orphans += walk(value, enclosing, f"{where}/{key}")
        elif isinstance(node, list):
            for position, item in enumerate(node):
                orphans += walk(item, enclosing, f"{where}/{position}")
        return orphans

    orphans = [o for label, schema in contract.iter_response_schemas() for o in walk(schema, None, label)]
    assert orphans == []


def test_every_rule_points_into_the_contract() -> None:
    contract = load_contract()
    for rule in load_catalogue():
        contract.pointer(rule.spec)
