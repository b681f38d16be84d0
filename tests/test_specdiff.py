"""The structural diff grades each kind of change for a client that trusts the published document."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conformance.report.drift.specdiff import Change, diff_documents

STATUS = ("get", "/api/v1/ingest/batches/{batchId}")


def document(**response_properties: Any) -> dict[str, Any]:
    """A small document with the three operations; the status read's 200 body gets the given properties."""
    body = {"type": "object", "additionalProperties": False, "required": ["batchId", "status"],
            "properties": {"batchId": {"type": "string", "maxLength": 128},
                           "status": {"type": "string", "enum": ["LANDING", "COMPLETE"]}, **response_properties}}
    def error() -> dict[str, Any]:
        return {"content": {"application/json": {"schema": {"type": "object",
                                                             "properties": {"error": {"type": "string"}}}}}}

    return {"paths": {
        "/api/v1/ingest": {"post": {
            "parameters": [{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 256}}],
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "array", "items": {"type": "object", "required": ["_type"],
                                           "properties": {"_type": {"type": "string", "enum": ["email", "call"]}}}}}}},
            "responses": {"202": {"content": {"application/json": {"schema": {"type": "object"}}}}, "401": error()}}},
        "/api/v1/ingest/batches": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"nextCursor": {"type": ["string", "null"]}}}}}}}}},
        "/api/v1/ingest/batches/{batchId}": {"get": {
            "parameters": [{"in": "path", "name": "batchId", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"content": {"application/json": {"schema": body}}}, "404": error()}}},
    }}


def at(doc: dict[str, Any], *keys: Any) -> Any:
    for key in keys:
        doc = doc[key]
    return doc


def only_change(published: dict[str, Any], contract: dict[str, Any]) -> Change:
    changes = diff_documents(published, contract)
    assert len(changes) == 1, changes
    return changes[0]


STATUS_BODY = ("paths", STATUS[1], STATUS[0], "responses", "200", "content", "application/json", "schema")
RECORD = ("paths", "/api/v1/ingest", "post", "requestBody", "content", "application/json", "schema", "items")


def edit(path: tuple, change: Any) -> dict[str, Any]:
    doc = document()
    change(at(doc, *path))
    return doc


@pytest.mark.parametrize(
    ("published", "kind", "level", "location"),
    [
        (edit(STATUS_BODY, lambda s: s["properties"]["status"].update(enum=["LANDING"])), "enum-values-missing",
         "breaking", "response 200.status"),
        (edit(STATUS_BODY, lambda s: s["properties"]["status"].update(enum=["LANDING", "COMPLETE", "PAUSED"])),
         "enum", "info", "response 200.status"),
        (edit(STATUS_BODY, lambda s: s["required"].append("source") or s["properties"].update(source={})),
         "field-only-in-published", "warning", "response 200.source"),
        (edit(STATUS_BODY, lambda s: s["properties"]["batchId"].update(type="integer")), "type", "breaking",
         "response 200.batchId"),
        (edit(STATUS_BODY, lambda s: s["properties"]["batchId"].update(maxLength=64)), "bound", "warning",
         "response 200.batchId"),
        (edit(STATUS_BODY, lambda s: s["properties"]["batchId"].pop("maxLength")), "bound", "info",
         "response 200.batchId"),
        (edit(STATUS_BODY, lambda s: s["properties"].pop("status") and s["required"].remove("status")),
         "field-only-in-contract", "warning", "response 200.status"),
        (edit(STATUS_BODY, lambda s: s["required"].remove("status")), "optional", "info", "response 200.status"),
        (edit(STATUS_BODY, lambda s: s.update(additionalProperties=True)), "closed", "info", "response 200"),
        (edit(RECORD, lambda s: s["properties"]["_type"].update(enum=["email", "call", "fax"])),
         "enum-values-missing", "breaking", "request body application/json[]._type"),
        (edit(RECORD, lambda s: s.update(required=[])), "required", "breaking",
         "request body application/json[]._type"),
        (edit(("paths", STATUS[1], STATUS[0], "responses"), lambda r: r.pop("404")), "status", "warning",
         "response 404"),
        (edit(("paths", STATUS[1], STATUS[0], "responses", "404"), lambda r: r.pop("content")), "body", "warning",
         "response 404"),
        (edit(("paths", "/api/v1/ingest/batches", "get", "responses", "200", "content", "application/json",
               "schema", "properties", "nextCursor"), lambda s: s.update(type="string")), "type", "breaking",
         "response 200.nextCursor"),
        (edit(("paths", "/api/v1/ingest", "post", "parameters", 0, "schema"), lambda s: s.update(maxLength=512)),
         "bound", "warning", "parameter header Idempotency-Key"),
        (edit(("paths",), lambda p: p.pop("/api/v1/ingest/batches")), "operation", "breaking",
         "GET /api/v1/ingest/batches"),
    ],
    ids=["enum-narrower", "enum-wider", "required-extra-field", "type", "bound-stricter", "bound-missing",
         "field-missing", "required-dropped", "opened", "request-enum-wider", "request-required-dropped",
         "status-missing", "body-missing", "nullable-lost", "parameter-bound", "operation-missing"],
)
def test_each_kind_of_change_gets_its_level(published: dict, kind: str, level: str, location: str) -> None:
    change = only_change(published, document())
    assert (change.kind, change.level, change.location) == (kind, level, location)


def test_identical_documents_differ_in_nothing() -> None:
    assert diff_documents(document(), copy.deepcopy(document())) == []


def test_fingerprints_are_stable_and_distinct() -> None:
    published = edit(STATUS_BODY, lambda s: s["properties"]["batchId"].update(type="integer", maxLength=64))
    first = [c.fingerprint for c in diff_documents(published, document())]
    again = [c.fingerprint for c in diff_documents(copy.deepcopy(published), document())]
    assert first == again
    assert len(set(first)) == len(first) == 2
