"""Rules of access: keys, permissions, workspaces, and ids that name no batch."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.checks._target import (
    INGEST_OP,
    LIST_OP,
    STATUS_OP,
    is_malformed_batch_id,
    is_operation,
    operation,
    requested_batch_id,
)
from conformance.checks.sent import ingest_request_kind
from conformance.exchange import Exchange
from conformance.registry import Finding, rule_check


def _status_is(ex: Exchange, wanted: int, why: str) -> Iterator[Finding]:
    if ex.response.status not in (wanted, 429):
        yield Finding("status", f"{wanted}: {why}", str(ex.response.status))


@rule_check("EM-AUTH-001", on="exchange")
def missing_key_is_401(ex: Exchange) -> Iterator[Finding]:
    if operation(ex) is not None and ex.request.header("x-api-key") is None:
        yield from _status_is(ex, 401, "the request has no x-api-key header")


@rule_check("EM-AUTH-002", on="exchange")
def unknown_key_is_401(ex: Exchange) -> Iterator[Finding]:
    if operation(ex) is not None and ex.key_role == "unknown":
        yield from _status_is(ex, 401, "the x-api-key names no key")


@rule_check("EM-AUTH-003", on="exchange")
def read_key_reads(ex: Exchange) -> Iterator[Finding]:
    reads = is_operation(ex, STATUS_OP) or is_operation(ex, LIST_OP)
    if ex.key_role == "read" and reads and ex.response.status in (401, 403):
        yield Finding("status", "an answer to the read (api:read allows reading batches)", str(ex.response.status))


@rule_check("EM-AUTH-004", on="exchange")
def read_key_cannot_ingest(ex: Exchange) -> Iterator[Finding]:
    if ex.key_role == "read" and is_operation(ex, INGEST_OP) and ingest_request_kind(ex) == "batch":
        yield from _status_is(ex, 403, "sending records needs api:write")


@rule_check("EM-AUTH-005", on="exchange")
def other_workspace_batch_is_404(ex: Exchange) -> Iterator[Finding]:
    if ex.key_role == "other" and is_operation(ex, STATUS_OP) and requested_batch_id(ex) in ex.context.own_batch_ids:
        yield from _status_is(ex, 404, "the batch belongs to another workspace")


@rule_check("EM-AUTH-006", on="exchange")
def list_shows_own_workspace_only(ex: Exchange) -> Iterator[Finding]:
    body = ex.response.json
    if ex.key_role != "other" or not is_operation(ex, LIST_OP) or not isinstance(body, dict):
        return
    batches = body.get("batches")
    for position, item in enumerate(batches if isinstance(batches, list) else []):
        if isinstance(item, dict) and item.get("batchId") in ex.context.own_batch_ids:
            yield Finding(f"/batches/{position}/batchId", "only batches of the key's own workspace",
                          f"{item['batchId']!r}, a batch of another workspace")


@rule_check("EM-ID-001", on="exchange")
def unknown_batch_is_404(ex: Exchange) -> Iterator[Finding]:
    if ex.context.probe == "unknown-id" and is_operation(ex, STATUS_OP) and ex.by_write_key:
        yield from _status_is(ex, 404, "no batch has this id")


@rule_check("EM-ID-002", on="exchange")
def malformed_batch_id_is_4xx(ex: Exchange) -> Iterator[Finding]:
    batch_id = requested_batch_id(ex)
    if batch_id is None or ex.request.method.upper() != "GET" or not is_malformed_batch_id(batch_id):
        return
    if not 400 <= ex.response.status < 500:
        yield Finding("status", "a 4xx: no batch can have this id", str(ex.response.status))
