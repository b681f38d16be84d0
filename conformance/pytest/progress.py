"""Where the run is, for the person at the terminal and for the CI log, written past pytest's capture.

The campaign's long part (batches that take minutes to end) happens while a fixture sets up, when pytest
captures output; without this the terminal would sit silent and read as a hang. Lines are written only
from the main thread, while the run's own code holds it (seeding, waiting for batches), and, in a log only,
while a property test sends: on a terminal pytest's own test line shows the run moving then, and two writers
never share it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

from conformance.report.redact import redact

PREFIX = "evermuse: "
# A CI log gets a plain line at most this often; a terminal's live line is redrawn at most this often.
PLAIN_EVERY_S = 12.0
LIVE_EVERY_S = 0.2
# The phase a -q run reports: the long one.
WAITING = "waiting"


class Mode(Enum):
    OFF = "off"  # no terminal reporter (-p no:terminal): nothing is written
    LIVE = "live"  # a terminal: one line, redrawn in place
    PLAIN = "plain"  # a log: a line when a phase starts, then at most every PLAIN_EVERY_S
    ONE_LINE = "one line"  # -q into a log: one line, when the wait for batches begins


class Progress:
    def __init__(self, mode: Mode, write_line: Callable[[str], None], rewrite: Callable[[str], None],
                 *, clock: Callable[[], float] = time.monotonic, width: Callable[[], int] = lambda: 80):
        self.mode = mode
        self._write_line = write_line
        self._rewrite = rewrite
        self._clock = clock
        self._width = width
        self._last_at: float | None = None
        self._last_phase = ""
        self._live = False
        self.lines_written = 0

    def update(self, line: str) -> None:
        """The run's state now; written or not as the mode and the time since the last line decide."""
        if self.mode == Mode.OFF:
            return
        text = PREFIX + redact(line)
        now = self._clock()
        phase = line.split(" ", 1)[0]
        if self.mode == Mode.LIVE:
            if self._last_at is not None and now - self._last_at < LIVE_EVERY_S:
                return
            self._rewrite(text[: max(20, self._width() - 1)])
            self._live = True
        elif self.mode == Mode.ONE_LINE:
            if self.lines_written or phase != WAITING:
                return
            self._write_line(text)
        else:
            new_phase = phase != self._last_phase
            if not new_phase and self._last_at is not None and now - self._last_at < PLAIN_EVERY_S:
                return
            self._write_line(text)
        self._last_at, self._last_phase = now, phase
        self.lines_written += 1

    def aside(self, line: str) -> None:
        """The run's state while a test runs: a log gets it as a plain line, as update decides; a terminal does
        not, since pytest's own line is being written there and two writers must not share it."""
        if self.mode == Mode.PLAIN:
            self.update(line)

    def done(self) -> None:
        """Clear the live line, so pytest's own output goes on from a clean line."""
        if self._live:
            self._rewrite("")
            self._live = False


def for_pytest(config: Any) -> Progress:
    """Progress as pytest's terminal shows it, or not at all when there is no terminal reporter."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return Progress(Mode.OFF, lambda line: None, lambda line: None)
    quiet = config.get_verbosity() < 0
    mode = Mode.LIVE if reporter.isatty() else Mode.ONE_LINE if quiet else Mode.PLAIN

    def uncaptured() -> contextlib.AbstractContextManager[None]:
        return capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()

    def resume(current: Any) -> None:
        # pytest was in the middle of a file's line of results: start that line again below ours.
        if isinstance(current, Path):
            reporter.write(f"{os.path.relpath(current, reporter.startpath)} ", flush=True)
            reporter.currentfspath = current

    def start_on_a_fresh_line() -> Any:
        current = reporter.currentfspath
        reporter.ensure_newline()
        # -q writes its dots without a file path, which ensure_newline does not see.
        writer = getattr(reporter, "_tw", None)
        if writer is not None and getattr(writer, "width_of_current_line", 0):
            reporter.write("\n")
        return current

    def write_line(text: str) -> None:
        with uncaptured():
            current = start_on_a_fresh_line()
            reporter.write_line(text)
            resume(current)

    live_over: list[Any] = []

    def rewrite(text: str) -> None:
        with uncaptured():
            if text and not live_over:
                live_over.append(start_on_a_fresh_line())
            reporter.rewrite(text, erase=True, flush=True)
            if not text:
                reporter.write("\r", flush=True)
                resume(live_over.pop() if live_over else None)

    return Progress(mode, write_line, rewrite, width=lambda: shutil.get_terminal_size((80, 24)).columns)
