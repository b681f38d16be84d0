"""What a person sees while the run waits: on a terminal, in a CI log, with -q, and with no terminal at all."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.pytest.progress import PLAIN_EVERY_S, Mode, Progress
from conformance.report.redact import forget_secrets, register_secret
from tests.suite_runs import ROOT, run_suite

KEY = "em_sk_progress_write_key"
ENV = {"EVERMUSE_API_KEY": KEY}
# Batches that take eight seconds; the lifecycle timeout is a bound a busy machine stays within.
SLOW = ("--simulator-lifecycle", "8", "--lifecycle-timeout", "60")
# Only the per-rule tests: the run then waits for its batches with nothing else to do, however long the property
# tests would have taken on a busy machine (the campaign runs whatever tests are selected).
ONLY_THE_WAIT = ("-k", "test_rule_holds")
SCENARIOS = ("all-valid", "mixed", "many-errors", "all-invalid", "attachments")


def progress_lines(output: str) -> list[str]:
    return [line for line in output.replace("\r", "\n").splitlines() if line.startswith("evermuse: ")]


def names_a_pending_batch(line: str) -> bool:
    return line.startswith("evermuse: waiting ") and any(f"{name} (b_" in line for name in SCENARIOS) and \
        any(status in line for status in ("LANDING", "LANDED", "PROCESSING"))


def test_a_log_sees_where_the_run_waits_without_s(tmp_path: Path) -> None:
    started = time.monotonic()
    run = run_suite(tmp_path, *SLOW, *ONLY_THE_WAIT, env=ENV)
    took = time.monotonic() - started
    lines = progress_lines(run.output)
    assert run.returncode == 0, run.output[-3000:]
    assert any(names_a_pending_batch(line) for line in lines), lines
    assert all(KEY not in line for line in lines)
    # Plain lines in a log: a phase's first line, then at most one every PLAIN_EVERY_S of the wait, which lasted
    # no longer than the whole run, however slow the machine.
    waiting = sum(line.startswith("evermuse: waiting ") for line in lines)
    assert waiting <= 1 + took // PLAIN_EVERY_S, (took, lines)


def test_a_log_hears_from_the_property_tests_while_they_send(tmp_path: Path) -> None:
    """pytest writes nothing to a log until a file's line ends: the property tests' progress gets lines of its own."""
    run = run_suite(tmp_path, env=ENV)
    lines = progress_lines(run.output)
    assert run.returncode == 0, run.output[-3000:]
    assert any(line.startswith("evermuse: property test ") and " requests; " in line for line in lines), lines


def test_quiet_keeps_it_to_one_line_and_no_terminal_to_none(tmp_path: Path) -> None:
    quiet = run_suite(tmp_path / "q", *SLOW, *ONLY_THE_WAIT, "-q", env=ENV)
    silent = run_suite(tmp_path / "s", *SLOW, *ONLY_THE_WAIT, "-p", "no:terminal", env=ENV)
    assert quiet.returncode == silent.returncode == 0, quiet.output[-3000:] + silent.output[-3000:]
    assert len(progress_lines(quiet.output)) == 1 and names_a_pending_batch(progress_lines(quiet.output)[0])
    assert progress_lines(silent.output) == []


def test_a_terminal_gets_one_live_line_redrawn_in_place(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")} | ENV | {"COLUMNS": "200"}
    command = [sys.executable, "-m", "pytest", "conformance", "-p", "no:cacheprovider", *SLOW, *ONLY_THE_WAIT]
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=follower)
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower side closed: the run is over
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    assert process.wait(30) == 0, output.decode(errors="replace")[-3000:]
    text = output.decode(errors="replace")
    redrawn = [part for part in text.split("\r") if part.startswith("evermuse: waiting ")]
    assert len(redrawn) >= 2, text[-3000:]  # the same line, drawn again in place as the wait goes on
    assert any(names_a_pending_batch(part.strip()) for part in redrawn)
    assert KEY not in text


@pytest.mark.parametrize("listing", ["--list-faults", "--list-choices"])
def test_a_listing_piped_into_a_reader_that_leaves_ends_quietly(listing: str) -> None:
    process = subprocess.Popen([sys.executable, "-m", "conformance.simulator", listing], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # like head after its lines: the pipe is gone before the listing is written
    status = process.wait(30)
    errors = process.stderr.read().decode()
    assert status == 0
    assert "Traceback" not in errors and "BrokenPipe" not in errors, errors


class Recorded:
    def __init__(self) -> None:
        self.now = 0.0
        self.lines: list[str] = []
        self.redrawn: list[str] = []

    def progress(self, mode: Mode) -> Progress:
        return Progress(mode, self.lines.append, self.redrawn.append, clock=lambda: self.now)


def test_plain_lines_come_when_a_phase_starts_then_at_most_every_twelve_seconds() -> None:
    seen = Recorded()
    progress = seen.progress(Mode.PLAIN)
    progress.update("seeding: 0 of 5 batches sent")
    for second in range(0, 40):
        seen.now = 1.0 + second
        progress.update(f"waiting {second} s of 600 s for: mixed (b_1) PROCESSING")
    assert seen.lines[0] == "evermuse: seeding: 0 of 5 batches sent"
    waits = seen.lines[1:]
    assert waits[0].startswith("evermuse: waiting 0 s")
    assert len(waits) == 1 + int(39 // PLAIN_EVERY_S)


@pytest.fixture
def secret() -> Iterator[str]:
    """A key registered for redaction for the time of one test, and forgotten after it."""
    register_secret("em_sk_progress_secret")
    try:
        yield "em_sk_progress_secret"
    finally:
        forget_secrets()


def test_a_live_line_is_redrawn_then_cleared_and_never_shows_a_key(secret: str) -> None:
    seen = Recorded()
    progress = seen.progress(Mode.LIVE)
    for tick in range(10):
        seen.now = tick * 0.5
        progress.update(f"waiting {tick} s for: mixed (b_1) LANDED; key {secret}")
    progress.done()
    assert len(seen.redrawn) == 11 and seen.redrawn[-1] == "" and seen.lines == []
    assert all(secret not in line and "[redacted]" in line for line in seen.redrawn[:-1])


def test_no_terminal_means_nothing_is_written() -> None:
    seen = Recorded()
    progress = seen.progress(Mode.OFF)
    progress.update("waiting 1 s for: mixed (b_1) LANDED")
    progress.done()
    assert seen.lines == seen.redrawn == []


def test_what_a_property_test_sends_reaches_a_log_but_leaves_a_terminal_to_pytest() -> None:
    line = "property test test_x: 3 of 25 requests; waiting 2 s of 600 s for: mixed (b_1) LANDED"
    for mode, written in ((Mode.PLAIN, 1), (Mode.LIVE, 0), (Mode.ONE_LINE, 0), (Mode.OFF, 0)):
        seen = Recorded()
        seen.progress(mode).aside(line)
        assert len(seen.lines) + len(seen.redrawn) == written, mode
