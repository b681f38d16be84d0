"""Rules within one batch status or ingest answer: counts, errors, time and attachment fields agree."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from conformance.exchange import Exchange
from conformance.registry import Finding, as_int, rule_check

ERRORS_SHOWN = 20
DOWNLOAD_FIELDS = (
    "attachmentDownloadTotal",
    "attachmentDownloadComplete",
    "attachmentDownloadFailed",
    "attachmentDownloadStatus",
)
# Below 1e12 a timestamp reads as seconds: 1e12 seconds lie some 30,000 years ahead.
MILLISECONDS_FLOOR = 1e12
FUTURE_TOLERANCE_MS = 24 * 3600 * 1000


def error_items(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    errors = doc.get("errors")
    if not isinstance(errors, list):
        return []
    return [item for item in errors if isinstance(item, dict)]


def error_indexes(doc: Mapping[str, Any]) -> list[int]:
    return [i for i in (as_int(item.get("index")) for item in error_items(doc)) if i is not None]


@rule_check("EM-COUNT-002", on=("batch", "accepted"))
def errors_cover_rejected_records(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    rejected, total = as_int(doc.get("rejectedCount")), as_int(doc.get("totalErrorCount"))
    if rejected is not None and total is not None and total < rejected:
        yield Finding("/totalErrorCount", f"at least rejectedCount ({rejected})", str(total))


@rule_check("EM-COUNT-003", on=("batch", "accepted"))
def no_errors_without_rejections(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    if as_int(doc.get("rejectedCount")) == 0:
        total = as_int(doc.get("totalErrorCount"))
        if total is not None and total != 0:
            yield Finding("/totalErrorCount", "0, as rejectedCount is 0", str(total))


@rule_check("EM-STATUS-002", on="batch")
def failed_batch_lists_errors(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    if doc.get("status") == "FAILED" and not doc.get("errors"):
        shown = "no errors field" if "errors" not in doc else "an empty errors array"
        yield Finding("/errors", "at least one error for a FAILED batch", shown)


@rule_check("EM-TIME-001", on="batch")
def created_at_is_epoch_milliseconds(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    value = doc.get("createdAt")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return  # a non-number is the schema's finding for the same rule
    if value < MILLISECONDS_FLOOR:
        yield Finding("/createdAt", "milliseconds since the epoch (1e12 or more)", f"{value!r}, which reads as seconds")
        return
    now_ms = ex.response.received_at_ms
    if value > now_ms + FUTURE_TOLERANCE_MS:
        days = (value - now_ms) / 86_400_000
        yield Finding("/createdAt", "no later than a day from now", f"{value!r}, {days:,.0f} days ahead")


@rule_check("EM-ERR-003", on=("batch", "accepted"))
def errors_fit_total(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    errors, total = doc.get("errors"), as_int(doc.get("totalErrorCount"))
    if isinstance(errors, list) and total is not None and len(errors) > total:
        yield Finding("/errors", f"at most totalErrorCount ({total}) items", f"{len(errors)} items")


@rule_check("EM-ERR-004", on=("batch", "accepted"))
def error_indexes_inside_batch(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    accepted, rejected = as_int(doc.get("acceptedCount")), as_int(doc.get("rejectedCount"))
    if accepted is None or rejected is None:
        return
    size = accepted + rejected
    for position, item in enumerate(error_items(doc)):
        index = as_int(item.get("index"))
        if index is not None and index >= size:
            yield Finding(f"/errors/{position}/index", f"below {size} (acceptedCount + rejectedCount)", str(index))


@rule_check("EM-ERR-005", on=("batch", "accepted"))
def errors_name_only_rejected_records(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    rejected = as_int(doc.get("rejectedCount"))
    named = set(error_indexes(doc))
    if rejected is not None and len(named) > rejected:
        yield Finding("/errors", f"errors naming at most rejectedCount ({rejected}) records",
                      f"errors naming {len(named)} records: {sorted(named)[:10]}")


@rule_check("EM-ERR-006", on=("batch", "accepted"))
def errors_sample_is_full(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    total = as_int(doc.get("totalErrorCount"))
    if not total:
        return
    errors = doc.get("errors")
    if "errors" in doc and not isinstance(errors, list):
        return  # a malformed errors field is EM-ERR-001's finding
    shown = len(errors) if isinstance(errors, list) else 0
    wanted = min(total, ERRORS_SHOWN)
    if shown < wanted:
        received = f"{shown} items" if isinstance(errors, list) else "no errors field"
        yield Finding("/errors", f"{wanted} items (totalErrorCount is {total})", received)


@rule_check("EM-ERR-007", on=("batch", "accepted"))
def errors_in_record_order(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    indexes = error_indexes(doc)
    for position in range(1, len(indexes)):
        if indexes[position] < indexes[position - 1]:
            yield Finding(f"/errors/{position}/index", f"an index of at least {indexes[position - 1]}",
                          str(indexes[position]))
            return


def download_counters(doc: Mapping[str, Any]) -> tuple[int, int, int] | None:
    counters = tuple(as_int(doc.get(name)) for name in DOWNLOAD_FIELDS[:3])
    return None if None in counters else counters  # type: ignore[return-value]


def coherent(counters: tuple[int, int, int]) -> bool:
    total, complete, failed = counters
    return complete + failed <= total


@rule_check("EM-ATT-003", on="batch")
def downloads_within_total(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    counters = download_counters(doc)
    if counters is not None and not coherent(counters):
        total, complete, failed = counters
        yield Finding("/attachmentDownloadComplete", f"complete + failed at most {total}",
                      f"{complete} + {failed} = {complete + failed}")


@rule_check("EM-ATT-004", on="batch")
def download_fields_together(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    present = [name for name in DOWNLOAD_FIELDS if name in doc]
    if present and len(present) != len(DOWNLOAD_FIELDS):
        missing = [name for name in DOWNLOAD_FIELDS if name not in doc]
        yield Finding("/" + missing[0], "all four download fields, or none",
                      f"{', '.join(present)} without {', '.join(missing)}")


@rule_check("EM-ATT-005", on="batch")
def download_total_counts_something(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    if as_int(doc.get("attachmentDownloadTotal")) == 0:
        yield Finding("/attachmentDownloadTotal", "at least 1, or the field absent", "0")


def download_status_agrees(status: Any, total: int, complete: int, failed: int) -> str | None:
    """What the counters would have to be for this download status, or None when they agree."""
    done = complete + failed
    expectations = {
        "PENDING": (done == 0, "no download done"),
        "IN_PROGRESS": (done < total, f"fewer than {total} downloads done"),
        "COMPLETE": (complete == total and failed == 0, f"all {total} downloads complete"),
        "PARTIAL_FAILURE": (done == total and complete > 0 and failed > 0,
                            f"all {total} done, some complete and some failed"),
        "FAILED": (done == total and complete == 0 and failed > 0, f"all {total} done and none complete"),
    }
    if status not in expectations:
        return None
    holds, wanted = expectations[status]
    return None if holds else wanted


@rule_check("EM-ATT-006", on="batch")
def download_status_matches_counters(doc: Mapping[str, Any], ex: Exchange) -> Iterator[Finding]:
    counters = download_counters(doc)
    if counters is None or not coherent(counters):
        return  # incoherent counters are EM-ATT-003's finding
    wanted = download_status_agrees(doc.get("attachmentDownloadStatus"), *counters)
    if wanted:
        total, complete, failed = counters
        yield Finding("/attachmentDownloadStatus", f"{doc['attachmentDownloadStatus']} with {wanted}",
                      f"total {total}, complete {complete}, failed {failed}")
