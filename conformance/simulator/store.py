"""The simulator's state: workspaces' batches, idempotent answers, and pages of the list."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from conformance.simulator.batches import Batch
from conformance.simulator.choices import ChoiceSet
from conformance.simulator.faults import FaultSet
from conformance.simulator.records import Validated

# Far past the --write-lag a new batch has to be listed, however slowly a run on a busy machine walks the list.
HIDDEN_WHILE_YOUNGER_MS = 60_000
LISTED_AFTER_MS = 1000
CROCKFORD, BASE58 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ", "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
NANOID = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
ID_SHAPES = {"prefixed-hex": re.compile(r"^b_[0-9a-f]{20}$"),
             "uuid": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
             "ulid": re.compile(rf"^[{CROCKFORD}]{{26}}$"),
             "base58": re.compile(rf"^[{BASE58}]{{22}}$"),
             "nanoid": re.compile(r"^[A-Za-z0-9_-]{21}$")}
# The characters of each random form, and how many.
ID_DRAWS = {"ulid": (CROCKFORD, 26), "base58": (BASE58, 22), "nanoid": (NANOID, 21)}


class UnknownCursor(Exception):
    """A cursor the list never issued."""


def attachment_urls(records: list[Any]) -> list[str | None]:
    return [
        attachment.get("vendor_url")
        for record in records
        if isinstance(record, dict) and isinstance(record.get("_attachments"), list)
        for attachment in record["_attachments"]
        if isinstance(attachment, dict)
    ]


@dataclass
class Store:
    lifecycle_seconds: float
    faults: FaultSet
    choices: ChoiceSet = field(default_factory=ChoiceSet)
    hold_reads: int = 0
    batches: dict[str, Batch] = field(default_factory=dict)
    # Answers to replay, by workspace, Idempotency-Key, media type and body digest.
    replays: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    _seq: int = 0

    def _new_id(self) -> str:
        if "accepted-numeric-batch-id" in self.faults:
            return str(10**12 + self._seq)
        if self.choices.picks("batch-id-form", "uuid"):
            return str(uuid.uuid4())
        for form, (alphabet, size) in ID_DRAWS.items():
            if self.choices.picks("batch-id-form", form):
                # A nanoid may well end in "-": every other one here does.
                drawn = "".join(secrets.choice(alphabet) for _ in range(size))
                return drawn[:-1] + "-" if form == "nanoid" and len(self.batches) % 2 else drawn
        return "b_" + secrets.token_hex(10)

    def id_shape_is_ours(self, batch_id: str) -> bool:
        form = next(form for form in ID_SHAPES if self.choices.picks("batch-id-form", form))
        return bool(ID_SHAPES[form].match(batch_id))

    def earlier_answer(self, workspace: str, idempotency_key: str, media_type: str,
                       body: bytes) -> tuple[dict[str, Any] | None, bool]:
        """The answer a request repeating an Idempotency-Key gets again, and whether the key came with another body."""
        exact = self.replay_key(workspace, idempotency_key, media_type, body)
        if exact in self.replays:
            return self.replays[exact], False
        same_key = [answer for (space, key, _, _), answer in self.replays.items()
                    if (space, key) == (workspace, idempotency_key)]
        if not same_key:
            return None, False
        if self.choices.picks("same-key-other-body", "replay-first"):
            return same_key[0], False
        return None, True

    def create(self, workspace: str, validated: Validated) -> Batch:
        self._seq += 1
        downloads = validated.accepted_records
        if self.choices.picks("rejected-attachments", "downloaded"):
            downloads = [*validated.accepted_records, *validated.rejected_records]
        positions = [i for i in range(validated.size) if i not in validated.rejected]
        without_attachments = [i for i, record in zip(positions, validated.accepted_records, strict=True)
                               if not (isinstance(record, dict) and record.get("_attachments"))]
        # A stack whose processing rejects one more record does so now and then: every second batch it can happen
        # to. One whose processing fails a batch fails each that holds accepted and rejected records and nothing
        # to download: always the same batches of a run, so what a run can judge does not vary with its order.
        settles = without_attachments[-1] if self.choices.picks("count-settling", "in-processing") and \
            self._seq % 2 == 0 and validated.accepted_count >= 2 and without_attachments else None
        fails = not self.choices.picks("processing-failure", "none") and validated.accepted_count >= 1 and \
            bool(validated.rejected) and not attachment_urls(downloads)
        batch = Batch(
            settles=settles,
            fails_in_processing=fails,
            failure_counted=self.choices.picks("processing-failure", "failed-counted"),
            batch_id=self._new_id(),
            seq=self._seq,
            workspace=workspace,
            created_ms=int(time.time() * 1000),
            created_mono=time.monotonic(),
            lifecycle_seconds=self.lifecycle_seconds,
            size=validated.size,
            accepted=validated.accepted_count,
            rejected=len(validated.rejected),
            errors=validated.errors,
            record_type=validated.record_type,
            attachment_urls=attachment_urls(downloads),
            hold_reads=self.hold_reads,
        )
        self.batches[batch.batch_id] = batch
        return batch

    @staticmethod
    def replay_key(workspace: str, idempotency_key: str, media_type: str, body: bytes) -> tuple[str, str, str, str]:
        # The same bytes as JSON and as NDJSON are different batches.
        return workspace, idempotency_key, media_type, hashlib.sha256(body).hexdigest()

    def find(self, workspace: str, batch_id: str) -> Batch | None:
        batch = self.batches.get(batch_id)
        if batch is None or (batch.workspace != workspace and "cross-workspace-read" not in self.faults):
            return None
        return batch

    def page(self, workspace: str, limit: int, cursor: str | None) -> tuple[list[Batch], str | None]:
        """Newest first; the cursor is the sequence number of the last batch of the page before."""
        after = None
        if cursor is not None:
            if not cursor.startswith("c_") or not cursor[2:].isdigit():
                raise UnknownCursor(cursor)
            after = int(cursor[2:])
        everyone = "list-all-workspaces" in self.faults
        listed = [b for b in self.batches.values() if everyone or b.workspace == workspace]
        now_ms = time.time() * 1000
        if "new-batches-hidden" in self.faults:
            listed = [b for b in listed if now_ms - b.created_ms >= HIDDEN_WHILE_YOUNGER_MS]
        if self.choices.picks("list-after-write", "1s-later"):
            listed = [b for b in listed if now_ms - b.created_ms >= LISTED_AFTER_MS]
        oldest_first = "list-oldest-first" in self.faults
        listed.sort(key=lambda b: b.seq, reverse=not oldest_first)
        if after is not None:
            repeat = "cursor-repeats-last" in self.faults
            if oldest_first:
                listed = [b for b in listed if b.seq > after or (repeat and b.seq == after)]
            else:
                listed = [b for b in listed if b.seq < after or (repeat and b.seq == after)]
        page, rest = listed[:limit], listed[limit:]
        # A server that does not read ahead gives a cursor whenever the page is full.
        ahead = rest or (len(page) == limit and self.choices.picks("last-page-cursor", "empty-page-after"))
        return page, (f"c_{page[-1].seq}" if ahead and page else None)
