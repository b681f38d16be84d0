"""The walk of the list: page by page until it has passed the run's batches, once they have ended and nothing else
of the run is sending; then the first page again, to see whether the list changed meanwhile."""

from __future__ import annotations

import time
from typing import Any

from conformance.activities.batches import BATCHES, Batches, ids_listed
from conformance.activities.sender import Sender
from conformance.client.bounded import TargetSilent
from conformance.model.exchange import Exchange, SeriesEnd

# The rules this activity is there for.
RULES = frozenset({"EM-LIST-001", "EM-LIST-002", "EM-LIST-003", "EM-LIST-004", "EM-LIST-005"})
LIST_PAGE = 2
# The list may lag its writes this long (EM-LIST-004): a walk that misses a batch sooner is made again.
LIST_GRACE_S = 3.0
PAGE_CAP = 12
# What each valid request is a use of, for EM-HTTP-008.
LIST_USE = "GET /api/v1/ingest/batches"

Pages = list[tuple[tuple[Exchange, ...], Any]]


class ListWalk:
    def __init__(self, sender: Sender, batches: Batches):
        self.sender = sender
        self.batches = batches

    def run(self) -> None:
        """Page through the list until it has passed the run's batches, then see whether it changed meanwhile.

        The list may lag its writes by LIST_GRACE_S (EM-LIST-004). A walk that already shows every batch is
        judged at once; one that misses some before the grace is over is kept only as plain pages, and the
        walk is made again once the grace has passed, so only a walk the rule speaks of judges it.
        """
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
        if not self.batches.seeded:
            return 0.0
        newest = max(s.sent.answered_at_ms or 0 for s in self.batches.seeded) / 1000
        return max(0.0, LIST_GRACE_S - (time.time() - newest))

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
        for number, (attempts, body) in enumerate(pages, start=1):
            last = number == len(pages)
            self.sender.record(f"list page {number}", attempts,
                               self.sender.context(earlier=tuple(bodies), ended=end if last else None,
                                                   expect_listed=expect, quiet=quiet, valid_for=LIST_USE))
            bodies.append(body)

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
