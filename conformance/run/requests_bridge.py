"""A requests.Session that sends through the run's client, so schemathesis's requests keep the run's bounds.

schemathesis sends with requests and reads every body whole; given this session (Case.call(session=...),
and the same in transport_kwargs for the checks that send again), each of its requests, auth variations
included, is counted against the budget, held to the request deadline and read up to the cap, follows no
redirect, and is recorded with the run like any other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPHeaderDict

from conformance.exchange import Exchange, Request
from conformance.run.client import ApiClient

# Headers requests adds that describe its own connection handling, not the request.
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "accept-encoding"}
EXCHANGE_ATTRIBUTE = "_evermuse_exchange"


class _RawHeaders:
    """What schemathesis reads of a urllib3 response: its headers and HTTP version."""

    version = 11

    def __init__(self, headers: HTTPHeaderDict):
        self.headers = headers


class BoundedSession(requests.Session):
    def __init__(self, client: ApiClient, record: Callable[[Exchange], Exchange]):
        super().__init__()
        self.client = client
        # Records the exchange with the run and returns it as judged (with the run's context).
        self.record = record

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body.encode() if isinstance(request.body, str) else request.body
        if body is not None and not isinstance(body, bytes):
            body = b"".join(body)  # a generator body, read whole: the run's own requests are small
        headers = {name: value for name, value in (request.headers or {}).items() if name.lower() not in _HOP_BY_HOP}
        sent = Request(str(request.method), str(request.url), headers, body)
        started = dt.datetime.now()
        exchange = self.record(Exchange(sent, self.client.send_once(sent)))
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
        return response


def exchange_of(prepared: Any) -> Exchange | None:
    """The exchange the bridge recorded for a request schemathesis sent, if it went through the bridge."""
    return getattr(prepared, EXCHANGE_ATTRIBUTE, None)
