"""The suite as a user runs it: it passes a correct target, fails each broken one by the broken rule, and
answers a user's mistake with one sentence and a documented exit status."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance import __version__
from conformance.activities.scenarios import Identity, broken, valid_record
from conformance.rules.catalogue import load_catalogue
from conformance.simulator import FAULTS, SimulatorServer, make_settings
from tests.suite_runs import ROOT, SuiteRun, ThrottledWhere, run_suite, serve

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_CHECKED = 0, 1, 4, 6
KEYS = {"EVERMUSE_API_KEY": "em_sk_runs_write", "EVERMUSE_READ_API_KEY": "em_sk_runs_read",
        "EVERMUSE_OTHER_API_KEY": "em_sk_runs_other"}
# Against a simulator started here (it reads the clock alone), a batch of one second ends well within four.
FAST = ("--lifecycle-timeout", "4")
# The embedded simulator holds each stage of a batch until a read has shown it, so a short lifecycle misses
# nothing; the lifecycle timeout, waited out only by the faults that stall, is a bound a busy machine stays within.
EMBEDDED = ("--lifecycle-timeout", "15", "--simulator-lifecycle", "0.5")


def simulator(**kwargs) -> SimulatorServer:
    return SimulatorServer(make_settings(write_key=KEYS["EVERMUSE_API_KEY"], read_key=KEYS["EVERMUSE_READ_API_KEY"],
                                         other_key=KEYS["EVERMUSE_OTHER_API_KEY"], **kwargs))


@pytest.mark.parametrize("seed", [11, 22, 33])
def test_suite_passes_against_the_simulator_whatever_the_seed(tmp_path: Path, seed: int) -> None:
    run = run_suite(tmp_path, "--seed", str(seed))
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert run.failing == []
    assert run.left_behind == [], "the run wrote into its working directory"
    assert re.search(rf"^  seed +{seed} \(--seed\)$", run.output, re.MULTILINE)
    rule_tests = {c.name: c for c in run.cases.values() if c.name.startswith("test_rule_holds")}
    assert len(rule_tests) == len(load_catalogue())
    # The simulator rate-limits nobody by default, so no 429 ever comes for EM-RATE-001 to judge.
    unexercised = {name for name, case in rule_tests.items() if case.outcome == "skipped"}
    assert unexercised == {"test_rule_holds[EM-RATE-001]"}
    assert "no exchange of this run was one it judges (every 429 answer)" in rule_tests[
        "test_rule_holds[EM-RATE-001]"].text
    assert all(case.outcome == "passed" for name, case in rule_tests.items() if name not in unexercised)
    assert all(int(dict(case.properties)["judged"]) > 0 for name, case in rule_tests.items() if name not in unexercised)


@pytest.mark.parametrize("fault", sorted(FAULTS), ids=lambda name: f"{FAULTS[name].rule}:{name}")
def test_each_fault_fails_the_suite_by_its_rule(tmp_path: Path, fault: str) -> None:
    expected = FAULTS[fault]
    # A SHOULD fault fails only under --strict; one seed keeps each run the same from one sweep to the next.
    strict = () if load_catalogue()[expected.rule].is_must else ("--strict", "--seed", "1")
    run = run_suite(tmp_path, "--simulator-fault", fault, *EMBEDDED, *strict)
    assert run.returncode == EXIT_FAILED, run.output[-3000:]
    assert expected.rule in run.failing_rules, run.output[-3000:]
    # No other: no other rule, no schemathesis check, no failing test that names neither.
    assert run.findings <= {expected.rule, *expected.also}, (run.findings, run.output[-3000:])
    assert f"test_rule_holds[{expected.rule}]" in run.failing


def test_a_mock_of_the_published_document_draws_only_findings_the_docs_support(tmp_path: Path) -> None:
    """The simulator answering as Stoplight Prism mocking the published document does: createdAt 0, a negative
    retryAfter in a 400, canned download fields on a batch without attachments, 401s and 404s without a body.
    createdAt 0 is valid epoch milliseconds, only implausible (EM-SENT-009, SHOULD); the published schema gives
    retryAfter no minimum; no download can end late on a batch with nothing to download; an empty 401 is what
    the published document describes. The real break, download fields without attachments, is EM-SENT-008's."""
    args = ("--simulator-fault", "created-at-zero", "--simulator-fault", "download-fields-canned",
            "--simulator-choice", "other-error-body=empty",
            "--simulator-choice", "bad-request-body=with-negative-retry-after", "--seed", "1")
    run = run_suite(tmp_path, *args, *EMBEDDED)
    verdicts = {name.removeprefix("test_rule_holds[").rstrip("]"): dict(case.properties)
                for name, case in run.cases.items() if name.startswith("test_rule_holds")}
    for rule in ("EM-TIME-001", "EM-HTTP-003", "EM-SERIES-007"):
        assert verdicts[rule]["outcome"] == "held" and int(verdicts[rule]["judged"]) > 0, (rule, run.output[-3000:])
    assert verdicts["EM-HTTP-009"]["outcome"] in ("held", "not exercised"), run.output[-3000:]
    assert verdicts["EM-SENT-008"]["outcome"] == verdicts["EM-SENT-009"]["outcome"] == "violated"
    assert run.failing_rules == {"EM-SENT-008"}, run.output[-3000:]


def test_strict_judges_invalid_data_refused_and_fires_on_data_accepted(tmp_path: Path) -> None:
    """--strict adds invalid_data_refused: a 202 that rejects records is a refusal, a limit over 100 served is not."""
    run = run_suite(tmp_path, "--simulator-fault", "limit-clamped", "--strict", "--seed", "1", *EMBEDDED)
    assert "ST201 negative_data_rejection" in run.findings, run.output[-3000:]
    clean = run_suite(tmp_path / "clean", "--strict", "--seed", "1", *EMBEDDED)
    assert clean.returncode == EXIT_OK and clean.findings == set(), clean.output[-3000:]


def test_verdicts_do_not_depend_on_the_names_of_the_test_files(tmp_path: Path) -> None:
    """The per-rule tests count what the property tests found because the plugin runs those first, not because
    test_generated.py sorts before test_rules.py: renamed so the rules come first, the verdicts are the same."""
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    suite = Path(__file__).resolve().parent.parent / "conformance" / "pytest" / "suite"
    (renamed / "test_0_rules.py").write_text((suite / "test_rules.py").read_text())
    (renamed / "test_z_generated.py").write_text((suite / "test_generated.py").read_text())
    args = ("--seed", "5", "--simulator-fault", "quoted-id-crashes", "--strict", *EMBEDDED)
    as_named = run_suite(tmp_path / "a", *args)
    as_renamed = run_suite(tmp_path / "b", *args, suite=str(renamed))

    def outcomes(run: SuiteRun) -> dict[str, str]:
        return {name: dict(case.properties)["outcome"] for name, case in run.cases.items()
                if name.startswith("test_rule_holds")}

    assert as_named.returncode == as_renamed.returncode == EXIT_FAILED, as_renamed.output[-3000:]
    assert len(outcomes(as_renamed)) == len(load_catalogue().ids)
    assert outcomes(as_renamed) == outcomes(as_named)
    order = list(as_renamed.cases)
    assert max(order.index(n) for n in order if not n.startswith("test_rule_holds")) < \
        min(order.index(n) for n in order if n.startswith("test_rule_holds"))


def test_should_violation_is_reported_but_passes_without_strict(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--simulator-fault", "errors-reverse-order")
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert "EM-ERR-007 (SHOULD)" in run.output
    assert "1 violated (0 MUST, 1 SHOULD)" in run.output


@pytest.mark.parametrize(
    ("args", "env", "sentence"),
    [
        (("--base-url", "https://staging.example.com"), {}, "ERROR: EVERMUSE_API_KEY is not set"),
        (("--base-url", "staging.example.com"), KEYS, "ERROR: --base-url is 'staging.example.com', not an http(s)"),
        (("--max-requests", "lots"), {}, "ERROR: --max-requests is 'lots', not a whole number"),
        ((), {"EVERMUSE_LIFECYCLE_TIMEOUT": "-1"}, "ERROR: EVERMUSE_LIFECYCLE_TIMEOUT is -1"),
    ],
    ids=["no-key", "no-scheme", "bad-budget", "bad-timeout-from-env"],
)
def test_a_usage_mistake_gets_one_sentence_and_status_4(tmp_path: Path, args: tuple, env: dict, sentence: str) -> None:
    run = run_suite(tmp_path, *args, env=env)
    assert run.returncode == EXIT_USAGE
    assert sentence in run.output
    assert "Traceback" not in run.output


def test_xdist_workers_are_refused_with_one_sentence_before_anything_is_sent(tmp_path: Path) -> None:
    # Not through run_suite, which leaves pytest-xdist out: this is the user who adds -n to the command line.
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")} | KEYS
    with simulator() as server:
        done = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "conformance"), "-c",
                               str(ROOT / "pyproject.toml"), "-n", "2", "--base-url", server.base_url],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        sent = len(server.simulator.requests)
    output = done.stdout + done.stderr
    assert done.returncode == EXIT_USAGE, output[-3000:]
    assert "ERROR: the conformance suite runs in one process" in done.stderr and "without -n" in done.stderr
    assert "Traceback" not in output
    assert sent == 0


def test_the_run_starts_while_collecting_but_only_for_a_run_of_the_suite(tmp_path: Path) -> None:
    with simulator() as server:
        listed = run_suite(tmp_path, "--base-url", server.base_url, "--collect-only", env=KEYS)
        after_listing = len(server.simulator.requests)
        deselected = run_suite(tmp_path, "--base-url", server.base_url, "-k", "no_such_test", *FAST, env=KEYS)
        ran = run_suite(tmp_path, "--base-url", server.base_url, *FAST, env=KEYS)
    assert listed.returncode == 0 and after_listing == 0, "listing the tests sent requests to the target"
    # Launched while collecting, then every test deselected: the run ends quietly, pytest's own status.
    assert deselected.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, deselected.output[-2000:]
    assert "Traceback" not in deselected.output and "could not check" not in deselected.output
    assert ran.returncode == EXIT_OK, ran.output[-3000:]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_target_is_not_checked_and_says_so(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--base-url", f"http://127.0.0.1:{_closed_port()}", env=KEYS)
    assert run.returncode == EXIT_NOT_CHECKED
    assert "could not check the target: could not reach http://127.0.0.1:" in run.output
    assert "check --base-url and that the target is up" in run.output
    # One summary, and the sentence once there: no second copy from pytest's own report of its exit.
    assert run.output.count(f"== evermuse-conformance {__version__} ==") == 1
    assert run.output.count("could not check the target: could not reach") == 1
    assert "Traceback" not in run.output


def test_rejected_key_means_the_target_is_not_checked(tmp_path: Path) -> None:
    with simulator() as server:
        run = run_suite(tmp_path, "--base-url", server.base_url, env={"EVERMUSE_API_KEY": "em_sk_wrong"})
    assert run.returncode == EXIT_NOT_CHECKED
    assert "the target refused EVERMUSE_API_KEY with 401" in run.output


def test_missing_optional_keys_skip_their_rules_naming_the_variable(tmp_path: Path) -> None:
    with simulator() as server:
        run = run_suite(tmp_path, "--base-url", server.base_url, *FAST,
                        env={"EVERMUSE_API_KEY": KEYS["EVERMUSE_API_KEY"]})
    assert run.returncode == EXIT_OK, run.output[-3000:]
    for rule, variable in (("EM-AUTH-003", "EVERMUSE_READ_API_KEY"), ("EM-AUTH-005", "EVERMUSE_OTHER_API_KEY"),
                           # Against a target named by --base-url, which records are valid is known only from
                           # its own ids: the rules on valid records at their bounds say which settings to give.
                           ("EM-INGEST-008", "--product-id and --project-id"),
                           ("EM-INGEST-012", "--product-id and --project-id")):
        case = run.cases[f"test_rule_holds[{rule}]"]
        assert case.outcome == "skipped"
        assert variable in case.text


@contextmanager
def busy_machine(workers: int = 2) -> Iterator[None]:
    """Every core kept busy for the time of the block, as on a shared CI runner."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(workers)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


@pytest.mark.parametrize(("budget", "status"), [(30, EXIT_NOT_CHECKED), (400, EXIT_OK)])
def test_budget_holds_as_the_target_counts_it_on_a_busy_machine(tmp_path: Path, budget: int, status: int) -> None:
    with simulator() as server, busy_machine():
        run = run_suite(tmp_path, "--base-url", server.base_url, "--max-requests", str(budget), *FAST, env=KEYS)
        served = len(server.simulator.requests)
    assert run.returncode == status, run.output[-3000:]
    assert served <= budget
    # The figure printed is the figure the target saw: property tests, their auth variations and retries included.
    assert f"requests: {served} of a budget of {budget}" in run.output
    if status == EXIT_NOT_CHECKED:
        assert (f"the run stopped before it was done: the request budget of {budget} is spent; raise "
                f"--max-requests ({budget})") in run.output
        # The summary is written once, by pytest, though the outcome's status is not the one pytest ended with.
        assert run.output.count(f"== evermuse-conformance {__version__} ==") == 1
    assert "Traceback" not in run.output


def test_read_only_mode_sends_no_post(tmp_path: Path) -> None:
    identity = Identity(run_id="read-only")
    with simulator() as server:
        headers = {"x-api-key": KEYS["EVERMUSE_API_KEY"]}
        for records in ([valid_record(0, identity), broken(valid_record(1, identity), "nature"),
                         valid_record(2, identity)], [valid_record(0, identity, record_type="email")]):
            assert httpx.post(server.base_url + "/api/v1/ingest", json=records, headers=headers).status_code == 202
        seeded = len(server.simulator.requests)
        run = run_suite(tmp_path, "--base-url", server.base_url, "--read-only", *FAST, env=KEYS)
        during = server.simulator.requests[seeded:]
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert during
    assert [request for request in during if request[0] == "POST"] == []
    assert re.search(r"^  mode +read-only \(no POST\)$", run.output, re.MULTILINE)


def test_read_only_mode_checks_the_named_batches(tmp_path: Path) -> None:
    with simulator() as server:
        answer = httpx.post(server.base_url + "/api/v1/ingest", json=[valid_record(0, Identity(run_id="named"))],
                            headers={"x-api-key": KEYS["EVERMUSE_API_KEY"]}).json()
        run = run_suite(tmp_path, "--base-url", server.base_url, "--read-only", "--batch-id", answer["batchId"],
                        *FAST, env=KEYS)
        reads = [path for method, path in server.simulator.requests if path.endswith(answer["batchId"])]
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert len(reads) >= 3


def test_rate_limited_target_is_waited_out_and_passes(tmp_path: Path) -> None:
    with simulator(rate_limit=20) as server:
        run = run_suite(tmp_path, "--base-url", server.base_url, "--max-requests", "150", *FAST, env=KEYS)
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert run.cases["test_rule_holds[EM-RATE-001]"].outcome == "passed"


def without_key(scope: dict[str, Any]) -> bool:
    """A gateway's limiter may answer a request without a key before the API reads it."""
    return not any(name == b"x-api-key" for name, _ in scope["headers"])


def test_a_limit_before_the_key_is_read_is_no_break(tmp_path: Path) -> None:
    """429 to a request without a key says "later", not "accepted": neither a rule nor a schemathesis check fails."""
    with serve(ThrottledWhere(simulator().simulator.app, without_key)) as url:
        run = run_suite(tmp_path, "--base-url", url, "--seed", "3", *FAST, env=KEYS)
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert run.cases["test_rule_holds[EM-AUTH-001]"].outcome == "skipped"  # no keyless request got an answer
    keyless = [case for name, case in run.cases.items() if "missing required" in case.text.lower()]
    assert keyless == []


def test_a_property_test_that_sent_nothing_is_skipped_not_passed(tmp_path: Path) -> None:
    with simulator() as server:
        answer = httpx.post(server.base_url + "/api/v1/ingest", json=[valid_record(0, Identity(run_id="empty"))],
                            headers={"x-api-key": KEYS["EVERMUSE_API_KEY"]}).json()
        # A read-only run of one named batch costs the campaign a fixed 23 requests; 24 leaves the property
        # tests less than one request each.
        run = run_suite(tmp_path, "--base-url", server.base_url, "--read-only", "--batch-id", answer["batchId"],
                        "--max-requests", "24", *FAST, env=KEYS)
    property_tests = [case for name, case in run.cases.items() if not name.startswith("test_rule_holds")]
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert property_tests
    assert all(case.outcome == "skipped" and "sent no request" in case.text for case in property_tests), \
        [(case.name, case.outcome, case.text) for case in property_tests]
