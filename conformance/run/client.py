"""The run's HTTP client: a request budget, polite retries, a capped read, and no key sent anywhere else."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from conformance import __version__
from conformance.exchange import Exchange, KeyRole, Keys, Request, Response

# The most of an answer the suite reads; the API's own 5 MB limit on requests is another number.
READ_CAP_BYTES = 1024 * 1024
# A key of the right shape that names no key, for the probes of unknown keys.
UNKNOWN_KEY = "em_sk_conformance_names_no_key"
UNREACHABLE = "could not connect"
MAX_429_RETRIES = 3
MAX_RETRY_WAIT = 30.0
SILENT_AFTER = 3


class BudgetSpent(Exception):
    """The run has sent as many requests as --max-requests allows."""


class TargetSilent(Exception):
    """Several requests in a row got no answer; the run stops sending."""

    def __init__(self, message: str, attempts: tuple[Exchange, ...]):
        super().__init__(message)
        self.attempts = attempts


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
        return min(float(body["retryAfter"]), MAX_RETRY_WAIT)
    header = response.header("retry-after") or ""
    if header.strip().isdigit():
        return min(float(header), MAX_RETRY_WAIT)
    return 1.0


class ApiClient:
    def __init__(self, base_url: str, keys: Keys, *, budget: Budget, timeout: float,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.budget = budget
        self.sleep = sleep
        self.timeout = timeout
        # Redirects are never followed: the key would go wherever the Location points.
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport,
                                  headers={"user-agent": f"evermuse-conformance/{__version__}"})
        self._silent_in_a_row = 0

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

    def send(self, method: str, path: str, *, key: KeyRole = KeyRole.WRITE, body: bytes | None = None,
             content_type: str | None = None, headers: Mapping[str, str] | None = None,
             params: Mapping[str, str] | None = None) -> Attempts:
        """Send one request with the key of a role (MISSING: no key; UNKNOWN: a key that names none).

        A 429 is waited out and retried; a request that gets no answer is sent once more, with the
        same headers, so a POST keeps its Idempotency-Key.
        """
        request_headers = dict(headers or {})
        presented = self.key_for(key)
        if presented is not None:
            request_headers["x-api-key"] = presented
        if content_type is not None:
            request_headers["content-type"] = content_type
        url = httpx.URL(self.base_url + path, params=params) if params else httpx.URL(self.base_url + path)
        request = Request(method, str(url), request_headers, body)
        attempts: list[Exchange] = []
        retried_silence = False
        while True:
            if not self.budget.take():
                if attempts:
                    return Attempts(tuple(attempts))
                raise BudgetSpent(f"the request budget of {self.budget.limit} is spent")
            response = self._once(request, url)
            attempts.append(Exchange(request, response))
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
            throttled = sum(1 for a in attempts if a.response.status == 429)
            if response.status == 429 and throttled <= MAX_429_RETRIES:
                self.sleep(retry_wait(response))
                continue
            return Attempts(tuple(attempts))

    def _once(self, request: Request, url: httpx.URL) -> Response:
        try:
            with self._http.stream(request.method, url, headers=dict(request.headers), content=request.body) as answer:
                chunks, size, truncated = [], 0, False
                for chunk in answer.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > READ_CAP_BYTES:
                        truncated = True
                        break
                body = b"".join(chunks)[: READ_CAP_BYTES + 1]
                return Response(answer.status_code, dict(answer.headers), body, truncated=truncated)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return Response(0, transport_error=f"{UNREACHABLE}: {_plain(exc)} ({type(exc).__name__})")
        except httpx.TimeoutException as exc:
            return Response(0, transport_error=f"no answer within {self.timeout:g} s ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return Response(0, transport_error=f"{_plain(exc)} ({type(exc).__name__})")


def _plain(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
