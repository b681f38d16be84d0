"""How a run ends, as the nightly job meets it: each ending says what it is in the exit status, the first line of
drift.md, drift.json and the history, and none of them resolves a finding the next checked night still sees."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__
from conformance.rules.catalogue import load_catalogue
from conformance.simulator import SimulatorServer, make_settings
from tests.suite_runs import ROOT, StartedSuite, run_suite

# The first line of the header, printed once pytest has collected the suite.
SETTINGS_HEADER = f"evermuse-conformance {__version__} settings:"

KEY = "em_sk_Qd7Lw2Zn5Rc8Yb3Tm6Hv9Kp4"
ENV = {"EVERMUSE_API_KEY": KEY}
# The MUST fault every night has: each batch status carries an undocumented field (EM-SHAPE-002).
FAULT = "status-extra-field"
RULE = "EM-SHAPE-002"
# The first night is dated back, so that "since when" is told apart from the day the tests run.
FIRST_NIGHT = "2026-11-20T03:17:00Z"


def simulator(lifecycle: float) -> SimulatorServer:
    return SimulatorServer(make_settings(write_key=KEY, faults=[FAULT], lifecycle_seconds=lifecycle))


def report_of(directory: Path) -> tuple[str, dict[str, Any]]:
    return ((directory / "drift.md").read_text().splitlines()[0],
            json.loads((directory / "drift.json").read_text()))


def history_runs(history: Path) -> list[tuple[str, bool]]:
    return [(run["status"], run["counts"]) for run in json.loads(history.read_text())["runs"]]


def wait_until(started: StartedSuite, ready: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert started.process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"the run never got to {what}"
        time.sleep(0.05)


def status_reads(server: SimulatorServer) -> int:
    return sum(1 for method, path in list(server.simulator.requests)
               if method == "GET" and path.startswith("/api/v1/ingest/batches/"))


@pytest.fixture(scope="module")
def first_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history with one night checked to the end that found the break."""
    tmp_path = tmp_path_factory.mktemp("first-night")
    history = tmp_path / "history.json"
    with simulator(lifecycle=1) as server:
        run = run_suite(tmp_path, "--base-url", server.base_url, "--lifecycle-timeout", "15",
                        "--drift-report", str(tmp_path / "report"), "--drift-history", str(history), env=ENV)
    assert run.returncode == 1, run.output[-3000:]
    data = json.loads(history.read_text())
    data["runs"][0]["started_at"] = FIRST_NIGHT
    history.write_text(json.dumps(data))
    return history


def night(tmp_path: Path, first_night: Path, name: str) -> tuple[Path, Path]:
    """This night's copy of the history after the first night, and where its report goes."""
    history = tmp_path / "history.json"
    history.write_text(first_night.read_text())
    return history, tmp_path / name


def the_next_checked_night_still_sees_the_break(tmp_path: Path, history: Path) -> None:
    with simulator(lifecycle=1) as server:
        run = run_suite(tmp_path / "next", "--base-url", server.base_url, "--lifecycle-timeout", "15",
                        "--drift-report", str(tmp_path / "next-report"), "--drift-history", str(history), env=ENV)
    assert run.returncode == 1, run.output[-3000:]
    first_line, report = report_of(tmp_path / "next-report")
    assert first_line.startswith("# RED: ")
    found = [f for f in report["live"]["findings"] if f["rule"] == RULE]
    assert found and {(f["state"], f["first_seen"], f["seen_in"], f["of_runs"]) for f in found} == {
        ("persisting", FIRST_NIGHT[:10], 2, 2)}
    assert report["trend"]["resolved"] == []


@pytest.mark.parametrize(("signum", "moment", "said"), [
    (signal.SIGINT, "waiting", "interrupted by Ctrl-C (SIGINT)"),
    (signal.SIGTERM, "waiting", "interrupted by SIGTERM"),
    (signal.SIGINT, "seeding", "interrupted by Ctrl-C (SIGINT)"),
], ids=["SIGINT-waiting", "SIGTERM-waiting", "SIGINT-seeding"])
def test_a_signal_ends_the_run_interrupted(tmp_path: Path, first_night: Path, signum: int, moment: str,
                                          said: str) -> None:
    history, directory = night(tmp_path, first_night, "report")
    output = tmp_path / "output.txt"
    # Batches that take a minute: "waiting" signals once the tests run (pytest has printed the settings) and the
    # batches have been read a dozen times, the break already seen; "seeding", at the first batch sent, which is
    # while pytest collects.
    with simulator(lifecycle=60) as server, \
            StartedSuite(tmp_path, "--base-url", server.base_url, "--lifecycle-timeout", "120", "--drift-report",
                         str(directory), "--drift-history", str(history), env=ENV) as started:
        if moment == "waiting":
            wait_until(started, lambda: SETTINGS_HEADER in output.read_text(errors="replace")
                       and status_reads(server) >= 12, "its tests, the batches read")
        else:
            wait_until(started, lambda: any(method == "POST" for method, _ in list(server.simulator.requests)),
                       "its first batch")
        started.signal(signum)
        run = started.wait()
    assert run.returncode == 2, run.output[-3000:]
    first_line, report = report_of(directory)
    assert first_line.startswith("# INTERRUPTED after ") and "not a clean run" in first_line and said in first_line
    assert report["outcome"]["ending"] == report["live"]["status"] == "interrupted"
    assert "INTERRUPTED after" in run.output and "INTERNALERROR" not in run.output
    assert history_runs(history) == [("checked", True), ("interrupted", False)]
    assert dict(run.junit_properties)["evermuse_outcome"] == "INTERRUPTED"
    the_next_checked_night_still_sees_the_break(tmp_path, history)


def test_the_runs_own_bound_ends_it_partial(tmp_path: Path, first_night: Path) -> None:
    history, directory = night(tmp_path, first_night, "report")
    with simulator(lifecycle=60) as server:
        run = run_suite(tmp_path, "--base-url", server.base_url, "--lifecycle-timeout", "120", "--max-duration", "6",
                        "--drift-report", str(directory), "--drift-history", str(history), env=ENV)
    assert run.returncode == 1, run.output[-3000:]  # the break was seen before the bound
    first_line, report = report_of(directory)
    assert first_line.startswith("# PARTIAL after ") and "raise --max-duration (6 s)" in first_line
    assert report["outcome"]["ending"] == "partial" and report["outcome"]["must"] == [RULE]
    assert history_runs(history) == [("checked", True), ("partial", False)]
    the_next_checked_night_still_sees_the_break(tmp_path, history)


def test_a_bug_in_a_check_is_ours_exit_3_with_its_traceback(tmp_path: Path, first_night: Path) -> None:
    history, directory = night(tmp_path, first_night, "report")
    env = {**ENV, "PYTHONPATH": str(ROOT)}
    with simulator(lifecycle=1) as server, \
            StartedSuite(tmp_path, "-p", "tests.broken_check", "--base-url", server.base_url, "--lifecycle-timeout",
                         "15", "--drift-report", str(directory), "--drift-history", str(history), env=env) as started:
        run = started.wait()
    assert run.returncode == 3, run.output[-3000:]
    assert "BugInACheck: a check of the suite tripped over its own code" in run.output
    assert "Please report it with this traceback:" in run.output and 'File "' in run.output
    assert "could not check the target" not in run.output
    first_line, report = report_of(directory)
    assert first_line.startswith("# INTERNAL ERROR after ") and "a bug of the suite, not of the target" in first_line
    assert report["outcome"]["exit_status"] == 3 and report["live"]["status"] == "internal error"
    assert history_runs(history) == [("checked", True), ("internal error", False)]
    the_next_checked_night_still_sees_the_break(tmp_path, history)


def test_a_selection_of_one_rule_sends_what_it_needs_and_ends_partial(tmp_path: Path, first_night: Path) -> None:
    history, directory = night(tmp_path, first_night, "report")
    with simulator(lifecycle=1) as server:
        run = run_suite(tmp_path, "-k", "EM-AUTH-001 or EM-SHAPE-002", "--base-url", server.base_url,
                        "--lifecycle-timeout", "15", "--drift-report", str(directory), "--drift-history",
                        str(history), env=ENV)
        sent = list(server.simulator.requests)
    assert run.returncode == 1, run.output[-3000:]
    assert [case.name for case in run.cases.values()] == ["test_rule_holds[EM-SHAPE-002]",
                                                          "test_rule_holds[EM-AUTH-001]"]
    first_line, report = report_of(directory)
    assert first_line == ("# PARTIAL after {} s: 1 MUST and 0 SHOULD rules broken in what was checked; not a clean "
                          "run (2 of {} rules' tests and 0 property tests selected by -k 'EM-AUTH-001 or "
                          "EM-SHAPE-002')").format(report["outcome"]["headline"].split()[2], len(load_catalogue()))
    assert {v["rule"] for v in report["live"]["verdicts"]} == {"EM-AUTH-001", "EM-SHAPE-002"}
    assert history_runs(history) == [("checked", True), ("partial", False)]
    # The batches are seeded and read for EM-SHAPE-002, the probes without a key sent for EM-AUTH-001; no other
    # probe, and no walk of the list past the first page the preflight reads.
    assert not [path for method, path in sent if "limit=2" in path or "cursor" in path]
    assert sum(1 for method, path in sent if method == "POST") == 5 + 1  # the five batches, one send without a key
    assert not [path for method, path in sent if method in ("DELETE", "PATCH", "PUT")]
    the_next_checked_night_still_sees_the_break(tmp_path, history)


def test_a_selection_of_nothing_sends_nothing_and_says_not_run(tmp_path: Path, first_night: Path) -> None:
    history, directory = night(tmp_path, first_night, "report")
    with simulator(lifecycle=1) as server:
        run = run_suite(tmp_path, "-k", "no_such_test", "--base-url", server.base_url, "--drift-report",
                        str(directory), "--drift-history", str(history), env=ENV)
        sent = len(server.simulator.requests)
    assert sent == 0
    assert run.returncode == 5, run.output[-3000:]
    assert "NOT RUN: the selection chose no test of the suite, so nothing was sent" in run.output
    first_line, report = report_of(directory)
    assert first_line == "# NOT RUN: the selection chose no test of the suite, so nothing was sent"
    assert report["live"]["status"] == "not run" and report["provenance"]["requests"] == 0
    assert history_runs(history) == [("checked", True)]
    the_next_checked_night_still_sees_the_break(tmp_path, history)


def test_xdist_workers_are_refused_and_leave_the_history_and_report_alone(tmp_path: Path, first_night: Path) -> None:
    history, directory = night(tmp_path, first_night, "report")
    before = history.read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")} | ENV
    with simulator(lifecycle=1) as server:
        done = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "conformance"), "-c",
                               str(ROOT / "pyproject.toml"), "-n", "2", "--base-url", server.base_url,
                               "--drift-report", str(directory), "--drift-history", str(history)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        sent = len(server.simulator.requests)
    assert done.returncode == 4, (done.stdout + done.stderr)[-3000:]
    assert "ERROR: the conformance suite runs in one process" in done.stderr
    assert sent == 0 and not directory.exists() and history.read_text() == before
    the_next_checked_night_still_sees_the_break(tmp_path, history)


def test_last_failed_rechecks_only_the_broken_rules_and_sends_only_what_they_need(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    common = ("--lifecycle-timeout", "15")
    with simulator(lifecycle=1) as server:
        broken = run_suite(tmp_path / "night", "--base-url", server.base_url, *common, env=ENV, cache_dir=cache)
        whole = len(server.simulator.requests)
        assert broken.returncode == 1, broken.output[-3000:]
        server.simulator.requests.clear()
        again = run_suite(tmp_path / "again", "--lf", "--base-url", server.base_url, *common, env=ENV, cache_dir=cache)
        rechecked = len(server.simulator.requests)
    assert again.returncode == 1, again.output[-3000:]
    assert sorted(again.cases) == sorted(broken.failing)
    assert RULE in again.failing_rules
    assert 0 < rechecked < whole
    assert "PARTIAL after" in again.output and "selected by --lf" in again.output
    # Once the API is fixed, the rerun of what failed passes: exit 0, yet partial, never GREEN.
    with SimulatorServer(make_settings(write_key=KEY, lifecycle_seconds=1)) as fixed:
        after_fix = run_suite(tmp_path / "fixed", "--lf", "--base-url", fixed.base_url, *common, env=ENV,
                              cache_dir=cache)
    assert after_fix.returncode == 0, after_fix.output[-3000:]
    assert "PARTIAL after" in after_fix.output and "GREEN" not in after_fix.output


def test_an_interruption_a_library_swallows_still_ends_the_run(tmp_path: Path) -> None:
    env = {**ENV, "PYTHONPATH": str(ROOT)}
    with simulator(lifecycle=1) as server, \
            StartedSuite(tmp_path, "-p", "tests.swallowed_interrupt", "--base-url", server.base_url,
                         "--drift-report", str(tmp_path / "report"), env=env) as started:
        run = started.wait()
    assert run.returncode == 2, run.output[-3000:]
    first_line, report = report_of(tmp_path / "report")
    assert first_line.startswith("# INTERRUPTED after ") and "interrupted by Ctrl-C (SIGINT)" in first_line
    assert report["outcome"]["ending"] == "interrupted"
    assert run.cases == {}, "the run went on to its tests after Ctrl-C"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_second_signal_while_the_run_winds_up_leaves_its_ending_as_it_was(tmp_path: Path, signum: int) -> None:
    output = tmp_path / "output.txt"
    with simulator(lifecycle=60) as server, \
            StartedSuite(tmp_path, "--base-url", server.base_url, "--lifecycle-timeout", "120", "--drift-report",
                         str(tmp_path / "report"), env=ENV) as started:
        wait_until(started, lambda: SETTINGS_HEADER in output.read_text(errors="replace")
                   and status_reads(server) >= 12, "its tests, the batches read")
        started.signal(signum)
        time.sleep(0.3)  # a user pressing Ctrl-C again, a runner sending SIGTERM again, while the run winds up
        if started.process.poll() is None:
            started.signal(signum)
        run = started.wait()
    assert run.returncode == 2, run.output[-3000:]
    first_line, report = report_of(tmp_path / "report")
    assert first_line.startswith("# INTERRUPTED after ") and report["outcome"]["exit_status"] == 2
    assert "INTERNALERROR" not in run.output and "SystemError" not in run.output
