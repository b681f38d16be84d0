"""EM-HTTP-011: a request the contract calls valid is refused only where the docs or a named latitude allow it.

This replaces schemathesis' positive_data_acceptance, whose one list of statuses per run cannot say which
refusal is allowed for which parameter: a 400 to an unissued cursor is a latitude, a 400 to limit=100 a break.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.model.exchange import Exchange, Intent
from conformance.rules.checks._target import API_BODY_LIMIT_LOW, INGEST_OP, LIST_OP, STATUS_OP, operation
from conformance.rules.registry import HELD, Finding, Judgement, judged, rule_check

# What says nothing about the request: the key (the AUTH rules judge it), the rate (EM-RATE-001), and a
# gateway's timeout of a request that came too slowly.
NOT_ABOUT_THE_REQUEST = frozenset({401, 403, 408, 429})


@dataclass(frozen=True)
class Allowance:
    """One 4xx an operation may give a valid request, and what allows it: a docs sentence or a latitude."""

    status: int
    allowed_by: str  # "docs: ..." or the name of a latitude in openapi/latitudes.yaml
    applies: Callable[[Exchange], bool] = lambda ex: True


def _has_cursor(ex: Exchange) -> bool:
    return "cursor" in ex.request.query


def _has_idempotency_key(ex: Exchange) -> bool:
    return ex.request.header("idempotency-key") is not None


def _over_5_000_000_bytes(ex: Exchange) -> bool:
    return len(ex.request.body or b"") > API_BODY_LIMIT_LOW


ALLOWED: dict[str, tuple[Allowance, ...]] = {
    STATUS_OP: (
        Allowance(404, "docs: Batch not found. The batch ID does not exist or belongs to a different workspace."),
        Allowance(400, "batch-id-format"),
        Allowance(422, "batch-id-format"),
    ),
    LIST_OP: (
        Allowance(400, "unissued-cursor", _has_cursor),
        Allowance(422, "unissued-cursor", _has_cursor),
    ),
    INGEST_OP: (
        # A generated batch may hold no valid record, mix types, or (NDJSON) hold a line that is not JSON.
        Allowance(400, "no-valid-record"),
        Allowance(400, "mixed-type-batch"),
        Allowance(400, "unparseable-ndjson-line"),
        Allowance(422, "no-valid-record"),
        Allowance(413, "body-limit", _over_5_000_000_bytes),
        Allowance(409, "same-key-other-body", _has_idempotency_key),
    ),
}


def latitudes_named() -> set[str]:
    return {a.allowed_by for allowances in ALLOWED.values() for a in allowances if not a.allowed_by.startswith("docs:")}


@rule_check("EM-HTTP-011", on="exchange")
def valid_request_is_not_refused(ex: Exchange) -> Judgement:
    if ex.context.intent != Intent.CONTRACT_VALID or not ex.by_write_key or ex.response.transport_error is not None:
        return None
    op = operation(ex)
    if op is None or op.operation_id not in ALLOWED:
        return None
    status = ex.response.status
    if not 400 <= status < 500 or status in NOT_ABOUT_THE_REQUEST:
        return HELD
    if any(a.status == status and a.applies(ex) for a in ALLOWED[op.operation_id]):
        return HELD
    allowed = sorted({a.status for a in ALLOWED[op.operation_id] if a.applies(ex)})
    return judged(Finding("status", f"not a 4xx: the contract calls the request valid, and neither the docs nor a "
                                    f"latitude allow {status} for it"
                                    + (f" (they allow {', '.join(map(str, allowed))})" if allowed else ""),
                          str(status)))
