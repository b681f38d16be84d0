"""The seeded scenarios mean what the suite thinks they mean, judged by the contract's own record schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from conformance.activities.scenarios import BREAKAGES, Identity, broken, build_scenarios, valid_record
from conformance.rules.contract import load_contract

IDENTITY = Identity(run_id="scenario-test", event_at="2026-11-28T09:00:00Z")
SCENARIOS = build_scenarios(IDENTITY, "https://www.example.com/")
ENVELOPE = jsonschema.Draft202012Validator(load_contract().schema("IngestRecord"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_records_are_valid_exactly_where_the_scenario_says(scenario) -> None:
    invalid = {i for i, record in enumerate(scenario.records) if list(ENVELOPE.iter_errors(record))}
    assert invalid == set(scenario.invalid_positions)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_scenario_ends_with_a_valid_record_and_shares_one_type(scenario) -> None:
    if scenario.name != "all-invalid":
        assert len(scenario.records) - 1 not in scenario.invalid_positions
    assert len({r["_type"] for r in scenario.records}) == 1
    assert all(r["_tags"][0] == "evermuse-conformance" for r in scenario.records)


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_each_breakage_breaks_exactly_one_constraint(breakage: str) -> None:
    assert len(list(ENVELOPE.iter_errors(broken(valid_record(0, IDENTITY), breakage)))) == 1


def test_scenarios_cover_more_than_twenty_rejected_records_and_attachments() -> None:
    by_name = {s.name: s for s in SCENARIOS}
    assert len(by_name["many-errors"].invalid_positions) > 20
    attachments = by_name["attachments"]
    assert any(r.get("_attachments") for i, r in enumerate(attachments.records)
               if i not in attachments.invalid_positions)
    assert not by_name["all-valid"].invalid_positions
    assert len(by_name["all-invalid"].invalid_positions) == len(by_name["all-invalid"].records)


@pytest.mark.parametrize(("form", "media_type"), [("array", "application/json"), ("records", "application/json"),
                                                  ("ndjson", "application/x-ndjson")])
def test_each_body_form_carries_the_same_records(form: str, media_type: str) -> None:
    scenario = next(s for s in SCENARIOS if s.body_form == form)
    body, sent_as = scenario.body()
    assert sent_as == media_type
    if form == "ndjson":
        records = [json.loads(line) for line in body.decode().splitlines()]
    else:
        value = json.loads(body)
        records = value if form == "array" else value["records"]
    assert records == list(scenario.records)
