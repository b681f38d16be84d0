"""Rules over time: what may and may not change between successive reads of one batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.model.exchange import Exchange, SeriesEnd
from conformance.rules.checks._target import status_doc
from conformance.rules.checks.batch import DOWNLOAD_FIELDS, FINAL_DOWNLOADS, download_counters
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


def settled(ex: Exchange, earlier: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The earlier reads this one may not go back behind: those that came back at least --replica-lag before it
    was sent. Two reads closer together may be served by replicas at different points (bounded staleness).
    Reads whose times the run did not keep all count."""
    times = ex.context.earlier_at
    if len(times) != len(earlier):
        return earlier
    cutoff = ex.request.sent_at_ms - ex.context.replica_lag_ms
    return [read for read, at in zip(earlier, times, strict=True) if at <= cutoff]


def _lag_note(ex: Exchange) -> str:
    return f"a read at least {ex.context.replica_lag_ms / 1000:g} s (--replica-lag) earlier"


@rule_check("EM-SERIES-001", on="exchange")
def status_never_moves_back(ex: Exchange) -> Judgement:
    series = reads(ex)
    if series is None:
        return None
    earlier, doc = series
    shown = [read.get("status") for read in settled(ex, earlier) if read.get("status") in LIFECYCLE_RANK]
    now = doc.get("status")
    if not shown or now not in LIFECYCLE_RANK:
        return None
    before = max(shown, key=LIFECYCLE_RANK.__getitem__)
    if LIFECYCLE_RANK[now] < LIFECYCLE_RANK[before]:
        return judged(Finding("/status", f"{before} or a later status: {_lag_note(ex)} showed {before}",
                              f"{now} after {before}"))
    return HELD


def _changed(ex: Exchange, earlier: list[Mapping[str, Any]], doc: Mapping[str, Any], names: tuple[str, ...],
             *, both_present: bool) -> list[Finding]:
    first = earlier[0]
    return [Finding(f"/{name}", f"{first.get(name)!r}, as on the first read", quoted(doc.get(name), ex))
            for name in names
            if not (both_present and (name not in first or name not in doc)) and first.get(name) != doc.get(name)]


def _records_counted(doc: Mapping[str, Any]) -> int | None:
    accepted, rejected = as_int(doc.get("acceptedCount")), as_int(doc.get("rejectedCount"))
    return None if accepted is None or rejected is None else accepted + rejected


@rule_check("EM-SERIES-002", on="exchange")
def counts_settle_only_before_the_end(ex: Exchange) -> Judgement:
    """Processing may still reject a record ("the current status and record counts"), so before the end the
    counts may move, but every record stays counted once; a final read's counts are the batch's for good."""
    series = reads(ex)
    if series is None:
        return None
    earlier, doc = series
    findings = []
    first, now = _records_counted(earlier[0]), _records_counted(doc)
    if first is not None and now is not None and first != now:
        findings.append(Finding("/acceptedCount", f"acceptedCount + rejectedCount = {first}, as on the first read",
                                f"{now} ({doc.get('acceptedCount')!r} + {doc.get('rejectedCount')!r})"))
    final = [read for read in settled(ex, earlier) if read.get("status") in ENDED]
    if final:
        findings += [Finding(f"/{name}", f"{final[0].get(name)!r}, as on {_lag_note(ex)} of the ended batch",
                             quoted(doc.get(name), ex))
                     for name in COUNTS if final[0].get(name) != doc.get(name)]
    return findings


@rule_check("EM-SERIES-003", on="exchange")
def identity_never_changes(ex: Exchange) -> Judgement:
    series = reads(ex)
    if series is None:
        return None
    # A server may fill source and type in late; once given, they stay.
    return (_changed(ex, *series, ("batchId", "createdAt"), both_present=False)
            + _changed(ex, *series, ("source", "type"), both_present=True))


def _downloads(ex: Exchange) -> tuple[list[Mapping[str, Any]], Mapping[str, Any]] | None:
    """The settled earlier reads that show download fields, and this read, when it shows them too."""
    series = reads(ex)
    if series is None:
        return None
    earlier, doc = series
    shown = [read for read in settled(ex, earlier) if any(name in read for name in DOWNLOAD_FIELDS)]
    if not shown or not any(name in doc for name in DOWNLOAD_FIELDS):
        return None
    return shown, doc


def _counter_dropped(ex: Exchange, shown: list[Mapping[str, Any]], doc: Mapping[str, Any], name: str) -> list[Finding]:
    highest = max((value for read in shown if (value := as_int(read.get(name))) is not None), default=None)
    new = as_int(doc.get(name))
    if highest is not None and new is not None and new < highest:
        return [Finding(f"/{name}", f"{highest} or more, as on {_lag_note(ex)}", str(new))]
    return []


@rule_check("EM-SERIES-004", on="exchange")
def download_total_fixed_and_complete_never_decreases(ex: Exchange) -> Judgement:
    pair = _downloads(ex)
    if pair is None:
        return None
    shown, doc = pair
    before = shown[-1]
    findings = []
    if "attachmentDownloadTotal" in before and "attachmentDownloadTotal" in doc and \
            before["attachmentDownloadTotal"] != doc["attachmentDownloadTotal"]:
        findings.append(Finding("/attachmentDownloadTotal", f"{before['attachmentDownloadTotal']!r}, as before",
                                repr(doc["attachmentDownloadTotal"])))
    return findings + _counter_dropped(ex, shown, doc, "attachmentDownloadComplete")


@rule_check("EM-SERIES-005", on="exchange")
def download_status_never_back_to_pending(ex: Exchange) -> Judgement:
    pair = _downloads(ex)
    if pair is None:
        return None
    statuses = [read.get("attachmentDownloadStatus") for read in pair[0]]
    now = pair[1].get("attachmentDownloadStatus")
    if now is None or not statuses or any(status in FINAL_DOWNLOADS for status in statuses):
        return None  # a final status that changes later is EM-SERIES-008's
    if "IN_PROGRESS" in statuses and now == "PENDING":
        return judged(Finding("/attachmentDownloadStatus", f"IN_PROGRESS or a final status: {_lag_note(ex)} showed "
                              "IN_PROGRESS", "PENDING after IN_PROGRESS"))
    return HELD


@rule_check("EM-SERIES-008", on="exchange")
def download_failures_and_final_status_stay(ex: Exchange) -> Judgement:
    pair = _downloads(ex)
    if pair is None:
        return None
    shown, doc = pair
    findings = _counter_dropped(ex, shown, doc, "attachmentDownloadFailed")
    final = [read.get("attachmentDownloadStatus") for read in shown
             if read.get("attachmentDownloadStatus") in FINAL_DOWNLOADS]
    status_now = doc.get("attachmentDownloadStatus")
    if final and status_now is not None and status_now != final[0]:
        findings.append(Finding("/attachmentDownloadStatus", final[0], f"{status_now} after {final[0]}"))
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
    if doc is None or ex.context.sent is None or ex.context.ended is None:
        return None
    urls = ex.context.sent.attachment_urls()
    if urls == [] or (urls is None and not doc.get("attachmentDownloadTotal")):
        return None  # nothing of this batch is to download: download fields shown anyway are EM-SENT-008's
    counters = download_counters(doc)
    if counters is None:
        return None  # counters not shown (or not numbers, EM-ATT-002's): nothing says how far downloads got
    total, complete, failed = counters
    if complete + failed < total:
        return judged(Finding("/attachmentDownloadComplete", f"complete + failed = {total} (every attachment counted) "
                              "within the lifecycle timeout", f"{complete} + {failed} when the wait ended"))
    return HELD
