"""A broken or hostile server yields a failing rule or "could not check": never a crash, a hang, a leak of the key,
or memory without bound. Each target misbehaves one way; each run is bounded in time, and where memory is at
stake, runs under an address-space limit. Leaks are looked for by tests/leaks.py, not by the suite's own matcher."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from conformance.client.bounded import READ_CAP_BYTES
from conformance.model.exchange import Context, Exchange, Keys, Request, Response
from conformance.report.drift.live import EXCERPT
from conformance.report.redact import forget_secrets, redact, register_secret
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checks.series import identity_never_changes
from conformance.rules.registry import quoted
from conformance.simulator import SimulatorServer, make_settings
from tests.leaks import describe, key_forms, leaks, leaks_in
from tests.suite_runs import SuiteRun, ThrottledWhere, run_suite, serve

# Random letters and digits: no run of 8 of them turns up in a run's output by chance (pytest's paths hold the
# test's name, so a key made of words would be "found" where it never leaked).
KEY = "em_sk_Qx7hV2mZ9pL4tR8wK3nB6cY1"
ENV = {"EVERMUSE_API_KEY": KEY}
QUICK = ("--request-timeout", "1", "--lifecycle-timeout", "2", "--max-requests", "80")
EXIT_FAILED, EXIT_NOT_CHECKED = 1, 6
# Far below what reading a whole endless or inflated body would take; far above what a run needs (about 150 MiB).
MEMORY_LIMIT = 768 * 1024 * 1024
GIB = 1024 * 1024 * 1024


@cache
def gzip_bomb() -> bytes:
    """A gzip stream of about 1 MB that inflates to 1 GiB."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * (16 * 1024 * 1024)
    return b"".join(deflate.compress(zeros) for _ in range(GIB // len(zeros))) + deflate.flush()


# Where the suite cuts what a target sent before it shows it: the body excerpt of the drift report
# (conformance/report/drift/live.py), a value the contract refused (conformance/rules/checks/schema.py: 197
# characters of its repr, then "...", once over 200), the start of a string over its maxLength (same file: 60
# characters), and a body that is not JSON (conformance/rules/checks/http.py: 120 bytes).
CUT_VALUE_REPR, CUT_LONG_STRING, CUT_NOT_JSON = 197, 60, 120
# How much of the secret part stands before each cut: more than the leak finder's slice of 8.
BEFORE_CUT = 10
ENVELOPE_OVER_MAX_LENGTH = 2100  # the contract's maxLength of an error message is 2048


def across(text: bytes, part: bytes, cut: int) -> bytes:
    """text, padded with dots so that part starts BEFORE_CUT bytes before the cut, then part."""
    return text.ljust(cut - BEFORE_CUT, b".") + part


def key_across_cuts(key: bytes, how: str) -> tuple[int, bytes, bytes]:
    """Status, media type and body of an answer that holds the key's secret part across a place the suite cuts."""
    part = key.removeprefix(b"em_sk_")
    if how == "300":
        return 404, b"application/json", across(b'{"error": "not_found", "message": "no batch for ', part,
                                                EXCERPT) + b'"}'
    if how == "200":
        message = across(b"no batch for ", part, CUT_LONG_STRING).ljust(ENVELOPE_OVER_MAX_LENGTH, b".")
        trace = across(b"x-api-key: ", part, CUT_VALUE_REPR - 1)  # - 1: the repr's opening quote
        return 404, b"application/json", b'{"error": "not_found", "message": "%s", "trace": "%s"}' % (message, trace)
    # Not JSON: the key across the first 120 bytes, across 200 and across 300, after the server's own echo of
    # the key cut short: its first 20 characters, and 10 characters of its secret part without the prefix.
    body = across(b"not JSON; you sent " + key[:20] + b" and " + part[4:14] + b";", part, CUT_NOT_JSON)
    body = across(body + b" ", part, 200)
    return 200, b"text/plain", across(body + b" ", part, EXCERPT) + b" end"


def reflected(key: bytes, how: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and a body that carry the key in one encoding or another."""
    text = key.decode()
    encoded = {
        "base64-body": base64.b64encode(b"user:" + key),
        "json-escapes": "".join(f"\\u{ord(c):04x}" for c in text).encode(),
        "unprefixed": key[len(b"em_sk_"):],
        "hex-body": key.hex().encode(),
    }
    envelope = b'{"error": "not_found", "message": "no batch for %s"}'
    if how == "base64-header":
        return [(b"x-trace", b"Basic " + base64.b64encode(b"user:" + key))], envelope % b"you"
    if how == "percent-location":
        return [(b"location", b"https://elsewhere.example/?k=" + "".join(f"%{b:02X}" for b in key).encode())], \
            envelope % b"you"
    return [], envelope % encoded[how]


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
        headers = [(b"content-type", b"application/json")]
        if self.mode.startswith("throttle"):
            await self._throttle(key, send)
            return
        if self.mode in ("trickle-body", "endless-body", "gzip-bomb"):
            await self._stream(send)
            return
        if self.mode.startswith("reflect-"):
            extra, body = reflected(key or b"em_sk_none", self.mode.removeprefix("reflect-"))
            await send({"type": "http.response.start", "status": 404, "headers": headers + extra})
            await send({"type": "http.response.body", "body": body})
            return
        if self.mode.startswith("key-across-"):
            status, media_type, body = key_across_cuts(key or b"em_sk_none", self.mode.removeprefix("key-across-"))
            await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", media_type)]})
            await send({"type": "http.response.body", "body": body})
            return
        status, media_type, body = {
            "not-json": (200, b"text/plain", b"hello"),
            "truncated": (200, b"application/json", b'{"batchId": "b_1", "status": "LAND'),
            "huge": (200, b"application/json", b'{"batches": [' + b'{"batchId": "b"},' * 600_000),
            "html": (502, b"text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
            "echo-key": (404, b"application/json", b'{"error": "not_found", "message": "no batch for ' + key + b'"}'),
            "deep": (200, b"application/json", b"[" * 100_000),
            "nan": (200, b"application/json", b'{"batches": [], "nextCursor": NaN}'),
            "twice": (200, b"application/json", b'{"batches": [], "batches": [], "nextCursor": null}'),
            "bad-utf8": (200, b"application/json", b'{"batches": [], "nextCursor": "\xff\xfe"}'),
        }.get(self.mode, (200, b"application/json", b"{}"))
        if self.mode == "silent":
            await asyncio.sleep(30)
        if self.mode == "reset":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*headers, (b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b'{"bat', "more_body": True})
            raise ConnectionResetError("dropped on purpose")
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", media_type)]})
        await send({"type": "http.response.body", "body": body})

    async def _throttle(self, key: bytes, send: Any) -> None:
        if key != KEY.encode():
            status, body = 401, b'{"error": "unauthorized", "message": "no key"}'
        else:
            # A wait of 0 is still a wait asked for and honoured; an hour is more than a run will wait.
            wait = 3600 if self.mode == "throttle-for-an-hour" else 0
            status, body = 429, b'{"error": "rate_limited", "message": "slow down", "retryAfter": %d}' % wait
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, send: Any) -> None:
        headers = [(b"content-type", b"application/json")]
        if self.mode == "gzip-bomb":
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if self.mode == "gzip-bomb":
            bomb = gzip_bomb()
            for start in range(0, len(bomb), 65536):
                await send({"type": "http.response.body", "body": bomb[start:start + 65536], "more_body": True})
        elif self.mode == "trickle-body":
            for byte in b'{"batches": [], "nextCursor": null}' * 100:
                await send({"type": "http.response.body", "body": bytes([byte]), "more_body": True})
                await asyncio.sleep(0.5)
        else:
            # Endless as far as a reader can tell (256 times the read cap), yet it ends: once the client has gone,
            # uvicorn's send returns at once, and a loop without end would spin the server's thread for good.
            chunk = b'{"batchId": "b"},' * 4096
            for _ in range(256 * READ_CAP_BYTES // len(chunk)):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})


@contextmanager
def trickled_headers() -> Iterator[str]:
    """A raw TCP server that sends its status line and headers one byte every half second, forever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10_000:
                if stop.wait(0.5):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def written_files(log: Path, drift: Path) -> dict[str, Path]:
    """Every file a run writes, by a label: the DEBUG log, the drift report's pages, and its evidence files."""
    files = {"DEBUG log": log, **{name: drift / name for name in ("drift.md", "drift.json", "drift.html")}}
    files |= {f"evidence/{path.name}": path for path in sorted((drift / "evidence").glob("*"))}
    return {label: path for label, path in files.items() if path.is_file()}


def assert_no_crash_and_no_key(run: SuiteRun, files: dict[str, Path]) -> None:
    assert "Traceback" not in run.output, run.output[-3000:]
    assert "INTERNALERROR" not in run.output, run.output[-3000:]
    # Read as bytes one to one: an evidence file holds a body as sent, and every form of a key is ASCII.
    artefacts = {"console": run.output, "JUnit": run.junit,
                 **{label: path.read_bytes().decode("latin-1") for label, path in files.items()}}
    found = leaks_in(artefacts, KEY)
    assert not found, describe(found)


# A SHOULD rule fails a run only under --strict.
STRICT_FOR = {"MUST": (), "SHOULD": ("--strict",)}


def run_against(url: str, tmp_path: Path, *extra: str, memory: bool = False, timeout: float = 240) -> SuiteRun:
    log, drift = tmp_path / "run.log", tmp_path / "drift"
    run = run_suite(tmp_path, "--base-url", url, *QUICK, f"--log-file={log}", "--log-file-level=DEBUG",
                    "--drift-report", str(drift), "--published-spec", "http://127.0.0.1:9/none.yaml",
                    *extra, env=ENV, timeout=timeout, memory_limit=MEMORY_LIMIT if memory else None)
    assert_no_crash_and_no_key(run, written_files(log, drift))
    return run


@pytest.mark.parametrize(
    ("mode", "rule"),
    [("not-json", "EM-HTTP-002"), ("truncated", "EM-HTTP-002"), ("huge", "EM-HTTP-002"), ("html", "EM-HTTP-008"),
     ("silent", "EM-HTTP-007"), ("reset", "EM-HTTP-007"), ("echo-key", "EM-SEC-001"),
     ("deep", "EM-HTTP-002"), ("nan", "EM-HTTP-002"), ("twice", "EM-HTTP-002"), ("bad-utf8", "EM-HTTP-002"),
     ("trickle-body", "EM-HTTP-007")],
)
def test_hostile_target_fails_a_rule_without_crashing(tmp_path: Path, mode: str, rule: str) -> None:
    with serve(Hostile(mode)) as url:
        run = run_against(url, tmp_path, *STRICT_FOR[load_catalogue()[rule].level])
    assert run.returncode == EXIT_FAILED, run.output[-3000:]
    assert rule in run.failing_rules, run.output[-3000:]


def test_headers_trickled_a_byte_at_a_time_end_each_request_at_its_deadline(tmp_path: Path) -> None:
    with trickled_headers() as url:
        run = run_against(url, tmp_path, timeout=120)
    assert run.returncode == EXIT_FAILED, run.output[-3000:]
    assert "EM-HTTP-007" in run.failing_rules
    assert "no complete answer within 1 s" in run.output


@pytest.mark.parametrize("mode", ["endless-body", "gzip-bomb"])
def test_a_body_without_end_is_read_up_to_the_cap_under_a_memory_limit(tmp_path: Path, mode: str) -> None:
    gzip_bomb()  # made before the target serves, so no request waits for it
    with serve(Hostile(mode)) as url:
        # The first answer is already one without end; forty of them show the memory stays bounded as well as
        # eighty would, at half the bytes.
        run = run_against(url, tmp_path, "--max-requests", "40", memory=True)
    assert run.returncode == EXIT_FAILED, run.output[-3000:]
    assert "EM-HTTP-002" in run.failing_rules
    assert "MemoryError" not in run.output


REFLECTED = ["base64-body", "base64-header", "percent-location", "json-escapes", "unprefixed", "hex-body"]


@pytest.mark.parametrize("how", REFLECTED)
def test_the_key_reflected_in_any_encoding_is_a_finding_and_hidden(tmp_path: Path, how: str) -> None:
    with serve(Hostile(f"reflect-{how}")) as url:
        run = run_against(url, tmp_path, "--strict")  # EM-SEC-001 is a SHOULD: no sentence of the docs says it
    assert run.returncode == EXIT_FAILED, run.output[-3000:]
    assert "EM-SEC-001" in run.failing_rules


@pytest.mark.parametrize("mode", ["key-across-300", "key-across-200", "key-across-not-json"])
def test_a_key_across_a_place_the_suite_cuts_is_hidden_whole_and_one_echoed_in_part_too(tmp_path: Path,
                                                                                        mode: str) -> None:
    with serve(Hostile(mode)) as url:
        run = run_against(url, tmp_path, "--strict")
    assert run.returncode == EXIT_FAILED, run.output[-3000:]
    assert "EM-SEC-001" in run.failing_rules, run.output[-3000:]
    # The evidence still shows the text up to where the key stood, the key hidden whole: the cut came after.
    assert re.search(r"\.{20}\[redacted\]", (tmp_path / "drift" / "drift.json").read_text()), run.output[-3000:]


@pytest.fixture
def key_registered() -> Iterator[None]:
    register_secret(KEY)
    yield
    forget_secrets()


def test_the_leak_finder_sees_the_key_in_each_answer_a_hostile_target_gives() -> None:
    answers = [b"".join(value for _, value in headers) + body
               for headers, body in (reflected(KEY.encode(), how) for how in REFLECTED)]
    answers += [key_across_cuts(KEY.encode(), how)[2] for how in ("300", "200", "not-json")]
    assert all(leaks(answer.decode(), KEY) for answer in answers)
    assert leaks("em_sk_" + KEY[6:14], KEY) and not leaks(KEY[:13], KEY)


def a_status_read(body: dict[str, Any], earlier: dict[str, Any]) -> Exchange:
    return Exchange(Request("GET", "http://target.test/api/v1/ingest/batches/b_1"),
                    Response(200, {"content-type": "application/json"}, json.dumps(body).encode()),
                    Context(keys=Keys(write=KEY), earlier=(earlier,)))


def test_a_finding_quotes_what_the_target_sent_with_the_key_hidden_before_the_cut() -> None:
    # The key starts 20 characters before the 300 a finding quotes: cut first, its first part would be shown.
    value = "." * 280 + KEY
    assert leaks(repr(value)[:300], KEY), "the cut alone would show part of the key"
    shown = quoted(value, a_status_read({}, {}))
    assert "[redacted]" in shown
    assert len(shown) <= 300 and not leaks(shown, KEY), shown
    # The rules over time quote a changed value so, as the checks of what was sent do.
    first = {"batchId": "b_1", "source": "api", "type": "email"}
    read = a_status_read({**first, "source": value}, first)
    findings = identity_never_changes(read)
    assert findings and findings[0].pointer == "/source"
    assert not leaks(findings[0].received, KEY) and "[redacted]" in findings[0].received


@pytest.mark.usefixtures("key_registered")
@pytest.mark.parametrize("form", list(key_forms(KEY)))
def test_redaction_hides_every_form_the_leak_finder_knows(form: str) -> None:
    text = redact(f"an answer: {key_forms(KEY)[form]}; the end")
    assert not leaks(text, KEY), text


@pytest.mark.parametrize("mode", ["throttle-all", "throttle-for-an-hour"])
def test_a_target_that_throttles_every_request_was_not_checked(tmp_path: Path, mode: str) -> None:
    with serve(Hostile(mode)) as url:
        run = run_against(url, tmp_path, timeout=180)
    assert run.returncode == EXIT_NOT_CHECKED, run.output[-3000:]
    assert "could not check the target: no request of the run that sends records got an answer the docs " \
           "describe, other than 429" in run.output
    report = json.loads((tmp_path / "drift" / "drift.json").read_text())
    assert report["live"]["status"] == "not checked"


def status_read(scope: dict[str, Any]) -> bool:
    return scope["method"] == "GET" and scope["path"].count("/") == 5


def test_a_target_that_throttles_every_status_read_was_not_checked(tmp_path: Path) -> None:
    simulator = SimulatorServer(make_settings(write_key=KEY))
    with serve(ThrottledWhere(simulator.simulator.app, status_read)) as url:
        run = run_against(url, tmp_path, timeout=180)
    assert run.returncode == EXIT_NOT_CHECKED, run.output[-3000:]
    assert "no request of the run that reads one of its batches got an answer the docs describe" in run.output


def test_the_run_ends_at_its_max_duration_and_still_reports(tmp_path: Path) -> None:
    # Batches that take a minute to end, waited for up to a minute, in a run allowed eight seconds.
    with SimulatorServer(make_settings(write_key=KEY, lifecycle_seconds=60)) as simulator:
        run = run_against(simulator.base_url, tmp_path, "--lifecycle-timeout", "60", "--max-duration", "8",
                              "--max-requests", "400",
                          timeout=120)
    assert run.returncode == EXIT_NOT_CHECKED, run.output[-3000:]
    assert re.search(r"^PARTIAL after \d+ s: 0 MUST and 0 SHOULD rules broken in what was checked; not a clean run "
                     r"\(the run stopped before it was done: the run.s time of 8 s is up; "
                     r"raise --max-duration \(8 s\)\)",
                     run.output, re.MULTILINE)
    report = json.loads((tmp_path / "drift" / "drift.json").read_text())
    assert report["live"]["status"] == "partial" and report["outcome"]["exit_status"] == EXIT_NOT_CHECKED
