"""The batches the run creates, with what the suite knows about each record before the server says anything."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TEST_DATA_TAG = "evermuse-conformance"
# Two distinct addresses under .invalid (RFC 6761): no download from them can succeed.
UNREACHABLE_URLS = ("https://files.evermuse-conformance.invalid/never-there.pdf",
                    "https://files.evermuse-conformance.invalid/not-there-either.pdf")

# Each way of breaking a record breaks exactly one documented constraint of the Integration Envelope.
BREAKAGES: dict[str, tuple[str, Any]] = {
    "nature": ("_nature", "rumour"),
    "event_at": ("_event_at", "28/11/2026 09:00"),
    "vendor_ids": ("_vendor_ids", {}),
    "project_ids": ("_project_ids", []),
}


@dataclass(frozen=True)
class Identity:
    """What makes this run's records its own and routes them in the target workspace."""

    run_id: str
    product_id: str = "conformance-product"
    project_id: str = "conformance-project"
    event_at: str = ""

    def at(self) -> str:
        return self.event_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def idempotency_key(self, purpose: str) -> dict[str, str]:
        """The header of one POST of this run; sending it again with the same body is a replay."""
        return {"Idempotency-Key": f"evermuse-conformance-{self.run_id}-{purpose}"}


def valid_record(position: int, identity: Identity, *, record_type: str = "conversation",
                 attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "_type": record_type,
        "_schema_version": "1.0.0",
        "_event_at": identity.at(),
        "_vendor_ids": {"conformance_id": f"{identity.run_id}-{record_type}-{position}"},
        "_product_id": identity.product_id,
        "_project_ids": [identity.project_id],
        "_nature": "context",
        "_tags": [TEST_DATA_TAG, f"run-{identity.run_id}"],
        "data": {"note": "Test data from evermuse-conformance; safe to delete."},
    }
    if attachments:
        record["_attachments"] = attachments
    return record


def broken(record: dict[str, Any], *breakages: str) -> dict[str, Any]:
    result = copy.deepcopy(record)
    for breakage in breakages:
        field, value = BREAKAGES[breakage]
        result[field] = value
    return result


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    records: tuple[dict[str, Any], ...]
    invalid_positions: frozenset[int]
    body_form: str  # "array", "records" or "ndjson"
    # Rules only this batch gives something to judge: they are not exercised when it cannot be created.
    rules: frozenset[str] = frozenset()

    @property
    def media_type(self) -> str:
        return "application/x-ndjson" if self.body_form == "ndjson" else "application/json"

    def body(self) -> tuple[bytes, str]:
        if self.body_form == "ndjson":
            return ("\n".join(json.dumps(r) for r in self.records) + "\n").encode(), self.media_type
        value: Any = list(self.records) if self.body_form == "array" else {"records": list(self.records)}
        return json.dumps(value).encode(), self.media_type


def _scenario(name: str, description: str, body_form: str, records: list[tuple[dict[str, Any], bool]],
              rules: str = "") -> Scenario:
    return Scenario(name, description, tuple(r for r, _ in records),
                    frozenset(i for i, (_, valid) in enumerate(records) if not valid), body_form,
                    frozenset(rules.split()))


def build_scenarios(identity: Identity, reachable_url: str) -> list[Scenario]:
    """The seeded batches. Those with valid records end with one, so an index off by one stays inside the batch."""

    def ok(position: int, kind: str, **kwargs: Any) -> tuple[dict[str, Any], bool]:
        return valid_record(position, identity, record_type=kind, **kwargs), True

    def bad(position: int, kind: str, *breakages: str, **kwargs: Any) -> tuple[dict[str, Any], bool]:
        return broken(valid_record(position, identity, record_type=kind, **kwargs), *breakages), False

    cycle = [("nature",), ("event_at", "vendor_ids"), ("project_ids", "nature", "event_at")]
    many = [ok(i, "message") if i in (0, 7, 14, 21, 29) else bad(i, "message", *cycle[i % 3]) for i in range(30)]
    good = {"type": "file", "vendor_url": reachable_url}
    lost, also_lost = ({"type": "file", "vendor_url": url} for url in UNREACHABLE_URLS)
    return [
        _scenario("all-valid", "three valid records, sent as a JSON array", "array",
                  [ok(i, "conversation") for i in range(3)], "EM-SERIES-006"),
        _scenario("mixed", "valid records and two invalid ones at known places, one of them with an attachment, "
                  "sent as a records object", "records",
                  [ok(0, "email"), bad(1, "email", "vendor_ids", "event_at", attachments=[good]), ok(2, "email"),
                   bad(3, "email", "nature"), ok(4, "email")], "EM-SENT-004 EM-SENT-011"),
        _scenario("many-errors", "25 invalid records with 1 to 3 errors each among 5 valid ones", "array", many,
                  "EM-ERR-006"),
        _scenario("all-invalid", "three invalid records and no valid one", "array",
                  [bad(0, "call", "nature"), bad(1, "call", "event_at", "vendor_ids"), bad(2, "call", "project_ids")],
                  "EM-STATUS-002"),
        _scenario("attachments", "valid records with three attachments, two at addresses that cannot download, "
                  "sent as NDJSON", "ndjson",
                  [ok(0, "meeting_notes", attachments=[lost, good]), ok(1, "meeting_notes", attachments=[also_lost]),
                   ok(2, "meeting_notes")],
                  "EM-ATT-003 EM-ATT-004 EM-ATT-006 EM-ATT-008 EM-SENT-010 EM-SENT-012 EM-SERIES-004 EM-SERIES-005 "
                  "EM-SERIES-007 EM-SERIES-008"),
    ]
