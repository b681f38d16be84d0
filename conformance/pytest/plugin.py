"""The pytest plugin: settings, the session's run, the report header and summary, and redaction of every report."""

from __future__ import annotations

import os
import traceback
import warnings
from pathlib import Path
from typing import Any

from conformance.pytest.rewriting import leave_libraries_unrewritten

# Before the first import of schemathesis or hypothesis, which pytest would otherwise rewrite on every run.
leave_libraries_unrewritten()

import pytest  # noqa: E402
from schemathesis.core.failures import Failure, FailureGroup  # noqa: E402

from conformance import __version__  # noqa: E402
from conformance.activities.plan import WHOLE, Plan  # noqa: E402
from conformance.pytest import base_url, ending, hypothesis_home, st_checks  # noqa: E402
from conformance.pytest.progress import Progress  # noqa: E402
from conformance.pytest.progress import for_pytest as progress_for  # noqa: E402
from conformance.pytest.selection import (  # noqa: E402
    Selection,
    collects_the_suite,
    selection_of,
    whole_by_its_arguments,
)
from conformance.pytest.session import CouldNotCheck, EvermuseRun, failure_text  # noqa: E402
from conformance.report.redact import RedactingLogRecords, redact  # noqa: E402
from conformance.rules import outcome as run_outcome  # noqa: E402
from conformance.rules.expectations import NONE, Expectations, ExpectationsError, load_expectations  # noqa: E402
from conformance.rules.outcome import EXIT_INTERNAL_ERROR, EXIT_NOT_CHECKED, RunOutcome  # noqa: E402
from conformance.rules.verdicts import Outcome  # noqa: E402
from conformance.settings.options import FLAGS, SETTINGS, RunSettings, Setting, SettingsError, resolve  # noqa: E402

SUITE_MARK = "evermuse"
SUITE_DIR = Path(__file__).parent / "suite"
_SETTINGS = pytest.StashKey[RunSettings]()
_RUN = pytest.StashKey[EvermuseRun]()
_LAUNCHED = pytest.StashKey[EvermuseRun]()
_PROPERTY_ITEMS = pytest.StashKey[list[str]]()
_EXPECTATIONS = pytest.StashKey[Expectations]()
_HISTORY = pytest.StashKey[dict[str, Any]]()
_SEEDED = pytest.StashKey[bool]()
_PROGRESS = pytest.StashKey[Progress]()
_SCRATCH = pytest.StashKey[str]()
_SELECTION = pytest.StashKey[Selection]()
_DESELECTED = pytest.StashKey[int]()
_OUTCOME = pytest.StashKey[RunOutcome]()
_SIGNALS = pytest.StashKey[dict[int, Any]]()
_LOG_RECORDS = RedactingLogRecords()


class ShouldViolation(UserWarning):
    """A SHOULD rule the target breaks; it fails the run only with --strict."""


class NoLongerReproduced(UserWarning):
    """A known deviation that did not happen: its entry can go."""


GROUP = "evermuse"
GROUP_TITLE = "Evermuse conformance suite (each: option > environment > ini > default)"


def _help(setting: Setting) -> str:
    return f"{setting.help}; env {setting.variable}, ini {setting.ini}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, GROUP_TITLE)
    for setting in SETTINGS:
        parser.addini(setting.ini, help=setting.help, type=setting.ini_type, default=None)
        if setting.name != "base_url":  # --base-url waits for every plugin: pytest-base-url may own it
            group.addoption(setting.option, dest=f"evermuse_{setting.name}", default=None,
                            metavar=setting.metavar, help=_help(setting))
    group.addoption("--read-only", action="store_true", dest="evermuse_read_only", help=FLAGS["--read-only"].help)
    for option, dest in (("--batch-id", "evermuse_batch_ids"), ("--simulator-fault", "evermuse_faults"),
                         ("--simulator-choice", "evermuse_choices")):
        group.addoption(option, action="append", default=[], dest=dest, metavar=FLAGS[option].metavar,
                        help=FLAGS[option].help)
    group.addoption("--simulator-lifecycle", type=float, default=1.0, dest="evermuse_simulator_lifecycle",
                    metavar="S", help=FLAGS["--simulator-lifecycle"].help)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> Any:
    """--base-url is added once every plugin and the initial conftests are loaded, and only if none has it.

    pytest-base-url (pulled in by pytest-playwright and pytest-selenium) owns --base-url where it is installed;
    two plugins adding one option is argparse's "conflicting option string", a crash. Its option is then the
    suite's too, given on the command line (base_url.given).
    """
    result = yield
    if not base_url.owned_by_another(early_config.pluginmanager):
        parser.getgroup(GROUP, GROUP_TITLE).addoption(
            base_url.OPTION, dest=base_url.DEST, default=None, metavar="URL", help=_help(SETTINGS[0]))
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{SUITE_MARK}: a conformance test; it needs a target")
    config.addinivalue_line("markers", "property_test: a schemathesis property test of the conformance suite")
    if collects_the_suite(config, SUITE_DIR) and getattr(config.option, "numprocesses", None):
        # Each xdist worker would run the whole campaign against the target, and each write the report.
        raise pytest.UsageError("the conformance suite runs in one process: it sends one campaign to the target "
                                "and writes one report; run it without -n (pytest-xdist's workers)")
    if not collects_the_suite(config, SUITE_DIR):
        return  # installed plugins load in every session: one that does not run the suite is left as it is
    st_checks.register_all()
    _LOG_RECORDS.install()
    # Ctrl-C, and a job runner's cancel or timeout (SIGTERM), end the run with a report that says so.
    config.stash[_SIGNALS] = ending.on_signals_interrupt()
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        # The suite's run leaves nothing behind in .hypothesis/, and nothing one run saved steers the next.
        config.stash[_SCRATCH] = hypothesis_home.enter()


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    """Give a property-test module's schema the run's seed before schemathesis builds its tests from it.

    schemathesis draws the coverage cases while collecting, so the seed must be on the schema by then;
    the module is handed it here rather than reading the settings itself.
    """
    if not isinstance(collector, pytest.Module) or collector.stash.get(_SEEDED, False):
        return
    collector.stash[_SEEDED] = True
    schema = getattr(collector.obj, "schema", None)
    if collector.get_closest_marker("property_test") is None or schema is None:
        return
    try:
        settings = settings_for(collector.config)
    except SettingsError:
        return  # reported as a usage error once collection ends
    schema.config.seed = settings.seed


def _launch(config: pytest.Config, plan: Plan) -> None:
    try:
        settings = settings_for(config)
    except SettingsError:
        return  # reported as a usage error once collection ends
    run = config.stash[_LAUNCHED] = EvermuseRun(settings, expectations=config.stash[_EXPECTATIONS], plan=plan)
    run.launch()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Launch the whole run before collection when the command line asks for the whole suite: the batches are
    seeded and their lifecycle runs while pytest collects and schemathesis builds its tests. A selection waits
    for collection to know what its tests need. Not for a listing."""
    config = session.config
    whole = collects_the_suite(config, SUITE_DIR) and whole_by_its_arguments(config, SUITE_DIR)
    if not config.option.collectonly and whole:
        _launch(config, WHOLE)


def pytest_deselected(items: list[pytest.Item]) -> None:
    suite = [item for item in items if item.get_closest_marker(SUITE_MARK)]
    if suite:
        config = suite[0].config
        config.stash[_DESELECTED] = config.stash.get(_DESELECTED, 0) + len(suite)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once the selection is known: what of the suite runs, and the run launched for it if it was not yet."""
    config = session.config
    if config.option.collectonly or not collects_the_suite(config, SUITE_DIR):
        return
    ending.interrupt_if_signalled()
    suite = [item for item in session.items if item.get_closest_marker(SUITE_MARK)]
    selection = config.stash[_SELECTION] = selection_of(config, suite, config.stash.get(_DESELECTED, 0), SUITE_DIR)
    if suite and _LAUNCHED not in config.stash:
        _launch(config, selection.plan)


def _run_of(config: pytest.Config) -> EvermuseRun | None:
    """The session's run: the one its tests use, or the one launched for them if no test got to use it."""
    return config.stash.get(_RUN, None) or config.stash.get(_LAUNCHED, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    launched = config.stash.get(_LAUNCHED, None)
    if launched is not None and config.stash.get(_RUN, None) is not launched:
        launched.stop()  # launched while collecting, but no test of the suite was run
    if _SIGNALS in config.stash:
        ending.restore_signals(config.stash[_SIGNALS])
    if collects_the_suite(config, SUITE_DIR):
        _LOG_RECORDS.uninstall()
    if _SCRATCH in config.stash:
        hypothesis_home.leave(config.stash[_SCRATCH])


INI_KINDS = {"int": "a whole number", "float": "a number"}


def _ini_value(config: pytest.Config, name: str) -> Any:
    try:
        value = config.getini(name)
    except (TypeError, ValueError):  # pytest reads a typed key itself, and words its own error for a programmer
        kind = INI_KINDS.get(next(s.ini_type for s in SETTINGS if s.ini == name), "a value of its kind")
        raise SettingsError(f"{name} in the ini file is not {kind}; give {kind} or leave the key out.") from None
    return None if value in (None, "") else value


def settings_for(config: pytest.Config) -> RunSettings:
    """The run's settings; raises SettingsError on a setting that cannot be used, expectations included."""
    if _SETTINGS not in config.stash:
        config.stash[_SETTINGS] = resolve(
            lambda option: base_url.given(config) if option == "--base-url"
            else config.getoption(f"evermuse_{option.lstrip('-').replace('-', '_')}"),
            lambda name: _ini_value(config, name),
            flags={
                "read_only": config.getoption("evermuse_read_only"),
                "batch_ids": tuple(config.getoption("evermuse_batch_ids")),
                # pytest's own --strict (or strict = true in the ini) also makes SHOULD rules fail.
                "strict": bool(config.getini("strict")),
                "simulator_faults": tuple(config.getoption("evermuse_faults")),
                "simulator_choices": tuple(config.getoption("evermuse_choices")),
                "simulator_lifecycle": config.getoption("evermuse_simulator_lifecycle"),
            },
        )
    settings = config.stash[_SETTINGS]
    if settings.drift_history and _HISTORY not in config.stash:
        # The report's code is imported only by a run that writes one.
        from conformance.report.drift.history import HistoryError, load_history
        from conformance.report.drift.report import BaselineError, load_baseline

        try:
            history = load_history(Path(settings.drift_history))
            if not history["runs"] and settings.drift_baseline:
                history = load_baseline(settings.drift_baseline)
        except (HistoryError, BaselineError) as exc:
            raise SettingsError(str(exc)) from None
        config.stash[_HISTORY] = history
    if _EXPECTATIONS not in config.stash:
        source = settings.sources.get("expectations", "--expectations")
        try:
            config.stash[_EXPECTATIONS] = (load_expectations(settings.expectations, source)
                                           if settings.expectations else NONE)
        except ExpectationsError as exc:
            raise SettingsError(str(exc)) from None
    return settings


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    suite = [item for item in items if item.get_closest_marker(SUITE_MARK)]
    if not suite:
        return
    try:
        settings_for(config)
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    # The per-rule verdicts count what the property tests found, so those run first, whatever the file names.
    items.sort(key=lambda item: 0 if item.get_closest_marker("property_test") else 1)
    config.stash[_PROPERTY_ITEMS] = [item.name for item in suite if item.get_closest_marker("property_test")]


def pytest_report_collectionfinish(config: pytest.Config, start_path: Any, items: list[pytest.Item]) -> list[str]:
    if _SETTINGS not in config.stash or not any(item.get_closest_marker(SUITE_MARK) for item in items):
        return []
    try:
        rows = settings_for(config).describe()
    except SettingsError:
        return []  # pytest calls this even when collection ends in a usage error, which says it all
    unread = base_url.left_unread(config)
    if unread is not None:
        rows.insert(1, ("not the target", unread))
    width = max(len(name) for name, _ in rows)
    return [f"evermuse-conformance {__version__} settings:"] + [f"  {name:<{width}}  {value}" for name, value in rows]


def _ended_by(run: EvermuseRun, exc: BaseException) -> None:
    """End the run on what stopped its campaign: a target it cannot check (6), or a bug of ours (3)."""
    if isinstance(exc, CouldNotCheck):
        run.not_checked = str(exc)
        pytest.exit(f"evermuse: could not check the target: {run.not_checked}.", returncode=EXIT_NOT_CHECKED)
    # What a target sends is judged, never trusted: an exception here is the suite's bug, not the target's.
    run.internal_error = run.internal_error or "".join(traceback.format_exception(exc))
    _end_on_our_bug(run)


def _end_on_our_bug(run: EvermuseRun) -> None:
    if run.internal_error is not None:
        pytest.exit("evermuse: internal error: a bug of the suite, not of the target; its traceback is in the "
                    "evermuse-conformance section", returncode=EXIT_INTERNAL_ERROR)


def _heeding_signals(report: Any) -> Any:
    """A progress callback that first ends the run if a signal came and was swallowed on its way."""

    def update(line: str) -> None:
        ending.interrupt_if_signalled()
        report(line)

    return update


@pytest.fixture(scope="session")
def evermuse_run(request: pytest.FixtureRequest) -> EvermuseRun:
    """The run, its batches seeded; the probes and the wait for the batches go on in the background."""
    config = request.config
    run = config.stash.get(_LAUNCHED, None)
    if run is None:
        run = EvermuseRun(settings_for(config), expectations=config.stash[_EXPECTATIONS])
        run.launch()
    config.stash[_RUN] = run
    request.addfinalizer(run.stop)
    progress = config.stash[_PROGRESS] = progress_for(config)
    try:
        run.await_launch(_heeding_signals(progress.update))
        run.share_for_property_tests(config.stash.get(_PROPERTY_ITEMS, []))

        def after_each_generated_request() -> None:
            ending.interrupt_if_signalled()
            progress.aside(run.property_progress_line())

        run.on_generated = after_each_generated_request
    except Exception as exc:
        _ended_by(run, exc)
    finally:
        progress.done()
    return run


@pytest.fixture(scope="session")
def finished_run(evermuse_run: EvermuseRun, request: pytest.FixtureRequest) -> EvermuseRun:
    """The run once its campaign is over: every batch ended (or timed out) and the list walked."""
    progress = request.config.stash[_PROGRESS]
    try:
        evermuse_run.finish_campaign(_heeding_signals(progress.update))
    except Exception as exc:
        _ended_by(evermuse_run, exc)
    finally:
        progress.done()
    return evermuse_run


def judge_rule(run: EvermuseRun, rule_id: str, item: pytest.Item) -> None:
    """Pass, fail, warn or skip one rule's test from its verdict."""
    _end_on_our_bug(run)  # met by a property test or the campaign's checks
    try:
        verdict = run.verdicts()[rule_id]
    except Exception:
        _end_on_our_bug(run)
        raise
    # On the item itself rather than through record_property, which warns on every test under the xunit2 family
    # (pytest's default, and so an installed suite's): the JUnit file carries them under each family.
    item.user_properties += [("rule", rule_id), ("level", verdict.rule.level), ("outcome", verdict.outcome.value),
                             ("judged", verdict.judged), ("violations", len(verdict.violations))]
    if verdict.outcome == Outcome.ACCEPTED:
        assert verdict.deviation is not None
        pytest.xfail(f"accepted deviation: {verdict.deviation.describe()}")
    if verdict.outcome in (Outcome.VIOLATED, Outcome.EXPIRED):
        text = failure_text(verdict, run.evidence_dir)
        if verdict.outcome == Outcome.EXPIRED:
            assert verdict.deviation is not None
            text += f"\n\nThis deviation was accepted until {verdict.deviation.expires}; the acceptance has expired."
        if verdict.fails(run.settings.strict):
            pytest.fail(text, pytrace=False)
        warnings.warn(ShouldViolation(text), stacklevel=2)
        return
    if verdict.outcome == Outcome.HELD and run.expectations.for_rule(rule_id) is not None:
        warnings.warn(NoLongerReproduced(f"{rule_id} is listed as a known deviation in "
                                         f"{run.expectations.path} but held in this run: delete the entry"),
                      stacklevel=2)
    if verdict.outcome == Outcome.NOT_EXERCISED:
        pytest.skip(f"{rule_id} was not exercised: {verdict.reason}")


def findings_text(exc: BaseException) -> str | None:
    """What schemathesis found, as it words it, without the frames of the test that found it; None otherwise."""
    if isinstance(exc, FailureGroup | Failure):
        notes = [note for note in getattr(exc, "__notes__", []) if not note.startswith("Explanation:")]
        return "\n".join([str(exc), *notes]).strip()
    if isinstance(exc, BaseExceptionGroup):
        parts = [findings_text(inner) for inner in exc.exceptions]
        return "\n\n".join(parts) if all(parts) else None  # type: ignore[arg-type]
    return None


def failure_names(exc: BaseException) -> list[tuple[str, str]]:
    """What a failing test of the suite reports, as JUnit properties: each rule it found broken
    ("violated_rule", ID) and each schemathesis check that failed ("schemathesis_check", "ST101 not_a_server_error").

    Read from the exceptions themselves, not from their text, so a failure no rule explains is still named.
    """
    if isinstance(exc, BaseExceptionGroup):
        return sorted({name for inner in exc.exceptions for name in failure_names(inner)})
    rule_id = getattr(exc, "rule_id", None)
    if isinstance(rule_id, str):
        return [("violated_rule", rule_id)]
    if isinstance(exc, Failure):
        return [("schemathesis_check", f"{exc.code} {'/'.join(exc.checks) or type(exc).__name__}")]
    return []


def _sent_nothing(item: pytest.Item) -> str | None:
    """Why a property test that passed checked nothing, when it sent no request; None when it sent one."""
    run = item.config.stash.get(_RUN, None)
    if run is None or not item.get_closest_marker("property_test") or run.property_sent.get(item.name, 0):
        return None
    if item.name in run.declined:
        return run.declined[item.name]
    if run.stopped:
        return f"the run stopped early: {run.stopped}"
    return f"the request budget (--max-requests {run.budget.limit}) left this property test nothing to send"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if call.when == "call" and report.passed:
        reason = _sent_nothing(item)
        if reason is not None:
            # A test that sent nothing checked nothing: skipped, never passed.
            report.outcome = "skipped"
            report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: sent no request: {reason}")
    if report.failed and call.excinfo is not None and item.get_closest_marker(SUITE_MARK):
        text = findings_text(call.excinfo.value)
        if text is not None:
            report.longrepr = text
        if call.when == "call" and item.get_closest_marker("property_test"):
            # Anything else that failed the test (an error of the test itself) is named by its type.
            item.user_properties += failure_names(call.excinfo.value) or [
                ("schemathesis_check", f"error {call.excinfo.typename}")]
    # Whatever a server echoed or a library printed, no key leaves through a report.
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        path, line, reason = report.longrepr
        report.longrepr = (path, line, redact(reason))
    elif report.longrepr is not None:
        report.longrepr = redact(str(report.longrepr))
    report.sections = [(title, redact(content)) for title, content in report.sections]


@pytest.hookimpl(trylast=True)
def pytest_exception_interact(node: pytest.Item, call: pytest.CallInfo[Any], report: pytest.TestReport) -> None:
    # schemathesis rewrites the report of its tests here, after makereport; its rewrite gets the same treatment.
    if call.excinfo is None or not node.get_closest_marker(SUITE_MARK):
        return
    text = findings_text(call.excinfo.value)
    if text is not None:
        report.longrepr = redact(text)
    elif report.longrepr is not None and not isinstance(report.longrepr, tuple):
        report.longrepr = redact(str(report.longrepr))


def pytest_runtest_setup(item: pytest.Item) -> None:
    run = _run_of(item.config)
    if run is not None and item.get_closest_marker(SUITE_MARK):
        ending.interrupt_if_signalled()
        _end_on_our_bug(run)  # met by an earlier test: nothing after it can be trusted


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    ending.readable_interruption(excinfo)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run = _run_of(config)
    selection = config.stash.get(_SELECTION, None)
    if run is None:
        if selection is not None and not selection.tests and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            _write_not_run(config, "the selection chose no test of the suite, so nothing was sent")
        return
    if exitstatus == pytest.ExitCode.USAGE_ERROR:
        return
    outcome, verdicts = ending.decide_outcome(session, run, exitstatus, selection)
    config.stash[_OUTCOME] = outcome
    session.exitstatus = outcome.exit_status
    ending.junit_properties(config, outcome)
    if run.settings.drift_report:
        from conformance.report.drift.history import save_history
        from conformance.report.drift.report import write

        report, bodies, history = run.drift_report(config.stash.get(_HISTORY, None), outcome, verdicts)
        paths = write(report, Path(run.settings.drift_report), bodies)
        if run.settings.drift_history:
            save_history(history, Path(run.settings.drift_history))
        run.written = [str(path) for path in paths[:3]]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    # pytest would end the output with its own line for the pytest.exit() that stopped the run ("! Exit: ... !"),
    # a second copy of the summary's sentence; it keeps that line in a private field, read as pytest 9.0 and 9.1
    # name it, and left alone where it is named otherwise.
    if outcome.ending == run_outcome.Ending.NOT_CHECKED and run.not_checked \
            and hasattr(reporter, "_keyboardinterrupt_memo"):
        reporter._keyboardinterrupt_memo = None
    # pytest decides whether to write its summary from the status the session ended with, before the outcome.
    if reporter is not None and exitstatus not in ending.SUMMARY_STATUSES:
        reporter.ensure_newline()  # pytest writes no terminal summary for a run that ends with this status
        ending.write_summary(reporter, run, outcome, selection)


def _write_not_run(config: pytest.Config, reason: str) -> None:
    """The outcome of a session whose selection left nothing of the suite to run, and a report that says so."""
    try:
        settings = settings_for(config)
    except SettingsError:
        return
    outcome = run_outcome.not_run(reason)
    config.stash[_OUTCOME] = outcome
    ending.junit_properties(config, outcome)
    if not settings.drift_report:
        return
    from conformance.report.drift.report import not_run_report, write

    target = settings.base_url or "embedded reference simulator"
    write(not_run_report(target, reason, outcome.as_dict()), Path(settings.drift_report))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    outcome = config.stash.get(_OUTCOME, None)
    if outcome is not None:
        ending.write_summary(terminalreporter, _run_of(config), outcome, config.stash.get(_SELECTION, None))


