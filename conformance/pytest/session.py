"""One conformance run as the pytest plugin holds it: the target, the campaign, what it saw, and the verdicts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from conformance.activities.campaign import Campaign, CouldNotCheck
from conformance.activities.plan import WHOLE, Plan
from conformance.activities.recorder import Recorder
from conformance.client.bounded import ApiClient, Budget, RunClock
from conformance.client.requests_bridge import BoundedSession
from conformance.model.exchange import Context, Exchange, Intent, Observation, Request
from conformance.report.redact import register_secret
from conformance.report.render import render
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checker import Checked, check_observation
from conformance.rules.contract import load_contract
from conformance.rules.expectations import NONE, Expectations
from conformance.rules.outcome import RunOutcome
from conformance.rules.verdicts import Outcome, Verdict, count, judge
from conformance.settings.options import RunSettings

SHOWN_PER_RULE = 3
# The property tests' part of the budget: with the default 400, 100 requests, as many as the campaign needs.
PROPERTY_SHARE = 0.25
# The embedded simulator shows each stage of a batch to two status reads at least, however slowly the run reads:
# what a fault does between two stages is then seen on a busy machine as on a quiet one.
EMBEDDED_HOLD_READS = 2


def failure_text(verdict: Verdict, evidence_dir: str = "evidence") -> str:
    """The failure text of a rule: its first distinct violations in the one shape, then how many more there were."""
    distinct: dict[tuple[str, str, str], Any] = {}
    for violation in verdict.violations:
        distinct.setdefault((violation.pointer, violation.expected, violation.activity.split(" #")[0]), violation)
    shown = list(distinct.values())[:SHOWN_PER_RULE]
    parts = [f"{render(violation, evidence_dir=evidence_dir)}\n  Seen in:  {violation.activity}" for violation in shown]
    rest = len(verdict.violations) - len(shown)
    if rest > 0:
        exchanges = len({id(v.exchange) for v in verdict.violations})
        parts.append(f"... and {rest} more violations of {verdict.rule.id} in {exchanges} exchanges.")
    return "\n\n".join(parts)


class EvermuseRun:
    """Starts the target when it is the embedded simulator, runs the campaign, and judges what it saw."""

    def __init__(self, settings: RunSettings, *, expectations: Expectations = NONE, today: dt.date | None = None,
                 plan: Plan = WHOLE):
        self.settings = settings
        self.plan = plan
        self.expectations = expectations
        self.today = today or dt.date.today()
        self.not_checked: str | None = None
        # A bug of the suite met while checking: the traceback, redacted when shown.
        self.internal_error: str | None = None
        self.written: list[str] = []
        self.recorder = Recorder()
        self.budget = Budget(settings.max_requests)
        self.clock = RunClock(settings.max_duration)
        self.simulator: Any = None
        self.client: ApiClient | None = None
        self.bridge: BoundedSession | None = None
        # The property test now running, whose requests the bridge records under its name.
        self.property_label = ""
        self.campaign: Campaign | None = None
        self.started = time.time()
        self.finished: float | None = None
        # The requests sent when the outcome was decided: the summary and the report say the same number, though
        # an interrupted campaign may still finish a request or two before it stops.
        self.requests_at_end: int | None = None
        self.property_budget: dict[str, int] = {}
        self.property_sent: dict[str, int] = {}
        # Why a property test chose not to send, when it was not for want of budget or time.
        self.declined: dict[str, str] = {}
        # Idempotency-Keys the property tests sent, with the digest of the one body each went with.
        self.generated_keys: dict[str, str] = {}
        # Whether the generated request being sent is one the contract calls valid (schemathesis' positive mode).
        self.sending_contract_valid = False
        self._checked: list[Checked] = []
        self._checked_alone: dict[int, Checked] = {}  # by id of the exchange: see failing_verdicts_of
        self._verdicts: tuple[int, dict[str, Verdict]] | None = None
        self._lock = threading.Lock()
        self._checking = threading.Lock()
        self._waiting: threading.Thread | None = None
        self._waiting_failed: BaseException | None = None
        self._launch: threading.Thread | None = None
        self._launch_failed: BaseException | None = None
        # What the property tests may send between them: set aside once the batches are seeded.
        self.property_share = 0
        # Called after each request a property test sent, from the thread that runs the tests.
        self.on_generated: Callable[[], None] = lambda: None
        self.campaign_done = False

    @property
    def base_url(self) -> str:
        return self.settings.base_url or self.simulator.base_url

    def start(self) -> None:
        if self.settings.embedded:
            from conformance.simulator import SimulatorServer, make_settings

            keys = self.settings.keys
            simulator_settings = make_settings(write_key=keys.write, read_key=keys.read, other_key=keys.other,
                                               faults=self.settings.simulator_faults,
                                               choices=self.settings.simulator_choices,
                                               lifecycle_seconds=self.settings.simulator_lifecycle,
                                               hold_reads=EMBEDDED_HOLD_READS)
            self.simulator = SimulatorServer(simulator_settings).start()
        for secret in self.settings.keys.secrets:
            register_secret(secret)
        self.client = ApiClient(self.base_url, self.settings.keys, budget=self.budget,
                                timeout=self.settings.request_timeout, clock=self.clock,
                                ca_bundle=self.settings.ca_bundle)
        self.bridge = BoundedSession(self.client, self.record_generated, self.failing_verdicts_of, self.series_lock)
        self.campaign = Campaign(self.settings, self.client, self.recorder, plan=self.plan)

    def launch(self) -> None:
        """start and begin_campaign in the background, so that the target's lifecycle runs while pytest collects."""
        self._launch = threading.Thread(target=self._launched, name="evermuse-launch", daemon=True)
        self._launch.start()

    def _launched(self) -> None:
        try:
            self.start()
            self.begin_campaign()
        except BaseException as exc:  # handed to the main thread by await_launch
            self._launch_failed = exc

    def await_launch(self, progress: Callable[[str], None] = lambda line: None, every: float = 0.5) -> None:
        """Wait for launch, saying where it is every so often; raises what stopped it."""
        while self._launch is not None and self._launch.is_alive():
            self._launch.join(timeout=every)
            if self._launch.is_alive() and self.campaign is not None:
                progress(self.progress_line())
        if self._launch_failed is not None:
            raise self._launch_failed

    def run_campaign(self) -> None:
        """The whole campaign at once; raises CouldNotCheck when the target cannot be checked at all."""
        self.begin_campaign()
        self.finish_campaign()

    def begin_campaign(self) -> None:
        """Seed the batches, set the property tests' share of the budget aside, then send the probes and wait
        for the batches in the background.

        The wait is most of a run against a slow target; the property tests run meanwhile.
        Raises CouldNotCheck when the target cannot be checked at all.
        """
        assert self.campaign is not None
        self.campaign.begin()
        ahead = self.campaign.requests_ahead()
        self.property_share = max(0, min(self.budget.remaining - ahead, int(self.budget.limit * PROPERTY_SHARE)))
        self._waiting = threading.Thread(target=self._wait_for_batches, name="evermuse-campaign", daemon=True)
        self._waiting.start()

    def _wait_for_batches(self) -> None:
        assert self.campaign is not None
        try:
            self.campaign.wait_for_batches()
        except BaseException as exc:  # handed to the main thread, which ends the run with a sentence
            self._waiting_failed = exc
            return
        # While the property tests may still run: what the campaign saw is checked now, not when the first
        # verdict is asked for. Only a head start: a check that fails here fails again, in the main thread.
        with suppress(Exception):
            self.evidence()

    def finish_campaign(self, progress: Callable[[str], None] = lambda line: None, every: float = 0.5) -> None:
        """Wait for the background part, saying where it is every so often, then walk the list."""
        assert self.campaign is not None
        if self.campaign_done:
            return
        while self._waiting is not None and self._waiting.is_alive():
            self._waiting.join(timeout=every)
            if self._waiting.is_alive():
                progress(self.progress_line())
        if self._waiting_failed is not None:
            raise self._waiting_failed
        self.campaign.walk()
        self.campaign_done = True

    def progress_line(self) -> str:
        """Where the run is: the campaign's phase and pending batches, and requests used of the budget."""
        assert self.campaign is not None
        return f"{self.campaign.status()}; requests {self.budget.used} of {self.budget.limit}"

    def property_progress_line(self) -> str:
        """Where the property tests are, and the campaign beside them."""
        label = self.property_label
        sent, share = self.property_sent.get(label, 0), self.property_budget.get(label, 0)
        return f"property test {label}: {sent} of {share} requests; {self.progress_line()}"

    def stop(self) -> None:
        self.finished = self.finished or time.time()
        if self._launch is not None:
            self._launch.join(timeout=self.settings.request_timeout + 5)
        if self.campaign is not None:
            self.campaign.cancel()
        if self._waiting is not None:
            self._waiting.join(timeout=self.settings.request_timeout + 5)
        if self.bridge is not None:
            self.bridge.close()
        if self.client is not None:
            self.client.close()
        if self.simulator is not None:
            self.simulator.stop()

    @property
    def evidence_dir(self) -> str:
        """Where the curl lines of failures say a long request body is: the drift report writes it there."""
        return str(Path(self.settings.drift_report) / "evidence") if self.settings.drift_report else "evidence"

    @property
    def requests_sent(self) -> int:
        return self.requests_at_end if self.requests_at_end is not None else self.budget.used

    @property
    def stopped(self) -> str | None:
        return self.campaign.stopped if self.campaign else None

    def context(self) -> Context:
        own = frozenset(self.campaign.own_batch_ids) if self.campaign else frozenset()
        return Context(keys=self.settings.keys, own_batch_ids=own, write_lag_ms=self.settings.write_lag * 1000,
                       replica_lag_ms=self.settings.replica_lag * 1000)

    def series_lock(self, request: Request) -> AbstractContextManager[Any]:
        """What a property test's request holds while it is sent and recorded: the lock of the series of reads
        of the run's batch it reads, if it reads one (see Seeded.lock)."""
        seeded = self.campaign.series_read(request.method, request.url) if self.campaign else None
        return seeded.lock if seeded is not None else nullcontext()

    def record_generated(self, exchange: Exchange) -> Exchange:
        """A property test's exchange, recorded under the test's name with the run's context.

        A read of one of the run's batches is one more read of its series: the rules over time judge it after
        the reads before it, and the reads after it after it, whichever activity made them.
        """
        seeded = self.campaign.series_read(exchange.request.method, exchange.request.url) if self.campaign else None
        context = self.context()
        if self.sending_contract_valid:
            context = dataclasses.replace(context, intent=Intent.CONTRACT_VALID)
        if seeded is not None:
            context = dataclasses.replace(context, earlier=tuple(seeded.reads), earlier_at=tuple(seeded.read_at))
            body = exchange.response.json
            if exchange.response.status == 200 and isinstance(body, dict):
                seeded.reads.append(body)
                seeded.read_at.append(exchange.response.received_at_ms)
        judged_as = dataclasses.replace(exchange, context=context)
        with self._lock:
            self.property_sent[self.property_label] = self.property_sent.get(self.property_label, 0) + 1
        self.recorder.record(f"property test {self.property_label}", judged_as)
        self.on_generated()
        return judged_as

    def could_not_check(self) -> str | None:
        """Why the run, though the target answered, could not do its work: no request that sends records, or
        no read of a batch, got an answer the docs describe other than 429."""
        contract = load_contract()
        uses = {"sends records": ("ingestRecords", "POST"), "reads one of its batches": ("getBatchStatus", "GET")}
        own = set(self.campaign.own_batch_ids) if self.campaign else set()
        if self.settings.read_only:
            del uses["sends records"]
        if self.plan.seeds == 0:  # the selected tests needed no batch: nothing was sent to make one
            uses.clear()
        for purpose, (operation_id, method) in uses.items():
            answers = []
            for observation in self.recorder.observations:
                exchange = observation.exchange
                op = contract.operation_for(exchange.request.method, exchange.request.raw_path)
                if op is None or op.operation_id != operation_id or not exchange.by_write_key:
                    continue
                # A generated id that names no batch earns a 404 that says nothing of how batches are read.
                if method == "GET" and unquote(exchange.request.raw_path.rsplit("/", 1)[-1]) not in own:
                    continue
                answers.append((exchange.response, contract.documented_statuses(op)))
            if not any(answer.status in documented and answer.status != 429 for answer, documented in answers):
                seen = Counter(str(a.status) if a.transport_error is None else "no answer" for a, _ in answers)
                got = ", ".join(f"{status} x{n}" for status, n in seen.most_common()) or "none was sent"
                return (f"no request of the run that {purpose} got an answer the docs describe, other than 429 "
                        f"({method} answers: {got})")
        return None

    def stopped_by_bounds(self) -> str | None:
        """Why the run's own bounds stopped it before its campaign was done, naming the setting to raise."""
        if self.campaign is not None and self.campaign.stopped_by_limit:
            return f"the run stopped before it was done: {self.campaign.stopped}; raise {self.campaign.limit_reached}"
        return None

    # --- evidence and verdicts ----------------------------------------------------------------
    def evidence(self) -> list[Checked]:
        """Every observation so far with what the checks made of it; each is checked once."""
        with self._checking:  # one checker at a time, so the evidence keeps the recorder's order
            observations = self.recorder.observations
            with self._lock:
                done = len(self._checked)
            # Checked outside self._lock: a property test's check (failing_verdicts_of) need not wait for it.
            with self.ours():
                checked = [self._checked_once(observation) for observation in observations[done:]]
            with self._lock:
                self._checked += checked
                return list(self._checked)

    def _checked_once(self, observation: Observation) -> Checked:
        """A property test's exchange was checked alone as it came back: the same checks are not run twice."""
        with self._lock:
            alone = self._checked_alone.pop(id(observation.exchange), None)
        if alone is not None and alone.observation.exchange is observation.exchange \
                and alone.observation.activity == observation.activity:
            return dataclasses.replace(alone, observation=observation)
        return check_observation(observation)

    def verdicts(self) -> dict[str, Verdict]:
        evidence = self.evidence()
        with self._lock:
            if self._verdicts is None or self._verdicts[0] != len(evidence):
                with self.ours():
                    judged = judge(evidence, load_catalogue(), self.expectations, self.today,
                                   skipped=self.recorder.skipped, stopped=self.stopped)
                self._verdicts = (len(evidence), judged)
            return self._verdicts[1]

    def verdicts_so_far(self) -> dict[str, Verdict]:
        """The verdicts, or after a bug of ours in a check, those of what was checked before it."""
        try:
            return self.verdicts()
        except Exception:
            try:
                return judge(list(self._checked), load_catalogue(), self.expectations, self.today,
                             skipped=self.recorder.skipped, stopped=self.stopped)
            except Exception:
                return {}

    def failing_verdicts_of(self, exchange: Exchange) -> list[Verdict]:
        """The verdicts one exchange alone earns that fail the run: what a schemathesis check raises."""
        with self.ours():
            checked = check_observation(Observation(f"property test {self.property_label}", exchange))
        with self._lock:
            # Kept by identity until evidence() reaches the exchange; the entry holds the exchange, so the id
            # cannot be reused meanwhile.
            self._checked_alone[id(exchange)] = checked
        verdicts = judge([checked], load_catalogue(), self.expectations, self.today, whole_run=False)
        return [v for v in verdicts.values() if v.fails(self.settings.strict)]

    @contextmanager
    def ours(self) -> Iterator[None]:
        """Code of the suite judging what the target said: what it raises is a bug of ours, never the target's."""
        try:
            yield
        except Exception:
            self.internal_error = self.internal_error or traceback.format_exc()
            raise

    def drift_report(self, history: dict[str, Any] | None, outcome: RunOutcome,
                     verdicts: dict[str, Verdict]) -> tuple[dict[str, Any], dict[str, bytes], dict[str, Any]]:
        """The report, the request bodies its curl lines name, and the history with this run added."""
        from conformance.report.drift import live as drift_live
        from conformance.report.drift import report

        outcomes = {outcome.value: n for outcome, n in count(verdicts).items()}
        evidence = self.evidence() if self.internal_error is None else list(self._checked)
        live, bodies = report.live_part(outcome.ending.value, outcome.reason or self.stopped or "", evidence, verdicts,
                                        outcomes, self.expectations)
        target = self.settings.base_url or "embedded reference simulator"
        observations = [checked.observation for checked in evidence]
        origin = report.provenance(target=target, started=self.started, finished=self.finished or time.time(),
                                   seed=self.settings.seed, requests=self.requests_sent,
                                   server_version=drift_live.version_header(observations),
                                   published_source=self.settings.published_spec)
        published = report.published_part(self.settings.published_spec, report.who_should_change(evidence),
                                          clock=self.clock, ca_bundle=self.settings.ca_bundle)
        built, updated = report.build(provenance=origin, live=live, published=published,
                                      expectations=self.expectations, history=history,
                                      keep=self.settings.drift_history_runs, outcome=outcome.as_dict())
        return built, bodies, updated

    # --- the property tests' share of the budget ----------------------------------------------
    def share_for_property_tests(self, labels: list[str]) -> None:
        """Split the property tests' part of the budget evenly between them.

        They run while the campaign still waits for its batches, so their part was set aside when the batches
        were seeded (begin_campaign): PROPERTY_SHARE of --max-requests, never what the campaign is sure to need.
        """
        self.property_budget = dict.fromkeys(labels, self.property_share // max(1, len(labels)))

    def property_share_left(self) -> bool:
        """Whether the property test now running may send another case: its share, the budget and the time."""
        share = self.property_budget.get(self.property_label, 0)
        return (self.property_sent.get(self.property_label, 0) < share and self.budget.remaining > 0
                and self.clock.remaining() > 0)


__all__ = ["CouldNotCheck", "EvermuseRun", "Outcome", "Verdict", "failure_text"]
