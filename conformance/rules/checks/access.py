"""Rules of access: keys, permissions, workspaces, and ids that name no batch."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.model.exchange import Exchange, Intent, KeyRole, Observation
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checks._target import (
    INGEST_OP,
    LIST_OP,
    STATUS_OP,
    IngestBody,
    ingest_body,
    is_impossible_batch_id,
    is_operation,
    is_too_long_batch_id,
    operation,
    requested_batch_id,
)
from conformance.rules.registry import (
    HELD,
    Finding,
    Judgement,
    RunJudgement,
    Violation,
    judged,
    rule_check,
    run_check,
)


def _answered(ex: Exchange) -> bool:
    return ex.response.transport_error is None and ex.response.status != 429


def _status_is(ex: Exchange, wanted: int, why: str) -> Judgement:
    if ex.response.status != wanted:
        return judged(Finding("status", f"{wanted}: {why}", str(ex.response.status)))
    return HELD


def _otherwise_valid(ex: Exchange) -> bool:
    """A request of the run's that would be served with the right key: the key alone decides its answer."""
    return ex.context.intent == Intent.VALID_REQUEST and operation(ex) is not None and _answered(ex)


@rule_check("EM-AUTH-001", on="exchange")
def missing_key_is_401(ex: Exchange) -> Judgement:
    if not _otherwise_valid(ex) or ex.request.header("x-api-key") is not None:
        return None
    return _status_is(ex, 401, "the request has no x-api-key header")


@rule_check("EM-AUTH-002", on="exchange")
def unknown_key_is_401(ex: Exchange) -> Judgement:
    if not _otherwise_valid(ex) or ex.key_role != KeyRole.UNKNOWN:
        return None
    return _status_is(ex, 401, "the x-api-key names no key")


@rule_check("EM-AUTH-003", on="exchange")
def read_key_reads(ex: Exchange) -> Judgement:
    reads = is_operation(ex, STATUS_OP) or is_operation(ex, LIST_OP)
    if ex.key_role != KeyRole.READ or not reads or not _answered(ex):
        return None
    if ex.response.status in (401, 403):
        return judged(Finding("status", "an answer to the read (api:read allows reading batches)",
                              str(ex.response.status)))
    return HELD


@rule_check("EM-AUTH-004", on="exchange")
def read_key_cannot_ingest(ex: Exchange) -> Judgement:
    if ex.key_role != KeyRole.READ or not is_operation(ex, INGEST_OP) or not _answered(ex):
        return None
    if ingest_body(ex) != IngestBody.BATCH:
        return None
    return _status_is(ex, 403, "sending records needs api:write")


def _other_key_read(ex: Exchange) -> bool:
    return ex.key_role == KeyRole.OTHER and _answered(ex) and (is_operation(ex, STATUS_OP) or
                                                               is_operation(ex, LIST_OP))


@run_check("EM-AUTH-005")
def other_workspace_batch_is_404(observations: Sequence[Observation]) -> RunJudgement:
    """A read of our batch with another workspace's key: 404. A 403 reveals nothing only when that key is refused
    every read, the list and an id no batch has alike (a key created with api:write alone)."""
    ours = [o for o in observations if _other_key_read(o.exchange) and is_operation(o.exchange, STATUS_OP)
            and requested_batch_id(o.exchange) in o.exchange.context.own_batch_ids]
    refused_anyway = any(o.exchange.response.status == 403 for o in observations if _other_key_read(o.exchange)
                         and requested_batch_id(o.exchange) not in o.exchange.context.own_batch_ids)
    rule = load_catalogue()["EM-AUTH-005"]
    violations = tuple(
        Violation(rule, "status", "404: the batch belongs to another workspace" +
                  (", or 403 as to every read of this key" if refused_anyway else ""),
                  str(o.exchange.response.status), o.exchange, o.activity)
        for o in ours if o.exchange.response.status != 404
        and not (o.exchange.response.status == 403 and refused_anyway))
    return RunJudgement(len(ours), violations)


@rule_check("EM-AUTH-006", on="exchange")
def list_shows_own_workspace_only(ex: Exchange) -> Judgement:
    body = ex.response.json
    if ex.key_role != KeyRole.OTHER or not is_operation(ex, LIST_OP) or ex.response.status != 200:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("batches"), list) or not ex.context.own_batch_ids:
        return None
    return [Finding(f"/batches/{position}/batchId", "only batches of the key's own workspace",
                    f"{item['batchId']!r}, a batch of another workspace")
            for position, item in enumerate(body["batches"])
            if isinstance(item, dict) and item.get("batchId") in ex.context.own_batch_ids]


@rule_check("EM-ID-001", on="exchange")
def unknown_batch_is_404(ex: Exchange) -> Judgement:
    if ex.context.intent != Intent.UNKNOWN_ID or not is_operation(ex, STATUS_OP) or not ex.by_write_key:
        return None
    if not _answered(ex):
        return None
    return _status_is(ex, 404, "no batch has this id")


def _malformed_read(ex: Exchange, malformed: bool) -> Judgement:
    if not malformed or ex.request.method.upper() != "GET" or not _answered(ex):
        return None
    if not 400 <= ex.response.status < 500:
        return judged(Finding("status", "a 4xx: no batch can have this id", str(ex.response.status)))
    return HELD


@rule_check("EM-ID-002", on="exchange")
def too_long_batch_id_is_4xx(ex: Exchange) -> Judgement:
    batch_id = requested_batch_id(ex)
    return _malformed_read(ex, batch_id is not None and is_too_long_batch_id(batch_id))


@rule_check("EM-ID-003", on="exchange")
def impossible_batch_id_is_4xx(ex: Exchange) -> Judgement:
    batch_id = requested_batch_id(ex)
    malformed = batch_id is not None and not is_too_long_batch_id(batch_id) and is_impossible_batch_id(batch_id)
    return _malformed_read(ex, malformed)
