"""Probes as data: each names the rules it is there for, what it needs from the run, and the requests it sends.

Keys and workspaces, ids no batch has, other methods, bodies that are not batches, limits. The campaign
sends the steps of every probe whose needs the run meets, and says for the others why their rules could
not be exercised.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from conformance.activities.scenarios import Identity, Scenario, valid_record
from conformance.model.exchange import Intent, KeyRole, SentBatch
from conformance.settings.options import KEY_VARIABLES

INGEST = "/api/v1/ingest"
BATCHES = "/api/v1/ingest/batches"
OVERSIZE_BYTES = 5 * 1024 * 1024 + 256 * 1024


class Need(StrEnum):
    WRITES = "writes"
    READ_KEY = "read key"
    OTHER_KEY = "other key"
    OWN_BATCH = "own batch"
    SEEDED_BATCH = "seeded batch"


WHY_NOT = {
    Need.WRITES: "--read-only sends nothing but reads",
    Need.READ_KEY: f"{KEY_VARIABLES['read']} is not set: the run has no api:read-only key",
    Need.OTHER_KEY: f"{KEY_VARIABLES['other']} is not set: the run has no key of another workspace",
    Need.OWN_BATCH: "no batch of the run's workspace could be created or found",
    Need.SEEDED_BATCH: "no batch could be created to send again",
}


@dataclass(frozen=True)
class Facts:
    """What the probes may build their requests from."""

    identity: Identity
    own_batch_ids: tuple[str, ...]
    seeded: tuple[tuple[Scenario, SentBatch], ...] = ()
    # Every batch id the run has seen in its workspace's list, its own and other writers'.
    seen_batch_ids: frozenset[str] = frozenset()


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
    replay_of: Mapping[str, Any] | None = None


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
    return [Step("GET our batch with another workspace's key", "GET", f"{BATCHES}/{facts.own_batch_ids[0]}",
                 KeyRole.OTHER),
            Step("GET the list with another workspace's key", "GET", BATCHES, KeyRole.OTHER, {"limit": "100"})]


# Smallest first: an id keeps its shape when its tail stays within the alphabet it was written in.
ID_ALPHABETS = (string.digits, "0123456789abcdef", "0123456789ABCDEF", string.ascii_lowercase,
                string.ascii_uppercase, string.digits + string.ascii_lowercase, string.digits + string.ascii_uppercase)
ID_TAIL = 4


def _tail_in(batch_id: str, alphabet: str) -> int:
    length = len(batch_id) - len(batch_id.rstrip(alphabet))
    return min(length, ID_TAIL)


def id_like(batch_id: str, taken: frozenset[str]) -> str:
    """An id of the shape the API gives that names no batch the run has seen or is likely to create.

    The last characters, in the smallest alphabet they share, are each moved half that alphabet on: a server
    that numbers batches in sequence is then thousands of batches away, while the run's own property tests
    keep creating batches next to the ones it knows.
    """
    alphabet = max(ID_ALPHABETS, key=lambda a: _tail_in(batch_id, a))  # max keeps the first of equals
    size = _tail_in(batch_id, alphabet)
    if not size:
        return batch_id + "0"
    head, tail = batch_id[:-size], batch_id[-size:]
    for shift in range(len(alphabet) // 2, len(alphabet) // 2 + len(alphabet) - 1):
        candidate = head + "".join(alphabet[(alphabet.index(c) + shift) % len(alphabet)] for c in tail)
        if candidate not in taken:
            return candidate
    return batch_id + alphabet[0]


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


def _replay(facts: Facts) -> list[Step]:
    by_name = dict((scenario.name, (scenario, sent)) for scenario, sent in facts.seeded)
    scenario, sent = by_name.get("mixed") or facts.seeded[0]
    body, media_type = scenario.body()
    return [Step(f"ingest {scenario.name} again with its Idempotency-Key", "POST", INGEST, body=body,
                 content_type=media_type, headers=facts.identity.idempotency_key(scenario.name), sent=sent,
                 replay_of=sent.accepted)]


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
    Probe("an idempotent replay", _ids("EM-INGEST-003"), (Need.WRITES, Need.SEEDED_BATCH), _replay),
    Probe("an empty batch", _ids("EM-INGEST-004"), (Need.WRITES,), _empty_batch),
    Probe("a body over 5 MB", _ids("EM-INGEST-005"), (Need.WRITES,), _oversized_batch),
    Probe("limits outside 1 to 100", _ids("EM-LIST-006"), (), _limits),
)
