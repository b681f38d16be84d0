"""The checks of issue 18's rules read a hostile answer as evidence, never trip over it.

Each page below breaks the shape rules; what matters here is that judging it raises nothing, so the run goes on
to report those breaks (an exception in a check is the suite's own bug, exit 3).
"""

from __future__ import annotations

import json

import pytest

from conformance.model.exchange import Context, Exchange, Keys, Observation, Replay, Request, Response, SeriesEnd
from conformance.rules.checker import check_observation

BASE = "http://127.0.0.1:8080/api/v1/ingest/batches"
KEYS = Keys(write="em_sk_odd_write")
ODD_VALUES = [["b_1"], {"id": "b_1"}, None, 7, 1.5, True, "b_1"]


def _page(items: list, *, query: str = "limit=2") -> Exchange:
    body = json.dumps({"batches": items, "nextCursor": None}).encode()
    context = Context(keys=KEYS, ended=SeriesEnd.LAST_PAGE, given_batch_ids=frozenset({"b_0"}),
                      replays=(Replay({"batchId": "b_0", "acceptedCount": 3, "rejectedCount": 0, "totalErrorCount": 0},
                                      (0.0, 10_000.0), "message"),),
                      shown_before={"b_1": "COMPLETE"})
    return Exchange(Request("GET", f"{BASE}?{query}", {"x-api-key": KEYS.write}),
                    Response(200, {"content-type": "application/json"}, body), context)


@pytest.mark.parametrize("odd", ODD_VALUES, ids=repr)
def test_a_list_item_with_an_odd_id_or_status_is_judged_without_an_error(odd) -> None:
    items = [{"batchId": "b_0", "status": "COMPLETE", "createdAt": 1_764_000_000_000, "acceptedCount": 3,
              "rejectedCount": 0, "totalErrorCount": 0},
             {"batchId": odd, "status": odd, "createdAt": odd, "acceptedCount": 3, "rejectedCount": 0,
              "totalErrorCount": 0, "type": odd}]
    checked = check_observation(Observation("odd page", _page(items)))
    # The original is listed, so the replay's window is judged, past the odd item; the item's shape is a finding.
    assert {"EM-INGEST-010", "EM-LIST-001"} <= checked.judged
    assert "EM-INGEST-010" not in {v.rule.id for v in checked.violations}


@pytest.mark.parametrize("limit", ["²", "١٠", "-", "1e2", "0x10", "%205"])
def test_a_limit_that_is_no_plain_number_is_not_judged_as_one(limit: str) -> None:
    checked = check_observation(Observation("odd limit", _page([], query=f"limit={limit}")))
    assert {"EM-LIST-002", "EM-LIST-006", "EM-LIST-007"}.isdisjoint(checked.judged)


def test_only_one_plainly_written_limit_is_held_to_be_served() -> None:
    for query in ("limit=007", "limit=5&limit=6"):
        assert "EM-LIST-007" not in check_observation(Observation("odd limit", _page([], query=query))).judged
    assert "EM-LIST-007" in check_observation(Observation("plain limit", _page([], query="limit=100"))).judged
