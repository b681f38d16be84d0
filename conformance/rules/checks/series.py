"""Rules over time: what may and may not change between successive reads of one batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.model.exchange import Exchange, SeriesEnd
from conformance.rules.checks._target import status_doc
from conformance.rules.checks.batch import DOWNLOAD_FIELDS, FINAL_DOWNLOADS
from conformance.rules.checks.sent import COUNTS
from conformance.rules.registry import HELD, Finding, Judgement, as_int, judged, quoted, rule_check

LIFECYCLE_RANK = {"LANDING": 0, "LANDED": 1, "PROCESSING": 2, "COMPLETE": 3, "FAILED": 3}
ENDED = ("COMPLETE", "FAILED")


def reads(ex: Exchange) -> tuple[list[Mapping[str, Any]], Mapping[str, Any]] | None:
    """The earlier reads of the batch (objects only) and this one, when this exchange is part of a series."""
    doc = status_doc(ex)
    earlier = [read for read in ex.context.earlier if isinstance(read, dict)]
    if doc is None or not earlier:
        return None
    return earlier, doc


@rule_check("EM-SERIES-001", on="exchange")
def status_never_moves_back(ex: Exchange) -> Judgement:
    series = reads(ex)
    if series is None:
        return None
    earlier, doc = series
    before, now = earlier[-1].get("status"), doc.get("status")
    if before not in LIFECYCLE_RANK or now not in LIFECYCLE_RANK:
        return None
    if LIFECYCLE_RANK[now] < LIFECYCLE_RANK[before]:
        return judged(Finding("/status", f"{before} or a later status", f"{now} after {before}"))
    return HELD


def _changed(ex: Exchange, earlier: list[Mapping[str, Any]], doc: Mapping[str, Any], names: tuple[str, ...],
             *, both_present: bool) -> list[Finding]:
    first = earlier[0]
    return [Finding(f"/{name}", f"{first.get(name)!r}, as on the first read", quoted(doc.get(name), ex))
            for name in names
            if not (both_present and (name not in first or name not in doc)) and first.get(name) != doc.get(name)]


@rule_check("EM-SERIES-002", on="exchange")
def counts_never_change(ex: Exchange) -> Judgement:
    series = reads(ex)
    return None if series is None else _changed(ex, *series, COUNTS, both_present=False)


@rule_check("EM-SERIES-003", on="exchange")
def identity_never_changes(ex: Exchange) -> Judgement:
    series = reads(ex)
    if series is None:
        return None
    # A server may fill source and type in late; once given, they stay.
    return (_changed(ex, *series, ("batchId", "createdAt"), both_present=False)
            + _changed(ex, *series, ("source", "type"), both_present=True))


def _downloads(ex: Exchange) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The last earlier read that shows download fields, and this read, when it shows them too."""
    series = reads(ex)
    if series is None:
        return None
    earlier, doc = series
    shown = [read for read in earlier if any(name in read for name in DOWNLOAD_FIELDS)]
    if not shown or not any(name in doc for name in DOWNLOAD_FIELDS):
        return None
    return shown[-1], doc


@rule_check("EM-SERIES-004", on="exchange")
def download_total_fixed_and_complete_never_decreases(ex: Exchange) -> Judgement:
    pair = _downloads(ex)
    if pair is None:
        return None
    before, doc = pair
    findings = []
    if "attachmentDownloadTotal" in before and "attachmentDownloadTotal" in doc and \
            before["attachmentDownloadTotal"] != doc["attachmentDownloadTotal"]:
        findings.append(Finding("/attachmentDownloadTotal", f"{before['attachmentDownloadTotal']!r}, as before",
                                repr(doc["attachmentDownloadTotal"])))
    old, new = as_int(before.get("attachmentDownloadComplete")), as_int(doc.get("attachmentDownloadComplete"))
    if old is not None and new is not None and new < old:
        findings.append(Finding("/attachmentDownloadComplete", f"{old} or more, as on the read before", str(new)))
    return findings


@rule_check("EM-SERIES-005", on="exchange")
def download_status_never_back_to_pending(ex: Exchange) -> Judgement:
    pair = _downloads(ex)
    if pair is None:
        return None
    before, now = pair[0].get("attachmentDownloadStatus"), pair[1].get("attachmentDownloadStatus")
    if before is None or now is None or before in FINAL_DOWNLOADS:
        return None
    if before == "IN_PROGRESS" and now == "PENDING":
        return judged(Finding("/attachmentDownloadStatus", "IN_PROGRESS or a final status",
                              "PENDING after IN_PROGRESS"))
    return HELD


@rule_check("EM-SERIES-008", on="exchange")
def download_failures_and_final_status_stay(ex: Exchange) -> Judgement:
    pair = _downloads(ex)
    if pair is None:
        return None
    before, doc = pair
    findings = []
    old, new = as_int(before.get("attachmentDownloadFailed")), as_int(doc.get("attachmentDownloadFailed"))
    if old is not None and new is not None and new < old:
        findings.append(Finding("/attachmentDownloadFailed", f"{old} or more, as on the read before", str(new)))
    status_before, status_now = before.get("attachmentDownloadStatus"), doc.get("attachmentDownloadStatus")
    if status_before in FINAL_DOWNLOADS and status_now is not None and status_now != status_before:
        findings.append(Finding("/attachmentDownloadStatus", status_before, f"{status_now} after {status_before}"))
    return findings


@rule_check("EM-SERIES-006", on="exchange")
def valid_batch_ends(ex: Exchange) -> Judgement:
    doc, sent = status_doc(ex), ex.context.sent
    if doc is None or sent is None or sent.invalid_positions is None or sent.invalid_positions:
        return None
    status = doc.get("status")
    if status in ENDED:
        return HELD
    if ex.context.ended == SeriesEnd.TIMEOUT:
        return judged(Finding("/status", "COMPLETE or FAILED within the lifecycle timeout: every record was valid",
                              f"{status} when the wait ended"))
    return None


@rule_check("EM-SERIES-007", on="exchange")
def downloads_finish(ex: Exchange) -> Judgement:
    doc = status_doc(ex)
    if doc is None or ex.context.sent is None or ex.context.ended is None or "attachmentDownloadStatus" not in doc:
        return None
    if doc["attachmentDownloadStatus"] not in FINAL_DOWNLOADS:
        return judged(Finding("/attachmentDownloadStatus", "a final download status within the lifecycle timeout",
                              f"{doc['attachmentDownloadStatus']} when the wait ended"))
    return HELD
