"""The run's one HTTP client: every request the run sends leaves through it, the property tests' included.

It keeps the bounds that hold against any target: a request budget counted per request on the wire, one
wall-clock deadline per request (connect, headers and body together) and one for the run, a capped
read that inflates compressed bodies no further than the cap, polite retries, and no redirect followed,
so the key goes to no other host.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from conformance import __version__
from conformance.client.tls import ssl_context
from conformance.model.exchange import Exchange, KeyRole, Keys, Request, Response

# The most of an answer the suite reads, decoded; the API's own 5 MB limit on requests is another number.
READ_CAP_BYTES = 1024 * 1024
# The most one batch of a list page can take as the docs bound it, in ASCII: 20 errors of a 2,048-character
# message and a 64-character code, with their JSON, and the batch's other fields (a 128-character id, ...).
DOCUMENTED_BATCH_BYTES = 20 * (2048 + 64 + 64) + 1024
LIST_PATH, LIST_LIMITS, LIST_DEFAULT_LIMIT = "/api/v1/ingest/batches", range(1, 101), 20


def read_cap(url: str) -> int:
    """How much of the answer to this request the suite reads: READ_CAP_BYTES, or for a list page the most the
    documented page of its limit can hold, which may be more (100 batches of 20 errors are some 4.5 MB)."""
    parts = httpx.URL(url)
    if parts.path.rstrip("/") != LIST_PATH:
        return READ_CAP_BYTES
    limit = parts.params.get("limit", str(LIST_DEFAULT_LIMIT))
    batches = int(limit) if limit.isdigit() and int(limit) in LIST_LIMITS else LIST_DEFAULT_LIMIT
    return max(READ_CAP_BYTES, batches * DOCUMENTED_BATCH_BYTES)
# A key of the right shape that names no key, for the probes of unknown keys.
UNKNOWN_KEY = "em_sk_conformance_names_no_key"
UNREACHABLE = "could not connect"
MAX_429_RETRIES = 3
# Connections a request may find closed unanswered, one after another, before it counts as unanswered: the
# pooled connections the run keeps open at most.
MAX_REOPENS = 4
# A 429 asking for a longer wait than this is not waited out: the request counts as answered 429.
MAX_RETRY_WAIT = 30.0
SILENT_AFTER = 3
# This many requests in a row answered 429 in the end, retries spent: the target lets the run do nothing.
THROTTLED_AFTER = 10
ACCEPTED_ENCODINGS = "gzip, deflate"


class RunLimitReached(Exception):
    """A bound of the run is reached; the run ends with what it has."""


class BudgetSpent(RunLimitReached):
    """The run has sent as many requests as --max-requests allows."""


class OutOfTime(RunLimitReached):
    """The run has used the time --max-duration allows."""


class TargetSilent(Exception):
    """Several requests in a row got no answer; the run stops sending."""

    def __init__(self, message: str, attempts: tuple[Exchange, ...]):
        super().__init__(message)
        self.attempts = attempts


class TargetThrottled(TargetSilent):
    """Request after request ended in 429; the run stops sending."""


class Budget:
    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class RunClock:
    """The run's own deadline, --max-duration after it started."""

    def __init__(self, max_duration: float, clock: Callable[[], float] = time.monotonic):
        self.max_duration = max_duration
        self._clock = clock
        self._deadline = clock() + max_duration

    def remaining(self) -> float:
        return self._deadline - self._clock()


@dataclass(frozen=True)
class Attempts:
    """One request as it left, with every answer it got, retries included; the last is the one that counts."""

    attempts: tuple[Exchange, ...]

    @property
    def final(self) -> Exchange:
        return self.attempts[-1]


def retry_wait(response: Response) -> float:
    """How long a 429 asks to wait: retryAfter in the body, else Retry-After, else one second."""
    body = response.json
    if isinstance(body, dict) and isinstance(body.get("retryAfter"), int | float) and body["retryAfter"] >= 0:
        return float(body["retryAfter"])
    header = response.header("retry-after") or ""
    if header.strip().isdigit():
        return float(header)
    return 1.0


# --- one deadline per request, down to each socket read ----------------------------------------------
class _RequestDeadline(threading.local):
    """When the request this thread is sending must be done by (time.monotonic), or None."""

    at: float | None = None

    def clip(self, timeout: float | None) -> float | None:
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the request's deadline passed")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read and write ends by the request's deadline, however slowly bytes trickle."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _RequestDeadline):
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.clip(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.clip(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, self._deadline.clip(timeout)),
                               self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend, deadline: _RequestDeadline):
        self._inner, self._deadline = inner, deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self._deadline.clip(timeout), local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, self._deadline.clip(timeout), socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _transport(deadline: _RequestDeadline, transport: httpx.BaseTransport | None,
               ca_bundle: str | None = None) -> httpx.BaseTransport:
    if transport is not None:
        return transport  # a test's mock transport has no network to bound
    real = httpx.HTTPTransport(verify=ssl_context(ca_bundle))
    # httpx builds its connection pool itself; its backend is wrapped so every socket read keeps the deadline.
    pool = real._pool
    pool._network_backend = _DeadlineBackend(pool._network_backend, deadline)
    return real


# --- a capped read, inflating no further than the cap -------------------------------------------------------
class _CappedBody:
    """The first `cap` bytes of a body as decoded, whatever the wire carried: gzip and deflate are inflated
    a bounded piece at a time, since a few kilobytes of gzip may inflate to gigabytes."""

    def __init__(self, content_encoding: str | None, cap: int = READ_CAP_BYTES):
        self.cap = cap
        encoding = (content_encoding or "").strip().lower()
        self._inflate = (zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip")
                         else zlib.decompressobj() if encoding == "deflate" else None)
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def feed(self, raw: bytes) -> bool:
        """Take the next raw chunk; False once the cap is passed and reading should stop."""
        if self._inflate is None:
            return self._keep(raw)
        data = raw
        while data:
            room = self.cap + 1 - self.size
            try:
                piece = self._inflate.decompress(data, room)
            except zlib.error:
                return self._keep(raw)  # not what it says it is: the bytes as they came
            data = self._inflate.unconsumed_tail
            if not self._keep(piece):
                return False
        return True

    def _keep(self, piece: bytes) -> bool:
        room = self.cap + 1 - self.size
        self.parts.append(piece[:room])
        self.size += min(len(piece), room)
        if self.size > self.cap:
            self.truncated = True
            return False
        return True

    @property
    def body(self) -> bytes:
        return b"".join(self.parts)


class ApiClient:
    def __init__(self, base_url: str, keys: Keys, *, budget: Budget, timeout: float, clock: RunClock | None = None,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None,
                 ca_bundle: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.budget = budget
        self.clock = clock or RunClock(float("inf"))
        self.sleep = sleep
        self.timeout = timeout
        self._deadline = _RequestDeadline()
        # Redirects are never followed: the key would go wherever the Location points.
        self._http = httpx.Client(timeout=timeout, follow_redirects=False,
                                  transport=_transport(self._deadline, transport, ca_bundle),
                                  headers={"user-agent": f"evermuse-conformance/{__version__}",
                                           "accept-encoding": ACCEPTED_ENCODINGS})
        self._silent_in_a_row = 0
        self._throttled_in_a_row = 0

    def close(self) -> None:
        self._http.close()

    def key_for(self, role: KeyRole) -> str | None:
        if role == KeyRole.MISSING:
            return None
        if role == KeyRole.UNKNOWN:
            return UNKNOWN_KEY
        key = self.keys.of(role)
        if key is None:
            raise ValueError(f"the run has no {role} key; an activity that needs one must say so")
        return key

    def request(self, method: str, path: str, *, key: KeyRole = KeyRole.WRITE, body: bytes | None = None,
                content_type: str | None = None, headers: Mapping[str, str] | None = None,
                params: Mapping[str, str] | None = None) -> Request:
        request_headers = dict(headers or {})
        presented = self.key_for(key)
        if presented is not None:
            request_headers["x-api-key"] = presented
        if content_type is not None:
            request_headers["content-type"] = content_type
        url = httpx.URL(self.base_url + path, params=params) if params else httpx.URL(self.base_url + path)
        return Request(method, str(url), request_headers, body)

    def send(self, method: str, path: str, **kwargs: Any) -> Attempts:
        """Send one request with the key of a role (MISSING: no key; UNKNOWN: a key that names none).

        A 429 is waited out and sent again, unless it asks for longer than MAX_RETRY_WAIT or than the run has
        left; a request that gets no answer is sent once more, with the same headers, so a POST keeps its
        Idempotency-Key.
        """
        request = self.request(method, path, **kwargs)
        attempts: list[Exchange] = []
        retried_silence = False
        while True:
            try:
                responses = self.send_reopening(request)
            except RunLimitReached:
                if attempts:
                    return Attempts(tuple(attempts))
                raise
            attempts += [Exchange(request, answer) for answer in responses]
            response = responses[-1]
            if response.transport_error is not None:
                self._silent_in_a_row += 1
                if self._silent_in_a_row >= SILENT_AFTER:
                    raise TargetSilent(f"{SILENT_AFTER} requests in a row got no answer; the last: "
                                       f"{response.transport_error}", tuple(attempts))
                if not retried_silence:
                    retried_silence = True
                    continue
                return Attempts(tuple(attempts))
            self._silent_in_a_row = 0
            if response.status != 429:
                self._throttled_in_a_row = 0
                return Attempts(tuple(attempts))
            wait = retry_wait(response)
            throttled = sum(1 for a in attempts if a.response.status == 429)
            if throttled <= MAX_429_RETRIES and wait <= MAX_RETRY_WAIT and wait < self.clock.remaining():
                self.sleep(wait)
                continue
            self._throttled_in_a_row += 1
            if self._throttled_in_a_row >= THROTTLED_AFTER:
                raise TargetThrottled(f"{THROTTLED_AFTER} requests in a row were answered 429 to the end "
                                      f"(the last asked to wait {wait:g} s)", tuple(attempts))
            return Attempts(tuple(attempts))

    def send_reopening(self, request: Request) -> list[Response]:
        """One request, sent again while the server closes or resets the connection before a byte of answer (a
        kept-alive connection it closed as the request came, RFC 9112 9.3.1). Each such
        connection leaves the pool, so a few more tries reach a fresh one. The attempts closed unanswered are
        marked answered_on_retry when a later one was answered."""
        answers = [self.send_once(request)]
        while answers[-1].closed_unanswered and len(answers) <= MAX_REOPENS:
            try:
                answers.append(self.send_once(request))
            except RunLimitReached:
                break
        if answers[-1].transport_error is None:
            answers = [dataclasses.replace(a, answered_on_retry=True) for a in answers[:-1]] + answers[-1:]
        return answers

    def send_once(self, request: Request) -> Response:
        """One request on the wire, counted against the budget, bounded in time and in bytes read."""
        remaining = self.clock.remaining()
        if remaining <= 0:
            raise OutOfTime(f"the run's time of {self.clock.max_duration:g} s is up")
        if not self.budget.take():
            raise BudgetSpent(f"the request budget of {self.budget.limit} is spent")
        allowed = min(self.timeout, remaining)
        self._deadline.at = time.monotonic() + allowed
        answered = False  # whether a byte of the answer came: the status line
        try:
            with self._http.stream(request.method, request.url, headers=dict(request.headers),
                                   content=request.body) as answer:
                answered = True
                read = _CappedBody(answer.headers.get("content-encoding"), read_cap(request.url))
                for raw in answer.iter_raw():
                    if not read.feed(raw):
                        break
                return Response(answer.status_code, dict(answer.headers), read.body, truncated=read.truncated)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return Response(0, transport_error=f"{UNREACHABLE}: {_plain(exc)} ({type(exc).__name__})")
        except httpx.TimeoutException as exc:
            if allowed < self.timeout:
                # The run's own time, not the request timeout, cut this request short: what the target would
                # have answered is unknown, and no rule may judge its silence.
                raise OutOfTime(f"the run's time of {self.clock.max_duration:g} s is up") from None
            return Response(0, transport_error=f"no complete answer within {allowed:g} s ({type(exc).__name__})")
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            # Closed or reset before the status line: the server dropped the connection as the request came (as
            # it may an idle kept-alive one), a reset rather than a close while a long body was still on its way.
            return Response(0, transport_error=f"{_plain(exc)} ({type(exc).__name__})", closed_unanswered=not answered)
        except httpx.HTTPError as exc:
            return Response(0, transport_error=f"{_plain(exc)} ({type(exc).__name__})")
        finally:
            self._deadline.at = None


def _plain(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


# --- a document from anywhere, on the run's bounds -------------------------------------------------------------
class FetchRefused(Exception):
    """The document could not be fetched within the run's bounds; the message says why."""


MAX_REDIRECTS = 3


def fetch_document(url: str, *, timeout: float, clock: RunClock | None = None,
                   transport: httpx.BaseTransport | None = None, ca_bundle: str | None = None) -> bytes:
    """A document such as the published OpenAPI file: no key is sent, time is the run's (--max-duration) and at
    most `timeout`, the body is capped at READ_CAP_BYTES, and a redirect is followed only on the same host."""
    clock = clock or RunClock(float("inf"))
    deadline = _RequestDeadline()
    origin = httpx.URL(url)
    with httpx.Client(timeout=timeout, follow_redirects=False, transport=_transport(deadline, transport, ca_bundle),
                      headers={"user-agent": f"evermuse-conformance/{__version__}",
                               "accept-encoding": ACCEPTED_ENCODINGS}) as http:
        for _ in range(MAX_REDIRECTS + 1):
            allowed = min(timeout, clock.remaining())
            if allowed <= 0:
                raise FetchRefused(f"the run's time of {clock.max_duration:g} s (--max-duration) was up")
            deadline.at = time.monotonic() + allowed
            try:
                with http.stream("GET", url) as answer:
                    if answer.is_redirect:
                        target = answer.url.join(answer.headers.get("location", ""))
                        if (target.scheme, target.host, target.port) != (origin.scheme, origin.host, origin.port):
                            raise FetchRefused(f"{url} redirects to another host ({target.host}); "
                                               f"give the document's own address")
                        url = str(target)
                        continue
                    if answer.status_code != 200:
                        raise FetchRefused(f"{url} answered {answer.status_code}")
                    read = _CappedBody(answer.headers.get("content-encoding"))
                    for raw in answer.iter_raw():
                        if not read.feed(raw):
                            raise FetchRefused(f"{url} is larger than {READ_CAP_BYTES} bytes")
                    return read.body
            except httpx.HTTPError as exc:
                raise FetchRefused(f"could not fetch {url}: {_plain(exc)} ({type(exc).__name__})") from None
            finally:
                deadline.at = None
    raise FetchRefused(f"{url} redirects more than {MAX_REDIRECTS} times")
