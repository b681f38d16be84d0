"""Probes as data: each names the rules it is there for, what it needs from the run, and the requests it sends.

Keys and workspaces, ids no batch has, other methods, bodies that are not batches, limits. The campaign
sends the steps of every probe whose needs the run meets, and says for the others why their rules could
not be exercised.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from conformance.activities.scenarios import UNREACHABLE_URLS, Identity, Scenario, valid_record
from conformance.model.exchange import Intent, KeyRole, SentBatch
from conformance.settings.options import KEY_VARIABLES

INGEST = "/api/v1/ingest"
BATCHES = "/api/v1/ingest/batches"
OVERSIZE_BYTES = 5 * 1024 * 1024 + 256 * 1024
# Below 5,000,000 bytes, the smaller reading of "5 MB", by a margin no JSON encoder's spacing could cross.
JUST_UNDER_5_MB = 4_990_000
MAX_RECORDS = 1000
MAX_BATCH_ID = 128
MAX_IDEMPOTENCY_KEY = 256
FORMAT_HINT = "file"


class Need(StrEnum):
    WRITES = "writes"
    READ_KEY = "read key"
    OTHER_KEY = "other key"
    OWN_BATCH = "own batch"
    SEEDED_BATCH = "seeded batch"
    KNOWN_IDS = "known ids"


WHY_NOT = {
    Need.WRITES: "--read-only sends nothing but reads",
    Need.READ_KEY: f"{KEY_VARIABLES['read']} is not set: the run has no api:read-only key",
    Need.OTHER_KEY: f"{KEY_VARIABLES['other']} is not set: the run has no key of another workspace",
    Need.OWN_BATCH: "no batch of the run's workspace could be created or found",
    Need.SEEDED_BATCH: "no batch could be created to send again",
    Need.KNOWN_IDS: "the run does not know which records the target finds valid: set --product-id and --project-id "
                    "to ids of the target's workspace",
}


@dataclass(frozen=True)
class Facts:
    """What the probes may build their requests from."""

    identity: Identity
    own_batch_ids: tuple[str, ...]
    seeded: tuple[tuple[Scenario, SentBatch], ...] = ()
    # Every batch id the run has seen in its workspace's list, its own and other writers'.
    seen_batch_ids: frozenset[str] = frozenset()
    # Whether the run knows which records the target finds valid (its own product and project ids).
    ids_known: bool = True


@dataclass(frozen=True)
class Step:
    """One request of a probe, and how its answer is to be read."""

    activity: str
    method: str
    path: str
    key: KeyRole = KeyRole.WRITE
    params: Mapping[str, str] | None = None
    body: bytes | None = None
    content_type: str | None = None
    headers: Mapping[str, str] | None = None
    intent: Intent | None = None
    sent: SentBatch | None = None
    resent_of: Mapping[str, Any] | None = None
    # Sends the step before it again: judged against its answer, and sent only when that answer was a batch.
    replays_previous: bool = False


@dataclass(frozen=True)
class Probe:
    name: str
    rules: frozenset[str]
    needs: tuple[Need, ...]
    steps: Callable[[Facts], list[Step]]


def one_record_batch(facts: Facts, purpose: str) -> bytes:
    record = valid_record(0, facts.identity, record_type="message")
    record["_vendor_ids"] = {"conformance_id": f"{facts.identity.run_id}-{purpose}"}
    return json.dumps([record]).encode()


def _reads(facts: Facts) -> list[tuple[str, str, dict[str, str]]]:
    return [("GET", f"{BATCHES}/{facts.own_batch_ids[0]}", {}), ("GET", BATCHES, {"limit": "100"})]


def _reads_with(role: KeyRole, label: str) -> Callable[[Facts], list[Step]]:
    return lambda facts: [Step(f"{method} {path.split('/')[-1]} {label}", method, path, role, params,
                               intent=Intent.VALID_REQUEST) for method, path, params in _reads(facts)]


def _send_with(role: KeyRole, label: str) -> Callable[[Facts], list[Step]]:
    return lambda facts: [Step(f"POST ingest {label}", "POST", INGEST, role, body=one_record_batch(facts, role),
                               content_type="application/json", intent=Intent.VALID_REQUEST,
                               headers=facts.identity.idempotency_key(f"key-{role}"))]


def _read_key_reads(facts: Facts) -> list[Step]:
    return [Step(f"{method} {path.split('/')[-1]} with the read key", method, path, KeyRole.READ, params)
            for method, path, params in _reads(facts)]


def _read_key_writes(facts: Facts) -> list[Step]:
    return [Step("POST ingest with the read key", "POST", INGEST, KeyRole.READ,
                 body=one_record_batch(facts, "read-key"), content_type="application/json",
                 headers=facts.identity.idempotency_key("read-key"))]


def _other_workspace(facts: Facts) -> list[Step]:
    # A read of an id no batch has tells a key that may not read at all (403 to every read) from one that hides
    # nothing but our batch: a 403 to the first reveals nothing (EM-AUTH-005).
    unknown = id_like(facts.own_batch_ids[0], facts.seen_batch_ids | frozenset(facts.own_batch_ids))
    return [Step("GET our batch with another workspace's key", "GET", f"{BATCHES}/{facts.own_batch_ids[0]}",
                 KeyRole.OTHER),
            Step("GET a batch id no batch has with another workspace's key", "GET", f"{BATCHES}/{unknown}",
                 KeyRole.OTHER),
            Step("GET the list with another workspace's key", "GET", BATCHES, KeyRole.OTHER, {"limit": "100"})]


# Smallest first: an id keeps its shape when its tail stays within the alphabet it was written in.
ID_TAIL = 4


def id_like(batch_id: str, taken: frozenset[str]) -> str:
    """An id of the shape the API gives that names no batch the run has seen or is likely to create.

    The last characters are each moved half an alphabet on, in the alphabet the API's own ids show at those
    places (every id given or seen: `taken` and batch_id), so that an id of any alphabet (hexadecimal, a ULID's
    Crockford base 32, base 58, a nanoid's letters, digits, _ and -) keeps its length and characters. A server
    that numbers batches in sequence is then far away, while the run keeps creating batches next to the ones
    it knows.
    """
    tails = {batch_id[-ID_TAIL:], *(other[-ID_TAIL:] for other in taken if len(other) == len(batch_id))}
    alphabet = "".join(sorted(set("".join(tails))))
    if len(alphabet) < 2:
        return batch_id + (alphabet or "0")
    head, tail = batch_id[:-ID_TAIL], batch_id[-ID_TAIL:]
    for shift in range(len(alphabet) // 2, len(alphabet) // 2 + len(alphabet) - 1):
        candidate = head + "".join(alphabet[(alphabet.index(c) + shift) % len(alphabet)] for c in tail)
        if candidate not in taken and candidate != batch_id:
            return candidate
    return batch_id[:-1] + next(c for c in alphabet if c != batch_id[-1])


def _unknown_id(facts: Facts) -> list[Step]:
    unknown = id_like(facts.own_batch_ids[0], facts.seen_batch_ids | frozenset(facts.own_batch_ids))
    return [Step("GET a batch id that names no batch", "GET", f"{BATCHES}/{unknown}", intent=Intent.UNKNOWN_ID)]


def malformed_ids(own: str) -> dict[str, str]:
    """Ids no batch can have, percent-encoded as they go on the wire."""
    return {
        "non-ASCII": "%C3%A9t%C3%A9-" + own[:8],
        "quoted": f"%22{own}%22",
        "a dot segment": "%2E%2E",
        "an encoded slash": f"{own}%2F..%2F{own}",
    }


def _too_long_id(facts: Facts) -> list[Step]:
    return [Step("GET a batch id over 128 characters", "GET", f"{BATCHES}/{'b' * 129}")]


def _impossible_ids(facts: Facts) -> list[Step]:
    own = facts.own_batch_ids[0] if facts.own_batch_ids else f"b_{facts.identity.run_id}"
    return [Step(f"GET a batch id {label}", "GET", f"{BATCHES}/{batch_id}")
            for label, batch_id in malformed_ids(own).items()]


def _other_methods(facts: Facts) -> list[Step]:
    absent = f"{BATCHES}/b_conformance_absent_{facts.identity.run_id}"
    return [Step(f"{method} {path}", method, path) for method, path in
            (("DELETE", absent), ("PUT", INGEST), ("POST", BATCHES))]


def replay_size(run_id: str) -> int:
    """How many records the replayed batch holds: drawn from the run's id, so that the batch a replay would make
    again is told by its counts from the same probe of another run of the suite on the same workspace."""
    return 2 + int(run_id, 16) % 47


def _replay(facts: Facts) -> list[Step]:
    records = []
    for position in range(replay_size(facts.identity.run_id)):
        record = valid_record(position, facts.identity, record_type="call_transcription")
        record["_vendor_ids"] = {"conformance_id": f"{facts.identity.run_id}-replay-{position}"}
        records.append(record)
    first = _ingest(f"ingest a batch of {len(records)} records to send again", facts, "replay", records)
    return [first, dataclasses.replace(first, activity="ingest it again with the same Idempotency-Key",
                                       replays_previous=True)]


def _empty_batch(facts: Facts) -> list[Step]:
    return [Step("ingest an empty array", "POST", INGEST, body=b"[]", content_type="application/json",
                 headers=facts.identity.idempotency_key("empty"))]


def _oversized_batch(facts: Facts) -> list[Step]:
    record = valid_record(0, facts.identity, record_type="document")
    record["data"] = {"padding": "x" * OVERSIZE_BYTES}
    return [Step("ingest a body over 5 MB", "POST", INGEST, body=json.dumps([record]).encode(),
                 content_type="application/json", headers=facts.identity.idempotency_key("oversize"))]


def _limits(facts: Facts) -> list[Step]:
    return [Step(f"GET the list with limit {limit}", "GET", BATCHES, params={"limit": limit}) for limit in ("101", "0")]


def _limits_at_the_bounds(facts: Facts) -> list[Step]:
    return [Step(f"GET the list with limit {limit}", "GET", BATCHES, params={"limit": limit}) for limit in ("1", "100")]


def _longest_id(facts: Facts) -> list[Step]:
    own = facts.own_batch_ids[0] if facts.own_batch_ids else f"b_{facts.identity.run_id}"
    unknown = id_like(own, facts.seen_batch_ids | frozenset(facts.own_batch_ids))[:MAX_BATCH_ID]
    longest = unknown + "0" * (MAX_BATCH_ID - len(unknown))
    return [Step(f"GET a batch id of {MAX_BATCH_ID} characters that names no batch", "GET", f"{BATCHES}/{longest}",
                 intent=Intent.LONGEST_ID)]


def _sent(facts: Facts, records: list[dict[str, Any]]) -> SentBatch:
    """What the run knows of valid records it sends: that they are valid, when it knows the target's ids."""
    return SentBatch(records=tuple(records), invalid_positions=frozenset() if facts.ids_known else None)


def _ingest(activity: str, facts: Facts, purpose: str, records: list[dict[str, Any]], **step: Any) -> Step:
    return Step(activity, "POST", INGEST, body=json.dumps(records).encode(), content_type="application/json",
                headers=facts.identity.idempotency_key(purpose), sent=_sent(facts, records), **step)


def _most_records(facts: Facts) -> list[Step]:
    records = []
    for position in range(MAX_RECORDS):
        record = valid_record(position, facts.identity, record_type="message")
        record["_vendor_ids"] = {"conformance_id": f"{facts.identity.run_id}-most-{position}"}
        records.append(record)
    return [_ingest(f"ingest a batch of exactly {MAX_RECORDS:,} records", facts, "most-records", records)]


def _body_just_under_5_mb(facts: Facts) -> list[Step]:
    records = [valid_record(position, facts.identity, record_type="message") for position in range(5)]
    for record in records:
        record["_vendor_ids"] = {"conformance_id": f"{record['_vendor_ids']['conformance_id']}-large"}
        record["data"] = {"padding": ""}
    spare = JUST_UNDER_5_MB - len(json.dumps(records).encode())
    for position, record in enumerate(records):
        record["data"]["padding"] = "x" * (spare // len(records) + (spare % len(records) if position == 0 else 0))
    return [_ingest("ingest a body just under 5 MB", facts, "just-under-5mb", records)]


def records_at_their_bounds(facts: Facts) -> list[dict[str, Any]]:
    """Valid records, each at the documented bound of one field, named in its data."""

    def record(position: int, bound: str) -> dict[str, Any]:
        made = valid_record(position, facts.identity, record_type="message")
        made["_vendor_ids"] = {"conformance_id": f"{facts.identity.run_id}-bounds-{position}"}
        made["data"] = {**made["data"], "bound": bound}
        return made

    tags = record(0, "200 tags of 64 characters")
    own_tags = [tag.ljust(64, "-") for tag in tags["_tags"]]
    tags["_tags"] = own_tags + [f"bound-{n:03d}-".ljust(64, "x") for n in range(200 - len(own_tags))]
    attachments = record(1, "10 attachments, one with a 512-character filename, a 256-character mime_type and a "
                            "2,048-character vendor_url")
    host = UNREACHABLE_URLS[0].rsplit("/", 1)[0] + "/"
    attachments["_attachments"] = [{"type": "file", "vendor_url": f"{UNREACHABLE_URLS[0]}?n={n}"} for n in range(9)] + [
        {"type": "file", "filename": "f" * 508 + ".pdf", "mime_type": "application/" + "x" * 244,
         "vendor_url": host + "a" * (2048 - len(host))}]
    thread = record(2, "a 512-character _thread_id and _event_at with milliseconds")
    thread["_thread_id"] = "t" * 512
    thread["_event_at"] = thread["_event_at"].replace("Z", ".999Z")
    people = record(3, "5,000 participants")
    people["_participants"] = [{"id": f"p{n}", "role": "unknown"} for n in range(5000)]
    return [tags, attachments, thread, people]


def _bounds(facts: Facts) -> list[Step]:
    step = _ingest("ingest records at their documented bounds, with an Idempotency-Key of 256 characters", facts,
                   "bounds", records_at_their_bounds(facts), intent=Intent.AT_BOUNDS)
    key = step.headers["Idempotency-Key"]
    return [dataclasses.replace(step, headers={"Idempotency-Key": (key + "-" + "k" * MAX_IDEMPOTENCY_KEY)[
        :MAX_IDEMPOTENCY_KEY]})]


def _format_hint(facts: Facts) -> list[Step]:
    by_name = dict((scenario.name, (scenario, sent)) for scenario, sent in facts.seeded)
    scenario, sent = by_name.get("mixed") or facts.seeded[0]
    records = []
    for record in scenario.records:  # other vendor ids, so that no record is the same record sent again
        vendor_ids = record.get("_vendor_ids")
        fresh = isinstance(vendor_ids, dict) and vendor_ids and all(isinstance(v, str) for v in vendor_ids.values())
        records.append({**record, "_vendor_ids": {**vendor_ids, "conformance_resent": "format"}} if fresh else record)
    body, media_type = dataclasses.replace(scenario, records=tuple(records)).body()
    return [Step(f"ingest {scenario.name} again, other vendor ids, with format={FORMAT_HINT}", "POST", INGEST,
                 params={"format": FORMAT_HINT}, body=body, content_type=media_type,
                 headers=facts.identity.idempotency_key("format"), resent_of=sent.accepted)]


def _ids(*rules: str) -> frozenset[str]:
    return frozenset(rules)


PROBES: tuple[Probe, ...] = (
    Probe("reads without a key", _ids("EM-AUTH-001"), (Need.OWN_BATCH,), _reads_with(KeyRole.MISSING, "without a key")),
    Probe("a send without a key", _ids("EM-AUTH-001"), (Need.WRITES,), _send_with(KeyRole.MISSING, "without a key")),
    Probe("reads with a key that names none", _ids("EM-AUTH-002"), (Need.OWN_BATCH,),
          _reads_with(KeyRole.UNKNOWN, "with a key that names none")),
    Probe("a send with a key that names none", _ids("EM-AUTH-002"), (Need.WRITES,),
          _send_with(KeyRole.UNKNOWN, "with a key that names none")),
    Probe("reads with the read key", _ids("EM-AUTH-003"), (Need.READ_KEY, Need.OWN_BATCH), _read_key_reads),
    Probe("a send with the read key", _ids("EM-AUTH-004"), (Need.READ_KEY, Need.WRITES), _read_key_writes),
    Probe("another workspace's key", _ids("EM-AUTH-005", "EM-AUTH-006"), (Need.OTHER_KEY, Need.OWN_BATCH),
          _other_workspace),
    Probe("an id that names no batch", _ids("EM-ID-001"), (Need.OWN_BATCH,), _unknown_id),
    Probe("an id over 128 characters", _ids("EM-ID-002"), (), _too_long_id),
    Probe("ids no batch can have", _ids("EM-ID-003"), (), _impossible_ids),
    Probe("other methods", _ids("EM-HTTP-005", "EM-HTTP-006"), (Need.WRITES,), _other_methods),
    # The list walk judges what the replay left behind (EM-INGEST-010).
    Probe("an idempotent replay", _ids("EM-INGEST-003", "EM-INGEST-010"), (Need.WRITES,), _replay),
    Probe("an empty batch", _ids("EM-INGEST-004"), (Need.WRITES,), _empty_batch),
    Probe("a body over 5 MB", _ids("EM-INGEST-005"), (Need.WRITES,), _oversized_batch),
    Probe("limits outside 1 to 100", _ids("EM-LIST-006"), (), _limits),
    Probe("limits at the bounds", _ids("EM-LIST-007"), (), _limits_at_the_bounds),
    Probe("an id of 128 characters", _ids("EM-ID-004"), (), _longest_id),
    Probe("a batch of 1,000 records", _ids("EM-INGEST-008"), (Need.WRITES, Need.KNOWN_IDS), _most_records),
    Probe("a body just under 5 MB", _ids("EM-INGEST-009"), (Need.WRITES,), _body_just_under_5_mb),
    Probe("records at their bounds", _ids("EM-INGEST-012"), (Need.WRITES, Need.KNOWN_IDS), _bounds),
    Probe("a format hint", _ids("EM-INGEST-011"), (Need.WRITES, Need.SEEDED_BATCH), _format_hint),
)
