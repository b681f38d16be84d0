"""The one verdict stage: evidence, the catalogue and known deviations in, one verdict per rule out."""

from __future__ import annotations

import datetime as dt

import pytest

from conformance.model.exchange import Context, Exchange, Keys, Observation, Request, Response
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checker import Checked, check_observation
from conformance.rules.expectations import NONE, Deviation, Expectations
from conformance.rules.fingerprints import violation_fingerprint
from conformance.rules.verdicts import Outcome, judge

TODAY = dt.date(2026, 11, 29)
KEYS = Keys(write="em_sk_verdict_write")
STATUS = "http://127.0.0.1:8080/api/v1/ingest/batches/b_V"
BATCH = b'{"batchId":"b_V","status":"LANDED","createdAt":1764340000000,"acceptedCount":1,"rejectedCount":0,' \
        b'"totalErrorCount":0}'


def read(body: bytes = BATCH, *, status: int = 200, valid_for: str | None = None) -> Checked:
    exchange = Exchange(Request("GET", STATUS, {"x-api-key": KEYS.write}),
                        Response(status, {"content-type": "application/json"}, body),
                        Context(keys=KEYS, valid_for=valid_for))
    return check_observation(Observation("read", exchange))


NEGATIVE = read(BATCH.replace(b'"acceptedCount":1', b'"acceptedCount":-1'))


def deviation(**kwargs: object) -> Deviation:
    values = {"reason": "known", "link": "https://tracker.example/1", "owner": "ingest team",
              "expires": TODAY + dt.timedelta(days=30), **kwargs}
    return Deviation(**values)  # type: ignore[arg-type]


def expect(*deviations: Deviation) -> Expectations:
    return Expectations(target="test", path=None, deviations=deviations)


def test_a_rule_held_only_where_it_judged_something() -> None:
    verdicts = judge([read()], load_catalogue(), NONE, TODAY)
    assert (verdicts["EM-COUNT-001"].outcome, verdicts["EM-COUNT-001"].judged) == (Outcome.HELD, 1)
    assert verdicts["EM-STATUS-002"].outcome == Outcome.NOT_EXERCISED
    assert verdicts["EM-STATUS-002"].judged == 0


def test_a_run_with_no_evidence_holds_nothing() -> None:
    verdicts = judge([], load_catalogue(), NONE, TODAY)
    assert {v.outcome for v in verdicts.values()} == {Outcome.NOT_EXERCISED}


def test_not_exercised_says_why_from_the_activity_or_the_early_stop() -> None:
    verdicts = judge([read()], load_catalogue(), NONE, TODAY,
                     skipped={"EM-AUTH-003": "EVERMUSE_READ_API_KEY is not set"},
                     stopped="the request budget of 60 is spent")
    assert verdicts["EM-AUTH-003"].reason == "EVERMUSE_READ_API_KEY is not set"
    assert verdicts["EM-RATE-001"].reason.endswith("the run stopped early: the request budget of 60 is spent")


def test_a_violation_fails_a_must_always_and_a_should_only_when_strict() -> None:
    must = judge([NEGATIVE], load_catalogue(), NONE, TODAY)["EM-COUNT-001"]
    assert must.outcome == Outcome.VIOLATED and must.fails(strict=False)
    failed_without_errors = read(BATCH.replace(b'"status":"LANDED"', b'"status":"FAILED"'))
    should = judge([failed_without_errors], load_catalogue(), NONE, TODAY)["EM-STATUS-002"]
    assert should.outcome == Outcome.VIOLATED
    assert not should.fails(strict=False) and should.fails(strict=True)


@pytest.mark.parametrize(("listed", "outcome"), [
    ({"rule": "EM-COUNT-001"}, Outcome.ACCEPTED),
    ({"rule": "EM-COUNT-001", "expires": TODAY - dt.timedelta(days=1)}, Outcome.EXPIRED),
    ({"rule": "EM-COUNT-002"}, Outcome.VIOLATED),
], ids=["accepted", "expired", "another-rule"])
def test_known_deviations_accept_a_violation_until_they_expire(listed: dict, outcome: Outcome) -> None:
    verdict = judge([NEGATIVE], load_catalogue(), expect(deviation(**listed)), TODAY)["EM-COUNT-001"]
    assert verdict.outcome == outcome
    assert verdict.fails(strict=False) == (outcome != Outcome.ACCEPTED)


def test_a_deviation_by_fingerprint_accepts_only_that_finding() -> None:
    other_place = read(BATCH.replace(b'"rejectedCount":0', b'"rejectedCount":-2'))
    fingerprint = violation_fingerprint(NEGATIVE.violations[0])
    accepted = judge([NEGATIVE], load_catalogue(), expect(deviation(fingerprint=fingerprint)), TODAY)
    assert accepted["EM-COUNT-001"].outcome == Outcome.ACCEPTED
    both = judge([NEGATIVE, other_place], load_catalogue(), expect(deviation(fingerprint=fingerprint)), TODAY)
    assert both["EM-COUNT-001"].outcome == Outcome.VIOLATED


def test_a_rule_over_the_whole_run_is_judged_only_on_the_whole_run() -> None:
    refused = read(b'{"error":"bad","message":"no"}', status=400, valid_for="GET /api/v1/ingest/batches/{batchId}")
    assert judge([refused], load_catalogue(), NONE, TODAY)["EM-HTTP-008"].outcome == Outcome.VIOLATED
    part = judge([refused], load_catalogue(), NONE, TODAY, whole_run=False)["EM-HTTP-008"]
    assert part.outcome == Outcome.NOT_EXERCISED
    accepted_once = judge([refused, read(valid_for="GET /api/v1/ingest/batches/{batchId}")], load_catalogue(), NONE,
                          TODAY)["EM-HTTP-008"]
    assert (accepted_once.outcome, accepted_once.judged) == (Outcome.HELD, 2)
