"""Reading an ingest body and validating its records against the Integration Envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jsonschema
import jsonschema_rs

from conformance.rules.contract import load_contract
from conformance.simulator.choices import ChoiceSet

MAX_RECORDS = 1000
MAX_MESSAGE = 2000
NDJSON = "application/x-ndjson"
JSON = "application/json"


class NotABatch(Exception):
    """The body is not a batch of records; the request is refused with 400."""


@dataclass
class Validated:
    """The outcome of validating one batch: which records were accepted, and every error found."""

    size: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    rejected: set[int] = field(default_factory=set)
    record_type: str | None = None
    accepted_records: list[dict[str, Any]] = field(default_factory=list)
    rejected_records: list[Any] = field(default_factory=list)

    @property
    def accepted_count(self) -> int:
        return self.size - len(self.rejected)


_UNPARSEABLE = object()


def read_records(body: bytes, media_type: str, choices: ChoiceSet) -> list[Any]:
    """The records a body holds, in order; an NDJSON line that is not JSON stays in place, marked."""
    if media_type == NDJSON:
        records: list[Any] = []
        for number, line in enumerate(body.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                if choices.picks("unparseable-ndjson-line", "400"):
                    raise NotABatch(f"Line {number} of the body is not JSON.") from None
                records.append(_UNPARSEABLE)
    else:
        try:
            value = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise NotABatch(f"The body is not JSON: {exc}.") from None
        if isinstance(value, dict) and set(value) == {"records"}:
            value = value["records"]
        elif isinstance(value, dict) and choices.picks("lone-object-body", "one-record"):
            value = [value]
        if not isinstance(value, list):
            raise NotABatch("Send a JSON array of records, or an object whose only member is records.")
        records = value
    if not 1 <= len(records) <= MAX_RECORDS:
        raise NotABatch(f"A batch holds 1 to {MAX_RECORDS} records; this one holds {len(records)}.")
    return records


@cache
def _envelope() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_contract().schema("IngestRecord"))


@cache
def _envelope_fast() -> Any:
    """The same schema compiled by jsonschema_rs: a valid record, most of them, needs no more; an invalid one is
    read again by jsonschema for its error paths. Neither checks formats, so they agree on what is valid."""
    return jsonschema_rs.Draft202012Validator(load_contract().schema("IngestRecord"))


def _envelope_errors(record: dict[str, Any]) -> list[jsonschema.ValidationError]:
    try:
        if _envelope_fast().is_valid(record):
            return []
    except Exception:  # a value jsonschema_rs cannot take (a huge integer): jsonschema decides alone
        pass
    return sorted(_envelope().iter_errors(record), key=lambda e: list(map(str, e.absolute_path)))


def _message(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "record"
    return f"{where}: {error.message}"[:MAX_MESSAGE]


class MixedBatch(Exception):
    """The records do not share one _type and _product_id, and the simulator refuses such a batch whole."""


def validate_batch(records: list[Any], choices: ChoiceSet, *, skip_nature: bool = False) -> Validated:
    """Every record validated on its own, then against the batch's shared _type and _product_id."""
    outcome = Validated(size=len(records))
    batch_key: tuple[Any, Any] | None = None
    lower_types = choices.picks("type-case", "case-insensitive")
    for index, record in enumerate(records):
        if lower_types and isinstance(record, dict) and isinstance(record.get("_type"), str):
            record = {**record, "_type": record["_type"].lower()}
        problems: list[tuple[str, str]] = []
        if record is _UNPARSEABLE:
            problems.append(("INVALID_JSON", f"Line {index + 1} of the body is not JSON."))
        elif not isinstance(record, dict):
            problems.append(("INVALID_RECORD", "A record is a JSON object."))
        else:
            for error in _envelope_errors(record):
                if skip_nature and list(error.absolute_path) == ["_nature"]:
                    continue
                problems.append(("VALIDATION_ERROR", _message(error)))
            if not problems:
                key = (record["_type"], record["_product_id"])
                if batch_key is None:
                    batch_key = key
                elif key != batch_key:
                    if choices.picks("mixed-type-batch", "400"):
                        raise MixedBatch(f"Record {index} has _type {key[0]} and _product_id {key[1]}; the batch "
                                         f"has {batch_key[0]} and {batch_key[1]}.")
                    problems.append(("BATCH_MISMATCH", (
                        f"All records of a batch share _type and _product_id; this record has {key[0]} and "
                        f"{key[1]}, the batch {batch_key[0]} and {batch_key[1]}.")[:MAX_MESSAGE]))
        if problems:
            outcome.rejected.add(index)
            outcome.rejected_records.append(record)
            outcome.errors.extend({"index": index, "code": code, "message": text} for code, text in problems)
        else:
            outcome.accepted_records.append(record)
    outcome.record_type = batch_key[0].lower() if batch_key else None
    return outcome
