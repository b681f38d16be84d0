"""Everything the run saw, in order, and why an activity could not run. It records; it judges nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from conformance.model.exchange import Exchange, Observation


class Recorder:
    def __init__(self) -> None:
        self._observations: list[Observation] = []
        # For rules an activity of the run could not exercise: why (a key not set, --read-only, ...).
        self._skipped: dict[str, str] = {}
        self._lock = threading.Lock()

    def record(self, activity: str, exchange: Exchange) -> Observation:
        observation = Observation(activity, exchange)
        with self._lock:
            self._observations.append(observation)
        return observation

    def skip(self, rules: Iterable[str], reason: str) -> None:
        with self._lock:
            for rule in rules:
                self._skipped.setdefault(rule, reason)

    @property
    def observations(self) -> list[Observation]:
        with self._lock:
            return list(self._observations)

    @property
    def skipped(self) -> dict[str, str]:
        with self._lock:
            return dict(self._skipped)
