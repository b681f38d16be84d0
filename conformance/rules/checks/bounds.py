"""Rules of the documented bounds, on the side the docs call valid: a request exactly at a bound is served.

The side beyond each bound has its own rule (EM-INGEST-004, EM-INGEST-005, EM-ID-002, EM-LIST-006).
"""

from __future__ import annotations

import re

from conformance.model.exchange import Exchange, Intent, KeyRole
from conformance.rules.checks._target import (
    API_BODY_LIMIT_LOW,
    INGEST_OP,
    LIST_OP,
    MAX_BATCH_ID,
    MAX_RECORDS,
    STATUS_OP,
    accepted_doc,
    is_operation,
    one_type_and_product,
    requested_batch_id,
)
from conformance.rules.checks.valid_requests import NOT_ABOUT_THE_REQUEST
from conformance.rules.registry import HELD, Finding, Judgement, as_int, judged, rule_check


def _answered(ex: Exchange) -> bool:
    """An answer about the request: not a throttle (EM-RATE-001) or a gateway's timeout of a slow request."""
    return ex.response.transport_error is None and ex.response.status not in NOT_ABOUT_THE_REQUEST


def _decided(ex: Exchange) -> bool:
    """An answer that says what became of the request; a 5xx says "please retry" (the docs' 500)."""
    return _answered(ex) and ex.response.status < 500


def _refused(ex: Exchange) -> bool:
    return 400 <= ex.response.status < 500


@rule_check("EM-LIST-007", on="exchange")
def valid_limit_is_served(ex: Exchange) -> Judgement:
    if not is_operation(ex, LIST_OP) or not ex.by_write_key or not _decided(ex) or "cursor" in ex.request.query:
        return None
    limits = ex.request.query.get("limit", [])
    raw = limits[0] if limits else None
    # One limit, written as a plain number: what a server does with "007" or a repeated limit is its own business.
    if len(limits) > 1 or (raw is not None and not re.fullmatch(r"[1-9][0-9]?|100", raw)):
        return None
    if _refused(ex):
        asked = "no limit" if raw is None else f"limit {raw}"
        return judged(Finding("status", f"200: {asked} lies within 1 to 100, the documented range",
                              str(ex.response.status)))
    return HELD


@rule_check("EM-INGEST-008", on="exchange")
def batch_of_the_most_records_is_accepted(ex: Exchange) -> Judgement:
    sent = ex.context.sent
    if sent is None or sent.invalid_positions is None or len(sent.records) != MAX_RECORDS:
        return None
    if not is_operation(ex, INGEST_OP) or not ex.by_write_key or not _answered(ex):
        return None
    if len(sent.invalid_positions) == MAX_RECORDS or not one_type_and_product(list(sent.records)) \
            or not _decided(ex):
        return None
    doc = accepted_doc(ex)
    if doc is None:
        return judged(Finding("status", f"a 2xx: a batch of {MAX_RECORDS:,} records is within the documented "
                                        f"maximum", str(ex.response.status)))
    counted = [as_int(doc.get(name)) for name in ("acceptedCount", "rejectedCount")]
    if None not in counted and sum(counted) != MAX_RECORDS:  # type: ignore[arg-type]
        return judged(Finding("/acceptedCount", f"acceptedCount plus rejectedCount of {MAX_RECORDS:,}",
                              f"{counted[0]} plus {counted[1]}"))
    return HELD


@rule_check("EM-INGEST-009", on="exchange")
def body_within_5_mb_is_not_413(ex: Exchange) -> Judgement:
    if not is_operation(ex, INGEST_OP) or not _decided(ex) or ex.request.body is None:
        return None
    size = len(ex.request.body)
    if size > API_BODY_LIMIT_LOW:
        return None
    if ex.response.status == 413:
        return judged(Finding("status", f"no 413: the body is {size:,} bytes, within 5 MB however it is read",
                              "413"))
    return HELD


@rule_check("EM-INGEST-012", on="exchange")
def records_at_their_bounds_are_accepted(ex: Exchange) -> Judgement:
    sent = ex.context.sent
    if ex.context.intent != Intent.AT_BOUNDS or sent is None or sent.invalid_positions is None:
        return None
    if not is_operation(ex, INGEST_OP) or not ex.by_write_key or not _decided(ex):
        return None
    doc = accepted_doc(ex)
    if doc is None:
        return judged(Finding("status", "a 2xx: every record is valid, each at a documented bound, and so is the "
                                        "256-character Idempotency-Key",
                              str(ex.response.status)))
    findings = []
    if as_int(doc.get("rejectedCount")) not in (None, 0):
        findings.append(Finding("/rejectedCount", "0: every record is valid, each at a documented bound",
                                str(doc["rejectedCount"])))
    errors = doc.get("errors")
    for position, error in enumerate(errors if isinstance(errors, list) else []):
        index = as_int(error.get("index")) if isinstance(error, dict) else None
        if index is not None and 0 <= index < len(sent.records):
            record = sent.records[index]
            data = record.get("data") if isinstance(record, dict) else None
            bound = data.get("bound", "its fields at their bounds") if isinstance(data, dict) else "its fields"
            findings.append(Finding(f"/errors/{position}", "no error: the record is valid",
                                    f"an error for record {index}, the one with {bound}"))
    return findings


@rule_check("EM-ID-004", on="exchange")
def longest_unknown_id_is_404(ex: Exchange) -> Judgement:
    batch_id = requested_batch_id(ex)
    if batch_id is None or len(batch_id) != MAX_BATCH_ID or batch_id in ex.context.own_batch_ids:
        return None
    if not is_operation(ex, STATUS_OP) or ex.key_role not in (None, KeyRole.WRITE) or not _answered(ex):
        return None
    if ex.request.method.upper() != "GET" or ex.context.intent != Intent.LONGEST_ID:
        return None
    if ex.response.status not in (400, 404, 422):
        return judged(Finding("status", f"404, or 400 or 422 from a server that checks its ids: an id of "
                                        f"{MAX_BATCH_ID} characters is within the documented length",
                              str(ex.response.status)))
    return HELD
