"""A batch and how it looks at a given moment: lifecycle, downloads, and the faults that bend the view."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from conformance.simulator.choices import ChoiceSet
from conformance.simulator.faults import FaultSet

ERRORS_SHOWN = 20
# Fractions of the lifecycle: LANDING until 0.1, LANDED until 0.3, PROCESSING until 1.0, then ended.
LANDED_AT, PROCESSING_AT, ENDED_AT = 0.1, 0.3, 1.0
# Where processing rejects a record it had accepted, for a server whose counts settle in processing.
SETTLED_AT = 0.6
PROCESSING_FAILURE = {"index": 0, "code": "PROCESSING_FAILED",
                      "message": "Processing failed: the records could not be analysed; send the batch again."}
# Downloads start when the batch lands and are all done by 0.9 of the lifecycle.
DOWNLOADS_START, DOWNLOADS_END = 0.1, 0.9
# How far short of a stage's end a held batch stands: far above float rounding, far below any stage's length.
HELD_SHORT_OF = 1e-6


def unreachable(url: str | None) -> bool:
    host = (urlsplit(url or "").hostname or "").rstrip(".")
    return host == "invalid" or host.endswith(".invalid")


@dataclass
class Batch:
    batch_id: str
    seq: int
    workspace: str
    created_ms: int
    created_mono: float
    lifecycle_seconds: float
    size: int
    accepted: int
    rejected: int
    errors: list[dict[str, Any]]
    record_type: str | None
    attachment_urls: list[str | None]
    # Status reads each stage is shown to before the batch moves on past it (0: the clock alone decides).
    hold_reads: int = 0
    # What a fault has already shown, for faults that misbehave from one read to the next.
    reads: int = 0
    shown: set[str] = field(default_factory=set)
    # Status reads that showed each stage, by where the stage ends (a fraction of the lifecycle).
    seen: dict[float, int] = field(default_factory=dict)
    # The accepted record processing rejects at SETTLED_AT (count-settling), if any; whether processing fails the
    # batch (processing-failure), and whether its error then counts in totalErrorCount.
    settles: int | None = None
    fails_in_processing: bool = False
    failure_counted: bool = False
    # A point of the lifecycle the batch stands still at until a monotonic time, once a flapping fault began.
    frozen: tuple[float, float] | None = None
    # The status views reads were answered with, by when (monotonic): what a lagging replica serves again.
    served: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    @property
    def total_errors(self) -> int:
        return len(self.errors)

    def settled(self, progress: float | None) -> bool:
        return self.settles is not None and progress is not None and progress >= SETTLED_AT

    def failed_in_processing(self, progress: float | None) -> bool:
        return self.fails_in_processing and progress is not None and progress >= ENDED_AT

    def errors_at(self, progress: float | None) -> list[dict[str, Any]]:
        """The batch's errors as they stand: the 202's (progress None), then what processing added."""
        errors = list(self.errors)
        if self.settled(progress):
            errors.append({"index": self.settles, "code": "REJECTED_IN_PROCESSING",
                           "message": "The record could not be analysed and was rejected in processing."})
            errors.sort(key=lambda error: error["index"])
        if self.failed_in_processing(progress):
            errors.insert(0, dict(PROCESSING_FAILURE))
        return errors

    def counts_at(self, progress: float | None) -> tuple[int, int, int]:
        """acceptedCount, rejectedCount and totalErrorCount as they stand (progress None: the 202's)."""
        accepted, rejected, total = self.accepted, self.rejected, self.total_errors
        if self.settled(progress):
            accepted, rejected, total = accepted - 1, rejected + 1, total + 1
        if self.failed_in_processing(progress) and self.failure_counted:
            total += 1
        return accepted, rejected, total

    def age(self, now: float | None = None) -> float:
        """Seconds since the batch was created, by the clock alone."""
        return (time.monotonic() if now is None else now) - self.created_mono

    def stage_ends(self) -> list[float]:
        """Where each stage a client can tell apart ends: a status change, or one more download done."""
        ends = {LANDED_AT, PROCESSING_AT, ENDED_AT} | ({SETTLED_AT} if self.settles is not None else set())
        total = len(self.attachment_urls)
        if total:
            step = (DOWNLOADS_END - DOWNLOADS_START) / total
            ends |= {DOWNLOADS_START + step * done for done in range(1, total + 1)}
        return sorted(ends)

    def progress(self, now: float | None = None) -> float:
        """How far along its lifecycle the batch is: the clock's say, held before any stage not yet shown enough.

        A self-test simulator holds each stage until hold_reads status reads have shown it, so that a run
        that reads slowly, on a busy machine, still sees every stage, and what a fault does there.
        """
        clock = self.age(now) / self.lifecycle_seconds
        if self.frozen is not None and (time.monotonic() if now is None else now) < self.frozen[1]:
            clock = min(clock, self.frozen[0])
        for end in self.stage_ends():
            if clock < end:
                return clock
            if self.seen.get(end, 0) < self.hold_reads:
                return end - HELD_SHORT_OF
        return clock

    def freeze_once(self, progress: float, seconds: float) -> None:
        """Stand still at this point for a while: a flap that heals within a replica's lag is no fault."""
        if self.frozen is None:
            self.frozen = (progress, time.monotonic() + seconds)

    def shown_at(self, progress: float) -> None:
        """A status read showed the batch at this point of its lifecycle."""
        end = next((end for end in self.stage_ends() if progress < end), None)
        if end is not None:
            self.seen[end] = self.seen.get(end, 0) + 1

    def status(self, progress: float, faults: FaultSet, choices: ChoiceSet) -> str:
        if progress < LANDED_AT:
            return "LANDING"
        if progress < PROCESSING_AT:
            return "LANDED"
        if progress < ENDED_AT or "batches-stuck-processing" in faults:
            return "PROCESSING"
        if self.accepted == 0 and self.rejected > 0 and choices.picks("no-valid-record-end", "FAILED"):
            return "FAILED"
        if self.fails_in_processing:
            return "FAILED"
        return "COMPLETE"

    def downloads(self, progress: float, faults: FaultSet, choices: ChoiceSet) -> tuple[int, int, str]:
        """Complete and failed counts and the download status at this point of the lifecycle."""
        total = len(self.attachment_urls)
        if progress < DOWNLOADS_START:
            return 0, 0, "PENDING"
        step = (DOWNLOADS_END - DOWNLOADS_START) / total
        done = min(total, int((progress - DOWNLOADS_START) / step))
        if "downloads-never-finish" in faults:
            done = min(done, 1)
        finished = self.attachment_urls[:done]
        if progress < DOWNLOADS_END and choices.picks("downloader", "retries"):
            # A downloader that retries holds an address that does not answer until its last attempt.
            finished = [url for url in finished if not unreachable(url)]
            done = len(finished)
        everything_succeeds = "unreachable-downloads-succeed" in faults
        nothing_succeeds = "reachable-downloads-fail" in faults
        complete = sum(1 for url in finished if everything_succeeds or not (nothing_succeeds or unreachable(url)))
        failed = done - complete
        if done < total:
            return complete, failed, "IN_PROGRESS"
        if failed == 0 or "download-complete-despite-failures" in faults:
            return complete, failed, "COMPLETE"
        return complete, failed, "FAILED" if complete == 0 else "PARTIAL_FAILURE"
