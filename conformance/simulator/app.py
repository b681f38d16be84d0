"""The simulator's HTTP surface: a Starlette app implementing the documented Ingestion API."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.simulator.faults import FaultSet
from conformance.simulator.records import JSON, NDJSON, NotABatch, read_records, validate_batch
from conformance.simulator.store import Store
from conformance.simulator.views import accepted_view, status_view

log = logging.getLogger("evermuse.simulator")

MAX_BODY_BYTES = 5 * 1024 * 1024
FORMAT_HINTS = ("text", "audio", "video", "file")
MAIN, OTHER = "main", "other"
NOT_FOUND_BEFORE = 0.5


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
    lifecycle_seconds: float = 1.0
    # Requests per second per key; None leaves requests unlimited.
    rate_limit: int | None = None

    def grants(self) -> dict[str, Grant]:
        return {
            self.write_key: Grant(MAIN, frozenset({"api:read", "api:write"})),
            self.read_key: Grant(MAIN, frozenset({"api:read"})),
            self.other_key: Grant(OTHER, frozenset({"api:read", "api:write"})),
        }


class Refused(Exception):
    """A request the API answers with an error envelope."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: float | None = None,
                 headers: dict[str, str] | None = None, omit_retry_after: bool = False):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after, self.headers, self.omit_retry_after = retry_after, headers or {}, omit_retry_after


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
        self.grants = settings.grants()
        self.store = Store(settings.lifecycle_seconds, settings.faults)
        self._windows: dict[str, tuple[int, int]] = {}
        self._requests = 0
        self._status_reads = 0
        # Every request the simulator was sent, as (method, raw path): what self-tests count.
        self.requests: list[tuple[str, str]] = []
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
        await self.routes(scope, receive, send)

    # --- answers ---------------------------------------------------------------------------
    def _answer(self, request: Request, status: int, body: Any, *, headers: dict[str, str] | None = None,
                media_type: str = JSON, raw: bytes | None = None) -> Response:
        headers = dict(headers or {})
        key = request.headers.get("x-api-key")
        if key is not None and "key-echoed-in-header" in self.faults:
            headers["x-debug-key"] = key
        content = raw if raw is not None else json.dumps(body, separators=(",", ":")).encode()
        return Response(content, status_code=status, headers=headers, media_type=media_type)

    def _refusal(self, request: Request, refused: Refused) -> Response:
        body: dict[str, Any] = {"error": refused.code, "message": refused.message}
        if refused.status == 404 and "error-body-problem-json" in self.faults:
            body = {"type": "about:blank", "title": "Not Found", "status": 404, "detail": refused.message}
        if refused.retry_after is not None and not refused.omit_retry_after:
            body["retryAfter"] = refused.retry_after
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
        if self.settings.rate_limit is None:
            return
        now = time.monotonic()
        second = int(now)
        window, used = self._windows.get(key or "", (second, 0))
        if window != second:
            window, used = second, 0
        used += 1
        self._windows[key or ""] = (window, used)
        if used > self.settings.rate_limit:
            wait = round(max(0.01, window + 1 - now), 2)
            raise Refused(429, "rate_limited", f"More than {self.settings.rate_limit} requests in a second.",
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

    # --- operations ---------------------------------------------------------------------------
    async def ingest(self, request: Request) -> Response:
        try:
            grant = self._authorize(request, "api:write")
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type not in (JSON, NDJSON):
                raise Refused(415, "unsupported_media_type", "Send application/json or application/x-ndjson.")
            idempotency_key = request.headers.get("idempotency-key")
            if idempotency_key is not None and len(idempotency_key) > 256:
                raise Refused(400, "invalid_idempotency_key", "An Idempotency-Key has at most 256 characters.")
            hints = request.query_params.getlist("format")
            if any(hint not in FORMAT_HINTS for hint in hints):
                raise Refused(400, "invalid_format", f"format is one of {', '.join(FORMAT_HINTS)}.")
            body = await self._read_body(request)
            replay = None
            if idempotency_key is not None and "idempotency-ignored" not in self.faults:
                replay = self.store.replay_key(grant.workspace, idempotency_key, media_type, body)
                if replay in self.store.replays:
                    return self._answer(request, 202, self.store.replays[replay])
            try:
                records = read_records(body, media_type)
            except NotABatch as exc:
                if not ("empty-batch-accepted" in self.faults and body.strip() == b"[]"):
                    raise Refused(400, "invalid_batch", str(exc)) from None
                records = []
            validated = validate_batch(records, skip_nature="nature-not-validated" in self.faults)
            if validated.rejected and "invalid-record-refuses-batch" in self.faults:
                raise Refused(400, "invalid_records", f"{len(validated.rejected)} records are invalid.")
            answer = accepted_view(self.store.create(grant.workspace, validated), self.faults)
            if replay is not None:
                self.store.replays[replay] = answer
            return self._answer(request, 202, answer)
        except Refused as refused:
            return self._refusal(request, refused)

    async def _read_body(self, request: Request) -> bytes:
        limit = None if "no-size-limit" in self.faults else MAX_BODY_BYTES
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

    async def list_batches(self, request: Request) -> Response:
        try:
            grant = self._authorize(request, "api:read")
            limit = self._limit(request.query_params.getlist("limit"))
            cursors = request.query_params.getlist("cursor")
            cursor = cursors[-1] if cursors else None
            if cursor is not None and len(cursor) > 256:
                raise Refused(400, "invalid_cursor", "A cursor has at most 256 characters.")
            page, next_cursor = self.store.page(grant.workspace, limit, cursor)
            now = time.monotonic()
            body: dict[str, Any] = {
                "batches": [status_view(b, self.faults, progress=b.progress(now), counted_read=False) for b in page],
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
        if not 1 <= limit <= 100:
            raise Refused(status, "invalid_limit", "limit is a whole number from 1 to 100.")
        return 100 if "limit-ignored" in self.faults else limit

    async def batch_status(self, request: Request) -> Response:
        try:
            grant = self._authorize(request, "api:read")
            batch_id = request.path_params["batchId"]
            if len(batch_id) > 128:
                if "long-id-crashes" in self.faults:
                    raise Refused(500, "internal_error", "The batch id overflowed a column.")
                raise Refused(400, "invalid_batch_id", "A batch id has at most 128 characters.")
            batch = self.store.find(grant.workspace, batch_id)
            if batch is None:
                if "unknown-id-400" in self.faults and batch_id not in self.store.batches:
                    raise Refused(400, "invalid_batch_id", "This is not a batch id.")
                raise Refused(404, "not_found", "No batch with this id in your workspace.")
            progress = batch.progress()
            if "new-batch-not-found" in self.faults and progress * batch.lifecycle_seconds < NOT_FOUND_BEFORE:
                raise Refused(404, "not_found", "No batch with this id in your workspace.")
            batch.reads += 1
            self._status_reads += 1
            if "status-connection-drops" in self.faults and self._status_reads % 8 == 0:
                return DroppedConnection()
            view = status_view(batch, self.faults, progress=progress, counted_read=True)
            if "status-internal-id" in self.faults:
                view["batchId"] = f"int-{batch.seq}"
            media_type = "text/plain" if "text-plain-content-type" in self.faults else JSON
            return self._answer(request, 200, view, media_type=media_type)
        except Refused as refused:
            return self._refusal(request, refused)
