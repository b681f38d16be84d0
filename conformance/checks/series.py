"""Rules over time: what may and may not change between successive reads of one batch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from conformance.checks.batch import DOWNLOAD_FIELDS
from conformance.checks.sent import COUNTS, FINAL_DOWNLOADS, status_doc
from conformance.exchange import Exchange
from conformance.registry import Finding, as_int, rule_check

LIFECYCLE_RANK = {"LANDING": 0, "LANDED": 1, "PROCESSING": 2, "COMPLETE": 3, "FAILED": 3}
TERMINAL = ("COMPLETE", "FAILED")
DOWNLOAD_RANK = {"PENDING": 0, "IN_PROGRESS": 1, "COMPLETE": 2, "PARTIAL_FAILURE": 2, "FAILED": 2}


def reads(ex: Exchange) -> tuple[list[Mapping[str, Any]], Mapping[str, Any]] | None:
    """The earlier reads of the batch (dicts only) and this one, when this exchange is part of a series."""
    doc = status_doc(ex)
    earlier = [read for read in ex.context.earlier if isinstance(read, dict)]
    if doc is None or not earlier:
        return None
    return earlier, doc


@rule_check("EM-SERIES-001", on="exchange")
def status_moves_forward(ex: Exchange) -> Iterator[Finding]:
    series = reads(ex)
    if series is None:
        return
    earlier, doc = series
    before, now = earlier[-1].get("status"), doc.get("status")
    if before not in LIFECYCLE_RANK or now not in LIFECYCLE_RANK or before == now:
        return
    if before in TERMINAL or LIFECYCLE_RANK[now] < LIFECYCLE_RANK[before]:
        yield Finding("/status", f"{before} or a later status" if before not in TERMINAL else before,
                      f"{now} after {before}")


def _changed(earlier: list[Mapping[str, Any]], doc: Mapping[str, Any], names: tuple[str, ...],
             *, both_present: bool) -> Iterator[Finding]:
    first = earlier[0]
    for name in names:
        if both_present and (name not in first or name not in doc):
            continue
        if first.get(name) != doc.get(name):
            yield Finding(f"/{name}", f"{first.get(name)!r}, as on the first read", repr(doc.get(name))[:300])


@rule_check("EM-SERIES-002", on="exchange")
def counts_never_change(ex: Exchange) -> Iterator[Finding]:
    series = reads(ex)
    if series is not None:
        yield from _changed(*series, COUNTS, both_present=False)
        # errors is optional on a read; a read that shows it must show the same errors.
        yield from _changed(*series, ("errors",), both_present=True)


@rule_check("EM-SERIES-003", on="exchange")
def identity_never_changes(ex: Exchange) -> Iterator[Finding]:
    series = reads(ex)
    if series is not None:
        yield from _changed(*series, ("batchId", "createdAt"), both_present=False)
        # A server may fill source and type in late; once given, they stay.
        yield from _changed(*series, ("source", "type"), both_present=True)


@rule_check("EM-SERIES-004", on="exchange")
def download_counters_never_decrease(ex: Exchange) -> Iterator[Finding]:
    series = reads(ex)
    if series is None:
        return
    earlier, doc = series
    yield from _changed(earlier, doc, ("attachmentDownloadTotal",), both_present=True)
    before = earlier[-1]
    for name in DOWNLOAD_FIELDS[1:3]:
        old, new = as_int(before.get(name)), as_int(doc.get(name))
        if old is not None and new is not None and new < old:
            yield Finding(f"/{name}", f"{old} or more, as on the read before", str(new))


@rule_check("EM-SERIES-005", on="exchange")
def download_status_moves_forward(ex: Exchange) -> Iterator[Finding]:
    series = reads(ex)
    if series is None:
        return
    earlier, doc = series
    before, now = earlier[-1].get("attachmentDownloadStatus"), doc.get("attachmentDownloadStatus")
    if before not in DOWNLOAD_RANK or now not in DOWNLOAD_RANK or before == now:
        return
    if before in FINAL_DOWNLOADS or DOWNLOAD_RANK[now] < DOWNLOAD_RANK[before]:
        yield Finding("/attachmentDownloadStatus",
                      before if before in FINAL_DOWNLOADS else f"{before} or a later status", f"{now} after {before}")


@rule_check("EM-SERIES-006", on="exchange")
def valid_batch_completes(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex)
    sent = ex.context.sent
    if doc is None or sent is None or sent.invalid_positions is None or sent.invalid_positions:
        return
    status = doc.get("status")
    if status == "FAILED" or (ex.context.ended == "timeout" and status != "COMPLETE"):
        yield Finding("/status", "COMPLETE within the lifecycle timeout: every record was valid",
                      f"{status} when the wait ended" if status != "FAILED" else "FAILED")


@rule_check("EM-SERIES-007", on="exchange")
def downloads_finish(ex: Exchange) -> Iterator[Finding]:
    doc = status_doc(ex)
    if doc is None or ex.context.ended != "timeout" or "attachmentDownloadStatus" not in doc:
        return
    if doc["attachmentDownloadStatus"] not in FINAL_DOWNLOADS:
        yield Finding("/attachmentDownloadStatus", "a final download status within the lifecycle timeout",
                      f"{doc['attachmentDownloadStatus']} when the wait ended")
