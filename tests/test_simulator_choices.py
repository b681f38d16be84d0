"""The simulator makes every choice the latitudes list, each one observably, so the latitude sweep tests something."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conformance.activities.scenarios import Identity, broken, valid_record
from conformance.rules.latitudes import load_latitudes
from conformance.simulator import SimulatorServer, make_settings
from conformance.simulator.choices import ChoiceSet, UnknownChoice

WRITE, OTHER = "em_sk_choices_write", "em_sk_choices_other"
INGEST, BATCHES = "/api/v1/ingest", "/api/v1/ingest/batches"
IDENTITY = Identity(run_id="choices")
LIFECYCLE = 2.0


def record(position: int = 0, **kwargs: Any) -> dict[str, Any]:
    return valid_record(position, IDENTITY, **kwargs)


def invalid(position: int = 0) -> dict[str, Any]:
    return broken(record(position), "nature", "event_at")


def with_attachment() -> dict[str, Any]:
    return record(attachments=[{"type": "file", "vendor_url": "https://files.example.com/a.pdf"}])


def post(api: httpx.Client, body: Any, **headers: str) -> httpx.Response:
    return api.post(INGEST, json=body, headers=headers)


def read_new(api: httpx.Client, body: Any) -> dict[str, Any]:
    return api.get(f"{BATCHES}/{post(api, body).json()['batchId']}").json()


def read_when(api: httpx.Client, body: Any, ended: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    batch_id = post(api, body).json()["batchId"]
    reads, deadline = [], time.monotonic() + 60  # a bound for a busy machine, not a figure the test checks
    while time.monotonic() < deadline:
        reads.append(api.get(f"{BATCHES}/{batch_id}").json())
        if ended(reads[-1]):
            return reads
        time.sleep(0.01)
    raise AssertionError(f"{batch_id} never ended: {reads[-1]}")


def _ended(read: dict[str, Any]) -> bool:
    return read.get("status") in ("COMPLETE", "FAILED")


def _same_key_twice(api: httpx.Client) -> tuple[int, bool]:
    """The status of a second body under the first's Idempotency-Key, and whether it names the first batch."""
    first = post(api, [record(0)], **{"Idempotency-Key": "k"}).json()["batchId"]
    again = post(api, [record(1)], **{"Idempotency-Key": "k"})
    return again.status_code, again.json().get("batchId") == first


def _ends_of(api: httpx.Client, bodies: list[Any]) -> list[dict[str, Any]]:
    """The last read of each of several batches sent one after the other, once every one has ended."""
    ids = [post(api, body).json()["batchId"] for body in bodies]
    deadline = time.monotonic() + 60  # a bound for a busy machine, not a figure the test checks
    while time.monotonic() < deadline:
        reads = [api.get(f"{BATCHES}/{batch_id}") for batch_id in ids]
        ends = [read.json() for read in reads if read.status_code == 200 and _ended(read.json())]
        if len(ends) == len(ids):
            return ends
        time.sleep(0.05)
    raise AssertionError(f"not every one of {ids} ended")


def _after_idle(api: httpx.Client) -> Any:
    """What a second request on a kept-alive connection gets once the connection was idle a moment."""
    api.get(BATCHES)
    time.sleep(0.3)
    try:
        return api.get(BATCHES).status_code
    except httpx.RemoteProtocolError as exc:
        return str(exc)


def _goes_back(reads: list[dict[str, Any]]) -> bool:
    """Whether a read shows again a view older than the one just before it."""
    return any(reads[i] != reads[i - 1] and reads[i] in reads[:i - 1] for i in range(2, len(reads)))


UNREACHABLE_FIRST = [{"type": "file", "vendor_url": "https://files.example.invalid/gone.pdf"},
                     {"type": "file", "vendor_url": "https://files.example.com/a.pdf"}]


# For each latitude, what a client sees of the choice: it must differ between the default and each other value.
def throttled_within(api: httpx.Client, requests: int) -> bool:
    """Whether any of a number of reads is answered 429, stopped at the first 429."""
    return any(api.get(BATCHES).status_code == 429 for _ in range(requests))


OBSERVE: dict[str, Callable[[httpx.Client], Any]] = {
    "unissued-cursor": lambda api: api.get(BATCHES, params={"cursor": "never-issued"}).status_code,
    "unparseable-ndjson-line": lambda api: api.post(INGEST, content=json.dumps(record()) + "\nnot json\n",
                                                    headers={"content-type": "application/x-ndjson"}).status_code,
    "lone-object-body": lambda api: post(api, record()).status_code,
    "rejected-batch-type": lambda api: read_new(api, [invalid()]).get("type"),
    "no-valid-record": lambda api: post(api, [invalid()]).status_code,
    "no-valid-record-end": lambda api: read_when(api, [invalid()], _ended)[-1]["status"],
    "mixed-type-batch": lambda api: post(api, [record(0), record(1, record_type="email")]).status_code,
    "status-errors": lambda api: len(read_new(api, [invalid(i) for i in range(4)] + [record(4)]).get("errors", [])),
    "errors-when-none": lambda api: "errors" in post(api, [record()]).json(),
    "download-fields-from": lambda api: "attachmentDownloadTotal" in read_new(api, [with_attachment()]),
    "download-counters-from": lambda api: "attachmentDownloadComplete" in read_new(api, [with_attachment()]),
    "downloads-final-when": lambda api: any(
        r.get("attachmentDownloadStatus") == "COMPLETE" and not _ended(r)
        for r in read_when(api, [with_attachment()], _ended)),
    "read-after-write": lambda api: api.get(f"{BATCHES}/{post(api, [record()]).json()['batchId']}").status_code,
    "list-after-write": lambda api: post(api, [record()]).json()["batchId"] in {
        b["batchId"] for b in api.get(BATCHES).json()["batches"]},
    "auth-or-validation-first": lambda api: httpx.get(str(api.base_url) + BATCHES, params={"limit": "0"}).status_code,
    "batch-id-format": lambda api: api.get(f"{BATCHES}/not-an-id").status_code,
    "batch-id-form": lambda api: (lambda batch_id: (len(batch_id), batch_id.count("-"), "_" in batch_id))(
        post(api, [record()]).json()["batchId"]),
    "created-at-form": lambda api: isinstance(read_new(api, [record()])["createdAt"], float),
    "source-field": lambda api: "source" in read_new(api, [record()]),
    "type-field": lambda api: "type" in read_new(api, [record()]),
    "type-case": lambda api: post(api, [{**record(), "_type": "CONVERSATION"}]).json().get("acceptedCount"),
    "list-view": lambda api: (post(api, [invalid(0), record(1)]), "errors" in api.get(BATCHES).json()["batches"][0])[1],
    "last-page-cursor": lambda api: ([post(api, [record(i)]) for i in range(2)],
                                     api.get(BATCHES, params={"limit": "2"}).json()["nextCursor"] is None)[1],
    "same-key-other-body": lambda api: _same_key_twice(api),
    "body-limit": lambda api: api.post(INGEST, content=b" " * 5_100_000 + b"[]",
                                       headers={"content-type": "application/json"}).status_code,
    "bad-request-body": lambda api: sorted(post(api, []).json()),
    "json-charset": lambda api: api.get(BATCHES).headers["content-type"],
    "rate-limit": lambda api: throttled_within(api, 41),
    "gateway": lambda api: (lambda answer: (answer.status_code, answer.headers.get("content-type")))(
        api.get(f"{BATCHES}/a%2Fb")),
    "other-error-body": lambda api: api.get(f"{BATCHES}/b_00000000000000000000").content == b"",
    "replica-lag": lambda api: _goes_back(read_when(api, [with_attachment()], _ended)),
    "downloader": lambda api: any(r.get("attachmentDownloadFailed") == 1 and r.get("attachmentDownloadStatus") ==
                                  "IN_PROGRESS" for r in read_when(api, [record(attachments=UNREACHABLE_FIRST)],
                                                                   _ended)),
    "transient-errors": lambda api: (lambda batch_id: {api.get(f"{BATCHES}/{batch_id}").status_code
                                                       for _ in range(5)})(post(api, [record()]).json()["batchId"]),
    "processing-failure": lambda api: sorted({(r["status"], r["totalErrorCount"]) for r in _ends_of(
        api, [[record(0), invalid(1)]])}),
    "idle-connection": _after_idle,
    "rejected-attachments": lambda api: read_new(api, [with_attachment(), broken(with_attachment(), "nature")]).get(
        "attachmentDownloadTotal"),
    "other-key-scope": lambda api: httpx.get(str(api.base_url) + BATCHES, headers={"x-api-key": OTHER}).status_code,
    "count-settling": lambda api: sorted({r["acceptedCount"] for r in _ends_of(
        api, [[record(0), record(1)] for _ in range(2)])}),
}


def observe(name: str, choices: tuple[str, ...]) -> Any:
    with SimulatorServer(make_settings(write_key=WRITE, other_key=OTHER, choices=choices,
                                       lifecycle_seconds=LIFECYCLE)) as server, \
            httpx.Client(base_url=server.base_url, headers={"x-api-key": WRITE}, timeout=10) as api:
        return OBSERVE[name](api)


ALTERNATIVES = [(latitude.name, value) for latitude in load_latitudes().values()
                for value in latitude.values[1:]]


def test_every_latitude_has_an_observation() -> None:
    assert set(OBSERVE) == set(load_latitudes())


@pytest.mark.parametrize(("name", "value"), ALTERNATIVES, ids=[f"{n}={v}" for n, v in ALTERNATIVES])
def test_each_choice_changes_what_a_client_sees(name: str, value: str) -> None:
    assert observe(name, ()) != observe(name, (f"{name}={value}",))


def test_same_key_with_another_body_is_a_new_batch_a_replay_or_a_conflict() -> None:
    seen = {value: observe("same-key-other-body", (f"same-key-other-body={value}",))
            for value in load_latitudes()["same-key-other-body"].values}
    assert seen == {"new-batch": (202, False), "replay-first": (202, True), "409": (409, False)}


@pytest.mark.parametrize(("text", "message"), [
    ("gremlins=on", "no choice named 'gremlins'; --list-choices shows them all"),
    ("unissued-cursor=418", "unissued-cursor is one of empty-page, 400, 422, not '418'"),
])
def test_an_unknown_choice_is_refused_with_a_sentence(text: str, message: str) -> None:
    with pytest.raises(UnknownChoice, match=message):
        ChoiceSet((text,))


def test_the_simulator_refuses_to_ask_for_an_undeclared_choice() -> None:
    with pytest.raises(UnknownChoice, match="undeclared choice"):
        ChoiceSet().picks("unissued-cursor", "404")


def test_cli_lists_every_choice_with_its_alternatives() -> None:
    out = subprocess.run([sys.executable, "-m", "conformance.simulator", "--list-choices"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(load_latitudes())
    assert any(line.startswith("unissued-cursor") and "empty-page | 400" in line for line in out)
