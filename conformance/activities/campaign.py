"""The scripted part of a run: seed batches, poll each to its end, walk the list, then send the probes."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from conformance.activities.plan import WHOLE, Plan
from conformance.activities.probes import WHY_NOT, Facts, Need
from conformance.activities.recorder import Recorder
from conformance.activities.scenarios import Identity, Scenario, build_scenarios
from conformance.client.bounded import UNREACHABLE, ApiClient, RunLimitReached, TargetSilent
from conformance.model.exchange import Context, Exchange, KeyRole, SentBatch, SeriesEnd
from conformance.settings.options import RunSettings

INGEST = "/api/v1/ingest"
BATCHES = "/api/v1/ingest/batches"
TERMINAL = ("COMPLETE", "FAILED")
FINAL_DOWNLOADS = ("COMPLETE", "PARTIAL_FAILURE", "FAILED")
READS_AFTER_END = 2
ADOPTED_READS = 3
LIST_PAGE = 2
# The list may lag its writes this long (EM-LIST-004): a walk that misses a batch sooner is made again.
LIST_GRACE_S = 3.0
PAGE_CAP = 12
# What each valid request is a use of, for EM-HTTP-008.
LIST_USE = "GET /api/v1/ingest/batches"
STATUS_USE = "GET /api/v1/ingest/batches/{batchId}"


def ingest_use(media_type: str) -> str:
    return f"POST /api/v1/ingest {media_type}"


class CouldNotCheck(Exception):
    """The target cannot be checked at all; the message says why and which setting to change."""


@dataclass
class Seeded:
    scenario: Scenario
    batch_id: str
    sent: SentBatch
    reads: list[dict[str, Any]] = field(default_factory=list)
    ended: SeriesEnd | None = None
    last_status: str = "not read yet"
    # The run reads the batch one read at a time, whoever reads it (the campaign, a property test), so that
    # its reads are one series in time: each read's earlier reads all came back before it was sent.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


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


class Campaign:
    def __init__(self, settings: RunSettings, client: ApiClient, recorder: Recorder, *,
                 clock: Callable[[], float] = time.monotonic, plan: Plan = WHOLE):
        self.settings = settings
        self.plan = plan
        self.client = client
        self.recorder = recorder
        self.clock = clock
        self.to_seed = 0
        # Unique per run, so a second run with the same --seed never replays this one's Idempotency-Keys.
        self.identity = Identity(run_id=secrets.token_hex(4), product_id=settings.product_id,
                                 project_id=settings.project_id)
        self.seeded: list[Seeded] = []
        self.adopted: list[str] = []
        self.stopped: str | None = None
        # Whether the run's own bounds (--max-requests, --max-duration) stopped it, rather than the target.
        self.stopped_by_limit = False
        self.phase = "not started"
        self.sent_so_far = 0
        self.wait_started: float | None = None
        self._cancelled = threading.Event()

    # --- helpers ---------------------------------------------------------------------------
    def context(self, **kwargs: Any) -> Context:
        return Context(keys=self.client.keys, own_batch_ids=frozenset(self.own_batch_ids), **kwargs)

    @property
    def own_batch_ids(self) -> list[str]:
        return [s.batch_id for s in self.seeded] + self.adopted

    def series_read(self, method: str, url: str) -> Seeded | None:
        """The seeded batch a request reads the status of, if it is one: its read joins the batch's series."""
        if method.upper() != "GET":
            return None
        path = unquote(urlsplit(url).path)
        return next((s for s in list(self.seeded) if path.endswith(status_path(s.batch_id))), None)

    def record(self, activity: str, attempts: tuple[Exchange, ...], context: Context) -> Exchange:
        for attempt in attempts:
            self.recorder.record(activity, dataclasses.replace(attempt, context=context))
        return dataclasses.replace(attempts[-1], context=context)

    def attempt(self, method: str, path: str, **kwargs: Any) -> tuple[tuple[Exchange, ...], TargetSilent | None]:
        try:
            return self.client.send(method, path, **kwargs).attempts, None
        except TargetSilent as exc:
            return exc.attempts, exc

    def send(self, activity: str, method: str, path: str, *,
             context: Context | Callable[[Exchange], Context] | None = None, **kwargs: Any) -> Exchange:
        """Send and record every attempt; context may be a function of the answer, when the answer decides it."""
        attempts, silent = self.attempt(method, path, **kwargs)
        judged_as = context(attempts[-1]) if callable(context) else context or self.context()
        answer = self.record(activity, attempts, judged_as)
        if silent is not None:
            raise silent
        return answer

    # --- the run ------------------------------------------------------------------------------
    def run(self) -> None:
        """The whole campaign in one go: what the pytest plugin does in three steps, around the property tests."""
        self.begin()
        self.wait_for_batches()
        self.walk()

    def begin(self) -> None:
        """Preflight, then seed the batches (or, read-only, find them); raises CouldNotCheck."""
        self.phase = "seeding"
        self._guarded(self._begin)
        if self.stopped_by_limit and not any(s.reads for s in self.seeded) and not self.adopted:
            raise CouldNotCheck(f"{self.stopped} before any batch was read; raise --max-requests "
                                f"({self.settings.max_requests}) or --max-duration "
                                f"({self.settings.max_duration:g} s)")

    def _begin(self) -> None:
        if not self.preflight():
            return
        if self.settings.read_only:
            self.adopt_batches()
        else:
            self.seed_all()

    def wait_for_batches(self) -> None:
        """The probes, sent while the batches are under way, then every batch polled to its end.

        It may run beside the property tests: it sends only through the run's client, and what it records
        is judged only once it is done.
        """
        if self.stopped is None:
            self.phase = "probes"
            self._guarded(self.probe_all)
        if self.stopped is None and self.plan.reads_to_the_end:
            self.phase = "waiting for batches"
            self._guarded(self.poll_adopted if self.settings.read_only else self.poll_all)

    def walk(self) -> None:
        """The list, walked once the batches have ended and nothing else of the run is sending."""
        if self.stopped is None and not self.settings.read_only and self.plan.walks_the_list:
            self.phase = "walking the list"
            self._guarded(self.walk_list)
        self.phase = "done"

    def cancel(self) -> None:
        """Stop waiting: the session is ending before the batches did."""
        self._cancelled.set()

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except RunLimitReached as exc:
            self.stopped, self.stopped_by_limit = str(exc), True
        except TargetSilent as exc:
            self.stopped = f"the target stopped answering: {exc}"

    def status(self) -> str:
        """Where the campaign is, in a line: the phase and, while waiting, each pending batch, its status, how long."""
        if self.phase == "seeding" and self.to_seed:
            return f"seeding: {self.sent_so_far} of {self.to_seed} batches sent"
        if self.phase != "waiting for batches" or self.wait_started is None:
            return self.phase
        pending = [s for s in self.seeded if s.ended is None]
        if not pending:
            return "every batch has ended; reading each a last time"
        batches = ", ".join(f"{s.scenario.name} ({s.batch_id}) {s.last_status}" for s in pending)
        return (f"waiting {self.clock() - self.wait_started:.0f} s of {self.settings.lifecycle_timeout:g} s "
                f"(--lifecycle-timeout) for: {batches}")

    def preflight(self) -> bool:
        """One read that tells an unreachable target or a rejected key apart from a broken API.

        A target that takes the connection and then says nothing is a finding (EM-HTTP-007), not a
        target that cannot be checked; the run stops there. A full page, so the probes, sent before the
        list is walked, know the batches the workspace already has.
        """
        attempts = self.client.send("GET", BATCHES, params={"limit": "100"}).attempts
        answer = attempts[-1].response
        where = self.settings.sources.get("base_url", "--base-url")
        if answer.transport_error is not None and answer.transport_error.startswith(UNREACHABLE):
            raise CouldNotCheck(f"could not reach {self.client.base_url} ({answer.transport_error}); "
                                f"check {where} and that the target is up")
        if answer.status in (401, 403):
            raise CouldNotCheck(f"the target refused EVERMUSE_API_KEY with {answer.status}; set it to a "
                                f"key of the target's workspace that may read batches")
        self.record("preflight", attempts, self.context(valid_for=LIST_USE))
        if answer.transport_error is not None:
            self.stopped = f"the target did not answer the first request: {answer.transport_error}"
            return False
        return True

    # --- seeding and polling ------------------------------------------------------------------
    def seed_all(self) -> None:
        # A refused batch is a finding (EM-INGEST-006, EM-HTTP-008), not a reason to stop: the probes still run.
        scenarios = build_scenarios(self.identity, self.settings.attachment_url)[:self.plan.seeds]
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
        answer = self.send(f"ingest {scenario.name}", "POST", INGEST, body=body, content_type=media_type,
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

    def read(self, seeded: Seeded, *, ended: SeriesEnd | Callable[[Exchange], SeriesEnd | None] | None) -> Exchange:
        """One read of a seeded batch; ended may be decided from the answer itself."""

        def judged(answer: Exchange) -> Context:
            end = ended(answer) if callable(ended) else ended
            return self.context(sent=seeded.sent, earlier=tuple(seeded.reads), ended=end, valid_for=STATUS_USE)

        with seeded.lock:
            answer = self.send(f"read {seeded.scenario.name} #{len(seeded.reads) + 1}", "GET",
                               status_path(seeded.batch_id), context=judged)
            body = answer.response.json
            if answer.response.status == 200 and isinstance(body, dict):
                seeded.reads.append(body)
                seeded.last_status = str(body.get("status"))
        return answer

    def poll_all(self) -> None:
        pending = list(self.seeded)
        start = self.wait_started = self.clock()
        deadline = start + self.settings.lifecycle_timeout
        interval = 0.05
        while pending:
            if self._cancelled.is_set():
                self.stopped = "the session ended before the batches did"
                return
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
                    self._cancelled.wait(spacing)
            interval = min(interval * 1.5, max(0.2, self.settings.lifecycle_timeout / 30))

    # --- the list -------------------------------------------------------------------------------
    def walk_list(self) -> None:
        """Page through the list until it has passed the run's batches, then see whether it changed meanwhile.

        The list may lag its writes by LIST_GRACE_S (EM-LIST-004). A walk that already shows every batch is
        judged at once; one that misses some before the grace is over is kept only as plain pages, and the
        walk is made again once the grace has passed, so only a walk the rule speaks of judges it.
        """
        expect = frozenset(s.batch_id for s in self.seeded)
        created = [r.get("createdAt") for s in self.seeded for r in s.reads[:1]]
        oldest = min((c for c in created if isinstance(c, int | float)), default=None)
        pages, end, silent = self._walk_once(expect, oldest)
        grace_left = self._grace_left()
        listed = {batch_id for _, body in pages for batch_id in _ids_of(body)}
        if silent is None and grace_left > 0 and not expect <= listed:
            self._record_walk(pages, end, frozenset(), None)
            time.sleep(grace_left)
            pages, end, silent = self._walk_once(expect, oldest)
        quiet = None
        if silent is None and pages and isinstance(pages[0][1], dict):
            again = self.send("list page 1 again", "GET", BATCHES, params={"limit": str(LIST_PAGE)},
                              context=self.context(valid_for=LIST_USE))
            quiet = _ids_of(again.response.json) == _ids_of(pages[0][1])
        self._record_walk(pages, end, expect, quiet)
        if silent is not None:
            raise silent

    def _grace_left(self) -> float:
        if not self.seeded:
            return 0.0
        newest = max(s.sent.answered_at_ms or 0 for s in self.seeded) / 1000
        return max(0.0, LIST_GRACE_S - (time.time() - newest))

    def _walk_once(self, expect: frozenset[str], oldest: float | None) -> tuple[list[tuple[tuple[Exchange, ...], Any]],
                                                                                SeriesEnd | None, TargetSilent | None]:
        pages: list[tuple[tuple[Exchange, ...], Any]] = []
        cursor: str | None = None
        end: SeriesEnd | None = None
        silent: TargetSilent | None = None
        while end is None:
            attempts, silent = self.attempt("GET", BATCHES, params={"limit": str(LIST_PAGE),
                                                                    **({"cursor": cursor} if cursor else {})})
            body = attempts[-1].response.json if attempts[-1].response.status == 200 else None
            pages.append((attempts, body))
            end = self._walk_end([b for _, b in pages], expect, oldest)
            if silent is not None:
                break
            cursor = body["nextCursor"] if end is None else None
        return pages, end, silent

    def _record_walk(self, pages: list[tuple[tuple[Exchange, ...], Any]], end: SeriesEnd | None,
                     expect: frozenset[str], quiet: bool | None) -> None:
        bodies: list[Any] = []
        for number, (attempts, body) in enumerate(pages, start=1):
            last = number == len(pages)
            self.record(f"list page {number}", attempts,
                        self.context(earlier=tuple(bodies), ended=end if last else None, expect_listed=expect,
                                     quiet=quiet, valid_for=LIST_USE))
            bodies.append(body)

    @staticmethod
    def _walk_end(bodies: list[Any], expect: frozenset[str], oldest: float | None) -> SeriesEnd | None:
        body = bodies[-1]
        if not isinstance(body, dict) or not isinstance(body.get("nextCursor"), str) or not body["nextCursor"]:
            return SeriesEnd.LAST_PAGE
        listed = {batch_id for page in bodies for batch_id in _ids_of(page)}
        older = oldest is not None and any(isinstance(b, dict) and isinstance(b.get("createdAt"), int | float)
                                           and b["createdAt"] < oldest for b in body.get("batches", []))
        if expect <= listed or older:
            return SeriesEnd.PASSED
        return SeriesEnd.PAGE_CAP if len(bodies) >= PAGE_CAP + len(expect) // LIST_PAGE else None

    # --- read-only ----------------------------------------------------------------------------
    def adopt_batches(self) -> None:
        """Read-only: the batches named by --batch-id, else the newest ones the list shows."""
        if self.settings.batch_ids:
            self.adopted = list(self.settings.batch_ids)
        else:
            answer = self.send("list, to find batches", "GET", BATCHES, params={"limit": "5"},
                               context=self.context(valid_for=LIST_USE))
            self.adopted = [str(b) for b in _ids_of(answer.response.json)][:5]
        if not self.adopted:
            raise CouldNotCheck("read-only mode found no batch to check: the list is empty; name one with --batch-id")

    def poll_adopted(self) -> None:
        for batch_id in self.adopted:
            reads: list[Any] = []
            for number in range(ADOPTED_READS):
                answer = self.send(f"read {batch_id} #{number + 1}", "GET", status_path(batch_id),
                                   context=self.context(earlier=tuple(reads)))
                if answer.response.status == 200 and isinstance(answer.response.json, dict):
                    reads.append(answer.response.json)

    # --- probes -----------------------------------------------------------------------------------
    def facts(self) -> Facts:
        listed = frozenset(str(batch_id) for o in self.recorder.observations
                           if o.exchange.context.valid_for == LIST_USE and o.exchange.key_role != KeyRole.OTHER
                           for batch_id in _ids_of(o.exchange.response.json))
        return Facts(self.identity, tuple(self.own_batch_ids), tuple((s.scenario, s.sent) for s in self.seeded),
                     listed)

    def meets(self, need: Need, facts: Facts) -> bool:
        return {
            Need.WRITES: not self.settings.read_only,
            Need.READ_KEY: self.client.keys.read is not None,
            Need.OTHER_KEY: self.client.keys.other is not None,
            Need.OWN_BATCH: bool(facts.own_batch_ids),
            Need.SEEDED_BATCH: bool(facts.seeded),
        }[need]

    def requests_ahead(self) -> int:
        """The fewest requests the rest of the campaign will send: its probes, the batches' last reads, the list."""
        facts = self.facts()
        probes = sum(len(probe.steps(facts)) for probe in self.plan.probes()
                     if all(self.meets(need, facts) for need in probe.needs))
        if self.settings.read_only:
            return probes + ADOPTED_READS * len(self.adopted) * self.plan.reads_to_the_end
        return probes + (1 + READS_AFTER_END) * len(self.seeded) * self.plan.reads_to_the_end \
            + 2 * self.plan.walks_the_list

    def probe_all(self) -> None:
        for probe in self.plan.probes():
            facts = self.facts()  # each probe knows what the ones before it saw
            missing = [need for need in probe.needs if not self.meets(need, facts)]
            if missing:
                self.recorder.skip(probe.rules, WHY_NOT[missing[0]])
                continue
            for step in probe.steps(facts):
                self.send(step.activity, step.method, step.path, key=step.key, params=step.params, body=step.body,
                          content_type=step.content_type, headers=step.headers,
                          context=self.context(intent=step.intent, sent=step.sent, replay_of=step.replay_of))


def _ids_of(body: Any) -> list[Any]:
    batches = body.get("batches") if isinstance(body, dict) else None
    return [b.get("batchId") for b in batches if isinstance(b, dict)] if isinstance(batches, list) else []

