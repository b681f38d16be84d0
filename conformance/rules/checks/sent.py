"""Rules against what was sent: a batch's status and its 202 agree with the records that created it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from conformance.model.exchange import Exchange, SentBatch, is_json_number
from conformance.rules.checks._target import (
    INGEST_OP,
    STATUS_OP,
    IngestBody,
    accepted_doc,
    ingest_body,
    is_operation,
    one_type_and_product,
    requested_batch_id,
    status_doc,
)
from conformance.rules.checks.batch import (
    ERRORS_SHOWN,
    coherent,
    download_counters,
    error_indexes,
    processing_errors_allowed,
)
from conformance.rules.registry import HELD, Finding, Judgement, as_int, judged, quoted, rule_check

CLOCK_SKEW_MS = 5 * 60 * 1000
# How long after its 202 a new batch may still be missing from a read or from the list.
COUNTS = ("acceptedCount", "rejectedCount", "totalErrorCount")


def own_status(ex: Exchange) -> tuple[Mapping[str, Any], SentBatch] | None:
    """A successful read of a batch the run created, with what the run sent to create it."""
    doc, sent = status_doc(ex), ex.context.sent
    return (doc, sent) if doc is not None and sent is not None else None


def own_answer_or_status(ex: Exchange) -> tuple[Mapping[str, Any], SentBatch] | None:
    """The 202 answer or a successful read of a batch the run created."""
    doc, sent = status_doc(ex) or accepted_doc(ex), ex.context.sent
    return (doc, sent) if doc is not None and sent is not None else None


@rule_check("EM-SENT-001", on="exchange")
def status_names_requested_batch(ex: Exchange) -> Judgement:
    doc, wanted = status_doc(ex), requested_batch_id(ex)
    if doc is None or wanted is None:
        return None
    return judged(Finding("/batchId", repr(wanted), repr(doc.get("batchId")))) if doc.get("batchId") != wanted \
        else HELD


@rule_check("EM-SENT-002", on="exchange")
def counts_add_up_to_records_sent(ex: Exchange) -> Judgement:
    own = own_answer_or_status(ex)
    if own is None:
        return None
    doc, sent = own
    accepted, rejected = as_int(doc.get("acceptedCount")), as_int(doc.get("rejectedCount"))
    if accepted is None or rejected is None:
        return None
    if accepted + rejected != len(sent.records):
        return judged(Finding("/acceptedCount", f"acceptedCount + rejectedCount = {len(sent.records)} records sent",
                              f"{accepted} + {rejected} = {accepted + rejected}"))
    return HELD


def _counts(doc: Mapping[str, Any]) -> tuple[int, int, int] | None:
    """acceptedCount, rejectedCount, totalErrorCount; None when one is no integer (EM-COUNT-001's finding)."""
    counts = tuple(as_int(doc.get(name)) for name in COUNTS)
    return None if None in counts else counts  # type: ignore[return-value]


@rule_check("EM-SENT-003", on="exchange")
def status_counts_match_202(ex: Exchange) -> Judgement:
    """The counts are "current": processing may reject a record the 202 accepted, with an error for it, and a
    FAILED batch may count an error of its own; every other change from the 202's counts is a break."""
    own = own_status(ex)
    if own is None or own[1].accepted is None:
        return None
    doc, sent = own
    now, then = _counts(doc), _counts(sent.accepted)
    if now is None or then is None:
        return None
    (accepted, rejected, total), (accepted_202, rejected_202, total_202) = now, then
    findings = []
    if accepted + rejected != accepted_202 + rejected_202:
        findings.append(Finding("/acceptedCount", f"acceptedCount + rejectedCount = {accepted_202 + rejected_202}, "
                                "as in the 202 answer", f"{accepted} + {rejected}"))
    elif accepted > accepted_202:
        findings.append(Finding("/acceptedCount", f"{accepted_202}, as in the 202 answer, or fewer once processing "
                                "rejects a record", str(accepted)))
    later = rejected - rejected_202
    if later <= 0 and not total_202 <= total <= total_202 + processing_errors_allowed(doc):
        failed = " (or one more for the error of a FAILED batch)" if processing_errors_allowed(doc) else ""
        findings.append(Finding("/totalErrorCount", f"{total_202}, as in the 202 answer{failed}", str(total)))
    elif later > 0 and total < total_202 + later:
        findings.append(Finding("/totalErrorCount", f"at least {total_202 + later}: the 202's {total_202} and one for "
                                f"each of the {later} records rejected since", str(total)))
    return findings


def _errors_since_202(ex: Exchange) -> int:
    """How many errors a status read may show that the 202 did not: one for each record processing rejected
    since, and the error of a FAILED batch."""
    own = own_status(ex)
    if own is None or own[1].accepted is None:
        return 0
    now, then = _counts(own[0]), _counts(own[1].accepted)
    later = max(0, now[1] - then[1]) if now is not None and then is not None else 0
    return later + processing_errors_allowed(own[0])


def _listed(errors: Any) -> list[Mapping[str, Any]] | None:
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else None


def _errors_of_both(ex: Exchange) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]], Mapping[str, Any]] | None:
    own = own_status(ex)
    if own is None or own[1].accepted is None:
        return None
    doc, sent = own
    shown, original = _listed(doc.get("errors")), _listed(sent.accepted.get("errors"))
    if not shown or original is None:
        return None
    return shown, original, sent.accepted


@rule_check("EM-SENT-004", on="exchange")
def status_errors_are_errors_of_202(ex: Exchange) -> Judgement:
    both = _errors_of_both(ex)
    if both is None:
        return None
    shown, original, accepted = both
    if len(original) != as_int(accepted.get("totalErrorCount")):
        return None  # the 202 listed only some errors; a read may show others of them
    known = {(e.get("index"), e.get("code")) for e in original}
    strays = [(position, e) for position, e in enumerate(shown) if (e.get("index"), e.get("code")) not in known]
    if len(strays) > _errors_since_202(ex):
        position, error = strays[0]
        return judged(Finding(f"/errors/{position}", "an error the 202 answer listed (same index and code)",
                              f"index {error.get('index')!r}, code {error.get('code')!r}"
                              + (f", and {len(strays) - 1} more" if len(strays) > 1 else "")))
    return HELD


@rule_check("EM-SENT-011", on="exchange")
def status_errors_read_as_in_202(ex: Exchange) -> Judgement:
    both = _errors_of_both(ex)
    if both is None:
        return None
    shown, original, accepted = both
    if len(original) < min(as_int(accepted.get("totalErrorCount")) or 0, ERRORS_SHOWN):
        return None  # a 202 that listed fewer than it could leaves a read free to list others (EM-ERR-006)
    known = {(e.get("index"), e.get("code")) for e in original}
    shown = [e for e in shown if (e.get("index"), e.get("code")) in known]  # errors added later: EM-SENT-004's
    remaining = iter(original)
    for position, error in enumerate(shown):
        if not any(error == candidate for candidate in remaining):
            return judged(Finding(f"/errors/{position}", "the 202's errors, word for word and in its order",
                                  quoted(dict(error), ex)))
    return HELD


def _known_validity(ex: Exchange) -> tuple[Mapping[str, Any], SentBatch, frozenset[int]] | None:
    own = own_answer_or_status(ex)
    if own is None or own[1].invalid_positions is None:
        return None
    return own[0], own[1], own[1].invalid_positions


@rule_check("EM-SENT-005", on="exchange")
def rejected_count_matches_invalid_records(ex: Exchange) -> Judgement:
    known = _known_validity(ex)
    if known is None or as_int(known[0].get("rejectedCount")) is None:
        return None
    doc, sent, invalid = known
    # A status read may count more: the records processing rejected since the 202 (EM-SENT-003).
    answered = as_int((sent.accepted or {}).get("rejectedCount")) if status_doc(ex) is not None else None
    later = max(0, doc["rejectedCount"] - answered) if answered is not None else 0
    if doc["rejectedCount"] != len(invalid) + later:
        since = f", and {later} rejected since the 202" if later else ""
        return judged(Finding("/rejectedCount", f"{len(invalid) + later}, the invalid records sent{since}",
                              str(doc["rejectedCount"])))
    return HELD


@rule_check("EM-SENT-006", on="exchange")
def error_indexes_name_invalid_records(ex: Exchange) -> Judgement:
    known = _known_validity(ex)
    if known is None:
        return None
    doc, _, invalid = known
    named = error_indexes(doc)
    strays = sorted(set(named) - invalid)
    rejected = as_int(doc.get("rejectedCount"))
    # A status read may also name the records processing rejected since, and a FAILED batch one record more.
    later = max(0, rejected - len(invalid)) + processing_errors_allowed(doc) if status_doc(ex) is not None and \
        rejected is not None else 0
    if len(strays) > later:
        return judged(Finding("/errors", f"indexes among the invalid records {sorted(invalid)}",
                              f"indexes {strays} name records that were valid or not sent"))
    total = as_int(doc.get("totalErrorCount"))
    errors = doc.get("errors", [] if total == 0 else None)
    # A total below the invalid records sent is already EM-COUNT-002's or EM-SENT-005's finding.
    complete = isinstance(errors, list) and total is not None and len(errors) == total >= len(invalid)
    if complete and not invalid <= set(named):
        return judged(Finding("/errors", f"all invalid records named: {sorted(invalid)}",
                              f"named {sorted(set(named))}, missing {sorted(invalid - set(named))}"))
    return HELD


@rule_check("EM-SENT-007", on="exchange")
def type_is_accepted_records_type(ex: Exchange) -> Judgement:
    own = own_status(ex)
    if own is None or "type" not in own[0]:
        return None
    doc, sent = own
    accepted = as_int((sent.accepted or {}).get("acceptedCount"))
    record_type = sent.record_type
    if not accepted or record_type is None:
        return None  # a batch of rejected records has no record type to report
    if doc["type"] != record_type.lower():
        return judged(Finding("/type", repr(record_type.lower()), repr(doc["type"])))
    return HELD


def _rejected_with_attachments(sent: SentBatch) -> bool:
    invalid = sent.invalid_positions or frozenset()
    return any(isinstance(record, dict) and record.get("_attachments") for position, record in
               enumerate(sent.records) if position in invalid)


@rule_check("EM-SENT-008", on="exchange")
def download_fields_follow_accepted_attachments(ex: Exchange) -> Judgement:
    own = own_status(ex)
    urls = own[1].attachment_urls() if own is not None else None
    if own is None or urls is None or _rejected_with_attachments(own[1]):
        return None  # whether a rejected record's attachments are downloaded is not stated
    doc = own[0]
    shown = [name for name in ("attachmentDownloadTotal", "attachmentDownloadStatus") if name in doc]
    if not urls:
        if shown:
            return judged(Finding("/" + shown[0], "no download fields: the accepted records carry no attachment",
                                  ", ".join(shown)))
        return HELD
    if "attachmentDownloadTotal" in doc:
        if doc["attachmentDownloadTotal"] != len(urls):
            return judged(Finding("/attachmentDownloadTotal", f"{len(urls)}, the attachments of the accepted records",
                                  repr(doc["attachmentDownloadTotal"])))
        return HELD
    if doc.get("status") in ("COMPLETE", "FAILED") and not shown:
        return judged(Finding("/attachmentDownloadTotal",
                              f"{len(urls)} by the time the batch ends, the attachments of the accepted records",
                              f"absent on a {doc['status']} batch"))
    return None  # downloads start after the batch lands: absent fields say nothing yet


@rule_check("EM-SENT-009", on="exchange")
def created_at_within_sending(ex: Exchange) -> Judgement:
    own = own_status(ex)
    if own is None or own[1].sent_at_ms is None or own[1].answered_at_ms is None:
        return None
    doc, sent = own
    created = doc.get("createdAt")
    if not is_json_number(created):
        return None
    low, high = sent.sent_at_ms - CLOCK_SKEW_MS, sent.answered_at_ms + CLOCK_SKEW_MS
    if not low <= created <= high:
        off = (created - sent.sent_at_ms) / 1000
        return judged(Finding("/createdAt", f"between {low:.0f} and {high:.0f} (sending time, give or take 5 minutes)",
                              f"{created!r}, {off:+,.0f} s from sending"))
    return HELD


def is_unreachable(url: str) -> bool:
    host = (urlsplit(url).hostname or "").rstrip(".")
    return host == "invalid" or host.endswith(".invalid")


def _finished_downloads(ex: Exchange) -> tuple[list[str], int, int] | None:
    """The attachment URLs and the complete and failed counts, once the counters count every download of a batch
    of the run's (complete + failed = total): whether a final download status says so is not stated."""
    own = own_status(ex)
    urls = own[1].attachment_urls() if own is not None else None
    if own is None or not urls:
        return None
    counters = download_counters(own[0])
    if counters is None or not coherent(counters) or counters[0] != len(urls):
        return None  # EM-ATT-002, EM-ATT-003 and EM-SENT-008 own those findings
    total, complete, failed = counters
    return (urls, complete, failed) if complete + failed == total else None


@rule_check("EM-SENT-010", on="exchange")
def unreachable_downloads_counted_failed(ex: Exchange) -> Judgement:
    finished = _finished_downloads(ex)
    if finished is None:
        return None
    urls, _, failed = finished
    failing = sum(1 for url in urls if is_unreachable(url))
    if failed < failing:
        return judged(Finding("/attachmentDownloadFailed", f"at least {failing}: the attachments at .invalid "
                              "addresses cannot download", str(failed)))
    return HELD


@rule_check("EM-SENT-012", on="exchange")
def reachable_downloads_counted_complete(ex: Exchange) -> Judgement:
    finished = _finished_downloads(ex)
    if finished is None:
        return None
    urls, complete, _ = finished
    reachable = sum(1 for url in urls if not is_unreachable(url))
    if complete < reachable:
        return judged(Finding("/attachmentDownloadComplete", f"{reachable}: the attachments at the run's reachable "
                              "address", str(complete)))
    return HELD


@rule_check("EM-INGEST-002", on="exchange")
def created_batch_is_readable(ex: Exchange) -> Judgement:
    sent = ex.context.sent
    if sent is None or not is_operation(ex, STATUS_OP) or not ex.by_write_key or ex.response.status == 429:
        return None
    if ex.response.status == 200:
        return HELD
    if ex.response.transport_error is not None or ex.response.status >= 500:
        return None  # "Please retry": a later read decides; no answer at all is EM-HTTP-007's
    since = ex.response.received_at_ms - (sent.answered_at_ms or ex.response.received_at_ms)
    if since <= ex.context.write_lag_ms:
        return None  # not yet there is allowed for as long as a read may lag a write
    return judged(Finding("status", f"200: the batch exists since its 202 answer (reads may lag it "
                          f"{ex.context.write_lag_ms / 1000:g} s, --write-lag)",
                          f"{ex.response.status}, {since / 1000:.1f} s after the 202"))


@rule_check("EM-INGEST-003", on="exchange")
def idempotent_replay_returns_original(ex: Exchange) -> Judgement:
    original = ex.context.replay_of
    if original is None or not is_operation(ex, INGEST_OP) or ex.response.status == 429:
        return None
    doc = accepted_doc(ex)
    if doc is None:
        return judged(Finding("status", "202, the original answer", str(ex.response.status)))
    return [Finding(f"/{name}", f"{original.get(name)!r}, as in the original answer", repr(doc.get(name)))
            for name in ("batchId", *COUNTS) if doc.get(name) != original.get(name)]


def _ingest_with_write_key(ex: Exchange, body: IngestBody) -> bool:
    return (is_operation(ex, INGEST_OP) and ex.by_write_key and ex.response.status != 429
            and ex.response.transport_error is None and ingest_body(ex) == body)


@rule_check("EM-INGEST-004", on="exchange")
def non_batch_body_is_refused(ex: Exchange) -> Judgement:
    if not _ingest_with_write_key(ex, IngestBody.NOT_A_BATCH):
        return None
    if not 400 <= ex.response.status < 500:
        return judged(Finding("status", "a 4xx (400 as documented): the body is not a batch of 1 to 1,000 records",
                              str(ex.response.status)))
    return HELD


@rule_check("EM-INGEST-005", on="exchange")
def oversized_body_is_413(ex: Exchange) -> Judgement:
    if not _ingest_with_write_key(ex, IngestBody.TOO_LARGE):
        return None
    if ex.response.status != 413:
        size = len(ex.request.body or b"")
        return judged(Finding("status", f"413: the body is {size:,} bytes, over 5 MB", str(ex.response.status)))
    return HELD


@rule_check("EM-INGEST-006", on="exchange")
def batch_with_a_valid_record_is_accepted(ex: Exchange) -> Judgement:
    sent = ex.context.sent
    if sent is None or sent.invalid_positions is None or not _ingest_with_write_key(ex, IngestBody.BATCH):
        return None
    if len(sent.invalid_positions) == len(sent.records) or not one_type_and_product(list(sent.records)):
        return None  # with no valid record, or mixed types, a 400 is as right as a 202
    if ex.response.status >= 500:
        return None  # the docs' 500 says "please retry", not that the batch was refused
    if not 200 <= ex.response.status < 300:
        invalid = len(sent.invalid_positions)
        return judged(Finding("status", f"a 2xx: {len(sent.records) - invalid} of the {len(sent.records)} records "
                              f"are valid, the invalid ones are reported one by one", str(ex.response.status)))
    return HELD


@rule_check("EM-INGEST-007", on="exchange")
def accepted_batch_has_its_own_id(ex: Exchange) -> Judgement:
    doc = accepted_doc(ex)
    if doc is None or ex.context.replay_of is not None or not ex.context.own_batch_ids:
        return None
    if doc.get("batchId") in ex.context.own_batch_ids:
        return judged(Finding("/batchId", "an id no other batch has",
                              f"{doc['batchId']!r}, the id of an earlier batch"))
    return HELD
