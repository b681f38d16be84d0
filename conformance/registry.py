"""Registration of the Python checks, one per rule ID, and the violation they produce."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from conformance.catalogue import Rule, load_catalogue
from conformance.exchange import Exchange

# What a check looks at: the whole exchange, each batch status in the answer, or the 202 answer.
SUBJECTS = ("exchange", "batch", "accepted")


@dataclass(frozen=True)
class Finding:
    """What a check saw: where in the answer, what the rule expects there, and what came instead."""

    pointer: str
    expected: str
    received: str


@dataclass(frozen=True)
class Violation:
    rule: Rule
    pointer: str
    expected: str
    received: str
    exchange: Exchange | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule.id, self.pointer)


CheckFunction = Callable[..., Iterable[Finding]]


@dataclass(frozen=True)
class RegisteredCheck:
    rule_id: str
    subjects: tuple[str, ...]
    func: CheckFunction


class DuplicateRuleCheck(Exception):
    pass


_CHECKS: dict[str, RegisteredCheck] = {}


def rule_check(rule_id: str, *, on: str | tuple[str, ...]) -> Callable[[CheckFunction], CheckFunction]:
    """Register the Python check of one catalogue rule.

    A batch or accepted check is called as f(document, exchange); an exchange check as f(exchange).
    """
    subjects = (on,) if isinstance(on, str) else on
    unknown = [s for s in subjects if s not in SUBJECTS]
    if unknown:
        raise ValueError(f"{rule_id}: unknown subject {unknown[0]!r}; choose from {', '.join(SUBJECTS)}")
    load_catalogue()[rule_id]  # an ID the catalogue lacks is an error at import

    def register(func: CheckFunction) -> CheckFunction:
        if rule_id in _CHECKS:
            other = _CHECKS[rule_id].func
            raise DuplicateRuleCheck(
                f"{rule_id} is checked twice: by {other.__module__}.{other.__qualname__} "
                f"and by {func.__module__}.{func.__qualname__}"
            )
        _CHECKS[rule_id] = RegisteredCheck(rule_id, subjects, func)
        return func

    return register


def registered_checks() -> list[RegisteredCheck]:
    return list(_CHECKS.values())


def as_int(value: Any) -> int | None:
    """The value when it is a JSON integer; None for anything else, booleans included."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
