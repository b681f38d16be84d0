"""One conformance run as the pytest plugin holds it: the target, the campaign, what it saw, and the verdicts."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from conformance.catalogue import load_catalogue
from conformance.checker import Checked, check_observation
from conformance.drift import live as drift_live
from conformance.drift import report
from conformance.exchange import Context, Exchange, Observation, Request, Response
from conformance.expectations import NONE, Expectations
from conformance.redact import register_secret
from conformance.render import render
from conformance.run.campaign import Campaign, CouldNotCheck
from conformance.run.client import ApiClient, Budget
from conformance.run.recorder import Recorder
from conformance.run.settings import RunSettings
from conformance.verdicts import Outcome, Verdict, count, judge

# pytest uses 0 to 5; a target that could not be checked at all gets a status of its own.
EXIT_NOT_CHECKED = 6
SHOWN_PER_RULE = 3


def failure_text(verdict: Verdict) -> str:
    """The failure text of a rule: its first distinct violations in the one shape, then how many more there were."""
    distinct: dict[tuple[str, str, str], Any] = {}
    for violation in verdict.violations:
        distinct.setdefault((violation.pointer, violation.expected, violation.activity.split(" #")[0]), violation)
    shown = list(distinct.values())[:SHOWN_PER_RULE]
    parts = [f"{render(violation)}\n  Seen in:  {violation.activity}" for violation in shown]
    rest = len(verdict.violations) - len(shown)
    if rest > 0:
        exchanges = len({id(v.exchange) for v in verdict.violations})
        parts.append(f"... and {rest} more violations of {verdict.rule.id} in {exchanges} exchanges.")
    return "\n\n".join(parts)


class EvermuseRun:
    """Starts the target when it is the embedded simulator, runs the campaign, and judges what it saw."""

    def __init__(self, settings: RunSettings, *, expectations: Expectations = NONE,
                 progress: Callable[[str], None] = lambda line: None, today: dt.date | None = None):
        self.settings = settings
        self.expectations = expectations
        self.progress = progress
        self.today = today or dt.date.today()
        self.not_checked: str | None = None
        self.written: list[str] = []
        self.recorder = Recorder()
        self.budget = Budget(settings.max_requests)
        self.simulator: Any = None
        self.client: ApiClient | None = None
        self.campaign: Campaign | None = None
        self.started = time.time()
        self.finished: float | None = None
        self.property_budget: dict[str, int] = {}
        self.property_sent: dict[str, int] = {}
        # Idempotency-Keys the property tests sent, with the digest of the one body each went with.
        self.generated_keys: dict[str, str] = {}
        self._checked: list[Checked] = []
        self._verdicts: tuple[int, dict[str, Verdict]] | None = None
        self._lock = threading.Lock()

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
                                               lifecycle_seconds=self.settings.simulator_lifecycle)
            self.simulator = SimulatorServer(simulator_settings).start()
        for secret in self.settings.keys.secrets:
            register_secret(secret)
        self.client = ApiClient(self.base_url, self.settings.keys, budget=self.budget,
                                timeout=self.settings.request_timeout)
        self.campaign = Campaign(self.settings, self.client, self.recorder, progress=self.progress)

    def run_campaign(self) -> None:
        """Raises CouldNotCheck when the target cannot be checked at all."""
        assert self.campaign is not None
        self.campaign.run()

    def stop(self) -> None:
        self.finished = time.time()
        if self.client is not None:
            self.client.close()
        if self.simulator is not None:
            self.simulator.stop()

    @property
    def stopped(self) -> str | None:
        return self.campaign.stopped if self.campaign else None

    def context(self) -> Context:
        own = frozenset(self.campaign.own_batch_ids) if self.campaign else frozenset()
        return Context(keys=self.settings.keys, own_batch_ids=own)

    def record_silence(self, activity: str, request: Request, error: str) -> None:
        """A request outside the campaign that got no answer, judged like any other (EM-HTTP-007)."""
        self.recorder.record(activity, Exchange(request, Response(0, transport_error=error.splitlines()[0][:200]),
                                                self.context()))

    # --- evidence and verdicts ----------------------------------------------------------------
    def evidence(self) -> list[Checked]:
        """Every observation so far with what the checks made of it; each is checked once."""
        observations = self.recorder.observations
        with self._lock:
            self._checked += [check_observation(o) for o in observations[len(self._checked):]]
            return list(self._checked)

    def verdicts(self) -> dict[str, Verdict]:
        evidence = self.evidence()
        with self._lock:
            if self._verdicts is None or self._verdicts[0] != len(evidence):
                self._verdicts = (len(evidence), judge(evidence, load_catalogue(), self.expectations, self.today,
                                                       skipped=self.recorder.skipped, stopped=self.stopped))
            return self._verdicts[1]

    def failing_verdicts_of(self, observation: Observation) -> list[Verdict]:
        """The verdicts one exchange alone earns that fail the run: what a schemathesis check raises."""
        verdicts = judge([check_observation(observation)], load_catalogue(), self.expectations, self.today,
                         whole_run=False)
        return [v for v in verdicts.values() if v.fails(self.settings.strict)]

    def drift_report(self, baseline: dict[str, Any] | None) -> dict[str, Any]:
        verdicts = self.verdicts()
        outcomes = {outcome.value: n for outcome, n in count(verdicts).items()}
        evidence = self.evidence()
        status = "not checked" if self.not_checked else "checked"
        live = report.live_part(status, self.not_checked or self.stopped or "", evidence, verdicts, outcomes,
                                self.expectations)
        violated = {f["rule"] for f in live["findings"]}
        target = self.settings.base_url or "embedded reference simulator"
        observations = [checked.observation for checked in evidence]
        origin = report.provenance(target=target, started=self.started, finished=self.finished or time.time(),
                                   seed=self.settings.seed, requests=self.budget.used,
                                   server_version=drift_live.version_header(observations),
                                   published_source=self.settings.published_spec)
        return report.build(provenance=origin, live=live,
                            published=report.published_part(self.settings.published_spec, violated),
                            expectations=self.expectations, baseline=baseline,
                            baseline_source=self.settings.drift_baseline)

    # --- the property tests' share of the budget ----------------------------------------------
    def share_for_property_tests(self, labels: list[str]) -> None:
        """Split what the campaign left of the budget evenly between the property tests."""
        share = self.budget.remaining // max(1, len(labels))
        self.property_budget = dict.fromkeys(labels, share)

    def take_for_property_test(self, label: str) -> bool:
        left = self.property_budget.get(label, 0)
        if left <= 0 or not self.budget.take():
            return False
        self.property_budget[label] = left - 1
        self.property_sent[label] = self.property_sent.get(label, 0) + 1
        return True


__all__ = ["EXIT_NOT_CHECKED", "CouldNotCheck", "EvermuseRun", "Outcome", "Verdict", "failure_text"]
