"""Every catalogue rule as a schemathesis check, so each generated request meets the same rules.

Each rule is registered under its own ID. All of them read one judgement per response: the run's session
(client/requests_bridge.py) sent the request, recorded the exchange with the run, and judges it alone
through the verdict stage the first time a check asks. A response the run did not send is not judged.
"""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from schemathesis.core.failures import Failure, Severity

from conformance.client.requests_bridge import judgement_of
from conformance.report.render import render
from conformance.rules.catalogue import Rule, load_catalogue
from conformance.rules.registry import Violation
from conformance.rules.verdicts import Verdict


class RuleViolated(Failure):
    """A catalogue rule broken by a response to a generated request; schemathesis lists it as "code title"."""

    code = "EM"
    kind_title = "Evermuse rule violated"

    def __init__(self, *, operation: str, violation: Violation):
        rule = violation.rule
        body = render(violation, curl=False).split("\n", 1)[1]
        super().__init__(operation=operation, title=f"({rule.level}) {rule.sentence}", message=body,
                         severity=Severity.HIGH)
        self.code = self.rule_id = rule.id

    @property
    def _unique_key(self) -> str:
        return self.rule_id


def _failing(response: schemathesis.Response) -> dict[str, Verdict]:
    verdicts: list[Verdict] | None = judgement_of(response.request)
    return {v.rule.id: v for v in verdicts or []}


def _rule_check(rule: Rule) -> Callable[..., None]:
    def rule_holds(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
        verdict = _failing(response).get(rule.id)
        if verdict is not None:
            raise RuleViolated(operation=case.operation.label, violation=verdict.violations[0])

    rule_holds.__name__ = rule.id
    rule_holds.__qualname__ = rule.id
    return rule_holds


def register_all() -> None:
    for rule in load_catalogue():
        schemathesis.check(_rule_check(rule))
