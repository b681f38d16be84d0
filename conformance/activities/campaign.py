"""The scripted part of a run, as a conductor of activities: the preflight, the batches seeded and read to their
end (batches.py), the probes (probing.py) and the walk of the list (listwalk.py). Which of them a run sends is
the plan's (plan.py): all of them for the whole suite, what the selected tests' rules need for a selection."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from conformance.activities.batches import ADOPTED_READS, BATCHES, READS_AFTER_END, Batches, Seeded
from conformance.activities.listwalk import LIST_USE, ListWalk
from conformance.activities.plan import WHOLE, Plan
from conformance.activities.probing import Probing
from conformance.activities.recorder import Recorder
from conformance.activities.scenarios import Identity
from conformance.activities.sender import Sender
from conformance.client.bounded import UNREACHABLE, ApiClient, BudgetSpent, RunLimitReached, TargetSilent
from conformance.client.tls import untrusted
from conformance.settings.options import RunSettings

__all__ = ["Campaign", "CouldNotCheck", "Seeded"]


class CouldNotCheck(Exception):
    """The target cannot be checked at all; the message says why and which setting to change."""


class Campaign:
    def __init__(self, settings: RunSettings, client: ApiClient, recorder: Recorder, *,
                 clock: Callable[[], float] = time.monotonic, plan: Plan = WHOLE):
        self.settings = settings
        self.plan = plan
        self.client = client
        self.recorder = recorder
        # Unique per run, so a second run with the same --seed never replays this one's Idempotency-Keys.
        self.identity = Identity(run_id=secrets.token_hex(4), product_id=settings.product_id,
                                 project_id=settings.project_id)
        self._cancelled = threading.Event()
        self.sender = Sender(client, recorder, lambda: self.batches.own_batch_ids, write_lag=settings.write_lag,
                             replica_lag=settings.replica_lag)
        self.batches = Batches(settings, self.sender, recorder, self.identity, clock=clock, cancelled=self._cancelled)
        self.probing = Probing(settings, self.sender, recorder, self.batches, self.identity, plan.probes())
        self.list_walk = ListWalk(self.sender, self.batches)
        self.stopped: str | None = None
        # Whether the run's own bounds (--max-requests, --max-duration) stopped it, rather than the target.
        self.stopped_by_limit = False
        self.limit_reached = ""
        self.phase = "not started"

    # --- what the session reads of it ----------------------------------------------------------
    @property
    def seeded(self) -> list[Seeded]:
        return self.batches.seeded

    @property
    def own_batch_ids(self) -> list[str]:
        return self.batches.own_batch_ids

    def series_read(self, method: str, url: str) -> Seeded | None:
        return self.batches.series_read(method, url)

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
        if self.stopped_by_limit and not any(s.reads for s in self.seeded) and not self.batches.adopted:
            raise CouldNotCheck(f"{self.stopped} before any batch was read; raise {self.limit_reached}")

    def _begin(self) -> None:
        if not self.preflight():
            return
        if self.settings.read_only:
            if not self.batches.adopt(LIST_USE):
                raise CouldNotCheck("read-only mode found no batch to check: the list is empty; name one with "
                                    "--batch-id")
        elif self.plan.seeds != 0:
            self.batches.seed_all(self.plan.seeds)

    def wait_for_batches(self) -> None:
        """The probes, sent while the batches are under way, then every batch polled to its end.

        It may run beside the property tests: it sends only through the run's client, and what it records
        is judged only once it is done.
        """
        if self.stopped is None:
            self.phase = "probes"
            self._guarded(self.probing.run)
        if self.stopped is None and self.plan.reads_to_the_end:
            self.phase = "waiting for batches"
            self._guarded(self.batches.poll_adopted if self.settings.read_only else self._poll_all)

    def _poll_all(self) -> None:
        self.stopped = self.batches.poll_all() or self.stopped

    def walk(self) -> None:
        """The list, walked once the batches have ended and nothing else of the run is sending."""
        if self.stopped is None and not self.settings.read_only and self.plan.walks_the_list:
            self.phase = "walking the list"
            self._guarded(self.list_walk.run)
        self.phase = "done"

    def setting_to_raise(self, exc: RunLimitReached) -> str:
        """The one bound that ran out, as the setting to raise and its value now."""
        if isinstance(exc, BudgetSpent):
            return f"--max-requests ({self.settings.max_requests})"
        return f"--max-duration ({self.settings.max_duration:g} s)"

    def cancel(self) -> None:
        """Stop waiting: the session is ending before the batches did."""
        self._cancelled.set()

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except RunLimitReached as exc:
            self.stopped, self.stopped_by_limit = str(exc), True
            self.limit_reached = self.setting_to_raise(exc)
        except TargetSilent as exc:
            self.stopped = f"the target stopped answering: {exc}"

    def status(self) -> str:
        """Where the campaign is, in a line: the phase and, while waiting, each pending batch, its status, how long."""
        if self.phase == "seeding" and self.batches.to_seed:
            return f"seeding: {self.batches.sent_so_far} of {self.batches.to_seed} batches sent"
        if self.phase != "waiting for batches" or self.batches.wait_started is None:
            return self.phase
        return self.batches.waiting_for()

    def requests_ahead(self) -> int:
        """The fewest requests the rest of the campaign will send: its probes, the batches' last reads, the list."""
        probes = self.probing.requests_ahead()
        if self.settings.read_only:
            return probes + ADOPTED_READS * len(self.batches.adopted) * self.plan.reads_to_the_end
        return probes + (1 + READS_AFTER_END) * len(self.seeded) * self.plan.reads_to_the_end \
            + 2 * self.plan.walks_the_list

    def preflight(self) -> bool:
        """One read that tells an unreachable target or a rejected key apart from a broken API.

        A target that takes the connection and then says nothing is a finding (EM-HTTP-007), not a
        target that cannot be checked; the run stops there. A full page, so the probes, sent before the
        list is walked, know the batches the workspace already has.
        """
        attempts = self.client.send("GET", BATCHES, params={"limit": "100"}).attempts
        answer = attempts[-1].response
        where = self.settings.sources.get("base_url", "--base-url")
        if untrusted(answer.transport_error):
            trusted = self.settings.ca_bundle or "no bundle of its own"
            raise CouldNotCheck(f"the TLS certificate of {self.client.base_url} is not signed by a CA this run "
                                f"trusts ({answer.transport_error}); set --ca-bundle (EVERMUSE_CA_BUNDLE) to the PEM "
                                f"file of the CA that signed it (the run trusts the public CAs and {trusted})")
        if answer.transport_error is not None and answer.transport_error.startswith(UNREACHABLE):
            raise CouldNotCheck(f"could not reach {self.client.base_url} ({answer.transport_error}); "
                                f"check {where} and that the target is up")
        if answer.status in (401, 403):
            raise CouldNotCheck(f"the target refused EVERMUSE_API_KEY with {answer.status}; set it to a "
                                f"key of the target's workspace that may read batches")
        self.sender.record("preflight", attempts, self.sender.context(valid_for=LIST_USE))
        if answer.transport_error is not None:
            self.stopped = f"the target did not answer the first request: {answer.transport_error}"
            return False
        return True
