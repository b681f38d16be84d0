"""How a session of the suite ended, decided once (conformance/rules/outcome.py), and the outputs that say it
the same way: the exit status, JUnit's suite properties and the terminal summary. The drift report and its
history read the same outcome."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from conformance import __version__
from conformance.pytest.selection import Selection
from conformance.pytest.session import EvermuseRun
from conformance.report.redact import redact
from conformance.rules.outcome import Ending, RunOutcome, decide
from conformance.rules.verdicts import Outcome, Verdict, count

# The statuses after which pytest writes the terminal summary; after the others the plugin writes its own part.
# pytest 9.1 writes it after 6 too (its MAX_WARNINGS_ERROR, the suite's NOT CHECKED): read, not assumed.
SUMMARY_STATUSES = tuple(status for status in pytest.ExitCode
                         if status.name in ("OK", "TESTS_FAILED", "INTERRUPTED", "USAGE_ERROR", "NO_TESTS_COLLECTED",
                                            "MAX_WARNINGS_ERROR"))
# How the run was interrupted, if it was: "SIGTERM" from its handler, "interrupt" once pytest met the interruption.
_signalled: list[str] = []


def _interrupted_by(name: str) -> Any:
    def handler(signum: int, frame: Any) -> None:
        first = not any(noted in ("SIGINT", "SIGTERM") for noted in _signalled)
        _signalled.append(name)
        # Only the first one interrupts: a second Ctrl-C, or a job runner's repeated SIGTERM, while the run writes
        # its report and stops would break pytest's own wrap-up and end the process with another status.
        if first:
            raise KeyboardInterrupt(name)

    return handler


def on_signals_interrupt() -> dict[int, Any]:
    """SIGTERM (a job runner's cancel or timeout) ends the run as Ctrl-C does, with a report that says so; and each
    is noted as it comes, so that one a library swallows still ends the run (see interrupt_if_signalled).
    Returns the handlers replaced."""
    replaced = {signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupted_by("SIGTERM"))}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not a debugger's own
        replaced[signal.SIGINT] = signal.signal(signal.SIGINT, _interrupted_by("SIGINT"))
    return replaced


def restore_signals(replaced: dict[int, Any]) -> None:
    for signum, previous in replaced.items():
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


def interrupt_if_signalled() -> None:
    """At a boundary of the session (collection done, a test about to start): a signal came, yet the session goes
    on, because code between (a library building its strategies, say) caught the KeyboardInterrupt. End it now."""
    if "SIGINT" in _signalled or "SIGTERM" in _signalled:
        raise KeyboardInterrupt("interrupted earlier")


def _has_a_line(entry: Any) -> bool:
    try:
        entry.lineno  # noqa: B018  (the property is what raises)
    except TypeError:
        return False
    return True


def readable_interruption(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Python 3.11 may leave a frame of an interrupted traceback without a line number, which pytest's own report
    of the interruption trips over (the TypeError of pytest-dev/pytest-xdist#1196): such frames are left out, and
    so is the exception the interruption came upon, so an interrupted run still ends as one, with its report.
    The interruption is noted first: should pytest's report still trip, the run's outcome says interrupted all
    the same."""
    if isinstance(excinfo.value, KeyboardInterrupt):  # pytest.exit() comes this way too, and is no interruption
        _signalled.append("interrupt")
        # What the interruption broke off (an exception being handled when it came) is reported by pytest too,
        # from a traceback this cannot filter, which may hold such a frame: the interruption is reported alone.
        excinfo.value.__context__ = excinfo.value.__cause__ = None
        excinfo.value.__suppress_context__ = True
    excinfo.traceback = excinfo.traceback.filter(_has_a_line)


def selected_verdicts(run: EvermuseRun, selection: Selection | None) -> dict[str, Verdict]:
    """The verdicts of the rules the session selected (all of them for the whole suite)."""
    verdicts = run.verdicts_so_far()
    if selection is None or selection.plan.rules is None:
        return verdicts
    return {rule: verdict for rule, verdict in verdicts.items() if rule in selection.plan.rules}


def interruption(exitstatus: int) -> str | None:
    if exitstatus != pytest.ExitCode.INTERRUPTED and not _signalled:
        return None
    return "interrupted by SIGTERM" if "SIGTERM" in _signalled else "interrupted by Ctrl-C (SIGINT)"


def stopped_early(session: pytest.Session) -> str | None:
    """Why pytest stopped before the last selected test (-x, --maxfail), if it did."""
    reason = session.shouldfail or session.shouldstop
    return f"pytest stopped before the last test: {reason}" if reason else None


def decide_outcome(session: pytest.Session, run: EvermuseRun, exitstatus: int,
                   selection: Selection | None) -> tuple[RunOutcome, dict[str, Verdict]]:
    """The run's outcome, decided once, and the verdicts of the rules it selected."""
    run.finished = run.finished or time.time()
    run.requests_at_end = run.budget.used
    verdicts = selected_verdicts(run, selection)
    narrowed = selection.narrowed if selection is not None else None
    broken = [v for v in verdicts.values() if v.outcome in (Outcome.VIOLATED, Outcome.EXPIRED)]
    failed = session.testsfailed > 0 or exitstatus == pytest.ExitCode.TESTS_FAILED
    internal = None
    if run.internal_error:
        last = [line for line in run.internal_error.splitlines() if line.strip()][-1]
        internal = f"a bug of the suite, not of the target: {last.strip()}; the traceback is in the console"
    elif exitstatus == pytest.ExitCode.INTERNAL_ERROR:
        internal = "pytest ended with an internal error; its traceback is in the console"
    interrupted = interruption(exitstatus)
    not_checked = run.not_checked
    if not_checked is None and not failed and not interrupted and not internal:
        # Nothing failed, but a run that never got to do its work has checked nothing: it is not green.
        not_checked = run.could_not_check()
    outcome = decide(
        must=tuple(v.rule.id for v in broken if v.rule.is_must),
        should=tuple(v.rule.id for v in broken if not v.rule.is_must), failed=failed,
        seconds=run.finished - run.started, internal_error=internal, interrupted=interrupted,
        not_checked=not_checked, stopped_by_bounds=run.stopped_by_bounds(),
        narrowed=" and ".join(filter(None, [narrowed, stopped_early(session)])) or None)
    return outcome, verdicts


def junit_properties(config: pytest.Config, outcome: RunOutcome) -> None:
    """The outcome as properties of the JUnit test suite, for a CI that reads only the XML."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pytest moved it; the other outputs still say how the run ended
        return
    xml = config.stash.get(xml_key, None)
    if xml is not None:
        xml.add_global_property("evermuse_version", __version__)
        xml.add_global_property("evermuse_outcome", outcome.verdict)
        xml.add_global_property("evermuse_ending", outcome.ending.value)
        xml.add_global_property("evermuse_headline", redact(outcome.headline))


def write_summary(terminalreporter: Any, run: EvermuseRun | None, outcome: RunOutcome,
                  selection: Selection | None) -> None:
    """The suite's part of the terminal summary: the outcome's headline first, then what each rule judged."""
    terminalreporter.section(f"evermuse-conformance {__version__}")
    if run is None:
        terminalreporter.write_line(outcome.headline, yellow=True, bold=True)
        return
    verdicts = selected_verdicts(run, selection)
    counts = count(verdicts)
    violated = [v for v in verdicts.values() if v.outcome in (Outcome.VIOLATED, Outcome.EXPIRED)]
    terminalreporter.write_line(redact(outcome.headline), green=outcome.verdict == "GREEN",
                                red=outcome.verdict != "GREEN", bold=True)
    must = sum(1 for v in violated if v.rule.is_must)
    accepted = f", {counts[Outcome.ACCEPTED]} accepted as known deviations" if counts[Outcome.ACCEPTED] else ""
    terminalreporter.write_line(
        f"rules: {counts[Outcome.HELD]} held, {len(violated)} violated ({must} MUST, {len(violated) - must} SHOULD)"
        f"{accepted}, {counts[Outcome.NOT_EXERCISED]} not exercised, of {len(verdicts)}")
    for verdict in violated:
        terminalreporter.write_line(f"  {verdict.rule.title} - {len(verdict.violations)} violations")
    terminalreporter.write_line("exchanges judged per rule (0: not exercised):")
    by_area: dict[str, list[str]] = {}
    for verdict in verdicts.values():
        by_area.setdefault(verdict.rule.area, []).append(f"{verdict.rule.id.rsplit('-', 1)[1]}:{verdict.judged}")
    for area, cells in by_area.items():
        terminalreporter.write_line(f"  {area:<7} {' '.join(cells)}")
    terminalreporter.write_line(f"requests: {run.requests_sent} of a budget of {run.budget.limit}, "
                                f"{(run.finished or time.time()) - run.started:.0f} s of "
                                f"{run.settings.max_duration:g} s")
    if run.stopped:
        terminalreporter.write_line(f"stopped early: {redact(run.stopped)}")
    if outcome.ending == Ending.NOT_CHECKED:
        terminalreporter.write_line(f"could not check the target: {redact(outcome.reason)}.", red=True, bold=True)
    if outcome.ending == Ending.INTERNAL_ERROR and run.internal_error:
        terminalreporter.write_line("internal error: a bug of the suite, not of the target. Please report it with "
                                    "this traceback:", red=True, bold=True)
        terminalreporter.write_line(redact(run.internal_error))
    for path in run.written:
        terminalreporter.write_line(f"drift report: {path}")
