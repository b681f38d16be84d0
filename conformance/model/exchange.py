"""One request and its answer, with what the suite knows beside them: the model every check reads."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

NDJSON = "application/x-ndjson"
JSON = "application/json"


def json_pointer(parts: Iterable[Any]) -> str:
    """An RFC 6901 pointer to a place in a JSON document: ~ and / in a name are escaped."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def is_json_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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


class _NotJson(ValueError):
    """What Python's json module reads but RFC 8259 does not allow."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _NotJson(f"the name {key!r} appears twice in one object")
        seen.add(key)
    return dict(pairs)


def parse_json(data: bytes) -> Parsed:
    """One JSON document as RFC 8259 has it: no NaN or Infinity, no name twice in an object, UTF-8."""
    if not data.strip():
        return Parsed(False, error="the body is empty")
    try:
        return Parsed(True, json.loads(data, parse_constant=_reject_constant,
                                       object_pairs_hook=_object_without_repeats))
    except UnicodeDecodeError as exc:
        return Parsed(False, error=f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})")
    except json.JSONDecodeError as exc:
        return Parsed(False, error=f"{exc.msg} at line {exc.lineno}, column {exc.colno}")
    except _NotJson as exc:
        return Parsed(False, error=str(exc))
    except RecursionError:
        return Parsed(False, error="the body nests arrays or objects too deeply to read")


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # When the request was made, by the suite's clock: the start of what its answer may have caused.
    sent_at_ms: float = field(default_factory=lambda: time.time() * 1000, compare=False)

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
    # The server closed or reset the connection before a byte of answer, which RFC 9112 (9.3.1) lets it do to an
    # idle connection; and whether the same request, sent again on a fresh connection, was then answered.
    closed_unanswered: bool = False
    answered_on_retry: bool = False

    def header(self, name: str) -> str | None:
        return _lookup(self.headers, name)

    @cached_property
    def parsed(self) -> Parsed:
        return parse_json(self.body)

    @property
    def json(self) -> Any:
        return self.parsed.value if self.parsed.ok else None


class KeyRole(StrEnum):
    """Which key a request carried, as far as the run can tell."""

    WRITE = "write"
    READ = "read"
    OTHER = "other"
    MISSING = "missing"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Keys:
    """The keys of the run: a write key and, optionally, a read-only key and another workspace's key."""

    write: str | None = None
    read: str | None = None
    other: str | None = None

    def of(self, role: KeyRole) -> str | None:
        return {KeyRole.WRITE: self.write, KeyRole.READ: self.read, KeyRole.OTHER: self.other}.get(role)

    def role_of(self, presented: str | None) -> KeyRole:
        if presented is None:
            return KeyRole.MISSING
        for role in (KeyRole.WRITE, KeyRole.READ, KeyRole.OTHER):
            if self.of(role) and presented == self.of(role):
                return role
        return KeyRole.UNKNOWN

    @property
    def secrets(self) -> list[str]:
        return [key for key in (self.write, self.read, self.other) if key]


class Intent(StrEnum):
    """What the run meant by a request, where the request alone cannot show it."""

    VALID_REQUEST = "valid request"  # served with the right key: only the key decides its answer
    UNKNOWN_ID = "unknown id"  # an id shaped like the API's own that names no batch
    CONTRACT_VALID = "contract valid"  # generated in schemathesis' positive mode: the contract calls it valid
    AT_BOUNDS = "at bounds"  # valid records, each at a documented bound of one of its fields
    LONGEST_ID = "longest id"  # an id of the documented maximum length that names no batch


class SeriesEnd(StrEnum):
    """Why the last read of a series is the last: what the rules over a whole series may conclude."""

    TERMINAL = "terminal"  # the batch ended and its downloads are final
    TIMEOUT = "timeout"  # the lifecycle timeout passed first
    LAST_PAGE = "last-page"  # the list walk reached a page without nextCursor
    PASSED = "passed"  # the list walk passed every batch older than the run's own
    PAGE_CAP = "page-cap"  # the list walk stopped at its page limit, undecided


@dataclass(frozen=True)
class SentBatch:
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
        """The _type of the accepted records, or of the records sent when the run cannot tell which are valid."""
        for record in self.accepted_records if self.invalid_positions is not None else self.records:
            if isinstance(record, dict) and isinstance(record.get("_type"), str):
                return record["_type"]
        return None

    def attachment_urls(self) -> list[str] | None:
        """The attachments of the accepted records; none when no record sent carried one, whichever were valid."""
        accepted = self.accepted_records
        if accepted is None:
            return None if any(_attachments(record) for record in self.records) else []
        return [str(attachment.get("vendor_url", "")) for record in accepted for attachment in _attachments(record)]


def _attachments(record: Any) -> list[Mapping[str, Any]]:
    items = record.get("_attachments") if isinstance(record, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


@dataclass(frozen=True)
class Replay:
    """An idempotent replay the target answered with the original batch, as the list walk judges it."""

    original: Mapping[str, Any]  # the 202 answer that created the batch, and that the replay gave again
    # When a batch made by the replay would have been created, in milliseconds after the original's createdAt:
    # the server's clock, whatever it says, is then compared only with itself.
    after_original_ms: tuple[float, float]
    record_type: str | None = None


@dataclass(frozen=True)
class Context:
    keys: Keys | None = None
    sent: SentBatch | None = None
    # Earlier answers in the same series: reads of the same batch, or pages of the same list walk.
    earlier: tuple[Any, ...] = ()
    # When each earlier read of a batch came back (ms since the epoch), beside `earlier`.
    earlier_at: tuple[float, ...] = ()
    # How long a new batch may be missing from reads and the list (--write-lag), and how far a read may go back
    # behind an earlier read (--replica-lag), before either is a break.
    write_lag_ms: float = 3000.0
    replica_lag_ms: float = 1000.0
    # Set on the last read of a series.
    ended: SeriesEnd | None = None
    own_batch_ids: frozenset[str] = frozenset()
    expect_listed: frozenset[str] = frozenset()
    # Whether the list read the same before and after the walk: only then is a repeat the cursor's fault.
    quiet: bool | None = None
    # The original 202 answer, when the request repeats an Idempotency-Key.
    replay_of: Mapping[str, Any] | None = None
    intent: Intent | None = None
    # The documented operation (and media type) this request is a valid use of, when the run knows it is.
    valid_for: str | None = None
    # The first 202 answer to the same records sent without a format hint, when this request sends them with one.
    resent_of: Mapping[str, Any] | None = None
    # On the last page of a list walk: the replays before it, and every batchId a 202 answer gave the run.
    replays: tuple[Replay, ...] = ()
    given_batch_ids: frozenset[str] = frozenset()
    # On a page of a list walk: the status each batch was last read with, long enough before the page was asked for.
    shown_before: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Exchange:
    request: Request
    response: Response
    context: Context = field(default_factory=Context)

    @property
    def by_write_key(self) -> bool:
        """Sent with the run's write key, or with keys the suite does not know (then assumed to be it)."""
        return self.key_role in (None, KeyRole.WRITE)

    @property
    def key_role(self) -> KeyRole | None:
        """Which of the run's keys the request carried, or None when the keys are unknown."""
        if self.context.keys is None:
            return None
        return self.context.keys.role_of(self.request.header("x-api-key"))


@dataclass(frozen=True)
class Observation:
    """One exchange the run saw, and what the run was doing."""

    activity: str
    exchange: Exchange


def path_batch_id(raw_segment: str | None) -> str | None:
    return None if raw_segment is None else unquote(raw_segment)
