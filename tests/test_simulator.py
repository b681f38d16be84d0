"""The reference simulator behaves as the documentation says, on a real loopback port."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from conformance.activities.scenarios import Identity, broken, valid_record
from conformance.rules.catalogue import load_catalogue
from conformance.simulator import FAULTS, SimulatorServer, make_settings

WRITE, READ, OTHER = "em_sk_t_write", "em_sk_t_read", "em_sk_t_other"
IDENTITY = Identity(run_id="selftest")


def record(position: int, *, record_type: str = "conversation", attachments: list | None = None) -> dict:
    return valid_record(position, IDENTITY, record_type=record_type, attachments=attachments)
INGEST, BATCHES = "/api/v1/ingest", "/api/v1/ingest/batches"


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    # Each stage shown to one read at least: a reader slowed by a busy machine still sees every stage.
    settings = make_settings(write_key=WRITE, read_key=READ, other_key=OTHER, lifecycle_seconds=0.6, hold_reads=1)
    with SimulatorServer(settings) as server:
        yield server


@pytest.fixture
def api(simulator: SimulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.base_url, headers={"x-api-key": WRITE}, timeout=10) as client:
        yield client


def ingest(api: httpx.Client, records: object, **kwargs: object) -> httpx.Response:
    return api.post(INGEST, json=records, **kwargs)  # type: ignore[arg-type]


def wait_until_ended(api: httpx.Client, batch_id: str, timeout: float = 60) -> list[dict]:
    reads = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reads.append(api.get(f"{BATCHES}/{batch_id}").json())
        downloads_done = reads[-1].get("attachmentDownloadStatus", "COMPLETE") != "IN_PROGRESS"
        if reads[-1]["status"] in ("COMPLETE", "FAILED") and downloads_done:
            return reads
        time.sleep(0.03)
    raise AssertionError(f"{batch_id} did not end: {reads[-1]}")


def test_simulator_starts_on_a_free_loopback_port_and_leaves_nothing_behind() -> None:
    before = {t.name for t in threading.enumerate()}
    server = SimulatorServer(make_settings()).start()
    port = int(server.base_url.rsplit(":", 1)[1])
    assert server.base_url.startswith("http://127.0.0.1:")
    assert httpx.get(server.base_url + BATCHES).status_code == 401
    server.stop()
    assert {t.name for t in threading.enumerate()} == before
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_ingest_json_array_reports_each_invalid_record(api: httpx.Client) -> None:
    answer = ingest(api, [record(0), broken(record(1), "nature"), record(2), {"_type": "email"}, record(4)])
    assert answer.status_code == 202
    body = answer.json()
    assert (body["acceptedCount"], body["rejectedCount"]) == (3, 2)
    assert {e["index"] for e in body["errors"]} == {1, 3}
    assert body["totalErrorCount"] == len(body["errors"]) == 1 + 7
    assert all(e["code"] == "VALIDATION_ERROR" and e["message"] for e in body["errors"])


def test_ingest_records_object_and_ndjson_are_batches_too(api: httpx.Client) -> None:
    wrapped = ingest(api, {"records": [record(0), record(1)]})
    lines = "\n".join(json.dumps(r) for r in (record(0), record(1))) + "\nnot json\n"
    ndjson = api.post(INGEST, content=lines, headers={"content-type": "application/x-ndjson"})
    assert wrapped.status_code == ndjson.status_code == 202
    assert wrapped.json()["acceptedCount"] == 2
    assert (ndjson.json()["acceptedCount"], ndjson.json()["errors"][0]["code"]) == (2, "INVALID_JSON")


def test_ingest_rejects_a_record_that_leaves_the_batch_type(api: httpx.Client) -> None:
    body = ingest(api, [record(0), record(1, record_type="email"), record(2)]).json()
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "BATCH_MISMATCH")]


def test_ingest_caps_errors_at_twenty_and_counts_them_all(api: httpx.Client) -> None:
    body = ingest(api, [{"_type": "call"}] * 4 + [record(4)]).json()
    assert body["totalErrorCount"] == 28
    assert len(body["errors"]) == 20


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"[]", {}, 400),
        (json.dumps([record(0)] * 1001).encode(), {}, 400),
        (b'{"items": []}', {}, 400),
        (b"{not json", {}, 400),
        (b"[{}]", {"content-type": "text/csv"}, 415),
        (b" " * (5 * 1024 * 1024 + 1), {}, 413),
        (b"[{}]", {"idempotency-key": "k" * 257}, 400),
    ],
    ids=["empty", "1001-records", "no-records", "not-json", "csv", "over-5-mb", "long-idempotency-key"],
)
def test_ingest_refuses_what_is_not_a_batch(api: httpx.Client, body: bytes, headers: dict, status: int) -> None:
    answer = api.post(INGEST, content=body, headers={"content-type": "application/json", **headers})
    assert answer.status_code == status
    assert set(answer.json()) == {"error", "message"}


def test_idempotency_key_replays_the_first_answer_for_the_same_body(api: httpx.Client) -> None:
    # One body, built once: a record's _event_at is the current second, and a second body could be another.
    body = [record(0)]
    first = ingest(api, body, headers={"Idempotency-Key": "t-replay"}).json()
    again = ingest(api, body, headers={"Idempotency-Key": "t-replay"}).json()
    other_body = ingest(api, [*body, record(1)], headers={"Idempotency-Key": "t-replay"}).json()
    assert again == first
    assert other_body["batchId"] != first["batchId"]


def test_batch_moves_through_its_lifecycle_and_completes(api: httpx.Client) -> None:
    batch_id = ingest(api, [record(0), record(1)]).json()["batchId"]
    statuses = [read["status"] for read in wait_until_ended(api, batch_id)]
    order = ["LANDING", "LANDED", "PROCESSING", "COMPLETE"]
    assert statuses == sorted(statuses, key=order.index)
    assert statuses[-1] == "COMPLETE"
    assert len(set(statuses)) >= 3


def test_a_held_batch_shows_every_stage_to_a_reader_that_comes_late() -> None:
    """hold_reads keeps each stage until that many status reads have shown it, however long the reader took."""
    attachments = [{"type": "file", "vendor_url": f"https://files.example.com/{n}.pdf"} for n in range(3)]
    settings = make_settings(write_key=WRITE, lifecycle_seconds=0.2, hold_reads=2)
    with SimulatorServer(settings) as server, \
            httpx.Client(base_url=server.base_url, headers={"x-api-key": WRITE}, timeout=10) as client:
        batch_id = ingest(client, [record(0, attachments=attachments)]).json()["batchId"]
        time.sleep(1.0)  # five lifecycles: by the clock alone the batch has long ended
        reads = wait_until_ended(client, batch_id)
    stages = [(read["status"], read["attachmentDownloadComplete"]) for read in reads]
    for stage in [("LANDING", 0), ("LANDED", 0), ("PROCESSING", 1), ("PROCESSING", 2)]:
        assert stages.count(stage) >= 2, (stage, stages)
    assert stages[-1] == ("COMPLETE", 3)


def test_batch_of_only_invalid_records_fails_with_errors(api: httpx.Client) -> None:
    batch_id = ingest(api, [{"_type": "call"}]).json()["batchId"]
    final = wait_until_ended(api, batch_id)[-1]
    assert final["status"] == "FAILED"
    assert final["errors"]


def test_downloads_fail_for_invalid_hosts_and_complete_otherwise(api: httpx.Client) -> None:
    urls = ["https://files.example.com/a.pdf", "https://files.conformance.invalid/b.pdf", "https://x.example/c"]
    attachments = [{"type": "file", "vendor_url": url} for url in urls]
    batch_id = ingest(api, [record(0, attachments=attachments)]).json()["batchId"]
    reads = wait_until_ended(api, batch_id)
    assert reads[0]["attachmentDownloadStatus"] in ("PENDING", "IN_PROGRESS")
    done = [r["attachmentDownloadComplete"] + r["attachmentDownloadFailed"] for r in reads]
    assert done == sorted(done)
    final = reads[-1]
    assert (final["attachmentDownloadTotal"], final["attachmentDownloadComplete"],
            final["attachmentDownloadFailed"], final["attachmentDownloadStatus"]) == (3, 2, 1, "PARTIAL_FAILURE")


def test_batch_without_attachments_shows_no_download_fields(api: httpx.Client) -> None:
    batch_id = ingest(api, [record(0)]).json()["batchId"]
    assert not any(name.startswith("attachment") for name in api.get(f"{BATCHES}/{batch_id}").json())


def test_list_is_newest_first_and_pages_by_cursor(api: httpx.Client) -> None:
    created = [ingest(api, [record(0)]).json()["batchId"] for _ in range(3)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get(BATCHES, params=params).json()
        assert len(page["batches"]) <= 2
        seen += [b["batchId"] for b in page["batches"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen[:3] == created[::-1]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_list_refuses_a_limit_outside_1_to_100(api: httpx.Client, limit: str) -> None:
    assert api.get(BATCHES, params={"limit": limit}).status_code == 400


def test_keys_and_workspaces_are_enforced(api: httpx.Client, simulator: SimulatorServer) -> None:
    batch_id = ingest(api, [record(0)]).json()["batchId"]
    url = f"{simulator.base_url}{BATCHES}/{batch_id}"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"x-api-key": "em_sk_nobody"}).status_code == 401
    assert httpx.get(url, headers={"x-api-key": READ}).status_code == 200
    assert httpx.post(simulator.base_url + INGEST, json=[record(0)], headers={"x-api-key": READ}).status_code == 403
    assert httpx.get(url, headers={"x-api-key": OTHER}).status_code == 404
    listed = httpx.get(simulator.base_url + BATCHES, params={"limit": 100}, headers={"x-api-key": OTHER}).json()
    assert batch_id not in {b["batchId"] for b in listed["batches"]}


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/v1/ingest/batches/" + "a" * 129, 400), ("/api/v1/ingest/batches/absent", 404),
     ("/api/v1/ingest/batches/a%2Fb", 404), ("/api/v1/ingest/batches/%22q%22", 404), ("/nowhere", 404)],
    ids=["129-chars", "unknown", "encoded-slash", "quoted", "unknown-path"],
)
def test_unknown_and_malformed_ids_get_an_error_envelope(api: httpx.Client, path: str, status: int) -> None:
    answer = api.get(path)
    assert (answer.status_code, answer.headers["content-type"]) == (status, "application/json")
    assert set(answer.json()) == {"error", "message"}


@pytest.mark.parametrize(("method", "path", "allow"), [("DELETE", BATCHES + "/x", "GET"), ("PUT", INGEST, "POST")])
def test_other_methods_get_405_with_allow(api: httpx.Client, method: str, path: str, allow: str) -> None:
    answer = api.request(method, path)
    assert answer.status_code == 405
    assert allow in answer.headers["allow"]
    assert set(answer.json()) == {"error", "message"}


def test_rate_limit_answers_429_with_retry_after_once_a_key_has_sent_its_share() -> None:
    """Counted, not timed: the fourth request of a key allowed three gets 429, however slowly they came."""
    with SimulatorServer(make_settings(write_key=WRITE, read_key=READ, rate_limit=3)) as server:
        answers = []
        for _ in range(5):
            answers.append(httpx.get(server.base_url + BATCHES, headers={"x-api-key": WRITE}))
            time.sleep(0.4)  # slower than three a second: a limiter that only counts per second lets all through
        other_key = httpx.get(server.base_url + BATCHES, headers={"x-api-key": READ})
    # The fourth waits out what is left of the second its window opened in (here, little); the fifth came later.
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 200]
    assert 0 < answers[3].json()["retryAfter"] <= 1
    assert other_key.status_code == 200


def test_faults_are_named_and_each_names_a_catalogue_rule() -> None:
    catalogue = load_catalogue()
    assert len(FAULTS) >= 25
    for fault in FAULTS.values():
        also_rules = [name for name in fault.also if not re.fullmatch(r"ST\d{3} [a-z_]+", name)]
        assert fault.rule in catalogue and all(rule in catalogue for rule in also_rules), fault.name
    assert set(catalogue.ids) - {fault.rule for fault in FAULTS.values()} == set(), "rules without a fault"


def test_cli_lists_faults_with_their_rules() -> None:
    out = subprocess.run([sys.executable, "-m", "conformance.simulator", "--list-faults"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(FAULTS) >= 25
    assert all(line.split()[1].startswith("EM-") for line in out)


def test_cli_refuses_an_unknown_fault_with_a_sentence_and_status_2() -> None:
    result = subprocess.run([sys.executable, "-m", "conformance.simulator", "--fault", "gremlins"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: no fault named 'gremlins'; --list-faults shows them all."


def test_cli_serves_and_prints_its_url_and_keys() -> None:
    process = subprocess.Popen([sys.executable, "-m", "conformance.simulator", "--port", "0", "--api-key", WRITE],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(" on ")[1].strip()
        keys = [process.stdout.readline() for _ in range(3)]
        assert WRITE in keys[0]
        assert httpx.get(url + BATCHES, headers={"x-api-key": WRITE}).status_code == 200
    finally:
        process.terminate()
        process.wait(10)

