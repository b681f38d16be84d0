"""Everything the run saw: each exchange with the violations it shows, and which rules the run exercised."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from conformance.checker import check
from conformance.exchange import Exchange
from conformance.registry import Violation

RATE_RULE = "EM-RATE-001"


@dataclass(frozen=True)
class Observation:
    activity: str
    exchange: Exchange
    violations: tuple[Violation, ...]


class Recorder:
    def __init__(self) -> None:
        self.observations: list[Observation] = []
        self.exercised: set[str] = set()
        self.not_exercised: dict[str, str] = {}
        self._lock = threading.Lock()

    def record(self, activity: str, exchange: Exchange, rules: Iterable[str]) -> Observation:
        observation = Observation(activity, exchange, tuple(check(exchange)))
        with self._lock:
            self.observations.append(observation)
            self.exercised.update(rules)
            if exchange.response.status == 429:
                self.exercised.add(RATE_RULE)
        return observation

    def skip(self, rules: Iterable[str], reason: str) -> None:
        """Rules an activity would have exercised, and why it could not."""
        with self._lock:
            for rule in rules:
                self.not_exercised.setdefault(rule, reason)

    def violations_of(self, rule_id: str) -> list[tuple[Observation, Violation]]:
        with self._lock:
            return [(o, v) for o in self.observations for v in o.violations if v.rule.id == rule_id]

    @property
    def requests(self) -> int:
        return len(self.observations)
