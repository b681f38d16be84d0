"""What an exchange is about in contract terms: its operation, path item and batch id."""

from __future__ import annotations

from conformance.contract import Operation, PathItem, load_contract
from conformance.exchange import Exchange, path_batch_id

STATUS_OP = "getBatchStatus"
LIST_OP = "listBatches"
INGEST_OP = "ingestRecords"


def path_item(ex: Exchange) -> PathItem | None:
    return load_contract().path_item_for(ex.request.raw_path)


def operation(ex: Exchange) -> Operation | None:
    return load_contract().operation_for(ex.request.method, ex.request.raw_path)


def is_operation(ex: Exchange, operation_id: str) -> bool:
    op = operation(ex)
    return op is not None and op.operation_id == operation_id


def requested_batch_id(ex: Exchange) -> str | None:
    item = path_item(ex)
    if item is None or "{batchId}" not in item.template:
        return None
    return path_batch_id(item.parameter(ex.request.raw_path.strip("/").split("/"), "batchId"))


def is_malformed_batch_id(batch_id: str) -> bool:
    """An id no batch can have: too long, not printable ASCII, quoted, a dot segment, or holding a slash."""
    return (
        len(batch_id) > 128
        or not batch_id.isascii()
        or not batch_id.isprintable()
        or any(ch in batch_id for ch in "\"'/\\")
        or batch_id in (".", "..")
    )
