"""The batches of the run: seeded from the scenarios (or, read-only, adopted from the target) and each read, one
read at a time, until it ends. The rules over a batch's content and over its reads in time are judged on them."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from conformance.activities.recorder import Recorder
from conformance.activities.scenarios import Identity, Scenario, build_scenarios
from conformance.activities.sender import Sender
from conformance.model.exchange import Context, Exchange, SentBatch, SeriesEnd
from conformance.settings.options import RunSettings

INGEST = "/api/v1/ingest"
BATCHES = "/api/v1/ingest/batches"
TERMINAL = ("COMPLETE", "FAILED")
FINAL_DOWNLOADS = ("COMPLETE", "PARTIAL_FAILURE", "FAILED")
READS_AFTER_END = 2
ADOPTED_READS = 3
# What each valid request is a use of, for EM-HTTP-008.
STATUS_USE = "GET /api/v1/ingest/batches/{batchId}"
# The rules this activity is there for: the areas judged on a batch the run sent and on its reads over time,
# and the rules of the ingest answer that made each batch.
AREAS = frozenset({"SHAPE", "COUNT", "STATUS", "TIME", "ERR", "ATT", "SENT", "SERIES"})
INGEST_RULES = frozenset({"EM-INGEST-001", "EM-INGEST-002", "EM-INGEST-006", "EM-INGEST-007"})


def serves(rule_id: str) -> bool:
    return rule_id.split("-")[1] in AREAS or rule_id in INGEST_RULES


def ingest_use(media_type: str) -> str:
    return f"POST /api/v1/ingest {media_type}"


@dataclass
class Seeded:
    scenario: Scenario
    batch_id: str
    sent: SentBatch
    reads: list[dict[str, Any]] = field(default_factory=list)
    # When each of the reads came back (ms since the epoch).
    read_at: list[float] = field(default_factory=list)
    ended: SeriesEnd | None = None
    last_status: str = "not read yet"
    # The run reads the batch one read at a time, whoever reads it (the campaign, a property test), so that
    # its reads are one series in time: each read's earlier reads all came back before it was sent.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


# The rules that judge what becomes of the records the run knows are valid, and why they cannot otherwise.
NEED_VALID_RECORDS = ("EM-SENT-005", "EM-SENT-006", "EM-SENT-008", "EM-SENT-010", "EM-SENT-012", "EM-SERIES-006",
                      "EM-HTTP-008")
UNKNOWN_VALIDITY = ("the run cannot tell which of its records the target takes as valid: set --product-id and "
                    "--project-id (EVERMUSE_PRODUCT_ID, EVERMUSE_PROJECT_ID) to a product and project of the "
                    "target's workspace")


def status_path(batch_id: str) -> str:
    return f"{BATCHES}/{batch_id}"


def has_ended(body: Any) -> bool:
    if not isinstance(body, dict) or body.get("status") not in TERMINAL:
        return False
    # A batch without attachments has no download status to wait for.
    return body.get("attachmentDownloadStatus", "COMPLETE") in FINAL_DOWNLOADS


def terminal_or_none(answer: Exchange) -> SeriesEnd | None:
    """Whether this read shows the batch at its end; the read is judged knowing it."""
    return SeriesEnd.TERMINAL if answer.response.status == 200 and has_ended(answer.response.json) else None


def ids_listed(body: Any) -> list[Any]:
    """The batchIds a page of the list shows."""
    batches = body.get("batches") if isinstance(body, dict) else None
    return [b.get("batchId") for b in batches if isinstance(b, dict)] if isinstance(batches, list) else []


class Batches:
    def __init__(self, settings: RunSettings, sender: Sender, recorder: Recorder, identity: Identity, *,
                 clock: Callable[[], float], cancelled: threading.Event):
        self.settings = settings
        self.sender = sender
        self.recorder = recorder
        self.identity = identity
        self.clock = clock
        self.cancelled = cancelled
        self.seeded: list[Seeded] = []
        self.adopted: list[str] = []
        self.to_seed = 0
        self.sent_so_far = 0
        self.wait_started: float | None = None

    @property
    def own_batch_ids(self) -> list[str]:
        return [s.batch_id for s in self.seeded] + self.adopted

    def series_read(self, method: str, url: str) -> Seeded | None:
        """The seeded batch a request reads the status of, if it is one: its read joins the batch's series."""
        if method.upper() != "GET":
            return None
        path = unquote(urlsplit(url).path)
        return next((s for s in list(self.seeded) if path.endswith(status_path(s.batch_id))), None)

    def context(self, **kwargs: Any) -> Context:
        return self.sender.context(**kwargs)

    # --- seeding ------------------------------------------------------------------------------
    def seed_all(self, count: int | None = None) -> None:
        """Seed the first `count` scenarios (all of them for None)."""
        if not self.settings.ids_known:
            self.recorder.skip(NEED_VALID_RECORDS, UNKNOWN_VALIDITY)
        # A refused batch is a finding (EM-INGEST-006, EM-HTTP-008), not a reason to stop: the probes still run.
        scenarios = build_scenarios(self.identity, self.settings.attachment_url)[:count]
        self.to_seed = len(scenarios)
        for number, scenario in enumerate(scenarios, start=1):
            seeded = self.seed(scenario)
            if seeded is not None:
                self.seeded.append(seeded)
            self.sent_so_far = number

    def seed(self, scenario: Scenario) -> Seeded | None:
        body, media_type = scenario.body()
        # Against a real target, records are valid only where they name its own product and project.
        known = self.settings.ids_known
        sent = SentBatch(records=scenario.records, invalid_positions=scenario.invalid_positions if known else None,
                         sent_at_ms=time.time() * 1000)
        valid_use = ingest_use(media_type) if known and len(scenario.invalid_positions) < len(scenario.records) \
            else None
        answer = self.sender.send(f"ingest {scenario.name}", "POST", INGEST, body=body, content_type=media_type,
                                  headers=self.identity.idempotency_key(scenario.name),
                                  context=self.context(sent=sent, valid_for=valid_use))
        accepted = answer.response.json if 200 <= answer.response.status < 300 else None
        if not isinstance(accepted, dict) or not isinstance(accepted.get("batchId"), str | int):
            self.recorder.skip(scenario.rules, f"the {scenario.name} batch could not be created: "
                                               f"POST answered {answer.response.status or 'nothing'}")
            return None
        batch_id = str(accepted["batchId"])
        if batch_id in self.own_batch_ids:
            self.recorder.skip(scenario.rules, f"the {scenario.name} batch was given the id of an earlier batch, "
                                               f"so it cannot be read on its own")
            return None
        sent = dataclasses.replace(sent, accepted=accepted, answered_at_ms=answer.response.received_at_ms)
        seeded = Seeded(scenario, batch_id, sent)
        self.read(seeded, ended=None)
        return seeded

    # --- reading to the end -------------------------------------------------------------------
    def read(self, seeded: Seeded, *, ended: SeriesEnd | Callable[[Exchange], SeriesEnd | None] | None) -> Exchange:
        """One read of a seeded batch; ended may be decided from the answer itself."""

        def judged(answer: Exchange) -> Context:
            end = ended(answer) if callable(ended) else ended
            return self.context(sent=seeded.sent, earlier=tuple(seeded.reads), earlier_at=tuple(seeded.read_at),
                                ended=end, valid_for=STATUS_USE)

        with seeded.lock:
            answer = self.sender.send(f"read {seeded.scenario.name} #{len(seeded.reads) + 1}", "GET",
                                      status_path(seeded.batch_id), context=judged)
            body = answer.response.json
            if answer.response.status == 200 and isinstance(body, dict):
                seeded.reads.append(body)
                seeded.read_at.append(answer.response.received_at_ms)
                seeded.last_status = str(body.get("status"))
        return answer

    def poll_all(self) -> str | None:
        """Read every seeded batch until it ends or the lifecycle timeout passes; why it stopped short, if it did."""
        pending = list(self.seeded)
        start = self.wait_started = self.clock()
        deadline = start + self.settings.lifecycle_timeout
        interval = 0.05
        while pending:
            if self.cancelled.is_set():
                return "the session ended before the batches did"
            timed_out = self.clock() >= deadline
            # The reads of a round are spread over its interval: batches seeded together end together, so
            # the first read after the end comes sooner, and once one batch has ended the rest are read at once.
            spacing, one_ended = interval / len(pending), False
            for seeded in list(pending):
                if timed_out:
                    self.read(seeded, ended=SeriesEnd.TIMEOUT)
                    seeded.ended = SeriesEnd.TIMEOUT
                    pending.remove(seeded)
                    continue
                answer = self.read(seeded, ended=terminal_or_none)
                seeded.ended = answer.context.ended
                if seeded.ended:
                    pending.remove(seeded)
                    one_ended = True
                    for _ in range(READS_AFTER_END):
                        self.read(seeded, ended=None)
                elif not one_ended:
                    self.cancelled.wait(spacing)
            interval = min(interval * 1.5, max(0.2, self.settings.lifecycle_timeout / 30))
        return None

    def waiting_for(self) -> str:
        """Each batch not ended yet, its last status, and how long the run has waited: for the progress line."""
        pending = [s for s in self.seeded if s.ended is None]
        if not pending:
            return "every batch has ended; reading each a last time"
        batches = ", ".join(f"{s.scenario.name} ({s.batch_id}) {s.last_status}" for s in pending)
        waited = self.clock() - (self.wait_started or self.clock())
        return (f"waiting {waited:.0f} s of {self.settings.lifecycle_timeout:g} s (--lifecycle-timeout) for: "
                f"{batches}")

    # --- read-only ----------------------------------------------------------------------------
    def adopt(self, list_use: str) -> bool:
        """Read-only: the batches named by --batch-id, else the newest ones the list shows; False if none."""
        if self.settings.batch_ids:
            self.adopted = list(self.settings.batch_ids)
        else:
            answer = self.sender.send("list, to find batches", "GET", BATCHES, params={"limit": "5"},
                                      context=self.context(valid_for=list_use))
            self.adopted = [str(b) for b in ids_listed(answer.response.json)][:5]
        return bool(self.adopted)

    def poll_adopted(self) -> None:
        for batch_id in self.adopted:
            reads: list[Any] = []
            for number in range(ADOPTED_READS):
                answer = self.sender.send(f"read {batch_id} #{number + 1}", "GET", status_path(batch_id),
                                          context=self.context(earlier=tuple(reads)))
                if answer.response.status == 200 and isinstance(answer.response.json, dict):
                    reads.append(answer.response.json)
