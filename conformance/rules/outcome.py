"""How a run ended, decided once: every output (exit status, summary, JUnit, drift report, history) reads it.

Only a run checked to the end can be GREEN or count in the history. A run cut short by a signal, by its own
bounds, by a selection of tests, by a bug of the suite or by a target it could not check says so first, with
what it found so far.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Ending(enum.StrEnum):
    CHECKED = "checked"
    PARTIAL = "partial"
    INTERRUPTED = "interrupted"
    NOT_CHECKED = "not checked"
    INTERNAL_ERROR = "internal error"
    NOT_RUN = "not run"


# pytest's statuses, and the suite's own for a target it could not check.
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INTERNAL_ERROR, EXIT_NO_TESTS = 0, 1, 2, 3, 5
EXIT_NOT_CHECKED = 6


@dataclass(frozen=True)
class RunOutcome:
    ending: Ending
    # Why the run is not a clean one (empty for a run checked to the end).
    reason: str
    # The MUST and SHOULD rules found broken (accepted deviations aside), in catalogue order.
    must: tuple[str, ...] = ()
    should: tuple[str, ...] = ()
    # Whether a test of the run failed: a broken rule at its level, or a schemathesis check.
    failed: bool = False
    seconds: float = 0.0
    # A run stopped by its own bounds (--max-requests, --max-duration) rather than by a selection.
    by_bounds: bool = False

    @property
    def verdict(self) -> str:
        """The one word every output opens with."""
        if self.ending == Ending.CHECKED:
            return "RED" if self.failed else "GREEN"
        return self.ending.value.upper()

    @property
    def counts_in_history(self) -> bool:
        """Whether the history may judge findings by this run: seen, gone, back again."""
        return self.ending == Ending.CHECKED

    @property
    def exit_status(self) -> int:
        if self.ending == Ending.INTERNAL_ERROR:
            return EXIT_INTERNAL_ERROR
        if self.ending == Ending.INTERRUPTED:
            return EXIT_INTERRUPTED
        if self.ending == Ending.NOT_RUN:
            return EXIT_NO_TESTS
        if self.ending == Ending.NOT_CHECKED:
            return EXIT_NOT_CHECKED
        if self.failed:
            return EXIT_FAILED
        return EXIT_NOT_CHECKED if self.by_bounds else EXIT_OK

    @property
    def headline(self) -> str:
        """One line: the verdict, then what was found, then why it is not a clean run when it is not."""
        broken = f"{len(self.must)} MUST and {len(self.should)} SHOULD rules broken"
        if self.ending == Ending.CHECKED:
            return f"{self.verdict}: {broken}"
        if self.ending == Ending.NOT_RUN:
            return f"NOT RUN: {self.reason}"
        so_far = "so far" if self.ending != Ending.PARTIAL else "in what was checked"
        return f"{self.verdict} after {self.seconds:.0f} s: {broken} {so_far}; not a clean run ({self.reason})"

    def as_dict(self) -> dict[str, object]:
        return {"ending": self.ending.value, "verdict": self.verdict, "headline": self.headline,
                "reason": self.reason, "exit_status": self.exit_status, "must": list(self.must),
                "should": list(self.should), "counts_in_history": self.counts_in_history}


def decide(*, must: tuple[str, ...], should: tuple[str, ...], failed: bool, seconds: float,
           internal_error: str | None = None, interrupted: str | None = None, not_checked: str | None = None,
           stopped_by_bounds: str | None = None, narrowed: str | None = None) -> RunOutcome:
    """The run's outcome from how it ended, the first that applies: a bug of ours, a signal, a target that could
    not be checked, the run's own bounds, a selection; else it was checked to the end."""
    for ending, reason, by_bounds in ((Ending.INTERNAL_ERROR, internal_error, False),
                                      (Ending.INTERRUPTED, interrupted, False),
                                      (Ending.NOT_CHECKED, not_checked, False),
                                      (Ending.PARTIAL, stopped_by_bounds, True),
                                      (Ending.PARTIAL, narrowed, False)):
        if reason:
            return RunOutcome(ending, reason, must, should, failed, seconds, by_bounds)
    return RunOutcome(Ending.CHECKED, "", must, should, failed, seconds)


def not_run(reason: str) -> RunOutcome:
    return RunOutcome(Ending.NOT_RUN, reason)
