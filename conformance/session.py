"""One conformance run as the pytest plugin holds it: the target, the campaign, and each rule's verdict."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from conformance.catalogue import Rule, load_catalogue
from conformance.drift import live as drift_live
from conformance.drift import report
from conformance.drift.fingerprints import violation_fingerprint
from conformance.exchange import Context, Exchange, Keys, Request, Response
from conformance.expectations import NONE, Deviation, Expectations
from conformance.redact import register_secret
from conformance.registry import Violation
from conformance.render import render
from conformance.run.campaign import Campaign, CouldNotCheck
from conformance.run.client import ApiClient, Budget
from conformance.run.recorder import Observation, Recorder
from conformance.run.settings import RunSettings

# pytest uses 0 to 5; a target that could not be checked at all gets a status of its own.
EXIT_NOT_CHECKED = 6
SHOWN_PER_RULE = 3


@dataclass(frozen=True)
class Verdict:
    rule: Rule
    violations: tuple[tuple[Observation, Violation], ...]
    exercised: bool
    reason: str
    # The known deviation that covers this rule's violations, expired or not.
    deviation: Deviation | None = None

    @property
    def outcome(self) -> str:
        if self.violations:
            accepted = self.deviation is not None and not self.deviation.expired(date.today())
            return "accepted" if accepted else "violated"
        return "held" if self.exercised else "not exercised"

    def report(self) -> str:
        """The failure text: the first violations in the one shape, then how many more there were."""
        distinct: dict[tuple[str, str, str], tuple[Observation, Violation]] = {}
        for observation, violation in self.violations:
            where = (violation.pointer, violation.expected, observation.activity.split(" #")[0])
            distinct.setdefault(where, (observation, violation))
        shown = list(distinct.values())[:SHOWN_PER_RULE]
        parts = [f"{render(violation)}\n  Seen in:  {observation.activity}" for observation, violation in shown]
        rest = len(self.violations) - len(shown)
        if rest > 0:
            exchanges = len({id(o) for o, _ in self.violations})
            parts.append(f"... and {rest} more violations of {self.rule.id} in {exchanges} exchanges.")
        return "\n\n".join(parts)


class EvermuseRun:
    """Starts the target when it is the embedded simulator, runs the campaign, and answers per rule."""

    def __init__(self, settings: RunSettings, *, expectations: Expectations = NONE,
                 progress: Callable[[str], None] = lambda line: None):
        self.settings = settings
        self.expectations = expectations
        self.progress = progress
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

    @property
    def base_url(self) -> str:
        return self.settings.base_url or self.simulator.base_url

    @property
    def keys(self) -> Keys:
        return self.settings.keys

    def start(self) -> None:
        if self.settings.embedded:
            from conformance.simulator import SimulatorServer, make_settings

            keys = self.settings.keys
            simulator_settings = make_settings(write_key=keys.write, read_key=keys.read, other_key=keys.other,
                                               faults=self.settings.simulator_faults,
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

    def record_silence(self, activity: str, request: Request, error: str) -> None:
        """A request outside the campaign that got no answer, judged like any other (EM-HTTP-007)."""
        answer = Response(0, transport_error=error.splitlines()[0][:200])
        self.recorder.record(activity, Exchange(request, answer, self.context()), {"EM-HTTP-007"})

    def context(self) -> Context:
        own = frozenset(self.campaign.own_batch_ids) if self.campaign else frozenset()
        return Context(keys=self.settings.keys, own_batch_ids=own)

    def deviation_for(self, violation: Violation) -> Deviation | None:
        return (self.expectations.for_rule(violation.rule.id)
                or self.expectations.for_fingerprint(violation_fingerprint(violation)))

    def fails_tests(self, violation: Violation) -> bool:
        """Whether this violation fails a test: MUST (SHOULD with --strict), and no unexpired known deviation."""
        deviation = self.deviation_for(violation)
        accepted = deviation is not None and not deviation.expired(date.today())
        return (violation.rule.is_must or self.settings.strict) and not accepted

    def verdict(self, rule_id: str) -> Verdict:
        rule = load_catalogue()[rule_id]
        violations = tuple(self.recorder.violations_of(rule_id))
        deviation = self.expectations.for_rule(rule_id)
        if deviation is None and violations:
            covering = [self.deviation_for(v) for _, v in violations]
            deviation = covering[0] if all(covering) else None
        exercised = rule_id in self.recorder.exercised
        reason = self.recorder.not_exercised.get(rule_id, "")
        if not exercised and not reason:
            stopped = self.campaign.stopped if self.campaign else None
            reason = f"the run stopped early: {stopped}" if stopped else "no activity of this run exercises it"
        return Verdict(rule, violations, exercised, reason, deviation)

    def drift_report(self, baseline: dict[str, Any] | None) -> dict[str, Any]:
        verdicts = [self.verdict(rule.id) for rule in load_catalogue()]
        outcomes = {outcome: sum(v.outcome == outcome for v in verdicts)
                    for outcome in ("held", "violated", "accepted", "not exercised")}
        observations = self.recorder.observations
        status = "not checked" if self.not_checked else "checked"
        live = report.live_part(status, self.not_checked or self.stopped or "", observations, outcomes,
                                self.expectations)
        violated = {f["rule"] for f in live["findings"]}
        target = self.settings.base_url or "embedded reference simulator"
        origin = report.provenance(target=target, started=self.started, finished=self.finished or time.time(),
                                   seed=self.settings.seed, requests=self.budget.used,
                                   server_version=drift_live.version_header(observations),
                                   published_source=self.settings.published_spec)
        return report.build(provenance=origin, live=live,
                            published=report.published_part(self.settings.published_spec, violated),
                            expectations=self.expectations, baseline=baseline,
                            baseline_source=self.settings.drift_baseline)

    @property
    def stopped(self) -> str | None:
        return self.campaign.stopped if self.campaign else None

    def share_for_property_tests(self, labels: list[str]) -> None:
        """Split what the campaign left of the budget evenly between the property tests."""
        share = self.budget.remaining // max(1, len(labels))
        self.property_budget = dict.fromkeys(labels, share)

    def take_for_property_test(self, label: str) -> bool:
        left = self.property_budget.get(label, 0)
        if left <= 0 or not self.budget.take():
            return False
        self.property_budget[label] = left - 1
        return True


__all__ = ["EXIT_NOT_CHECKED", "CouldNotCheck", "EvermuseRun", "Verdict"]
