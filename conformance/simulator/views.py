"""What the API answers about a batch: the 202 body and the status view, with the choices and faults that shape them."""

from __future__ import annotations

from typing import Any

from conformance.simulator.batches import ERRORS_SHOWN, LANDED_AT, Batch
from conformance.simulator.choices import ChoiceSet
from conformance.simulator.faults import FaultSet

FINAL_DOWNLOADS = ("COMPLETE", "PARTIAL_FAILURE", "FAILED")
# How long a flapping fault keeps flapping: past the suite's replica lag, so the flap is a regression that lasts.
FLAP_SECONDS = 2.0
SHORT_SAMPLE = 10
STATUS_SAMPLE = 5


def shown_errors(batch: Batch, faults: FaultSet, progress: float | None = None) -> list[dict[str, Any]]:
    """The errors shown, as they stand at this point of the lifecycle (None: as the 202 answer gave them)."""
    errors = [dict(error) for error in batch.errors_at(progress)]
    if "errors-blame-next-record" in faults:
        for position, error in enumerate(errors):
            is_last_of_record = position + 1 == len(errors) or errors[position + 1]["index"] != error["index"]
            if is_last_of_record:
                error["index"] += 1
    for error in errors:
        if "error-index-past-end" in faults:
            error["index"] += batch.size
        if "error-index-one-based" in faults:
            error["index"] += 1
        if "error-item-extra-field" in faults:
            error["field"] = error["message"].split(":")[0]
    if "errors-reverse-order" in faults:
        errors.reverse()
    return errors if "errors-uncapped" in faults else errors[:ERRORS_SHOWN]


def counts(batch: Batch, faults: FaultSet, progress: float | None = None) -> dict[str, int]:
    """The counts at this point of the lifecycle (None: as the 202 answer gave them)."""
    accepted, rejected, total = batch.counts_at(progress)
    if "total-errors-capped" in faults:
        total = min(total, ERRORS_SHOWN)
    if "total-counts-records" in faults:
        total = rejected
    if "warnings-counted-as-errors" in faults and rejected == 0:
        total = 1
    accepted += 1 if "accepted-count-off-by-one" in faults else 0
    return {"acceptedCount": accepted, "rejectedCount": rejected, "totalErrorCount": total}


def _with_errors(body: dict[str, Any], errors: list[dict[str, Any]], choices: ChoiceSet) -> None:
    if errors or not choices.picks("errors-when-none", "absent"):
        body["errors"] = errors


def accepted_view(batch: Batch, faults: FaultSet, choices: ChoiceSet, *,
                  earlier_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"batchId": batch.batch_id, **counts(batch, faults)}
    errors = shown_errors(batch, faults)
    _with_errors(body, errors[:SHORT_SAMPLE] if "errors-sample-short" in faults else errors, choices)
    if "accepted-numeric-batch-id" in faults:
        body["batchId"] = int(batch.batch_id)
    if earlier_id is not None:
        body["batchId"] = earlier_id
    if "accepted-extra-field" in faults:
        body["status"] = "LANDING"
    return body


def _lifecycle_status(batch: Batch, progress: float, faults: FaultSet, choices: ChoiceSet, *,
                      counted_read: bool) -> str:
    status = batch.status(progress, faults, choices)
    if status == "PROCESSING" and "status-flaps" in faults and counted_read:
        batch.freeze_once(progress, FLAP_SECONDS)
        if batch.reads % 2 == 0:
            return "LANDED"
    if status == "PROCESSING" and "status-internal-name" in faults:
        return "ANALYZING"
    if "list-status-stale" in faults and not counted_read:
        return "LANDING"
    return status


def _download_status(batch: Batch, progress: float, faults: FaultSet, choices: ChoiceSet, *, counted_read: bool,
                     batch_ended: bool) -> tuple[int, int, str]:
    complete, failed, status = batch.downloads(progress, faults, choices)
    if "failed-downloads-counted-complete" in faults:
        complete += failed
    if status in FINAL_DOWNLOADS and not batch_ended and choices.picks("downloads-final-when", "batch-ends"):
        status = "IN_PROGRESS"
    if "download-status-stale" in faults and status not in FINAL_DOWNLOADS:
        status = "PENDING"
    if counted_read and status == "IN_PROGRESS":
        if "failed-download-counter-dips" in faults and failed:
            batch.freeze_once(progress, FLAP_SECONDS)
            if "failure shown" in batch.shown:
                failed -= 1
            batch.shown.add("failure shown")
        if "download-complete-counter-dips" in faults and complete:
            batch.freeze_once(progress, FLAP_SECONDS)
            if "complete shown" in batch.shown:
                complete -= 1
            batch.shown.add("complete shown")
        if "download-status-flaps" in faults and complete + failed == 0:
            batch.freeze_once(progress, FLAP_SECONDS)
            if "in progress shown" in batch.shown:
                status = "PENDING"
            batch.shown.add("in progress shown")
    if status == "IN_PROGRESS" and "download-status-unknown-name" in faults:
        status = "DOWNLOADING"
    return complete, failed, status


def _downloads(batch: Batch, progress: float, faults: FaultSet, choices: ChoiceSet, *, counted_read: bool,
               batch_ended: bool) -> dict[str, Any]:
    if not batch.attachment_urls:
        if "download-fields-canned" in faults:
            return {"attachmentDownloadTotal": 1, "attachmentDownloadComplete": 0, "attachmentDownloadFailed": 0,
                    "attachmentDownloadStatus": "PENDING"}
        if "download-fields-always" in faults:
            return {"attachmentDownloadTotal": 0, "attachmentDownloadComplete": 0, "attachmentDownloadFailed": 0,
                    "attachmentDownloadStatus": "COMPLETE"}
        if "download-counters-always" in faults:
            return {"attachmentDownloadComplete": 0, "attachmentDownloadFailed": 0}
        return {}
    if progress < LANDED_AT and choices.picks("download-fields-from", "landed"):
        return {}
    complete, failed, status = _download_status(batch, progress, faults, choices, counted_read=counted_read,
                                                batch_ended=batch_ended)
    fields: dict[str, Any] = {"attachmentDownloadTotal": len(batch.attachment_urls)}
    if complete + failed or not choices.picks("download-counters-from", "first-download"):
        fields["attachmentDownloadComplete"] = str(complete) if "download-counter-as-string" in faults else complete
        fields["attachmentDownloadFailed"] = failed
    if "download-status-missing" not in faults:
        fields["attachmentDownloadStatus"] = status
    return fields


def _status_errors(batch: Batch, status: str, faults: FaultSet, choices: ChoiceSet,
                   progress: float) -> list[dict[str, Any]] | None:
    """The errors a status read shows, or None for no errors field."""
    if "failed-without-errors" in faults and status == "FAILED":
        return None
    if choices.picks("status-errors", "omitted-unless-failed") and status != "FAILED":
        return None
    errors = shown_errors(batch, faults, progress)
    if choices.picks("status-errors", "first-5"):
        errors = errors[:STATUS_SAMPLE]
    if "status-errors-reworded" in faults:
        errors = [{**error, "message": f"Record {error['index']}: {error['message']}"} for error in errors]
    if "status-error-codes-differ" in faults:
        errors = [{**error, "code": "INVALID_RECORD"} for error in errors]
    return errors


def status_view(batch: Batch, faults: FaultSet, choices: ChoiceSet, *, progress: float,
                counted_read: bool) -> dict[str, Any]:
    """The batch as a status read or a list page shows it; counted_read marks a read of the status endpoint."""
    status = _lifecycle_status(batch, progress, faults, choices, counted_read=counted_read)
    ended = status in ("COMPLETE", "FAILED")
    body: dict[str, Any] = {"batchId": batch.batch_id, "status": status}
    if "status-without-created-at" not in faults:
        created: float = batch.created_ms + (600_000 if "created-at-skewed" in faults else 0)
        if choices.picks("created-at-form", "fraction"):
            created += 0.25
        body["createdAt"] = created // 1000 if "created-at-in-seconds" in faults else created
        if "created-at-zero" in faults:
            body["createdAt"] = 0
    body.update(counts(batch, faults, progress))
    if "status-total-drifts" in faults and batch.rejected:
        body["totalErrorCount"] += 1
    if "counts-change-when-complete" in faults and ended:
        body["acceptedCount"] += 1
    if "count-as-string" in faults:
        body["acceptedCount"] = str(body["acceptedCount"])
    errors = _status_errors(batch, status, faults, choices, progress)
    if errors is not None and (counted_read or not choices.picks("list-view", "without-errors")):
        _with_errors(body, errors, choices)
    if not choices.picks("source-field", "absent"):
        body["source"] = 0 if "source-as-number" in faults else "api"
        if "source-rewritten-when-complete" in faults and ended:
            body["source"] = "api (processed)"
    if not choices.picks("type-field", "absent"):
        if batch.record_type is not None:
            body["type"] = batch.record_type.upper() if "type-upper-case" in faults else batch.record_type
        elif choices.picks("rejected-batch-type", "unknown"):
            body["type"] = "unknown"
    body.update(_downloads(batch, progress, faults, choices, counted_read=counted_read, batch_ended=ended))
    if "status-extra-field" in faults:
        body["region"] = "eu-1"
    return body
