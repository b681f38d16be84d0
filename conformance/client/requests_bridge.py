"""A requests.Session that sends through the run's client, so schemathesis's requests keep the run's bounds.

schemathesis sends with requests and reads every body whole; given this session (Case.call(session=...),
and the same in transport_kwargs for the checks that send again), each of its requests, auth variations
included, is counted against the budget, held to the request deadline and read up to the cap, follows no
redirect, and is recorded with the run like any other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPHeaderDict

from conformance.client.bounded import ApiClient
from conformance.model.exchange import Exchange, Request

# Headers requests adds that describe its own connection handling, not the request.
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "accept-encoding"}
EXCHANGE_ATTRIBUTE = "_evermuse_exchange"
JUDGEMENT_ATTRIBUTE = "_evermuse_judgement"
# What schemathesis is given as the key: the session puts the run's key in its place as the request leaves,
# so schemathesis never holds a key, and a case it sends without credentials still goes without.
KEY_PLACEHOLDER = "evermuse-run-write-key"


class _RawHeaders:
    """What schemathesis reads of a urllib3 response: its headers and HTTP version."""

    version = 11

    def __init__(self, headers: HTTPHeaderDict):
        self.headers = headers


class BoundedSession(requests.Session):
    def __init__(self, client: ApiClient, record: Callable[[Exchange], Exchange],
                 judge: Callable[[Exchange], Any] = lambda exchange: [],
                 one_at_a_time: Callable[[Request], AbstractContextManager[Any]] = lambda request: nullcontext()):
        super().__init__()
        self.client = client
        # Records the exchange with the run and returns it as judged (with the run's context).
        self.record = record
        # What the run makes of one exchange alone; computed once, when a check first asks.
        self.judge = judge
        # Held from sending to recording: a read of a batch waits for the run's other reads of it.
        self.one_at_a_time = one_at_a_time

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body.encode() if isinstance(request.body, str) else request.body
        if body is not None and not isinstance(body, bytes):
            body = b"".join(body)  # a generator body, read whole: the run's own requests are small
        headers = {name: self.client.keys.write if value == KEY_PLACEHOLDER and self.client.keys.write else value
                   for name, value in (request.headers or {}).items() if name.lower() not in _HOP_BY_HOP}
        sent = Request(str(request.method), str(request.url), headers, body)
        started = dt.datetime.now()
        with self.one_at_a_time(sent):
            for answer in self.client.send_reopening(sent):
                exchange = self.record(Exchange(sent, answer))
        answer = exchange.response
        if answer.transport_error is not None:
            error = requests.exceptions.Timeout if "no complete answer" in answer.transport_error \
                else requests.exceptions.ConnectionError
            raise error(answer.transport_error, request=request)
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = _RawHeaders(HTTPHeaderDict(answer.headers))
        response._content = answer.body
        response._content_consumed = True
        response.encoding = get_encoding_from_headers(response.headers)
        response.reason = ""
        response.url = str(request.url)
        response.request = request
        response.elapsed = dt.datetime.now() - started
        setattr(request, EXCHANGE_ATTRIBUTE, exchange)
        setattr(request, JUDGEMENT_ATTRIBUTE, _Judgement(self.judge, exchange))
        return response


class _Judgement:
    def __init__(self, judge: Callable[[Exchange], Any], exchange: Exchange):
        self._judge, self._exchange = judge, exchange
        self._result: Any = None
        self._done = False

    def result(self) -> Any:
        if not self._done:
            self._result, self._done = self._judge(self._exchange), True
        return self._result


def exchange_of(prepared: Any) -> Exchange | None:
    """The exchange the bridge recorded for a request schemathesis sent, if it went through the bridge."""
    return getattr(prepared, EXCHANGE_ATTRIBUTE, None)


def judgement_of(prepared: Any) -> Any:
    """What the run made of that exchange alone (computed once); None for a request the bridge did not send."""
    judgement = getattr(prepared, JUDGEMENT_ATTRIBUTE, None)
    return judgement.result() if judgement is not None else None
