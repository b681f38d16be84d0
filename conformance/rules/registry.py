"""Registration of the Python checks, one per rule ID, and what a check reports.

A check says whether it judged an exchange at all, not only what it found: it returns None when the
exchange is not one its rule speaks of, and a list of findings (empty when the rule held) when it is.
A rule is held only on exchanges it judged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.model.exchange import Exchange, is_json_number
from conformance.model.keyforms import shown_start
from conformance.rules.catalogue import Rule, load_catalogue

# What a check looks at: the whole exchange, each batch status in the answer, or the 202 answer.
SUBJECTS = ("exchange", "batch", "accepted")


@dataclass(frozen=True)
class Finding:
    """What a check saw: where in the answer, what the rule expects there, and what came instead."""

    pointer: str
    expected: str
    received: str


# None: the check's condition did not hold, so the exchange says nothing about the rule.
# A list: the rule was judged; its findings, none when it held.
Judgement = list[Finding] | None
HELD: Judgement = []


def judged(*findings: Finding) -> list[Finding]:
    return list(findings)


@dataclass(frozen=True)
class Violation:
    rule: Rule
    pointer: str
    expected: str
    received: str
    exchange: Exchange | None = None
    # What the run was doing when it saw this: "read mixed #3", "property test GET ...".
    activity: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule.id, self.pointer)


CheckFunction = Callable[..., Judgement]


@dataclass(frozen=True)
class RegisteredCheck:
    rule_id: str
    subjects: tuple[str, ...]
    func: CheckFunction


@dataclass(frozen=True)
class RunJudgement:
    """What a check over the whole run found: how many exchanges it judged, and its violations."""

    judged: int
    violations: tuple[Violation, ...] = ()


# A check over everything the run saw, for rules no single exchange can decide.
RunCheckFunction = Callable[[Sequence[Any]], RunJudgement]


class DuplicateRuleCheck(Exception):
    pass


_CHECKS: dict[str, RegisteredCheck] = {}
_RUN_CHECKS: dict[str, RunCheckFunction] = {}


def _claim(rule_id: str, func: Callable[..., Any]) -> None:
    load_catalogue()[rule_id]  # an ID the catalogue lacks is an error at import
    other = _CHECKS[rule_id].func if rule_id in _CHECKS else _RUN_CHECKS.get(rule_id)
    if other is not None:
        raise DuplicateRuleCheck(
            f"{rule_id} is checked twice: by {other.__module__}.{other.__qualname__} "
            f"and by {func.__module__}.{func.__qualname__}"
        )


def rule_check(rule_id: str, *, on: str | tuple[str, ...]) -> Callable[[CheckFunction], CheckFunction]:
    """Register the Python check of one catalogue rule.

    A batch or accepted check is called as f(document, exchange); an exchange check as f(exchange).
    """
    subjects = (on,) if isinstance(on, str) else on
    unknown = [s for s in subjects if s not in SUBJECTS]
    if unknown:
        raise ValueError(f"{rule_id}: unknown subject {unknown[0]!r}; choose from {', '.join(SUBJECTS)}")
    load_catalogue()[rule_id]

    def register(func: CheckFunction) -> CheckFunction:
        _claim(rule_id, func)
        _CHECKS[rule_id] = RegisteredCheck(rule_id, subjects, func)
        return func

    return register


def run_check(rule_id: str) -> Callable[[RunCheckFunction], RunCheckFunction]:
    """Register a check that judges a rule over every exchange of the run at once."""
    load_catalogue()[rule_id]

    def register(func: RunCheckFunction) -> RunCheckFunction:
        _claim(rule_id, func)
        _RUN_CHECKS[rule_id] = func
        return func

    return register


def registered_checks() -> list[RegisteredCheck]:
    return list(_CHECKS.values())


def registered_run_checks() -> dict[str, RunCheckFunction]:
    return dict(_RUN_CHECKS)


def as_int(value: Any) -> int | None:
    """The value when it is a JSON integer; None for anything else, booleans included."""
    return value if is_json_number(value) and isinstance(value, int) else None


def quoted(value: Any, ex: Exchange, size: int = 300) -> str:
    """What a finding quotes of a value the target sent: its repr, at most size characters, with the run's keys
    hidden before the cut, since the first part of a key cut in two no longer looks like a key to any redaction."""
    return shown_start(repr(value), size, ex.context.keys.secrets if ex.context.keys is not None else [])
