"""The one failure shape, pinned; and no key survives into it."""

from __future__ import annotations

import json

from conformance.model.exchange import Context, Exchange, Keys, Request, Response
from conformance.report.redact import forget_secrets, redact, register_secret
from conformance.report.render import body_file_name, curl_line, render
from conformance.rules.checker import check

EXPECTED = """\
EM-COUNT-001 (MUST) acceptedCount, rejectedCount and totalErrorCount are integers of 0 or more.
  Expected: a number of at least 0
  Received: -4
  Where:    GET /api/v1/ingest/batches/b_9 -> 200, body /acceptedCount
  Spec:     openapi/evermuse-ingest-v1.yaml#/components/schemas/RecordCount
  Docs:     https://docs.evermuse.com/api-reference/ingestion/get-batch-status
  Reproduce with: curl -X GET -H 'x-api-key: [redacted]' http://127.0.0.1:8080/api/v1/ingest/batches/b_9"""


def _exchange(key: str, body: dict) -> Exchange:
    return Exchange(
        Request("GET", "http://127.0.0.1:8080/api/v1/ingest/batches/b_9", {"x-api-key": key}),
        Response(200, {"content-type": "application/json"}, json.dumps(body).encode()),
        Context(keys=Keys(write=key)),
    )


def test_render_pins_the_failure_shape() -> None:
    ex = _exchange("Zq-secret-9", {"batchId": "b_9", "status": "LANDING", "createdAt": 1764340000000,
                                   "acceptedCount": -4, "rejectedCount": 0, "totalErrorCount": 0})
    (violation,) = check(ex)
    assert render(violation) == EXPECTED


def test_render_redacts_a_key_the_server_echoed() -> None:
    register_secret("Zq-secret-9")
    try:
        ex = _exchange("Zq-secret-9", {"batchId": "b_9", "status": "LANDING", "createdAt": 1764340000000,
                                       "acceptedCount": 0, "rejectedCount": 0, "totalErrorCount": 0,
                                       "source": "Zq-secret-9"})
        text = "\n".join(render(v) for v in check(ex))
        assert "EM-SEC-001" in text
        assert "Zq-secret-9" not in text
    finally:
        forget_secrets()


def test_curl_shows_body_and_chosen_headers_only() -> None:
    headers = {"x-api-key": "k", "content-type": "application/json", "user-agent": "x", "Idempotency-Key": "i-1"}
    request = Request("POST", "http://127.0.0.1:8080/api/v1/ingest", headers, b'[{"_type": "email"}]')
    assert curl_line(request) == (
        "curl -X POST -H 'x-api-key: [redacted]' -H 'content-type: application/json' -H 'Idempotency-Key: i-1' "
        "--data-binary '[{\"_type\": \"email\"}]' http://127.0.0.1:8080/api/v1/ingest"
    )


def test_curl_names_a_large_body_by_its_evidence_file_instead_of_printing_it() -> None:
    request = Request("POST", "http://127.0.0.1:8080/api/v1/ingest", {}, b" " * 5000)
    name = body_file_name(b" " * 5000)
    assert f"--data-binary @evidence/{name}" in curl_line(request)
    assert f"--data-binary @reports/drift/evidence/{name}" in curl_line(request, "reports/drift/evidence")
    assert body_file_name(b" " * 5001) != name


def test_redact_hides_any_key_shaped_string() -> None:
    assert redact("key em_sk_live_AbC-123 used") == "key [redacted] used"
