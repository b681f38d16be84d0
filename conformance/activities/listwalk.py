"""The walk of the list: page by page until it has passed the run's batches, once they have ended and nothing else
of the run is sending; then the first page again, to see whether the list changed meanwhile."""

from __future__ import annotations

import time
from typing import Any

from conformance.activities.batches import BATCHES, Batches, ids_listed
from conformance.activities.sender import Sender
from conformance.client.bounded import TargetSilent
from conformance.model.exchange import Exchange, Replay, SeriesEnd

# The rules this activity is there for.
RULES = frozenset({"EM-LIST-001", "EM-LIST-002", "EM-LIST-003", "EM-LIST-004", "EM-LIST-005", "EM-LIST-008",
                   "EM-INGEST-010"})
LIST_PAGE = 2
PAGE_CAP = 12
# How far a batch made by a replay may stand from where the clocks put it: createdAt is taken once, somewhere
# between the request and its answer, and may be rounded to the second.
REPLAY_SLACK_MS = 2000.0
# What each valid request is a use of, for EM-HTTP-008.
LIST_USE = "GET /api/v1/ingest/batches"

Pages = list[tuple[tuple[Exchange, ...], Any]]


class ListWalk:
    def __init__(self, sender: Sender, batches: Batches):
        self.sender = sender
        self.batches = batches

    def run(self) -> None:
        """Page through the list until it has passed the run's batches, then see whether it changed meanwhile.

        The list may lag its writes by --write-lag (EM-LIST-004). A walk that already shows every batch is
        judged at once; one that misses some before the grace is over is kept only as plain pages, and the
        walk is made again once the grace has passed, so only a walk the rule speaks of judges it.
        """
        self._let_a_read_age()
        seeded = self.batches.seeded
        expect = frozenset(s.batch_id for s in seeded)
        created = [r.get("createdAt") for s in seeded for r in s.reads[:1]]
        oldest = min((c for c in created if isinstance(c, int | float)), default=None)
        pages, end, silent = self._walk_once(expect, oldest)
        grace_left = self._grace_left()
        listed = {batch_id for _, body in pages for batch_id in ids_listed(body)}
        if silent is None and grace_left > 0 and not expect <= listed:
            self._record_walk(pages, end, frozenset(), None)
            time.sleep(grace_left)
            pages, end, silent = self._walk_once(expect, oldest)
        quiet = None
        if silent is None and pages and isinstance(pages[0][1], dict):
            again = self.sender.send("list page 1 again", "GET", BATCHES, params={"limit": str(LIST_PAGE)},
                                     context=self.sender.context(valid_for=LIST_USE))
            quiet = ids_listed(again.response.json) == ids_listed(pages[0][1])
        self._record_walk(pages, end, expect, quiet)
        if silent is not None:
            raise silent

    def _grace_left(self) -> float:
        written = [s.sent.answered_at_ms or 0 for s in self.batches.seeded]
        written += [ex.response.received_at_ms for ex in self._replays_answered()]
        if not written:
            return 0.0
        return max(0.0, self.sender.write_lag - (time.time() - max(written) / 1000))

    def _replays_answered(self) -> list[Exchange]:
        """Every replay the target answered with the batch it replays."""
        return [o.exchange for o in self.sender.recorder.observations
                if o.exchange.context.replay_of is not None and o.exchange.context.sent is not None
                and isinstance(o.exchange.response.json, dict) and 200 <= o.exchange.response.status < 300
                and o.exchange.response.json.get("batchId") == o.exchange.context.replay_of.get("batchId")]

    def _replays(self) -> tuple[Replay, ...]:
        """When, after the original's creation, a batch made by each replay would have been created."""
        found = []
        for replay in self._replays_answered():
            original, sent = replay.context.replay_of, replay.context.sent
            if original is None or sent is None or sent.sent_at_ms is None or sent.answered_at_ms is None:
                continue
            after = (replay.request.sent_at_ms - sent.answered_at_ms - REPLAY_SLACK_MS,
                     replay.response.received_at_ms - sent.sent_at_ms + REPLAY_SLACK_MS)
            found.append(Replay(original, after, sent.record_type))
        return tuple(found)

    def _given_batch_ids(self) -> frozenset[str]:
        """Every batchId a 2xx answer to an ingest gave the run, whichever activity sent it."""
        return frozenset(str(o.exchange.response.json["batchId"]) for o in self.sender.recorder.observations
                         if o.exchange.request.method.upper() == "POST" and 200 <= o.exchange.response.status < 300
                         and isinstance(o.exchange.response.json, dict) and "batchId" in o.exchange.response.json)

    def _walk_once(self, expect: frozenset[str], oldest: float | None) -> tuple[Pages, SeriesEnd | None,
                                                                                TargetSilent | None]:
        pages: Pages = []
        cursor: str | None = None
        end: SeriesEnd | None = None
        silent: TargetSilent | None = None
        while end is None:
            attempts, silent = self.sender.attempt("GET", BATCHES, params={"limit": str(LIST_PAGE),
                                                                           **({"cursor": cursor} if cursor else {})})
            body = attempts[-1].response.json if attempts[-1].response.status == 200 else None
            pages.append((attempts, body))
            end = self._walk_end([b for _, b in pages], expect, oldest)
            if silent is not None:
                break
            cursor = body["nextCursor"] if end is None else None
        return pages, end, silent

    def _record_walk(self, pages: Pages, end: SeriesEnd | None, expect: frozenset[str], quiet: bool | None) -> None:
        bodies: list[Any] = []
        # Only the walk the rules speak of (after the grace) judges what a replay left behind.
        replays, given = (self._replays(), self._given_batch_ids()) if expect else ((), frozenset())
        reads = self._status_reads()
        for number, (attempts, body) in enumerate(pages, start=1):
            last = number == len(pages)
            self.sender.record(f"list page {number}", attempts,
                               self.sender.context(earlier=tuple(bodies), ended=end if last else None,
                                                   expect_listed=expect, quiet=quiet, valid_for=LIST_USE,
                                                   replays=replays if last else (),
                                                   given_batch_ids=given if last else frozenset(),
                                                   shown_before=self._shown_before(reads, attempts[-1])))
            bodies.append(body)

    def _let_a_read_age(self) -> None:
        """Wait, if need be, until a read that showed a batch past LANDING is as old as the list may lag its writes,
        so that EM-LIST-008 has a status to hold the list to; against a target whose batches take longer than
        that to land, there is nothing to wait for."""
        past_landing = [received for received, _, status in self._status_reads() if status not in ("LANDING", "")]
        if past_landing:
            time.sleep(max(0.0, self.sender.write_lag - (time.time() - min(past_landing) / 1000)))

    def _status_reads(self) -> list[tuple[float, str, str]]:
        """Every status read of the run's batches that showed one: when it came, the batch, its status."""
        own = {s.batch_id for s in self.batches.seeded}
        found = []
        for observation in self.sender.recorder.observations:
            exchange, body = observation.exchange, observation.exchange.response.json
            if exchange.request.method.upper() == "GET" and exchange.response.status == 200 \
                    and isinstance(body, dict) and isinstance(body.get("batchId"), str) and body["batchId"] in own \
                    and isinstance(body.get("status"), str) and exchange.request.raw_path.rstrip("/") != BATCHES:
                found.append((exchange.response.received_at_ms, str(body["batchId"]), body["status"]))
        return sorted(found)

    def _shown_before(self, reads: list[tuple[float, str, str]], page: Exchange) -> dict[str, str]:
        """The status each batch was last read with, at least the list's grace before the page was asked for."""
        cutoff = page.request.sent_at_ms - self.sender.write_lag * 1000
        return {batch_id: status for received, batch_id, status in reads if received <= cutoff}

    @staticmethod
    def _walk_end(bodies: list[Any], expect: frozenset[str], oldest: float | None) -> SeriesEnd | None:
        body = bodies[-1]
        if not isinstance(body, dict) or not isinstance(body.get("nextCursor"), str) or not body["nextCursor"]:
            return SeriesEnd.LAST_PAGE
        listed = {batch_id for page in bodies for batch_id in ids_listed(page)}
        older = oldest is not None and any(isinstance(b, dict) and isinstance(b.get("createdAt"), int | float)
                                           and b["createdAt"] < oldest for b in body.get("batches", []))
        if expect <= listed or older:
            return SeriesEnd.PASSED
        return SeriesEnd.PAGE_CAP if len(bodies) >= PAGE_CAP + len(expect) // LIST_PAGE else None
