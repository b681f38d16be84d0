"""What an exchange is about in contract terms: its operation, path item, batch id, and the body it sent."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from conformance.model.exchange import JSON, NDJSON, Exchange, parse_json, path_batch_id
from conformance.rules.contract import Operation, PathItem, load_contract

STATUS_OP = "getBatchStatus"
LIST_OP = "listBatches"
INGEST_OP = "ingestRecords"
MAX_RECORDS = 1000
MAX_BATCH_ID = 128
# "5 MB" may mean 5,000,000 bytes or 5 MiB: only a body above both is over the limit for certain.
API_BODY_LIMIT_LOW = 5_000_000
API_BODY_LIMIT_HIGH = 5 * 1024 * 1024
IDEMPOTENCY_KEY_MAX = 256
FORMAT_HINTS = ("text", "audio", "video", "file")


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


def is_too_long_batch_id(batch_id: str) -> bool:
    return len(batch_id) > MAX_BATCH_ID


def is_impossible_batch_id(batch_id: str) -> bool:
    """An id no batch can have: not printable ASCII, quoted, a dot segment, or holding a slash."""
    return (
        not batch_id.isascii()
        or not batch_id.isprintable()
        or any(ch in batch_id for ch in "\"'/\\")
        or batch_id in (".", "..")
    )


def is_malformed_batch_id(batch_id: str) -> bool:
    return is_too_long_batch_id(batch_id) or is_impossible_batch_id(batch_id)


def status_doc(ex: Exchange) -> Mapping[str, Any] | None:
    """The body of a successful batch status read."""
    if ex.response.status == 200 and is_operation(ex, STATUS_OP) and isinstance(ex.response.json, dict):
        return ex.response.json
    return None


def accepted_doc(ex: Exchange) -> Mapping[str, Any] | None:
    """The body of a successful ingest answer (202, or another 2xx that EM-HTTP-004 reports)."""
    if 200 <= ex.response.status < 300 and is_operation(ex, INGEST_OP) and isinstance(ex.response.json, dict):
        return ex.response.json
    return None


class IngestBody(StrEnum):
    """How the docs say an ingest body must be taken, as far as they say it."""

    BATCH = "batch"  # a JSON or NDJSON batch of 1 to 1,000 records
    NOT_A_BATCH = "not a batch"  # no record, over 1,000, or (JSON) not JSON at all: refused
    TOO_LARGE = "too large"  # over 5 MB however the limit is read: 413
    OPEN = "open"  # what the docs leave to the server: a lone object, another media type, a bad header


def ingest_body(ex: Exchange) -> IngestBody:
    request = ex.request
    body = request.body or b""
    if len(body) > API_BODY_LIMIT_HIGH:
        return IngestBody.TOO_LARGE
    idempotency_key = request.header("idempotency-key")
    if (len(body) > API_BODY_LIMIT_LOW
            or (idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_MAX)
            or any(value not in FORMAT_HINTS for value in request.query.get("format", []))):
        return IngestBody.OPEN
    if request.content_type == NDJSON:
        lines = [line for line in body.split(b"\n") if line.strip()]
        return IngestBody.BATCH if 1 <= len(lines) <= MAX_RECORDS else IngestBody.NOT_A_BATCH
    if request.content_type != JSON:
        return IngestBody.OPEN
    parsed = parse_json(body)
    if not parsed.ok:
        return IngestBody.NOT_A_BATCH
    value = parsed.value
    if isinstance(value, dict) and set(value) == {"records"}:
        value = value["records"]
    if not isinstance(value, list):
        return IngestBody.OPEN  # a lone object may be taken as a batch of one record
    return IngestBody.BATCH if 1 <= len(value) <= MAX_RECORDS else IngestBody.NOT_A_BATCH


def one_type_and_product(records: list[Any]) -> bool:
    """Every record a JSON object naming the same _type and _product_id, as the docs require of a batch."""
    if not records or not all(isinstance(r, dict) and "_type" in r and "_product_id" in r for r in records):
        return False
    return len({(repr(r["_type"]), repr(r["_product_id"])) for r in records}) == 1
