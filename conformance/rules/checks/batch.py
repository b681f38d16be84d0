"""Rules within one batch status or ingest answer: counts, errors, time and attachment fields agree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.model.exchange import Exchange, is_json_number
from conformance.rules.checks._target import status_doc
from conformance.rules.registry import HELD, Finding, Judgement, as_int, judged, rule_check

ERRORS_SHOWN = 20
DOWNLOAD_FIELDS = (
    "attachmentDownloadTotal",
    "attachmentDownloadComplete",
    "attachmentDownloadFailed",
    "attachmentDownloadStatus",
)
FINAL_DOWNLOADS = ("COMPLETE", "PARTIAL_FAILURE", "FAILED")
# A createdAt from 1e9 up to now, counted in seconds, is a time since 2001 in the wrong unit; as milliseconds
# it would be January 1970. Anything else above 0 is epoch milliseconds, plausible or not (EM-SENT-009's).
SECONDS_SINCE_2001 = 1e9
FUTURE_TOLERANCE_MS = 24 * 3600 * 1000


def error_items(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    errors = doc.get("errors")
    if not isinstance(errors, list):
        return []
    return [item for item in errors if isinstance(item, dict)]


def error_indexes(doc: Mapping[str, Any]) -> list[int]:
    return [i for i in (as_int(item.get("index")) for item in error_items(doc)) if i is not None]


def processing_errors_allowed(doc: Mapping[str, Any]) -> int:
    """How many errors beyond the rejected records' a batch status may carry: a FAILED batch points to errors for
    what went wrong ("check errors for details"), which may be one error no record caused, counted or not."""
    return 1 if doc.get("status") == "FAILED" else 0


@rule_check("EM-COUNT-002", on=("batch", "accepted"))
def errors_cover_rejected_records(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    rejected, total = as_int(doc.get("rejectedCount")), as_int(doc.get("totalErrorCount"))
    if rejected is None or total is None:
        return None
    if total < rejected:
        return judged(Finding("/totalErrorCount", f"at least rejectedCount ({rejected})", str(total)))
    return HELD


@rule_check("EM-COUNT-003", on=("batch", "accepted"))
def no_errors_without_rejections(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    total = as_int(doc.get("totalErrorCount"))
    if as_int(doc.get("rejectedCount")) != 0 or total is None:
        return None
    allowed = processing_errors_allowed(doc)
    if total > allowed:
        expected = "0, as rejectedCount is 0" + (", or 1 for the error of a FAILED batch" if allowed else "")
        return judged(Finding("/totalErrorCount", expected, str(total)))
    return HELD


@rule_check("EM-STATUS-002", on="exchange")
def failed_batch_lists_errors(ex: Exchange) -> Judgement:
    # The lifecycle table says where to look on the status read; a list may show a summary of each batch.
    doc = status_doc(ex)
    if doc is None or doc.get("status") != "FAILED":
        return None
    if not doc.get("errors"):
        shown = "no errors field" if "errors" not in doc else "an empty errors array"
        return judged(Finding("/errors", "at least one error for a FAILED batch", shown))
    return HELD


@rule_check("EM-TIME-001", on="batch")
def created_at_is_epoch_milliseconds(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    value = doc.get("createdAt")
    if not is_json_number(value):
        return None  # a missing or non-number createdAt is the schema's finding for the same rule
    if value <= 0:
        return None  # valid epoch milliseconds, only implausible for a new batch: EM-SENT-009 judges that
    now_ms = ex.response.received_at_ms
    if SECONDS_SINCE_2001 <= value <= (now_ms + FUTURE_TOLERANCE_MS) / 1000:
        return judged(Finding("/createdAt", "milliseconds since the epoch",
                              f"{value!r}, a time of this century only when read as seconds"))
    if value > now_ms + FUTURE_TOLERANCE_MS:
        days = (value - now_ms) / 86_400_000
        return judged(Finding("/createdAt", "no later than a day from now", f"{value!r}, {days:,.0f} days ahead"))
    return HELD


def _errors_list(doc: Mapping[str, Any]) -> list[Any] | None:
    errors = doc.get("errors")
    return errors if isinstance(errors, list) else None


@rule_check("EM-ERR-003", on=("batch", "accepted"))
def errors_fit_total(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    errors, total = _errors_list(doc), as_int(doc.get("totalErrorCount"))
    if errors is None or total is None:
        return None
    allowed = total + processing_errors_allowed(doc)
    if len(errors) > allowed:
        beyond = " and the error of a FAILED batch" if allowed > total else ""
        return judged(Finding("/errors", f"at most totalErrorCount ({total}){beyond} items", f"{len(errors)} items"))
    return HELD


@rule_check("EM-ERR-004", on=("batch", "accepted"))
def error_indexes_inside_batch(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    accepted, rejected = as_int(doc.get("acceptedCount")), as_int(doc.get("rejectedCount"))
    if accepted is None or rejected is None or not error_items(doc):
        return None
    size = accepted + rejected
    return [Finding(f"/errors/{position}/index", f"below {size} (acceptedCount + rejectedCount)", str(index))
            for position, index in enumerate(as_int(item.get("index")) for item in error_items(doc))
            if index is not None and index >= size]


@rule_check("EM-ERR-005", on=("batch", "accepted"))
def errors_name_only_rejected_records(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    rejected = as_int(doc.get("rejectedCount"))
    if rejected is None or _errors_list(doc) is None:
        return None
    named = set(error_indexes(doc))
    if len(named) > rejected + processing_errors_allowed(doc):
        return judged(Finding("/errors", f"errors naming at most rejectedCount ({rejected}) records"
                              + (", and one more for the error of a FAILED batch" if processing_errors_allowed(doc)
                                 else ""),
                              f"errors naming {len(named)} records: {sorted(named)[:10]}"))
    return HELD


@rule_check("EM-ERR-006", on="accepted")
def errors_sample_is_full(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    total = as_int(doc.get("totalErrorCount"))
    if not total or ("errors" in doc and _errors_list(doc) is None):
        return None  # a malformed errors field is EM-ERR-001's finding
    errors = _errors_list(doc)
    shown = len(errors) if errors is not None else 0
    wanted = min(total, ERRORS_SHOWN)
    if shown < wanted:
        received = f"{shown} items" if errors is not None else "no errors field"
        return judged(Finding("/errors", f"{wanted} items (totalErrorCount is {total})", received))
    return HELD


@rule_check("EM-ERR-007", on=("batch", "accepted"))
def errors_in_record_order(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    indexes = error_indexes(doc)
    if len(indexes) < 2:
        return None
    for position in range(1, len(indexes)):
        if indexes[position] < indexes[position - 1]:
            return judged(Finding(f"/errors/{position}/index", f"an index of at least {indexes[position - 1]}",
                                  str(indexes[position])))
    return HELD


def download_counters(doc: Mapping[str, Any]) -> tuple[int, int, int] | None:
    counters = tuple(as_int(doc.get(name)) for name in DOWNLOAD_FIELDS[:3])
    return None if None in counters else counters  # type: ignore[return-value]


def coherent(counters: tuple[int, int, int]) -> bool:
    total, complete, failed = counters
    return complete + failed <= total


@rule_check("EM-ATT-003", on="batch")
def downloads_within_total(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    counters = download_counters(doc)
    if counters is None:
        return None
    if not coherent(counters):
        total, complete, failed = counters
        return judged(Finding("/attachmentDownloadComplete", f"complete + failed at most {total}",
                              f"{complete} + {failed} = {complete + failed}"))
    return HELD


@rule_check("EM-ATT-004", on="batch")
def download_total_and_status_together(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    pair = ("attachmentDownloadTotal", "attachmentDownloadStatus")
    present = [name for name in pair if name in doc]
    if not present:
        return None
    if len(present) == 1:
        missing = next(name for name in pair if name not in doc)
        return judged(Finding("/" + missing, "attachmentDownloadTotal and attachmentDownloadStatus together",
                              f"{present[0]} without {missing}"))
    return HELD


@rule_check("EM-ATT-005", on="batch")
def download_total_counts_something(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    total = as_int(doc.get("attachmentDownloadTotal"))
    if total is None:
        return None
    return judged(Finding("/attachmentDownloadTotal", "at least 1, or the field absent", "0")) if total == 0 else HELD


@rule_check("EM-ATT-006", on="batch")
def final_download_status_matches_counters(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    status, counters = doc.get("attachmentDownloadStatus"), download_counters(doc)
    if status not in FINAL_DOWNLOADS or counters is None or not coherent(counters):
        return None  # incoherent counters are EM-ATT-003's finding
    _, complete, failed = counters
    wanted = {
        "COMPLETE": (failed == 0, "no download failed"),
        "FAILED": (complete == 0 and failed > 0, "none complete and some failed"),
        "PARTIAL_FAILURE": (complete > 0 and failed > 0, "some complete and some failed"),
    }[status]
    if not wanted[0]:
        return judged(Finding("/attachmentDownloadStatus", f"{status} with {wanted[1]}",
                              f"complete {complete}, failed {failed}"))
    return HELD


@rule_check("EM-ATT-007", on="batch")
def download_counters_beside_total(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    counters = [name for name in DOWNLOAD_FIELDS[1:3] if name in doc]
    if not counters:
        return None
    if "attachmentDownloadTotal" not in doc:
        return judged(Finding("/" + counters[0], "download counters only beside attachmentDownloadTotal",
                              f"{', '.join(counters)} without attachmentDownloadTotal"))
    return HELD


@rule_check("EM-ATT-008", on="batch")
def download_status_matches_progress(doc: Mapping[str, Any], ex: Exchange) -> Judgement:
    status, counters = doc.get("attachmentDownloadStatus"), download_counters(doc)
    if status not in ("PENDING", *FINAL_DOWNLOADS) or counters is None or not coherent(counters):
        return None
    total, complete, failed = counters
    done = complete + failed
    if status == "PENDING" and done:
        return judged(Finding("/attachmentDownloadStatus", "PENDING only while no download is done",
                              f"PENDING with {done} of {total} done"))
    if status in FINAL_DOWNLOADS and done < total:
        return judged(Finding("/attachmentDownloadStatus", f"{status} only once all {total} downloads are done",
                              f"{status} with {done} of {total} done"))
    return HELD
