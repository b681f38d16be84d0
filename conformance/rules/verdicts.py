"""The one verdict stage: what the checks saw, the catalogue and the known deviations in; one verdict per rule out.

Every consumer asks here: the per-rule tests, the schemathesis checks, the terminal summary and the drift
report. A rule held only where it judged something; with nothing judged it was not exercised.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from conformance.rules.catalogue import Catalogue, Rule
from conformance.rules.checker import Checked
from conformance.rules.expectations import Deviation, Expectations
from conformance.rules.registry import Violation, registered_run_checks


class Outcome(StrEnum):
    HELD = "held"
    VIOLATED = "violated"
    ACCEPTED = "accepted"  # violated, and every violation covered by a known deviation that has not expired
    EXPIRED = "expired"  # violated, and covered only by a known deviation whose expiry has passed
    NOT_EXERCISED = "not exercised"


@dataclass(frozen=True)
class Verdict:
    rule: Rule
    outcome: Outcome
    # How many exchanges the rule judged (for a rule over the whole run: how many it weighed).
    judged: int
    violations: tuple[Violation, ...] = ()
    deviation: Deviation | None = None
    # Why nothing was judged, for a rule not exercised.
    reason: str = ""

    def fails(self, strict: bool) -> bool:
        """Whether this verdict fails the run: a violation nothing accepts, of a MUST, or of a SHOULD under --strict."""
        return self.outcome in (Outcome.VIOLATED, Outcome.EXPIRED) and (self.rule.is_must or strict)


def _outcome(violations: Sequence[Violation], expectations: Expectations,
             today: dt.date) -> tuple[Outcome, Deviation | None]:
    covering = [expectations.covering(v) for v in violations]
    if not all(covering):
        return Outcome.VIOLATED, None
    first = covering[0]
    if any(d.expired(today) for d in covering if d is not None):
        return Outcome.EXPIRED, next(d for d in covering if d is not None and d.expired(today))
    return Outcome.ACCEPTED, first


def judge(evidence: Sequence[Checked], catalogue: Catalogue, expectations: Expectations, today: dt.date, *,
          skipped: Mapping[str, str] | None = None, stopped: str | None = None,
          whole_run: bool = True) -> dict[str, Verdict]:
    """One verdict per catalogue rule.

    skipped says, for rules an activity of the run could not exercise, why; stopped, why the run ended
    early. whole_run=False judges a part of the run (one generated request) without the rules that
    weigh every exchange of the run at once.
    """
    judged: dict[str, int] = dict.fromkeys(catalogue.ids, 0)
    violations: dict[str, list[Violation]] = {rule_id: [] for rule_id in catalogue.ids}
    for checked in evidence:
        for rule_id in checked.judged:
            judged[rule_id] += 1
        for violation in checked.violations:
            violations[violation.rule.id].append(violation)
    if whole_run:
        observations = [checked.observation for checked in evidence]
        for rule_id, run_check in registered_run_checks().items():
            outcome = run_check(observations)
            judged[rule_id] += outcome.judged
            violations[rule_id].extend(outcome.violations)
    verdicts = {}
    for rule in catalogue:
        found = tuple(violations[rule.id])
        if found:
            outcome, deviation = _outcome(found, expectations, today)
            verdicts[rule.id] = Verdict(rule, outcome, judged[rule.id], found, deviation)
        elif judged[rule.id]:
            verdicts[rule.id] = Verdict(rule, Outcome.HELD, judged[rule.id])
        else:
            verdicts[rule.id] = Verdict(rule, Outcome.NOT_EXERCISED, 0,
                                        reason=_not_exercised(rule, (skipped or {}).get(rule.id), stopped))
    return verdicts


def _not_exercised(rule: Rule, skipped: str | None, stopped: str | None) -> str:
    if skipped:
        return skipped
    reason = f"no exchange of this run was one it judges ({rule.judges})"
    return f"{reason}; the run stopped early: {stopped}" if stopped else reason


def count(verdicts: Mapping[str, Verdict]) -> dict[Outcome, int]:
    return {outcome: sum(v.outcome == outcome for v in verdicts.values()) for outcome in Outcome}
