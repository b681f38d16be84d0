"""The plugin as an installed pytest plugin: inert where the suite is not asked for, beside pytest-base-url,
with its version where pytest lists plugins, and the console script that runs the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import __version__
from conformance.pytest.cli import EXIT_STATUSES, joined, main, usage
from conformance.rules.outcome import EXIT_FAILED, EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED, EXIT_NOT_CHECKED, EXIT_OK
from conformance.settings.options import SETTINGS
from conformance.simulator import FAULTS, SimulatorServer, make_settings
from tests.private_ca import write_private_ca
from tests.suite_runs import run_suite

BIN = Path(sys.executable).parent
KEYS = {"EVERMUSE_API_KEY": "em_sk_plugin_write", "EVERMUSE_READ_API_KEY": "em_sk_plugin_read",
        "EVERMUSE_OTHER_API_KEY": "em_sk_plugin_other"}
FAST = ("--lifecycle-timeout", "10", "--write-lag", "1.2", "--replica-lag", "1")

USERS_TESTS = '''
import logging
import threading

import pytest
import schemathesis


def test_the_suites_plugin_is_loaded_and_leaves_this_session_alone(request):
    assert request.config.pluginmanager.has_plugin("evermuse")
    assert [t.name for t in threading.enumerate() if t.name.startswith("evermuse")] == []
    assert logging.getLogRecordFactory() is logging.LogRecord
    from schemathesis.checks import CHECKS
    # The suite registers a check per rule with schemathesis, for its own run only: never in a user's.
    assert not [name for name in CHECKS.get_all_names() if name.startswith("EM-")]
'''


def users_session(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A user's own pytest session in a folder of theirs, with the suite merely installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVERMUSE_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_session_that_does_not_ask_for_the_suite_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text(USERS_TESTS)
    done = users_session(tmp_path, "-rA", "test_mine.py")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "PASSED test_mine.py::test_the_suites_plugin_is_loaded_and_leaves_this_session_alone" in done.stdout
    plugins = next(line for line in done.stdout.splitlines() if line.startswith("plugins:"))
    assert f"evermuse-conformance-{__version__}" in plugins
    assert "settings:" not in done.stdout and "rules:" not in done.stdout


def test_its_options_and_fixtures_exist_in_any_session(tmp_path: Path) -> None:
    helped = users_session(tmp_path, "--help")
    for setting in SETTINGS:
        assert f"{setting.option}=" in helped.stdout, setting.option
    # Where pytest-base-url is loaded (here it is) its --base-url is the one, and nothing clashes.
    assert helped.stdout.count("--base-url=") == 1
    fixtures = users_session(tmp_path, "--fixtures")
    assert "evermuse_run [session scope]" in fixtures.stdout


def test_pytest_lists_the_plugin_with_its_version(tmp_path: Path) -> None:
    done = users_session(tmp_path, "-VV")
    assert f"evermuse-conformance-{__version__} at " in done.stdout + done.stderr


def test_a_run_states_its_version_in_the_header_summary_and_junit(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "-k", "EM-COUNT-001")
    assert f"evermuse-conformance {__version__} settings:" in run.output
    assert f"== evermuse-conformance {__version__} ==" in run.output
    assert ("evermuse_version", __version__) in run.junit_properties


@pytest.fixture
def simulator() -> SimulatorServer:
    settings = make_settings(write_key=KEYS["EVERMUSE_API_KEY"], read_key=KEYS["EVERMUSE_READ_API_KEY"],
                             other_key=KEYS["EVERMUSE_OTHER_API_KEY"])
    with SimulatorServer(settings) as server:
        yield server


def test_beside_pytest_base_url_its_base_url_given_on_the_command_line_is_the_target(
        tmp_path: Path, simulator: SimulatorServer) -> None:
    run = run_suite(tmp_path, "--base-url", simulator.base_url, *FAST, env=KEYS)
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert f"target              {simulator.base_url} (--base-url)" in run.output
    assert f"baseurl: {simulator.base_url}" in run.output, "pytest-base-url's own header line: its option was used"
    assert len(simulator.simulator.requests) > 100


def test_pytest_base_urls_own_variable_and_ini_key_do_not_choose_the_target(tmp_path: Path) -> None:
    # They name a browser test's web application: a run given only those checks its own simulator.
    (tmp_path / "workdir").mkdir()
    run = run_suite(tmp_path, "-k", "EM-COUNT-001", "-o", "base_url=http://127.0.0.1:9",
                    env={"PYTEST_BASE_URL": "http://127.0.0.1:9"})
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert "target              embedded reference simulator" in run.output
    assert ("not the target      PYTEST_BASE_URL and the base_url ini key not read: pytest-base-url's, for a web "
            "application") in run.output


def test_without_pytest_base_url_the_suite_has_a_base_url_of_its_own(
        tmp_path: Path, simulator: SimulatorServer) -> None:
    run = run_suite(tmp_path, "-p", "no:base_url", "--base-url", simulator.base_url, *FAST, env=KEYS)
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert f"target              {simulator.base_url} (--base-url)" in run.output
    assert "baseurl:" not in run.output


def test_the_console_script_runs_the_suite_with_its_exit_statuses(tmp_path: Path) -> None:
    must = next(fault for fault in FAULTS.values() if fault.rule == "EM-COUNT-001")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVERMUSE_", "PYTEST_"))}
    done = subprocess.run([str(BIN / "evermuse-conformance"), "-p", "no:cacheprovider", "--simulator-fault",
                           must.name], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == EXIT_FAILED, done.stdout[-3000:]
    assert "EM-COUNT-001 (MUST)" in done.stdout
    assert list(tmp_path.iterdir()) == [], "the run wrote into the user's folder"


def test_the_console_scripts_help_reads_like_a_tools(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert text == usage() + "\n"
    assert text.startswith("usage: evermuse-conformance [--base-url URL] [options]")
    for setting in SETTINGS:
        assert f"{setting.option} {setting.metavar}" in text and setting.variable in text
    statuses = {int(code) for code, _ in EXIT_STATUSES}
    assert {EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INTERNAL_ERROR, EXIT_NOT_CHECKED} <= statuses
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"evermuse-conformance {__version__}\n"


def test_without_plugin_autoload_the_suite_asks_for_its_plugins_by_name(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVERMUSE_", "PYTEST_"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "conformance"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 4, done.stdout[-3000:]
    assert ("ERROR: the conformance suite needs the pytest plugins evermuse and schemathesis, and evermuse and "
            "schemathesis are not loaded") in done.stderr
    assert "add -p evermuse -p schemathesis to the command line" in done.stderr
    console = subprocess.run([str(BIN / "evermuse-conformance"), "-p", "no:cacheprovider", "-k", "EM-COUNT-001"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert console.returncode == EXIT_OK, console.stdout[-3000:]


def test_the_console_script_keeps_the_root_folder_where_the_user_runs_it(tmp_path: Path) -> None:
    # pytest picks its root folder from every word naming a path before it knows the suite's options.
    (tmp_path / "tls").mkdir()
    (tmp_path / "work").mkdir()
    write_private_ca(tmp_path / "tls")
    assert joined(["--ca-bundle", "x.pem", "-k", "EM", "--seed=3", "--seed", "4", "--strict"]) == [
        "--ca-bundle=x.pem", "-k", "EM", "--seed=3", "--seed=4", "--strict"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVERMUSE_", "PYTEST_"))}
    done = subprocess.run([str(BIN / "evermuse-conformance"), "-k", "EM-COUNT-001", "--ca-bundle",
                           str(tmp_path / "tls" / "ca.pem")], cwd=tmp_path / "work", env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == EXIT_OK, done.stdout[-3000:]
    assert f"rootdir: {tmp_path / 'work'}" in done.stdout
    assert not (tmp_path / ".pytest_cache").exists()


def test_a_bad_typed_ini_value_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nevermuse_seed = abc\n")
    done = users_session(tmp_path, "--pyargs", "conformance")
    assert done.returncode == 4, done.stdout[-3000:]
    assert ("ERROR: evermuse_seed in the ini file is not a whole number; give a whole number or leave the key "
            "out.") in done.stderr
