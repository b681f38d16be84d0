"""What the API answers about a batch: the 202 body and the status view, with the faults that bend them."""

from __future__ import annotations

from typing import Any

from conformance.simulator.batches import ERRORS_SHOWN, Batch
from conformance.simulator.faults import FaultSet

FINAL_DOWNLOADS = ("COMPLETE", "PARTIAL_FAILURE", "FAILED")


def shown_errors(batch: Batch, faults: FaultSet) -> list[dict[str, Any]]:
    errors = [dict(error) for error in batch.errors]
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


def counts(batch: Batch, faults: FaultSet) -> dict[str, int]:
    total = batch.total_errors
    if "total-errors-capped" in faults:
        total = min(total, ERRORS_SHOWN)
    if "total-counts-records" in faults:
        total = batch.rejected
    if "warnings-counted-as-errors" in faults and batch.rejected == 0:
        total = 1
    accepted = batch.accepted + (1 if "accepted-count-off-by-one" in faults else 0)
    return {"acceptedCount": accepted, "rejectedCount": batch.rejected, "totalErrorCount": total}


def accepted_view(batch: Batch, faults: FaultSet) -> dict[str, Any]:
    body: dict[str, Any] = {"batchId": batch.batch_id, **counts(batch, faults), "errors": shown_errors(batch, faults)}
    if "accepted-numeric-batch-id" in faults:
        body["batchId"] = int(batch.batch_id)
    if "accepted-extra-field" in faults:
        body["status"] = "LANDING"
    return body


def _lifecycle_status(batch: Batch, progress: float, faults: FaultSet, *, counted_read: bool) -> str:
    status = batch.status(progress, faults)
    if status == "PROCESSING" and "status-flaps" in faults and counted_read and batch.reads % 2 == 0:
        return "LANDED"
    if status == "PROCESSING" and "status-internal-name" in faults:
        return "ANALYZING"
    return status


def _downloads(batch: Batch, progress: float, faults: FaultSet, *, counted_read: bool) -> dict[str, Any]:
    if not batch.attachment_urls:
        if "download-fields-always" in faults:
            return {"attachmentDownloadTotal": 0, "attachmentDownloadComplete": 0, "attachmentDownloadFailed": 0,
                    "attachmentDownloadStatus": "COMPLETE"}
        return {}
    complete, failed, status = batch.downloads(progress, faults)
    if "failed-downloads-counted-complete" in faults:
        complete += failed
    if "download-status-stale" in faults and status not in FINAL_DOWNLOADS:
        status = "PENDING"
    if counted_read and status == "IN_PROGRESS":
        if "failed-download-counter-dips" in faults and failed:
            if "failure shown" in batch.shown:
                failed -= 1
            batch.shown.add("failure shown")
        if "download-status-flaps" in faults and complete + failed == 0:
            if "in progress shown" in batch.shown:
                status = "PENDING"
            batch.shown.add("in progress shown")
    if status == "IN_PROGRESS" and "download-status-unknown-name" in faults:
        status = "DOWNLOADING"
    fields: dict[str, Any] = {
        "attachmentDownloadTotal": len(batch.attachment_urls),
        "attachmentDownloadComplete": str(complete) if "download-counter-as-string" in faults else complete,
        "attachmentDownloadFailed": failed,
        "attachmentDownloadStatus": status,
    }
    if "download-status-missing" in faults:
        del fields["attachmentDownloadStatus"]
    return fields


def status_view(batch: Batch, faults: FaultSet, *, progress: float, counted_read: bool) -> dict[str, Any]:
    """The batch as a status read or a list page shows it; counted_read marks a read of the status endpoint."""
    status = _lifecycle_status(batch, progress, faults, counted_read=counted_read)
    ended = status in ("COMPLETE", "FAILED")
    body: dict[str, Any] = {"batchId": batch.batch_id, "status": status}
    if "status-without-created-at" not in faults:
        created = batch.created_ms + (600_000 if "created-at-skewed" in faults else 0)
        body["createdAt"] = created // 1000 if "created-at-in-seconds" in faults else created
    body.update(counts(batch, faults))
    if "status-total-drifts" in faults and batch.rejected:
        body["totalErrorCount"] += 1
    if "counts-change-when-complete" in faults and ended:
        body["acceptedCount"] += 1
    if "count-as-string" in faults:
        body["acceptedCount"] = str(body["acceptedCount"])
    errors = shown_errors(batch, faults)
    if "status-errors-reworded" in faults:
        errors = [{**error, "message": f"Record {error['index']}: {error['message']}"} for error in errors]
    if not ("failed-without-errors" in faults and status == "FAILED"):
        body["errors"] = errors
    body["source"] = "api"
    if "source-as-number" in faults:
        body["source"] = 0
    if "source-rewritten-when-complete" in faults and ended:
        body["source"] = "api (processed)"
    if batch.record_type is not None:
        body["type"] = batch.record_type.upper() if "type-upper-case" in faults else batch.record_type
    body.update(_downloads(batch, progress, faults, counted_read=counted_read))
    if "status-extra-field" in faults:
        body["region"] = "eu-1"
    return body
