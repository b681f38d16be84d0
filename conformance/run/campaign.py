"""The scripted part of a run: seed batches, walk the list, poll each batch to its end, then probe."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from conformance.exchange import Context, Exchange, Sent
from conformance.run import probes
from conformance.run.client import UNREACHABLE, ApiClient, BudgetSpent, TargetSilent
from conformance.run.recorder import Recorder
from conformance.run.rulesets import (
    BATCH_BODY,
    DOWNLOADS,
    ERRORS,
    EVERY_ANSWER,
    FIRST_READ,
    LIST_WALK,
    SEED_ANSWER,
    SERIES,
)
from conformance.run.scenarios import Identity, Scenario, build_scenarios
from conformance.run.settings import RunSettings

INGEST = "/api/v1/ingest"
BATCHES = "/api/v1/ingest/batches"
TERMINAL = ("COMPLETE", "FAILED")
FINAL_DOWNLOADS = ("COMPLETE", "PARTIAL_FAILURE", "FAILED")
READS_AFTER_END = 2
LIST_PAGE = 2


class CouldNotCheck(Exception):
    """The target cannot be checked at all; the message says why and which setting to change."""


@dataclass
class Seeded:
    scenario: Scenario
    batch_id: str
    sent: Sent
    reads: list[dict[str, Any]] = field(default_factory=list)
    ended: str | None = None
    last_status: str = "not read yet"


def status_path(batch_id: str) -> str:
    return f"{BATCHES}/{batch_id}"


def terminal_or_none(answer: Exchange) -> str | None:
    """Whether this read shows the batch at its end; the read is judged knowing it."""
    return "terminal" if answer.response.status == 200 and has_ended(answer.response.json) else None


def has_ended(body: Any) -> bool:
    if not isinstance(body, dict) or body.get("status") not in TERMINAL:
        return False
    # A batch without attachments has no download status to wait for.
    return body.get("attachmentDownloadStatus", "COMPLETE") in FINAL_DOWNLOADS


class Campaign:
    def __init__(self, settings: RunSettings, client: ApiClient, recorder: Recorder, *,
                 progress: Callable[[str], None] = lambda line: None, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.client = client
        self.recorder = recorder
        self.progress = progress
        self.clock = clock
        self.identity = Identity(run_id=f"{settings.seed:08x}"[-8:], product_id=settings.product_id,
                                 project_id=settings.project_id)
        self.seeded: list[Seeded] = []
        self.adopted: list[str] = []
        self.stopped: str | None = None

    # --- helpers ---------------------------------------------------------------------------
    def context(self, **kwargs: Any) -> Context:
        return Context(keys=self.client.keys, own_batch_ids=frozenset(self.own_batch_ids), **kwargs)

    @property
    def own_batch_ids(self) -> list[str]:
        return [s.batch_id for s in self.seeded] + self.adopted

    def send(self, activity: str, rules: Iterable[str], method: str, path: str, *,
             context: Context | Callable[[Exchange], Context] | None = None, **kwargs: Any) -> Exchange:
        """Send, record every attempt against the rules, and return the answer that counts.

        context may be a function of the answer, for reads whose answer decides how they are judged.
        """
        rules = frozenset(rules) | EVERY_ANSWER
        silent: TargetSilent | None = None
        try:
            attempts = self.client.send(method, path, **kwargs).attempts
        except TargetSilent as exc:
            attempts, silent = exc.attempts, exc
        judged_as = context(attempts[-1]) if callable(context) else context or self.context()
        for attempt in attempts:
            self.recorder.record(activity, dataclasses.replace(attempt, context=judged_as), rules)
        if silent is not None:
            raise silent
        return dataclasses.replace(attempts[-1], context=judged_as)

    # --- the run ------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            if not self.preflight():
                return
            if self.settings.read_only:
                self.adopt_batches()
            else:
                self.seed_all()
                self.walk_list()
            self.poll_all()
            probes.run_all(self)
        except BudgetSpent as exc:
            self.stopped = f"{exc} (--max-requests {self.settings.max_requests})"
            if not any(s.reads for s in self.seeded) and not self.adopted:
                raise CouldNotCheck(f"the request budget ran out before any batch was read; raise "
                                    f"--max-requests above {self.settings.max_requests}") from None
        except TargetSilent as exc:
            self.stopped = f"the target stopped answering: {exc}"

    def preflight(self) -> bool:
        """One cheap read that tells an unreachable target or a rejected key apart from a broken API.

        A target that takes the connection and then says nothing is a finding (EM-HTTP-007), not a
        target that cannot be checked; the run stops there.
        """
        sent = self.client.send("GET", BATCHES, params={"limit": "1"})
        answer = sent.final.response
        where = self.settings.sources.get("base_url", "--base-url")
        if answer.transport_error is not None and answer.transport_error.startswith(UNREACHABLE):
            raise CouldNotCheck(f"could not reach {self.client.base_url} ({answer.transport_error}); "
                                f"check {where} and that the target is up")
        if answer.status in (401, 403):
            raise CouldNotCheck(f"the target refused EVERMUSE_API_KEY with {answer.status}; set it to a "
                                f"key of the target's workspace that may read batches")
        for attempt in sent.attempts:
            self.recorder.record("preflight", dataclasses.replace(attempt, context=self.context()), EVERY_ANSWER)
        if answer.transport_error is not None:
            self.stopped = f"the target did not answer the first request: {answer.transport_error}"
            return False
        return True

    def seed_all(self) -> None:
        # A refused batch is a finding (EM-INGEST-006), not a reason to stop: the probes still run.
        for scenario in build_scenarios(self.identity, self.settings.attachment_url):
            seeded = self.seed(scenario)
            if seeded is not None:
                self.seeded.append(seeded)

    def seed(self, scenario: Scenario) -> Seeded | None:
        body, media_type = scenario.body()
        sent = Sent(records=scenario.records, invalid_positions=scenario.invalid_positions,
                    sent_at_ms=time.time() * 1000)
        rules = SEED_ANSWER | (ERRORS if scenario.invalid_positions else frozenset())
        answer = self.send(f"ingest {scenario.name}", rules, "POST", INGEST, body=body, content_type=media_type,
                           headers=self.identity.idempotency_key(scenario.name),
                           context=self.context(sent=sent))
        accepted = answer.response.json if answer.response.status == 202 else None
        if not isinstance(accepted, dict) or not isinstance(accepted.get("batchId"), str | int):
            self.recorder.skip(self.rules_of(scenario), f"the {scenario.name} batch could not be created: "
                                                        f"POST answered {answer.response.status}")
            return None
        sent = dataclasses.replace(sent, accepted=accepted, answered_at_ms=answer.response.received_at_ms)
        seeded = Seeded(scenario, str(accepted["batchId"]), sent)
        self.read(seeded, FIRST_READ | self.rules_of(scenario), ended=None)
        return seeded

    @staticmethod
    def rules_of(scenario: Scenario) -> frozenset[str]:
        rules = set(SERIES | BATCH_BODY)
        if scenario.invalid_positions:
            rules |= ERRORS | {"EM-SENT-004"}
        if scenario.all_valid:
            rules.add("EM-SERIES-006")
        if scenario.has_attachments:
            rules |= DOWNLOADS | {"EM-SERIES-007", "EM-SENT-010"}
        if len(scenario.invalid_positions) == len(scenario.records):
            rules.add("EM-STATUS-002")
        return frozenset(rules)

    def read(self, seeded: Seeded, rules: Iterable[str], *,
             ended: str | Callable[[Exchange], str | None] | None) -> Exchange:
        """One read of a seeded batch; ended may be decided from the answer itself."""

        def judged(answer: Exchange) -> Context:
            end = ended(answer) if callable(ended) else ended
            return self.context(sent=seeded.sent, earlier=tuple(seeded.reads), ended=end)

        answer = self.send(f"read {seeded.scenario.name} #{len(seeded.reads) + 1}", rules, "GET",
                           status_path(seeded.batch_id), context=judged)
        body = answer.response.json
        if answer.response.status == 200 and isinstance(body, dict):
            seeded.reads.append(body)
            seeded.last_status = str(body.get("status"))
        return answer

    def walk_list(self) -> None:
        expect = frozenset(s.batch_id for s in self.seeded)
        pages: list[Any] = []
        cursor: str | None = None
        cap = len(expect) // LIST_PAGE + 3
        while True:
            params = {"limit": str(LIST_PAGE), **({"cursor": cursor} if cursor else {})}
            before = tuple(pages)

            def judged(answer: Exchange, before: tuple[Any, ...] = before) -> Context:
                return self.context(earlier=before, ended=self._walk_end(answer, before, expect, cap),
                                    expect_listed=expect)

            answer = self.send(f"list page {len(pages) + 1}", LIST_WALK, "GET", BATCHES, params=params,
                               context=judged)
            body = answer.response.json
            if answer.context.ended or not isinstance(body, dict):
                return
            pages.append(body)
            cursor = body["nextCursor"]

    @staticmethod
    def _walk_end(answer: Exchange, before: tuple[Any, ...], expect: frozenset[str], cap: int) -> str | None:
        """Whether this page ends the list walk: the last page, or enough pages to have seen our batches."""
        body = answer.response.json
        if not isinstance(body, dict):
            return "last-page"
        next_cursor = body.get("nextCursor")
        if not isinstance(next_cursor, str) or not next_cursor:
            return "last-page"
        seen = {b.get("batchId") for page in (*before, body) if isinstance(page, dict)
                for b in page.get("batches", []) if isinstance(b, dict)}
        return "page-cap" if expect <= seen or len(before) + 1 >= cap else None

    def adopt_batches(self) -> None:
        """Read-only: the batches named by --batch-id, else the newest ones the list shows."""
        if self.settings.batch_ids:
            self.adopted = list(self.settings.batch_ids)
        else:
            answer = self.send("list, to find batches", LIST_WALK | BATCH_BODY, "GET", BATCHES, params={"limit": "5"})
            body = answer.response.json
            batches = body.get("batches", []) if isinstance(body, dict) else []
            self.adopted = [str(b["batchId"]) for b in batches if isinstance(b, dict) and "batchId" in b][:5]
        if not self.adopted:
            raise CouldNotCheck("read-only mode found no batch to check: the list is empty; name one with --batch-id")
        self.recorder.skip(FIRST_READ - BATCH_BODY, "--read-only sends no records, so what was sent is unknown")

    def poll_all(self) -> None:
        if self.settings.read_only:
            for batch_id in self.adopted:
                for number in range(3):
                    self.send(f"read {batch_id} #{number + 1}", BATCH_BODY | ERRORS | DOWNLOADS, "GET",
                              status_path(batch_id))
            return
        pending = list(self.seeded)
        start = self.clock()
        deadline = start + self.settings.lifecycle_timeout
        interval, cap = 0.05, max(0.2, self.settings.lifecycle_timeout / 30)
        last_report = start
        while pending:
            timed_out = self.clock() >= deadline
            for seeded in list(pending):
                rules = self.rules_of(seeded.scenario)
                if timed_out:
                    self.read(seeded, rules, ended="timeout")
                    seeded.ended = "timeout"
                    pending.remove(seeded)
                    continue
                answer = self.read(seeded, rules, ended=terminal_or_none)
                seeded.ended = answer.context.ended
                if seeded.ended:
                    pending.remove(seeded)
                    for _ in range(READS_AFTER_END):
                        self.read(seeded, rules, ended=None)
            now = self.clock()
            if pending and now - start > 5 and now - last_report >= 5:
                last_report = now
                waiting = ", ".join(f"{s.scenario.name} ({s.batch_id}) {s.last_status}" for s in pending)
                self.progress(f"waiting {now - start:.0f} s of {self.settings.lifecycle_timeout:g} s for: {waiting}")
            if pending:
                time.sleep(interval)
                interval = min(interval * 1.5, cap)
