"""Every catalogue rule as a schemathesis check, so each generated request meets the same rules.

Each rule is registered under its own ID. All of them read one verdict per response from the verdict
stage, which judges that response alone; the response is also recorded with the run, so the per-rule
tests count what the property tests found.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import schemathesis
from schemathesis.core.failures import Failure, Severity

from conformance.catalogue import Rule, load_catalogue
from conformance.exchange import Context, Exchange, Request, Response
from conformance.registry import Violation
from conformance.render import render
from conformance.run.requests_bridge import exchange_of
from conformance.verdicts import Verdict

# The run whose context (keys, own batches), recorder and verdicts the checks use; empty outside a run.
_active: dict[str, Any] = {}
_cache = threading.local()


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


def activate(record: Callable[[Exchange], Exchange], failing: Callable[[Exchange], list[Verdict]]) -> None:
    """Point the checks at a run: where an exchange the bridge did not see is recorded, which verdicts fail."""
    _active.update(record=record, failing=failing)


def deactivate() -> None:
    _active.clear()


def to_exchange(response: schemathesis.Response, context: Context) -> Exchange:
    sent = response.request
    body = sent.body.encode() if isinstance(sent.body, str) else sent.body
    request = Request(str(sent.method), str(sent.url), dict(sent.headers), body)
    headers = {name: ", ".join(values) for name, values in response.headers.items()}
    answer = Response(response.status_code, headers, response.content,
                      truncated=response.content_size > len(response.content))
    return Exchange(request, answer, context)


def _failing(response: schemathesis.Response) -> dict[str, Verdict]:
    if getattr(_cache, "response", None) is not response:
        # The run's requests go through the bridge, which recorded the exchange; anything else is recorded here.
        exchange = exchange_of(response.request) or _active["record"](to_exchange(response, Context()))
        _cache.response, _cache.failing = response, {v.rule.id: v for v in _active["failing"](exchange)}
    return _cache.failing


def _rule_check(rule: Rule) -> Callable[..., None]:
    def rule_holds(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
        if not _active:
            return
        verdict = _failing(response).get(rule.id)
        if verdict is not None:
            raise RuleViolated(operation=case.operation.label, violation=verdict.violations[0])

    rule_holds.__name__ = rule.id
    rule_holds.__qualname__ = rule.id
    return rule_holds


def register_all() -> None:
    for rule in load_catalogue():
        schemathesis.check(_rule_check(rule))
