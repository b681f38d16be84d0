"""How every activity of the campaign sends: through the run's client, each attempt recorded with what the run
knew when it sent it (its Context), under the activity's name."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from conformance.activities.recorder import Recorder
from conformance.client.bounded import ApiClient, TargetSilent
from conformance.model.exchange import Context, Exchange


class Sender:
    def __init__(self, client: ApiClient, recorder: Recorder, own_batch_ids: Callable[[], list[str]], *,
                 write_lag: float = 3.0, replica_lag: float = 1.0):
        self.client = client
        self.write_lag, self.replica_lag = write_lag, replica_lag
        self.recorder = recorder
        self._own_batch_ids = own_batch_ids

    def context(self, **kwargs: Any) -> Context:
        return Context(keys=self.client.keys, own_batch_ids=frozenset(self._own_batch_ids()),
                       write_lag_ms=self.write_lag * 1000, replica_lag_ms=self.replica_lag * 1000, **kwargs)

    def record(self, activity: str, attempts: tuple[Exchange, ...], context: Context) -> Exchange:
        for attempt in attempts:
            self.recorder.record(activity, dataclasses.replace(attempt, context=context))
        return dataclasses.replace(attempts[-1], context=context)

    def attempt(self, method: str, path: str, **kwargs: Any) -> tuple[tuple[Exchange, ...], TargetSilent | None]:
        """Every attempt of one request, recorded by no one yet; and the silence that ended them, if one did."""
        try:
            return self.client.send(method, path, **kwargs).attempts, None
        except TargetSilent as exc:
            return exc.attempts, exc

    def send(self, activity: str, method: str, path: str, *,
             context: Context | Callable[[Exchange], Context] | None = None, **kwargs: Any) -> Exchange:
        """Send and record every attempt; context may be a function of the answer, when the answer decides it."""
        attempts, silent = self.attempt(method, path, **kwargs)
        judged_as = context(attempts[-1]) if callable(context) else context or self.context()
        answer = self.record(activity, attempts, judged_as)
        if silent is not None:
            raise silent
        return answer
