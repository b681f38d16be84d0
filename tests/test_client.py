"""The run's HTTP client, on respx: budget, 429s, retries with the same Idempotency-Key, redirects, big bodies."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from conformance.client.bounded import (
    READ_CAP_BYTES,
    UNKNOWN_KEY,
    ApiClient,
    Budget,
    BudgetSpent,
    FetchRefused,
    OutOfTime,
    RunClock,
    TargetSilent,
    fetch_document,
)
from conformance.model.exchange import KeyRole, Keys
from conformance.rules.checker import check

BASE = "https://api.test"
KEYS = Keys(write="em_sk_unit_write", read="em_sk_unit_read")


def client(limit: int = 20) -> tuple[ApiClient, list[float]]:
    waits: list[float] = []
    return ApiClient(BASE, KEYS, budget=Budget(limit), timeout=2, sleep=waits.append), waits


@respx.mock
def test_send_puts_the_chosen_key_in_x_api_key() -> None:
    route = respx.get(f"{BASE}/api/v1/ingest/batches").mock(return_value=httpx.Response(200, json={}))
    api, _ = client()
    api.send("GET", "/api/v1/ingest/batches", key=KeyRole.READ)
    api.send("GET", "/api/v1/ingest/batches", key=KeyRole.MISSING)
    api.send("GET", "/api/v1/ingest/batches", key=KeyRole.UNKNOWN)
    assert route.calls[0].request.headers["x-api-key"] == KEYS.read
    assert "x-api-key" not in route.calls[1].request.headers
    assert route.calls[2].request.headers["x-api-key"] == UNKNOWN_KEY


def test_a_role_whose_key_the_run_lacks_is_refused_not_sent_without_a_key() -> None:
    api, _ = client()
    with pytest.raises(ValueError, match="the run has no other key"):
        api.send("GET", "/api/v1/ingest/batches", key=KeyRole.OTHER)
    assert api.budget.used == 0


@respx.mock
def test_429_is_waited_out_for_retry_after_then_retried() -> None:
    route = respx.get(f"{BASE}/b").mock(side_effect=[
        httpx.Response(429, json={"error": "rate_limited", "message": "slow", "retryAfter": 1.5}),
        httpx.Response(200, json={"ok": True}),
    ])
    api, waits = client()
    sent = api.send("GET", "/b")
    assert [a.response.status for a in sent.attempts] == [429, 200]
    assert waits == [1.5]
    assert route.call_count == 2


@respx.mock
def test_429_without_retry_after_falls_back_to_the_header_then_one_second() -> None:
    respx.get(f"{BASE}/b").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "3"}, json={"error": "x", "message": "y"}),
        httpx.Response(429, json={"error": "x", "message": "y"}),
        httpx.Response(200, json={}),
    ])
    api, waits = client()
    api.send("GET", "/b")
    assert waits == [3.0, 1.0]


@respx.mock
def test_post_sent_again_after_a_dropped_connection_keeps_its_idempotency_key() -> None:
    route = respx.post(f"{BASE}/api/v1/ingest").mock(side_effect=[
        httpx.RemoteProtocolError("peer closed connection"), httpx.Response(202, json={"batchId": "b_1"})])
    api, _ = client()
    sent = api.send("POST", "/api/v1/ingest", body=b"[{}]", content_type="application/json",
                    headers={"Idempotency-Key": "evermuse-conformance-x"})
    assert sent.attempts[0].response.transport_error is not None
    assert sent.final.response.status == 202
    assert {call.request.headers["Idempotency-Key"] for call in route.calls} == {"evermuse-conformance-x"}


@respx.mock
def test_429_retries_of_a_post_keep_its_idempotency_key() -> None:
    route = respx.post(f"{BASE}/api/v1/ingest").mock(side_effect=[
        httpx.Response(429, json={"error": "x", "message": "y", "retryAfter": 0}), httpx.Response(202, json={})])
    api, _ = client()
    api.send("POST", "/api/v1/ingest", body=b"[{}]", headers={"Idempotency-Key": "k-2"})
    assert [call.request.headers["Idempotency-Key"] for call in route.calls] == ["k-2", "k-2"]


@respx.mock
def test_redirect_is_not_followed_so_the_key_stays_home() -> None:
    elsewhere = respx.get("https://elsewhere.test/steal").mock(return_value=httpx.Response(200))
    respx.get(f"{BASE}/b").mock(return_value=httpx.Response(302, headers={"Location": "https://elsewhere.test/steal"}))
    api, _ = client()
    assert api.send("GET", "/b").final.response.status == 302
    assert not elsewhere.called


@respx.mock
def test_budget_counts_every_attempt_and_refuses_past_its_limit() -> None:
    respx.get(f"{BASE}/b").mock(return_value=httpx.Response(200, json={}))
    api, _ = client(limit=2)
    api.send("GET", "/b")
    api.send("GET", "/b")
    with pytest.raises(BudgetSpent):
        api.send("GET", "/b")
    assert api.budget.used == 2


@respx.mock
def test_a_huge_body_is_read_only_up_to_the_cap() -> None:
    respx.get(f"{BASE}/b").mock(return_value=httpx.Response(200, content=b"[" + b"1," * (5 * 1024 * 1024)))
    api, _ = client()
    response = api.send("GET", "/b").final.response
    assert response.truncated
    assert len(response.body) <= READ_CAP_BYTES + 1


@respx.mock
def test_timeout_becomes_an_answerless_exchange_not_an_exception() -> None:
    respx.get(f"{BASE}/b").mock(side_effect=httpx.ReadTimeout("slow"))
    api, _ = client()
    sent = api.send("GET", "/b")
    assert [a.response.status for a in sent.attempts] == [0, 0]
    assert sent.final.response.transport_error == "no complete answer within 2 s (ReadTimeout)"


@respx.mock
def test_a_request_cut_short_by_the_runs_own_time_is_no_silence_of_the_target() -> None:
    # One second of the run left, a request timeout of two: the run's end, not the target, stops the read.
    respx.get(f"{BASE}/b").mock(side_effect=httpx.ReadTimeout("slow"))
    now = [0.0]
    api = ApiClient(BASE, KEYS, budget=Budget(20), timeout=2, clock=RunClock(1.0, clock=lambda: now[0]))
    with pytest.raises(OutOfTime, match="the run's time of 1 s is up"):
        api.send("GET", "/b")
    now[0] = 0.5
    api_with_time = ApiClient(BASE, KEYS, budget=Budget(20), timeout=2, clock=RunClock(10.0, clock=lambda: now[0]))
    sent = api_with_time.send("GET", "/b")
    assert sent.final.response.transport_error == "no complete answer within 2 s (ReadTimeout)"


@respx.mock
def test_refused_connection_reads_as_unreachable() -> None:
    respx.get(f"{BASE}/b").mock(side_effect=httpx.ConnectError("Connection refused"))
    api, _ = client()
    assert api.send("GET", "/b").final.response.transport_error.startswith("could not connect: Connection refused")


@respx.mock
def test_three_silences_in_a_row_stop_the_client() -> None:
    respx.get(f"{BASE}/b").mock(side_effect=httpx.ReadTimeout("slow"))
    api, _ = client()
    api.send("GET", "/b")
    with pytest.raises(TargetSilent, match="3 requests in a row got no answer"):
        api.send("GET", "/b")


DOCS = "https://docs.test/openapi/ingest-v1.yaml"


@respx.mock
def test_a_document_is_fetched_without_a_key_following_a_redirect_on_its_own_host() -> None:
    respx.get(DOCS).mock(return_value=httpx.Response(301, headers={"location": "/openapi/v1.yaml"}))
    moved = respx.get("https://docs.test/openapi/v1.yaml").mock(return_value=httpx.Response(200, text="openapi: 3.1"))
    assert fetch_document(DOCS, timeout=2) == b"openapi: 3.1"
    assert "x-api-key" not in moved.calls[0].request.headers


@respx.mock
def test_a_document_that_redirects_to_another_host_is_refused() -> None:
    respx.get(DOCS).mock(return_value=httpx.Response(302, headers={"location": "https://elsewhere.test/spec"}))
    elsewhere = respx.get("https://elsewhere.test/spec").mock(return_value=httpx.Response(200, text="x"))
    with pytest.raises(FetchRefused, match=r"redirects to another host \(elsewhere\.test\)"):
        fetch_document(DOCS, timeout=2)
    assert not elsewhere.called


@respx.mock
def test_a_document_past_the_read_cap_or_the_runs_time_is_refused() -> None:
    respx.get(DOCS).mock(return_value=httpx.Response(200, content=b"x" * (READ_CAP_BYTES + 10)))
    with pytest.raises(FetchRefused, match="larger than"):
        fetch_document(DOCS, timeout=2)
    with pytest.raises(FetchRefused, match="--max-duration"):
        fetch_document(DOCS, timeout=2, clock=RunClock(0))


@respx.mock
def test_a_connection_closed_unanswered_is_sent_again_and_not_held_against_the_target() -> None:
    """RFC 9112 (9.3.1) lets a server close an idle kept-alive connection as a request comes: the request, never
    processed, is sent again, and EM-HTTP-007 judges the answer, not the closed connection."""
    closed = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    route = respx.get(f"{BASE}/api/v1/ingest/batches/b_1").mock(
        side_effect=[closed, closed, httpx.Response(200, json={"ok": True})])
    api, _ = client()
    sent = api.send("GET", "/api/v1/ingest/batches/b_1")
    assert route.call_count == 3
    assert [(a.response.status, a.response.answered_on_retry) for a in sent.attempts] == [(0, True), (0, True),
                                                                                           (200, False)]
    assert [v for a in sent.attempts for v in check(a) if v.rule.id == "EM-HTTP-007"] == []


class _DroppedMidAnswer(httpx.SyncByteStream):
    """A body that breaks off after its first bytes: the status line came, so the request was processed."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield b'{"batchId":'
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


@respx.mock
def test_a_connection_that_stays_closed_or_drops_mid_answer_is_a_finding() -> None:
    closed = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    respx.get(f"{BASE}/api/v1/ingest/batches/b_closed").mock(side_effect=closed)
    respx.get(f"{BASE}/api/v1/ingest/batches/b_dropped").mock(
        return_value=httpx.Response(200, stream=_DroppedMidAnswer()))
    api, _ = client(limit=40)
    never = api.send("GET", "/api/v1/ingest/batches/b_closed").attempts
    api, _ = client(limit=40)  # a fresh client: two silent requests in a row leave one more before it stops
    assert not any(a.response.answered_on_retry for a in never)
    assert {v.rule.id for a in never for v in check(a)} == {"EM-HTTP-007"}
    dropped = api.send("GET", "/api/v1/ingest/batches/b_dropped").attempts
    assert len(dropped) == 2 and not any(a.response.closed_unanswered for a in dropped)
    assert {v.rule.id for a in dropped for v in check(a)} == {"EM-HTTP-007"}


@respx.mock
def test_a_list_page_is_read_as_far_as_a_documented_page_of_its_limit_can_go() -> None:
    """100 batches of 20 errors with 2,048-character messages are some 4.5 MB: a page that big is no break."""
    error = {"index": 0, "code": "C" * 64, "message": "m" * 2048}
    batch = {"batchId": "b" * 128, "status": "COMPLETE", "createdAt": 1, "acceptedCount": 0, "rejectedCount": 1,
             "totalErrorCount": 20, "errors": [error] * 20}
    page = json.dumps({"batches": [batch] * 100, "nextCursor": None}).encode()
    respx.get(f"{BASE}/api/v1/ingest/batches").mock(return_value=httpx.Response(200, content=page))
    api, _ = client()
    assert len(page) > READ_CAP_BYTES
    assert api.send("GET", "/api/v1/ingest/batches", params={"limit": "100"}).final.response.body == page
    capped = api.send("GET", "/api/v1/ingest/batches", params={"limit": "2"}).final.response
    assert capped.truncated and len(capped.body) == READ_CAP_BYTES + 1
