"""A broken or hostile server yields a failing rule with evidence: never a crash, a hang, or a leaked key."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.suite_runs import run_suite, serve

KEY = "em_sk_hostile_write_4f1c"
ENV = {"EVERMUSE_API_KEY": KEY}
QUICK = ("--request-timeout", "1", "--lifecycle-timeout", "2", "--max-requests", "80")


class Hostile:
    """An ASGI app that answers every request the same wrong way."""

    def __init__(self, mode: str):
        self.mode = mode

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        key = dict(scope["headers"]).get(b"x-api-key", b"")
        status, media_type, body = {
            "not-json": (200, b"text/plain", b"hello"),
            "truncated": (200, b"application/json", b'{"batchId": "b_1", "status": "LAND'),
            "huge": (200, b"application/json", b'{"batches": [' + b'{"batchId": "b"},' * 600_000),
            "html": (502, b"text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
            "echo-key": (404, b"application/json", b'{"error": "not_found", "message": "no batch for ' + key + b'"}'),
        }.get(self.mode, (200, b"application/json", b"{}"))
        if self.mode == "silent":
            await asyncio.sleep(30)
        headers = [(b"content-type", media_type)]
        if self.mode == "reset":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*headers, (b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b'{"bat', "more_body": True})
            raise ConnectionResetError("dropped on purpose")
        if self.mode == "echo-key":
            headers.append((b"x-echo", key))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize(
    ("mode", "rule"),
    [("not-json", "EM-HTTP-002"), ("truncated", "EM-HTTP-002"), ("huge", "EM-HTTP-002"), ("html", "EM-HTTP-008"),
     ("silent", "EM-HTTP-007"), ("reset", "EM-HTTP-007"), ("echo-key", "EM-SEC-001")],
)
def test_hostile_target_fails_a_rule_without_crashing(tmp_path: Path, mode: str, rule: str) -> None:
    log = tmp_path / "run.log"
    with serve(Hostile(mode)) as url:
        run = run_suite(tmp_path, "--base-url", url, *QUICK, f"--log-file={log}", "--log-file-level=DEBUG",
                        env=ENV, timeout=300)
    assert run.returncode == 1, run.output[-3000:]
    assert rule in run.failing_rules, run.output[-3000:]
    assert "Traceback" not in run.output
    assert "INTERNALERROR" not in run.output
    for written in (run.output, run.junit, log.read_text()):
        assert KEY not in written
