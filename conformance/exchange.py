"""One request and its answer, with what the suite knows beside them: the model every check reads."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

NDJSON = "application/x-ndjson"


def _lookup(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


@dataclass(frozen=True)
class Parsed:
    ok: bool
    value: Any = None
    error: str = ""


def parse_json(data: bytes) -> Parsed:
    if not data.strip():
        return Parsed(False, error="the body is empty")
    try:
        return Parsed(True, json.loads(data))
    except UnicodeDecodeError as exc:
        return Parsed(False, error=f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})")
    except json.JSONDecodeError as exc:
        return Parsed(False, error=f"{exc.msg} at line {exc.lineno}, column {exc.colno}")


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def header(self, name: str) -> str | None:
        return _lookup(self.headers, name)

    @cached_property
    def raw_path(self) -> str:
        return urlsplit(self.url).path

    @cached_property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query, keep_blank_values=True)

    @cached_property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @cached_property
    def records(self) -> list[Any] | None:
        """The records the body submits, when it is a batch the ingest operation can read; else None."""
        if self.body is None:
            return None
        if self.content_type == NDJSON:
            parsed = [parse_json(line) for line in self.body.split(b"\n") if line.strip()]
            # A line that is not JSON is still a record sent, one the API must reject.
            return [line.value if line.ok else None for line in parsed]
        parsed = parse_json(self.body)
        if not parsed.ok:
            return None
        value = parsed.value
        if isinstance(value, dict) and set(value) == {"records"}:
            value = value["records"]
        return value if isinstance(value, list) else None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    received_at_ms: float = field(default_factory=lambda: time.time() * 1000)
    # Why no answer came (timeout, reset connection); status is 0 then.
    transport_error: str | None = None
    # The body went on past what the suite reads; body holds its start.
    truncated: bool = False

    def header(self, name: str) -> str | None:
        return _lookup(self.headers, name)

    @cached_property
    def parsed(self) -> Parsed:
        return parse_json(self.body)

    @property
    def json(self) -> Any:
        return self.parsed.value if self.parsed.ok else None


@dataclass(frozen=True)
class Keys:
    """The keys of the run: a write key and, optionally, a read-only key and another workspace's key."""

    write: str | None = None
    read: str | None = None
    other: str | None = None

    def role_of(self, presented: str | None) -> str:
        if presented is None:
            return "missing"
        for role in ("write", "read", "other"):
            if getattr(self, role) and presented == getattr(self, role):
                return role
        return "unknown"

    @property
    def secrets(self) -> list[str]:
        return [key for key in (self.write, self.read, self.other) if key]


@dataclass(frozen=True)
class Sent:
    """What the suite sent to create a batch, and the 202 answer it got."""

    records: tuple[Any, ...]
    accepted: Mapping[str, Any] | None = None
    invalid_positions: frozenset[int] | None = None
    sent_at_ms: float | None = None
    answered_at_ms: float | None = None

    @property
    def accepted_records(self) -> list[Any] | None:
        if self.invalid_positions is None:
            return None
        return [r for i, r in enumerate(self.records) if i not in self.invalid_positions]

    @property
    def record_type(self) -> str | None:
        for record in self.records:
            if isinstance(record, dict) and isinstance(record.get("_type"), str):
                return record["_type"]
        return None

    def attachment_urls(self) -> list[str] | None:
        accepted = self.accepted_records
        if accepted is None:
            return None
        return [
            str(attachment.get("vendor_url", ""))
            for record in accepted
            if isinstance(record, dict)
            for attachment in record.get("_attachments", []) or []
            if isinstance(attachment, dict)
        ]


@dataclass(frozen=True)
class Context:
    keys: Keys | None = None
    sent: Sent | None = None
    # Earlier answers in the same series: reads of the same batch, or pages of the same list walk.
    earlier: tuple[Any, ...] = ()
    # Set on the last read of a series: "terminal", "timeout", "last-page" or "page-cap".
    ended: str | None = None
    own_batch_ids: frozenset[str] = frozenset()
    expect_listed: frozenset[str] = frozenset()
    # The original 202 answer, when the request repeats an Idempotency-Key.
    replay_of: Mapping[str, Any] | None = None
    # What the suite meant by the request, for probes whose intent the request cannot show.
    probe: str | None = None


@dataclass(frozen=True)
class Exchange:
    request: Request
    response: Response
    context: Context = field(default_factory=Context)

    @property
    def by_write_key(self) -> bool:
        """Sent with the run's write key, or with keys the suite does not know (then assumed to be it)."""
        return self.key_role in (None, "write")

    @property
    def key_role(self) -> str | None:
        """Which of the run's keys the request carried, or None when the keys are unknown."""
        if self.context.keys is None:
            return None
        return self.context.keys.role_of(self.request.header("x-api-key"))


def path_batch_id(raw_segment: str | None) -> str | None:
    return None if raw_segment is None else unquote(raw_segment)
