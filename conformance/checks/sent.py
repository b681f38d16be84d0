"""Rules against what was sent: a batch's status and its 202 agree with the records that created it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from conformance.checks._target import INGEST_OP, STATUS_OP, is_operation, requested_batch_id
from conformance.checks.batch import DOWNLOAD_FIELDS, coherent, download_counters, error_indexes
from conformance.exchange import NDJSON, Exchange, parse_json
from conformance.registry import Finding, as_int, rule_check

MAX_RECORDS = 1000
# "5 MB" may mean 5,000,000 or 5 MiB; only a body above both is judged.
MAX_BODY_BYTES = 5 * 1024 * 1024
CLOCK_SKEW_MS = 5 * 60 * 1000
FINAL_DOWNLOADS = ("COMPLETE", "PARTIAL_FAILURE", "FAILED")
COUNTS = ("acceptedCount", "rejectedCount", "totalErrorCount")
FORMAT_HINTS = ("text", "audio", "video", "file")


def status_doc(ex: Exchange) -> Mapping[str, Any] | None:
    """The body of a successful batch status read."""
    if ex.response.status == 200 and is_operation(ex, STATUS_OP) and isinstance(ex.response.json, dict):
        return ex.response.json
    return None


def accepted_doc(ex: Exchange) -> Mapping[str, Any] | None:
    """The body of a 202 ingest answer."""
    if ex.response.status == 202 and is_operation(ex, INGEST_OP) and isinstance(ex.response.json, dict):
        return ex.response.json
    return None


def records_sent(ex: Exchange) -> list[Any] | None:
    if ex.context.sent is not None:
        return list(ex.context.sent.records)
    if is_operation(ex, INGEST_OP):
        return ex.request.records
    return None


def ingest_request_kind(ex: Exchange) -> str:
    """How the ingest operation must take this request: "batch", "not-a-batch", "too-large" or "other".

    "other" is a request these rules do not judge: another media type, or a header or query value
    the contract refuses.
    """
    request = ex.request
    body = request.body or b""
    if len(body) > MAX_BODY_BYTES:
        return "too-large"
    if len(body) > 5_000_000:
        return "other"
    idempotency_key = request.header("idempotency-key")
    if idempotency_key is not None and len(idempotency_key) > 256:
        return "other"
    if any(value not in FORMAT_HINTS for value in request.query.get("format", [])):
        return "other"
    if request.content_type == NDJSON:
        lines = [line for line in body.split(b"\n") if line.strip()]
        return "batch" if 1 <= len(lines) <= MAX_RECORDS else "not-a-batch"
    if request.content_type != "application/json":
        return "other"
    parsed = parse_json(body)
    value = parsed.value if parsed.ok else None
    if isinstance(value, dict) and set(value) == {"records"}:
        value = value["records"]
    return "batch" if isinstance(value, list) and 1 <= len(value) <= MAX_RECORDS else "not-a-batch"


def _judged_as(ex: Exchange, kind: str) -> bool:
    """An ingest with the write key whose body is of this kind."""
    return is_operation(ex, INGEST_OP) and ex.by_write_key and ingest_request_kind(ex) == kind


@rule_check("EM-SENT-001", on="exchange")
def status_names_requested_batch(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex)
    wanted = requested_batch_id(ex)
    if doc is not None and wanted is not None and doc.get("batchId") != wanted:
        yield Finding("/batchId", repr(wanted), repr(doc.get("batchId")))


@rule_check("EM-SENT-002", on="exchange")
def counts_add_up_to_records_sent(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex) or accepted_doc(ex)
    records = records_sent(ex)
    if doc is None or records is None:
        return
    accepted, rejected = as_int(doc.get("acceptedCount")), as_int(doc.get("rejectedCount"))
    if accepted is not None and rejected is not None and accepted + rejected != len(records):
        yield Finding("/acceptedCount", f"acceptedCount + rejectedCount = {len(records)} records sent",
                      f"{accepted} + {rejected} = {accepted + rejected}")


@rule_check("EM-SENT-003", on="exchange")
def status_counts_match_202(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex)
    sent = ex.context.sent
    if doc is None or sent is None or sent.accepted is None:
        return
    for name in COUNTS:
        if as_int(doc.get(name)) is None:
            continue  # a count that is no integer is EM-COUNT-001's finding
        if name in sent.accepted and doc.get(name) != sent.accepted[name]:
            yield Finding(f"/{name}", f"{sent.accepted[name]!r}, as in the 202 answer", repr(doc.get(name)))


@rule_check("EM-SENT-004", on="exchange")
def status_errors_match_202(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex)
    sent = ex.context.sent
    if doc is None or sent is None or sent.accepted is None:
        return
    if "errors" in doc and "errors" in sent.accepted and doc["errors"] != sent.accepted["errors"]:
        yield Finding("/errors", f"the {len(sent.accepted['errors'])} errors of the 202 answer",
                      _describe_errors(doc["errors"]))


def _describe_errors(errors: Any) -> str:
    if not isinstance(errors, list):
        return repr(errors)[:200]
    return f"{len(errors)} errors, the first {errors[:1]!r}"[:300]


@rule_check("EM-SENT-005", on="exchange")
def rejected_count_matches_invalid_records(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex) or accepted_doc(ex)
    sent = ex.context.sent
    if doc is None or sent is None or sent.invalid_positions is None:
        return
    rejected = as_int(doc.get("rejectedCount"))
    if rejected is not None and rejected != len(sent.invalid_positions):
        yield Finding("/rejectedCount", f"{len(sent.invalid_positions)}, the invalid records sent", str(rejected))


@rule_check("EM-SENT-006", on="exchange")
def error_indexes_name_invalid_records(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex) or accepted_doc(ex)
    sent = ex.context.sent
    if doc is None or sent is None or sent.invalid_positions is None:
        return
    invalid = sent.invalid_positions
    named = error_indexes(doc)
    strays = sorted(set(named) - invalid)
    if strays:
        yield Finding("/errors", f"indexes among the invalid records {sorted(invalid)}",
                      f"indexes {strays} name records that were valid or not sent")
        return
    total = as_int(doc.get("totalErrorCount"))
    errors = doc.get("errors", [] if total == 0 else None)
    # A total below the invalid records sent is already EM-COUNT-002's or EM-SENT-005's finding.
    complete = isinstance(errors, list) and total is not None and len(errors) == total >= len(invalid)
    if complete and set(named) != invalid:
        yield Finding("/errors", f"all invalid records named: {sorted(invalid)}",
                      f"named {sorted(set(named))}, missing {sorted(invalid - set(named))}")


@rule_check("EM-SENT-007", on="exchange")
def type_is_lower_case_record_type(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex)
    sent = ex.context.sent
    if doc is None or sent is None or "type" not in doc or sent.record_type is None:
        return
    if doc["type"] != sent.record_type.lower():
        yield Finding("/type", repr(sent.record_type.lower()), repr(doc["type"]))


@rule_check("EM-SENT-008", on="exchange")
def download_total_counts_accepted_attachments(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex)
    sent = ex.context.sent
    urls = sent.attachment_urls() if sent is not None else None
    if doc is None or urls is None:
        return
    present = [name for name in DOWNLOAD_FIELDS if name in doc]
    if not urls and present:
        yield Finding("/" + present[0], "no download fields: the accepted records carry no attachment",
                      f"{', '.join(present)}")
    elif urls and "attachmentDownloadTotal" not in doc:
        yield Finding("/attachmentDownloadTotal", f"{len(urls)}, the attachments of the accepted records", "absent")
    elif urls and doc.get("attachmentDownloadTotal") != len(urls):
        yield Finding("/attachmentDownloadTotal", f"{len(urls)}, the attachments of the accepted records",
                      repr(doc.get("attachmentDownloadTotal")))


@rule_check("EM-SENT-009", on="exchange")
def created_at_within_sending(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex)
    sent = ex.context.sent
    if doc is None or sent is None or sent.sent_at_ms is None or sent.answered_at_ms is None:
        return
    created = doc.get("createdAt")
    if not isinstance(created, int | float) or isinstance(created, bool):
        return
    low, high = sent.sent_at_ms - CLOCK_SKEW_MS, sent.answered_at_ms + CLOCK_SKEW_MS
    if not low <= created <= high:
        off = (created - sent.sent_at_ms) / 1000
        yield Finding("/createdAt", f"between {low:.0f} and {high:.0f} (sending time, give or take 5 minutes)",
                      f"{created!r}, {off:+,.0f} s from sending")


def is_unreachable(url: str) -> bool:
    host = (urlsplit(url).hostname or "").rstrip(".")
    return host == "invalid" or host.endswith(".invalid")


@rule_check("EM-SENT-010", on="exchange")
def finished_downloads_match_addresses(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex)
    sent = ex.context.sent
    urls = sent.attachment_urls() if sent is not None else None
    if doc is None or not urls or doc.get("attachmentDownloadStatus") not in FINAL_DOWNLOADS:
        return
    counters = download_counters(doc)
    if counters is None or not coherent(counters) or counters[0] != len(urls):
        return  # EM-ATT-002, EM-ATT-003 and EM-SENT-008 own those findings
    _, complete, failed = counters
    failing = sum(1 for url in urls if is_unreachable(url))
    if (complete, failed) != (len(urls) - failing, failing):
        yield Finding("/attachmentDownloadFailed",
                      f"{failing} failed (.invalid addresses) and {len(urls) - failing} complete",
                      f"{failed!r} failed and {complete!r} complete")


@rule_check("EM-INGEST-002", on="exchange")
def created_batch_is_readable(ex: Exchange) -> Iterator[Finding]:
    if ex.context.sent is None or not is_operation(ex, STATUS_OP) or not ex.by_write_key:
        return
    if ex.response.status not in (200, 429):
        yield Finding("status", "200: the batch exists since its 202 answer", str(ex.response.status))


@rule_check("EM-INGEST-003", on="exchange")
def idempotent_replay_returns_original(ex: Exchange) -> Iterator[Finding]:
    original = ex.context.replay_of
    if original is None or not is_operation(ex, INGEST_OP) or ex.response.status == 429:
        return
    doc = accepted_doc(ex)
    if doc is None:
        yield Finding("status", "202, the original answer", str(ex.response.status))
        return
    for name in ("batchId", *COUNTS):
        if doc.get(name) != original.get(name):
            yield Finding(f"/{name}", f"{original.get(name)!r}, as in the original answer", repr(doc.get(name)))


@rule_check("EM-INGEST-004", on="exchange")
def non_batch_body_is_400(ex: Exchange) -> Iterator[Finding]:
    if _judged_as(ex, "not-a-batch") and ex.response.status not in (400, 429):
        yield Finding("status", "400: the body is not a batch of 1 to 1,000 records", str(ex.response.status))


@rule_check("EM-INGEST-005", on="exchange")
def oversized_body_is_413(ex: Exchange) -> Iterator[Finding]:
    if _judged_as(ex, "too-large") and ex.response.status not in (413, 429):
        size = len(ex.request.body or b"")
        yield Finding("status", f"413: the body is {size:,} bytes, over 5 MB", str(ex.response.status))


@rule_check("EM-INGEST-006", on="exchange")
def batch_with_invalid_records_is_accepted(ex: Exchange) -> Iterator[Finding]:
    if _judged_as(ex, "batch") and ex.response.status not in (202, 429):
        yield Finding("status", "202: a batch is accepted and its invalid records reported one by one",
                      str(ex.response.status))
