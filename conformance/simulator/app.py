"""The simulator's HTTP surface: a Starlette app implementing the documented Ingestion API."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.simulator.choices import ChoiceSet
from conformance.simulator.faults import FaultSet
from conformance.simulator.records import (
    JSON,
    MAX_RECORDS,
    NDJSON,
    MixedBatch,
    NotABatch,
    read_records,
    validate_batch,
)
from conformance.simulator.store import Store, UnknownCursor
from conformance.simulator.views import accepted_view, status_view

log = logging.getLogger("evermuse.simulator")

BODY_LIMITS = {"5-MiB": 5 * 1024 * 1024, "5-MB": 5_000_000}
FORMAT_HINTS = ("text", "audio", "video", "file")
MAIN, OTHER = "main", "other"
# Seconds a new batch answers 404: far past the suite's grace of 3 s, even on a busy machine (fault), or
# well within it (a choice the docs leave open).
NOT_FOUND_FOR_FAULT, NOT_FOUND_FOR_CHOICE = 30.0, 1.0
# A lagging replica: every STALE_EVERY-th read of a batch is served as it stood up to STALE_FOR seconds earlier,
# within the suite's default --replica-lag of 1 s. Every TRANSIENT_EVERY-th status read fails with a 500.
STALE_EVERY, STALE_FOR, TRANSIENT_EVERY = 3, 0.5, 5
# Faults that misjudge a documented bound: a body limit below 5 MB, an Idempotency-Key cut below 256, and
# caps on a record's fields below the documented ones, each rejecting the record that goes over it.
SMALL_BODY_LIMIT, SHORT_IDEMPOTENCY_KEY = 4_000_000, 128


def _items(record: dict[str, Any], name: str) -> list[Any]:
    value = record.get(name)
    return value if isinstance(value, list) else []


CAPS_BELOW_THE_BOUNDS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "tags-capped-at-100": lambda r: len(_items(r, "_tags")) > 100,
    "tag-length-capped-at-32": lambda r: any(len(str(tag)) > 32 for tag in _items(r, "_tags")),
    "attachments-capped-at-5": lambda r: len(_items(r, "_attachments")) > 5,
    "attachment-url-capped-at-1024": lambda r: any(isinstance(a, dict) and len(str(a.get("vendor_url", ""))) > 1024
                                                   for a in _items(r, "_attachments")),
    "thread-id-capped-at-256": lambda r: len(str(r.get("_thread_id", ""))) > 256,
    "participants-capped-at-1000": lambda r: len(_items(r, "_participants")) > 1000,
    "event-at-milliseconds-rejected": lambda r: "." in str(r.get("_event_at", "")),
}
NO_VALID_RECORD_REFUSALS = {"400-with-errors": 400, "422-with-errors": 422}
RATE_LIMITS = {"none": None, "40-then-wait": 40}
# What a gateway in front answers, in its own shape, for what it refuses before the API sees it.
GATEWAY_REFUSALS = {
    "html-400": (400, "text/html", b"<html><head><title>400 Bad Request</title></head><body><center>"
                                   b"<h1>400 Bad Request</h1></center><hr><center>nginx</center></body></html>\n"),
    "json-400-own-shape": (400, JSON, b'{"message":"Invalid request"}'),
    "text-404": (404, "text/plain", b"404 page not found\n"),
}
# Path bytes a gateway refuses in a path segment: an encoded slash or backslash, a quote, anything not ASCII.
GATEWAY_REFUSED_IN_PATH = re.compile(rb'%2f|%5c|%22|"|%[89a-f][0-9a-f]', re.IGNORECASE)


@dataclass(frozen=True)
class Grant:
    workspace: str
    permissions: frozenset[str]


@dataclass
class Settings:
    write_key: str
    read_key: str
    other_key: str
    faults: FaultSet = field(default_factory=FaultSet)
    choices: ChoiceSet = field(default_factory=ChoiceSet)
    lifecycle_seconds: float = 1.0
    # Requests a key may send before it must wait out the rest of a second; None leaves requests unlimited.
    rate_limit: int | None = None
    # Status reads each stage of a batch's lifecycle is shown to before the batch moves on (0: the clock alone).
    hold_reads: int = 0

    def grants(self) -> dict[str, Grant]:
        return {
            self.write_key: Grant(MAIN, frozenset({"api:read", "api:write"})),
            self.read_key: Grant(MAIN, frozenset({"api:read"})),
            self.other_key: Grant(OTHER, frozenset({"api:write"} if self.choices.picks("other-key-scope", "write-only")
                                                   else {"api:read", "api:write"})),
        }


class Refused(Exception):
    """A request the API answers with an error envelope."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: float | None = None,
                 headers: dict[str, str] | None = None, omit_retry_after: bool = False,
                 errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after, self.headers, self.omit_retry_after = retry_after, headers or {}, omit_retry_after
        # The records a 400 blames, for a server that lists them as the published 400 says.
        self.errors = errors


class DeliberateDrop(Exception):
    pass


class DroppedConnection(Response):
    """An answer that promises a body and breaks off, so the server closes the connection mid-answer."""

    def __init__(self) -> None:
        super().__init__(b"", media_type=JSON)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"batchId":', "more_body": True})
        raise DeliberateDrop("the status read was dropped on purpose (fault status-connection-drops)")


class Simulator:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.faults = settings.faults
        self.choices = settings.choices
        self.grants = settings.grants()
        self.store = Store(settings.lifecycle_seconds, settings.faults, settings.choices,
                           hold_reads=settings.hold_reads)
        self.rate_limit = settings.rate_limit if settings.rate_limit is not None else next(
            limit for value, limit in RATE_LIMITS.items() if self.choices.picks("rate-limit", value))
        self.body_limit = next(limit for value, limit in BODY_LIMITS.items() if self.choices.picks("body-limit", value))
        # Per key: when its window opened and how many requests it holds, or until when the key must wait.
        self._windows: dict[str, tuple[float, int]] = {}
        self._waits: dict[str, float] = {}
        self._requests = 0
        self._status_reads = 0
        # Every request the simulator was sent, as (method, raw path): what self-tests count.
        self.requests: list[tuple[str, str]] = []
        self.received_at: list[float] = []  # when each of them arrived (time.time(), for benches)
        self.routes = Starlette(
            routes=[
                Route("/api/v1/ingest", self.ingest, methods=["POST"]),
                Route("/api/v1/ingest/batches", self.list_batches, methods=["GET"]),
                Route("/api/v1/ingest/batches/{batchId}", self.batch_status, methods=["GET"]),
            ],
            exception_handlers={HTTPException: self._http_exception, Exception: self._crash},
        )

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests.append((scope["method"], scope.get("raw_path", b"").decode("latin-1")))
            self.received_at.append(time.time())
            refusal = self._gateway_refusal(scope)
            if refusal is not None:
                status, media_type, body = refusal
                await Response(body, status_code=status, media_type=media_type)(scope, receive, send)
                return
        await self.routes(scope, receive, send)

    def _gateway_refusal(self, scope: Any) -> tuple[int, str, bytes] | None:
        """What a gateway in front answers before the API sees the request: a batch id it will not pass on, or a
        limit its request validator refuses."""
        chosen = next((value for value in GATEWAY_REFUSALS if self.choices.picks("gateway", value)), None)
        if chosen is None:
            return None
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.partition(b"?")[0]
        prefix = b"/api/v1/ingest/batches/"
        if path.startswith(prefix) and GATEWAY_REFUSED_IN_PATH.search(path[len(prefix):]):
            return GATEWAY_REFUSALS[chosen]
        if path.rstrip(b"/") == b"/api/v1/ingest/batches":
            limits = [value for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                         keep_blank_values=True) if name == "limit"]
            if limits and not (limits[-1].isdigit() and 1 <= int(limits[-1]) <= 100):
                return GATEWAY_REFUSALS[chosen]
        return None

    # --- answers ---------------------------------------------------------------------------
    def _answer(self, request: Request, status: int, body: Any, *, headers: dict[str, str] | None = None,
                media_type: str = JSON, raw: bytes | None = None) -> Response:
        headers = dict(headers or {})
        key = request.headers.get("x-api-key")
        if key is not None and "key-echoed-in-header" in self.faults:
            headers["x-debug-key"] = key
        if media_type == JSON and self.choices.picks("json-charset", "utf-8"):
            media_type = f"{JSON}; charset=utf-8"
        content = raw if raw is not None else json.dumps(body, separators=(",", ":")).encode()
        return Response(content, status_code=status, headers=headers, media_type=media_type)

    def _refusal(self, request: Request, refused: Refused) -> Response:
        if refused.status not in (400, 429) and self.choices.picks("other-error-body", "empty"):
            # As the published document gives these answers: a status, and no body.
            return Response(b"", status_code=refused.status, headers=refused.headers)
        body: dict[str, Any] = {"error": refused.code, "message": refused.message}
        problem = (refused.status == 404 and "error-body-problem-json" in self.faults) or (
            refused.status == 400 and "bad-request-problem-json" in self.faults)
        if problem:
            body = {"type": "about:blank", "title": refused.code, "status": refused.status, "detail": refused.message}
        elif refused.status == 400 and request.url.path.endswith("/ingest") and (
                refused.errors is not None or self.choices.picks("bad-request-body", "with-errors")):
            body["errors"] = refused.errors or []
        if refused.retry_after is not None and not refused.omit_retry_after:
            body["retryAfter"] = refused.retry_after
        if refused.status == 400 and self.choices.picks("bad-request-body", "with-negative-retry-after"):
            body["retryAfter"] = -1
        return self._answer(request, refused.status, body, headers=refused.headers)

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            if "other-methods-404" in self.faults:
                return self._refusal(request, Refused(404, "not_found", "There is nothing at this path."))
            headers = {} if "405-without-allow" in self.faults else {"Allow": (exc.headers or {}).get("Allow", "")}
            message = f"{request.method} is not allowed here; use {headers.get('Allow') or 'another method'}."
            return self._refusal(request, Refused(405, "method_not_allowed", message, headers=headers))
        if exc.status_code == 404:
            return self._refusal(request, Refused(404, "not_found", "There is nothing at this path."))
        return self._refusal(request, Refused(exc.status_code, "bad_request", str(exc.detail)))

    async def _crash(self, request: Request, exc: Exception) -> Response:
        if not isinstance(exc, DeliberateDrop):
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return self._refusal(request, Refused(500, "internal_error", "The simulator failed; see its log."))

    # --- guards -----------------------------------------------------------------------------
    def _throttle(self, key: str | None) -> None:
        self._requests += 1
        if "rate-limit-without-retry-after" in self.faults and self._requests % 40 == 0:
            raise Refused(429, "rate_limited", "Too many requests.", headers={"Retry-After": "0"},
                          retry_after=0, omit_retry_after=True)
        if self.rate_limit is None:
            return
        # Counted, not timed: a key that has sent rate_limit requests waits out the rest of the second its
        # window opened in, however slowly the requests came, so a run on a busy machine meets the limit too.
        who, now = key or "", time.monotonic()
        if now < self._waits.get(who, 0.0):
            self._refuse_for(self._waits[who] - now)
        opened, used = self._windows.get(who, (now, 0))
        if used < self.rate_limit:
            self._windows[who] = (opened, used + 1)
            return
        del self._windows[who]
        self._waits[who] = max(now + 0.01, opened + 1)
        self._refuse_for(self._waits[who] - now)

    def _refuse_for(self, seconds: float) -> None:
        wait = round(max(0.01, seconds), 2)
        raise Refused(429, "rate_limited", f"More than {self.rate_limit} requests; wait {wait} s.",
                      retry_after=wait, headers={"Retry-After": str(math.ceil(wait))})

    def _authorize(self, request: Request, permission: str) -> Grant:
        key = request.headers.get("x-api-key")
        self._throttle(key)
        if key is None:
            if "missing-key-allowed" in self.faults:
                return self.grants[self.settings.write_key]
            raise Refused(401, "unauthorized", "Send your API key in the x-api-key header.")
        grant = self.grants.get(key)
        if grant is None:
            if "any-key-accepted" in self.faults:
                return self.grants[self.settings.write_key]
            raise Refused(401, "unauthorized", "The x-api-key header names no key.")
        if permission not in grant.permissions and "read-key-can-ingest" not in self.faults:
            raise Refused(403, "forbidden", f"This key lacks the {permission} permission.")
        if key == self.settings.read_key and permission == "api:read" and "read-key-refused-status" in self.faults:
            raise Refused(403, "forbidden", "This key lacks the api:write permission.")
        return grant

    def _guarded(self, request: Request, permission: str, validate: Any) -> tuple[Grant, Any]:
        """Authorise and validate the request in the order the simulator chose; validate's result comes back."""
        if self.choices.picks("auth-or-validation-first", "validation-first"):
            checked = validate()
            return self._authorize(request, permission), checked
        grant = self._authorize(request, permission)
        return grant, validate()

    # --- operations ---------------------------------------------------------------------------
    def _ingest_headers(self, request: Request) -> str:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in (JSON, NDJSON) or (media_type == NDJSON and "ndjson-refused-415" in self.faults):
            raise Refused(415, "unsupported_media_type", "Send application/json or application/x-ndjson.")
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None and len(idempotency_key) > 256:
            raise Refused(400, "invalid_idempotency_key", "An Idempotency-Key has at most 256 characters.")
        if idempotency_key is not None and len(idempotency_key) > SHORT_IDEMPOTENCY_KEY \
                and "idempotency-key-capped-at-128" in self.faults:
            raise Refused(400, "invalid_idempotency_key", "An Idempotency-Key has at most 128 characters.")
        hints = request.query_params.getlist("format")
        if any(hint not in FORMAT_HINTS for hint in hints):
            raise Refused(400, "invalid_format", f"format is one of {', '.join(FORMAT_HINTS)}.")
        if hints and "format-hint-refused-406" in self.faults:
            raise Refused(406, "not_acceptable", "This format cannot be produced.")
        return media_type

    async def ingest(self, request: Request) -> Response:
        try:
            grant, media_type = self._guarded(request, "api:write", lambda: self._ingest_headers(request))
            body = await self._read_body(request)
            idempotency_key = request.headers.get("idempotency-key")
            replay = None
            if idempotency_key is not None and "idempotency-ignored" not in self.faults:
                earlier, conflict = self.store.earlier_answer(grant.workspace, idempotency_key, media_type, body)
                if earlier is not None:
                    if "replay-processed-again" in self.faults:
                        self.store.create(grant.workspace,
                                          validate_batch(read_records(body, media_type, self.choices), self.choices))
                    return self._answer(request, self._accepted_status(), earlier)
                if conflict and self.choices.picks("same-key-other-body", "409"):
                    raise Refused(409, "idempotency_key_reused", "This Idempotency-Key came with another body.")
                replay = self.store.replay_key(grant.workspace, idempotency_key, media_type, body)
            try:
                records = read_records(body, media_type, self.choices)
                records = self._records_as_faults_read_them(records, request)
                validated = validate_batch(records, self.choices, skip_nature="nature-not-validated" in self.faults)
            except NotABatch as exc:
                if not ("empty-batch-accepted" in self.faults and body.strip() == b"[]"):
                    raise Refused(400, "invalid_batch", str(exc)) from None
                validated = validate_batch([], self.choices)
            except MixedBatch as exc:
                raise Refused(400, "mixed_batch", str(exc)) from None
            if validated.rejected and "invalid-record-refuses-batch" in self.faults:
                raise Refused(400, "invalid_records", f"{len(validated.rejected)} records are invalid.")
            refused_with = next((status for value, status in NO_VALID_RECORD_REFUSALS.items()
                                 if self.choices.picks("no-valid-record", value)), None)
            if validated.size and not validated.accepted_count and refused_with is not None:
                raise Refused(refused_with, "no_valid_record", "Every record of the batch is invalid.",
                              errors=validated.errors[:20])
            batch = self.store.create(grant.workspace, validated)
            earlier_id = next(iter(self.store.batches)) if "accepted-id-reused" in self.faults else None
            answer = accepted_view(batch, self.faults, self.choices, earlier_id=earlier_id)
            if replay is not None:
                self.store.replays[replay] = answer
            return self._answer(request, self._accepted_status(), answer)
        except Refused as refused:
            return self._refusal(request, refused)

    def _records_as_faults_read_them(self, records: list[Any], request: Request) -> list[Any]:
        """The records as a faulty server would validate them: a fault that breaks a bound or an effect."""
        if len(records) == MAX_RECORDS and "thousand-records-refused" in self.faults:
            raise NotABatch(f"A batch holds fewer than {MAX_RECORDS} records.")
        hinted_file = "file" in request.query_params.getlist("format")

        def misread(record: Any) -> Any:
            # A member the envelope lacks, naming the fault, so the record fails validation where it should not.
            if not isinstance(record, dict):
                return record
            if hinted_file and "format-changes-validation" in self.faults and not record.get("_attachments"):
                return {**record, "_rejected_by_fault": "format-changes-validation"}
            for fault, over_the_cap in CAPS_BELOW_THE_BOUNDS.items():
                if fault in self.faults and over_the_cap(record):
                    return {**record, "_rejected_by_fault": fault}
            return record

        return [misread(record) for record in records]

    def _accepted_status(self) -> int:
        return 201 if "ingest-created-201" in self.faults else 202

    async def _read_body(self, request: Request) -> bytes:
        limit = None if "no-size-limit" in self.faults else self.body_limit
        if "size-limit-4mb" in self.faults:
            limit = SMALL_BODY_LIMIT
        declared = request.headers.get("content-length", "")
        if limit is not None and declared.isdigit() and int(declared) > limit:
            raise Refused(413, "payload_too_large", "The body is over 5 MB.")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if limit is not None and size > limit:
                raise Refused(413, "payload_too_large", "The body is over 5 MB.")
            chunks.append(chunk)
        return b"".join(chunks)

    def _list_parameters(self, request: Request) -> tuple[int, str | None]:
        if "list-always-400" in self.faults:
            raise Refused(400, "invalid_request", "The list could not read the request.")
        limit = self._limit(request.query_params.getlist("limit"))
        cursors = request.query_params.getlist("cursor")
        cursor = cursors[-1] if cursors else None
        if cursor is not None and len(cursor) > 256:
            raise Refused(400, "invalid_cursor", "A cursor has at most 256 characters.")
        return limit, cursor

    async def list_batches(self, request: Request) -> Response:
        try:
            grant, (limit, cursor) = self._guarded(request, "api:read", lambda: self._list_parameters(request))
            try:
                page, next_cursor = self.store.page(grant.workspace, limit, cursor)
            except UnknownCursor:
                for status in (400, 422):
                    if self.choices.picks("unissued-cursor", str(status)):
                        raise Refused(status, "invalid_cursor", "This cursor was not issued by the list.") from None
                page, next_cursor = [], None
            now = time.monotonic()
            body: dict[str, Any] = {
                "batches": [status_view(b, self.faults, self.choices, progress=b.progress(now), counted_read=False)
                            for b in page],
                "nextCursor": next_cursor,
            }
            if next_cursor is None and "list-missing-next-cursor" in self.faults:
                del body["nextCursor"]
            raw = json.dumps(body, separators=(",", ":")).encode()
            if "truncated-list-body" in self.faults:
                raw = raw[: max(1, len(raw) - 7)]
            return self._answer(request, 200, None, raw=raw)
        except Refused as refused:
            return self._refusal(request, refused)

    def _limit(self, values: list[str]) -> int:
        if not values:
            return 20
        raw = values[-1]
        status = 422 if "bad-limit-422" in self.faults else 400
        if not raw.isdigit():
            raise Refused(status, "invalid_limit", "limit is a whole number from 1 to 100.")
        limit = int(raw)
        if limit > 100 and "limit-clamped" in self.faults:
            limit = 100
        if not 1 <= limit <= 100 or (limit == 100 and "limit-100-refused" in self.faults) \
                or (limit == 1 and "limit-1-refused" in self.faults):
            raise Refused(status, "invalid_limit", "limit is a whole number from 1 to 100.")
        return 100 if "limit-ignored" in self.faults else limit

    def _batch_id(self, request: Request) -> str:
        batch_id = request.path_params["batchId"]
        if len(batch_id) == 128 and "id-128-refused" in self.faults:
            raise Refused(414, "uri_too_long", "The request line is too long.")
        if len(batch_id) > 128:
            if "long-id-crashes" in self.faults:
                raise Refused(500, "internal_error", "The batch id overflowed a column.")
            raise Refused(400, "invalid_batch_id", "A batch id has at most 128 characters.")
        if '"' in batch_id and "quoted-id-crashes" in self.faults:
            raise Refused(500, "internal_error", "The batch id broke a query.")
        for status in (400, 422):
            if self.choices.picks("batch-id-format", f"other-shapes-{status}") \
                    and not self.store.id_shape_is_ours(batch_id):
                raise Refused(status, "invalid_batch_id", "This is not a batch id.")
        return batch_id

    def _replica_view(self, batch: Any) -> dict[str, Any] | None:
        """The oldest view served within STALE_FOR, on a read a lagging replica serves; None for a fresh read."""
        if not self.choices.picks("replica-lag", "stale-reads") or batch.reads % STALE_EVERY:
            return None
        since = time.monotonic() - STALE_FOR
        return next((view for served_at, view in batch.served if served_at >= since), None)

    async def batch_status(self, request: Request) -> Response:
        try:
            grant, batch_id = self._guarded(request, "api:read", lambda: self._batch_id(request))
            batch = self.store.find(grant.workspace, batch_id)
            if batch is None:
                if "unknown-id-400" in self.faults and batch_id not in self.store.batches:
                    raise Refused(400, "invalid_batch_id", "This is not a batch id.")
                raise Refused(404, "not_found", "No batch with this id in your workspace.")
            self._status_reads += 1
            if self.choices.picks("transient-errors", "500-now-and-then") and self._status_reads % TRANSIENT_EVERY == 0:
                raise Refused(500, "internal_error", "Internal server error. Please retry the request.")
            progress = batch.progress()
            age = batch.age()
            if ("new-batch-not-found" in self.faults and age < NOT_FOUND_FOR_FAULT) or (
                    self.choices.picks("read-after-write", "404-for-1s") and age < NOT_FOUND_FOR_CHOICE):
                raise Refused(404, "not_found", "No batch with this id in your workspace.")
            batch.reads += 1
            if "status-connection-drops" in self.faults and self._status_reads % 8 == 0:
                return DroppedConnection()
            view = self._replica_view(batch)
            if view is None:
                batch.shown_at(progress)
                view = status_view(batch, self.faults, self.choices, progress=progress, counted_read=True)
                batch.served.append((time.monotonic(), view))
            if "status-internal-id" in self.faults:
                view["batchId"] = f"int-{batch.seq}"
            media_type = "text/plain" if "text-plain-content-type" in self.faults else JSON
            return self._answer(request, 200, view, media_type=media_type)
        except Refused as refused:
            return self._refusal(request, refused)
