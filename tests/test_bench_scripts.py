"""Each bench script loads against today's code, and runs end to end at its smallest size.

Timing lives in bench/ and is never asserted here: each test runs a script as a user does, in a subprocess, and
holds it to its exit status and to the figures it promises (its table and the command that produced it). A bench
whose runs did not complete must say so and exit non-zero, or a figure could rest on runs that checked nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from conformance.rules.docsmap import load_map
from tests.reference import published_document

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(path for path in (ROOT / "bench").glob("*.py") if not path.name.startswith("_"))


def load(script: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first, as an import would: a dataclass looks its module up while it is being defined.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)  # imports only: every script runs its work under __main__
    return module


def run_bench(tmp_path: Path, script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """python bench/SCRIPT ARGS from the repository root, with no EVERMUSE_* variable of this shell.

    Hypothesis keeps its files under the working directory unless told otherwise: here, under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")}
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(tmp_path / "hypothesis")
    return subprocess.run([sys.executable, f"bench/{script}", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def row(output: str, label: str) -> list[str]:
    """The cells of the table row that starts with label (cells stand two or more spaces apart)."""
    line = next((line for line in output.splitlines() if line.startswith(label)), None)
    assert line is not None, f"no row {label!r} in:\n{output}"
    return re.split(r"\s{2,}", line[len(label):].strip())


def shown(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout[-6000:]}\n--- stderr\n{done.stderr[-3000:]}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_each_bench_script_loads_and_has_a_main(script: Path) -> None:
    assert callable(getattr(load(script), "main", None)), f"{script.name} has no main()"


# --- detection.py: what a run of each tool counts as ----------------------------------------------------------------

def junit(tmp_path: Path, *cases: str) -> Path:
    path = tmp_path / "junit.xml"
    path.write_text(f'<testsuites><testsuite name="pytest">{"".join(cases)}</testsuite></testsuites>')
    return path


def case(name: str, properties: dict[str, str] | list[tuple[str, str]], failed: bool = False) -> str:
    items = properties.items() if isinstance(properties, dict) else properties
    props = "".join(f'<property name="{k}" value="{v}"/>' for k, v in items)
    return f'<testcase name="{name}"><properties>{props}</properties>{"<failure/>" if failed else ""}</testcase>'


def rule_case(rule: str, level: str, outcome: str, failed: bool = False) -> str:
    return case(f"test_rule_holds[{rule}]", {"rule": rule, "level": level, "outcome": outcome}, failed)


def test_detection_reads_each_finding_from_the_junit_properties(tmp_path: Path) -> None:
    detection = load(ROOT / "bench" / "detection.py")
    path = junit(tmp_path,
                 rule_case("EM-SHAPE-002", "MUST", "violated", failed=True),
                 # Without --strict a broken SHOULD rule's test passes with a warning: still reported.
                 rule_case("EM-ERR-007", "SHOULD", "violated"),
                 rule_case("EM-COUNT-001", "MUST", "held"),
                 case("test_generated[GET /a]", [("violated_rule", "EM-SHAPE-002"),
                                                  ("schemathesis_check", "ST101 not_a_server_error")], failed=True),
                 case("test_linked_workflow", {}, failed=True))
    result = detection.read_junit(path, 1)
    assert result.ran
    assert result.must == {"EM-SHAPE-002", "ST101 not_a_server_error", "unexplained failure of test_linked_workflow"}
    assert result.should == {"EM-ERR-007"}
    assert result.failures(strict=False) == result.must
    assert result.failures(strict=True) == result.must | {"EM-ERR-007"}


def test_detection_files_a_should_rule_a_property_test_names_apart(tmp_path: Path) -> None:
    detection = load(ROOT / "bench" / "detection.py")
    path = junit(tmp_path, case("test_generated[GET /a]", {"violated_rule": "EM-ERR-007"}, failed=True),
                 rule_case("EM-ERR-007", "SHOULD", "violated", failed=True))
    result = detection.read_junit(path, 1)
    assert (result.must, result.should) == (frozenset(), {"EM-ERR-007"})


@pytest.mark.parametrize(("status", "cases", "problem"), [
    (1, [rule_case("EM-SHAPE-002", "MUST", "held")], "exit 1, yet the JUnit file shows no failing test"),
    (0, [rule_case("EM-SHAPE-002", "MUST", "violated", failed=True)], "exit 0, yet the JUnit file shows 1 failing"),
], ids=["exit-1-nothing-failed", "exit-0-something-failed"])
def test_detection_trusts_no_run_whose_status_and_junit_disagree(tmp_path: Path, status: int, cases: list[str],
                                                                 problem: str) -> None:
    result = load(ROOT / "bench" / "detection.py").read_junit(junit(tmp_path, *cases), status)
    assert not result.ran and result.problem.startswith(problem)


def test_detection_counts_a_run_without_a_junit_file_as_not_run(tmp_path: Path) -> None:
    result = load(ROOT / "bench" / "detection.py").read_junit(tmp_path / "missing.xml", 0)
    assert not result.ran and "no JUnit file" in result.problem


@pytest.mark.parametrize(("status", "report", "ran"), [
    (1, {"complete": True, "exit_code": 1, "failures": [{"code": "ST101", "operations": ["GET /a"]}], "errors": []},
     True),
    (0, {"complete": True, "exit_code": 0, "failures": [], "errors": []}, True),
    # An uncaught exception exits 1 too; the report then says the engine never finished.
    (1, {"complete": False, "exit_code": 1, "stop_reason": "error", "failures": [], "errors": []}, False),
    (1, None, False),
], ids=["failures", "clean", "crashed", "no-report"])
def test_detection_counts_an_st_run_by_its_complete_report(tmp_path: Path, status: int, report: dict | None,
                                                           ran: bool) -> None:
    path = tmp_path / "st.json"
    if report is not None:
        path.write_text(json.dumps(report))
    result = load(ROOT / "bench" / "detection.py").read_st_report(path, status)
    assert result.ran == ran
    if report and report["failures"]:
        assert result.must == {"ST101 GET /a"}


def test_detection_tells_false_alarms_should_reports_and_runs_that_could_not_run_apart(
        capsys: pytest.CaptureFixture[str]) -> None:
    detection = load(ROOT / "bench" / "detection.py")
    variant, result = detection.Variant, detection.Result
    suite = detection.Tool("this suite", lambda v: result(), knows_strict=True)
    choices = [variant("choices", (name,)) for name in ("a=1", "b=1", "c=1", "d=1")]
    runs = {
        variant("clean"): [result(must=frozenset({"ST101 noise"}))], variant("clean", strict=True): [result()],
        # Caught only with what it adds to the noise of the correct simulator.
        variant("fault", ("status-extra-field",)): [result(must=frozenset({"EM-SHAPE-002", "ST101 noise"}))],
        variant("fault", ("status-without-created-at",)): [result(must=frozenset({"ST101 noise"}))],
        variant("fault", ("count-as-string",)): [detection.could_not_run("exit 6: could not check")],
        variant("choices", ("a=1",)): [result()], variant("choices", ("a=1",), True): [result()],
        variant("choices", ("b=1",)): [result(should=frozenset({"EM-ERR-007"}))],
        variant("choices", ("b=1",), True): [result(should=frozenset({"EM-ERR-007"}))],
        variant("choices", ("c=1",)): [result()],
        variant("choices", ("c=1",), True): [result(must=frozenset({"ST102 negative_data_rejection"}))],
        variant("choices", ("d=1",)): [result()],
        variant("choices", ("d=1",), True): [detection.could_not_run("timeout")],
    }
    faults = ["status-extra-field", "status-without-created-at", "count-as-string"]
    detection.print_table([suite], {"this suite": runs}, faults, choices, 1)
    not_run = detection.print_summary([suite], {"this suite": runs}, faults, choices)
    out = capsys.readouterr().out
    assert not_run == 2
    assert row(out, "status-extra-field (EM-SHAPE-002, MUST)") == ["caught"]
    assert row(out, "status-without-created-at (EM-SHAPE-001, MUST)") == ["missed"]
    assert row(out, "count-as-string (EM-COUNT-001, MUST)") == ["could not run"]
    assert [row(out, choice.label + " ") for choice in choices] == [
        ["clean"], ["SHOULD reported (1)"], ["FALSE ALARM"], ["could not run"]]
    assert row(out, "faults caught") == ["1 of 3"]
    assert row(out, "false alarms (MUST or schemathesis)") == ["1 of 4"]
    assert row(out, "SHOULD reported, conforming variants") == ["1 of 4"]
    assert row(out, "could not run ") == ["2 of 13 runs"]
    assert "could not run: this suite on d=1 --strict: timeout" in out


# --- each script end to end ------------------------------------------------------------------------------------------

def test_detection_reports_a_fault_caught_and_a_choice_clean(tmp_path: Path) -> None:
    # One seed for every run: a choice is "clean" only as long as no generated request draws the --strict
    # false alarm issue 19 is about (ST201 negative_data_rejection), which a random seed now and then does.
    done = run_bench(tmp_path, "detection.py", "--fault", "status-extra-field", "--choice", "json-charset=utf-8",
                     "--clean-runs", "1", "--no-st", "--suite-arg=--seed=1")
    assert done.returncode == 0, shown(done)
    assert row(done.stdout, "variant") == ["this suite"]
    assert row(done.stdout, "status-extra-field (EM-SHAPE-002, MUST)") == ["caught"], shown(done)
    assert row(done.stdout, "json-charset=utf-8") == ["clean"], shown(done)
    assert row(done.stdout, "faults caught") == ["1 of 1"]
    assert row(done.stdout, "false alarms (MUST or schemathesis)") == ["0 of 1"]
    assert row(done.stdout, "SHOULD reported, conforming variants") == ["0 of 1"]
    # The clean simulator and the choice each with and without --strict, and the fault: five runs.
    assert row(done.stdout, "could not run ") == ["0 of 5 runs"]
    assert "command: python bench/detection.py --fault status-extra-field --choice json-charset=utf-8" in done.stdout


def test_detection_counts_a_run_that_could_not_check_as_such_and_fails(tmp_path: Path) -> None:
    # Five requests are too few to check anything: every run of the suite exits 6.
    done = run_bench(tmp_path, "detection.py", "--choice", "json-charset=utf-8", "--clean-runs", "1", "--no-st",
                     "--suite-arg=--max-requests=5")
    assert done.returncode == 1, shown(done)
    assert row(done.stdout, "json-charset=utf-8") == ["could not run"], shown(done)
    assert row(done.stdout, "false alarms (MUST or schemathesis)") == ["0 of 1"]
    assert row(done.stdout, "could not run ") == ["4 of 4 runs"]
    assert "could not run: this suite on json-charset=utf-8: exit 6: PARTIAL after" in done.stdout
    assert "command: python bench/detection.py" in done.stdout


def st_config(tmp_path: Path) -> str:
    """A schemathesis.toml without st's crash cache, which st would otherwise keep under the working directory."""
    path = tmp_path / "schemathesis.toml"
    path.write_text("[cache]\nenabled = false\n")
    return str(path)


def test_run_vs_st_times_both_tools_and_each_phase_of_the_suite(tmp_path: Path) -> None:
    done = run_bench(tmp_path, "run_vs_st.py", "--repeat", "1", "--no-embedded", "--bytecode", "with",
                     "--published", str(published_document()), "--st-arg=--max-examples=1",
                     "--st-arg=--phases=fuzzing", "--st-config", st_config(tmp_path))
    assert done.returncode == 0, shown(done)
    assert "\nwith bytecode\n" in done.stdout and "without bytecode" not in done.stdout, shown(done)
    assert row(done.stdout, "  tool") == ["median s", "min s", "max s", "requests", "exit"]
    suite = row(done.stdout, "  pytest conformance --base-url SIM")
    st = row(done.stdout, "  st run PUBLISHED --max-examples 30")
    st_contract = row(done.stdout, "  st run CONTRACT --max-examples 30")
    listing = row(done.stdout, "  pytest conformance --collect-only")
    assert suite[-1] == "0" and int(suite[-2]) > 0, shown(done)
    assert st[-1] in ("0", "1") and int(st[-2]) > 0, shown(done)
    assert st_contract[-1] in ("0", "1") and int(st_contract[-2]) > 0, shown(done)
    assert listing[-1] == "0" and listing[-2] == "0", "a listing sends nothing"
    phases = row(done.stdout, "  phases, median s:")
    assert phases == ["to first request", "startup", "collection", "property tests", "wait", "rules + exit"]
    # The suite's phases follow one another, so each is a time; the listing runs no test.
    suite_phases = [row(line, "  pytest conformance --base-url SIM") for line in done.stdout.splitlines()
                    if line.startswith("  pytest conformance --base-url SIM")][1]
    assert all(float(cell) >= 0 for cell in suite_phases), shown(done)
    listing_phases = [row(line, "  pytest conformance --collect-only") for line in done.stdout.splitlines()
                      if line.startswith("  pytest conformance --collect-only")][1]
    assert listing_phases[0] == "-" and listing_phases[3:] == ["-", "-", "-"], shown(done)
    for document in ("the published document", "the contract"):
        assert re.search(rf"the suite takes [\d.]+ of st run's wall time on {document} \(median of 1 alternating",
                         done.stdout), shown(done)
    assert "command: python bench/run_vs_st.py --repeat 1 --no-embedded --bytecode with" in done.stdout


def test_run_vs_st_will_not_time_runs_without_bytecode_beside_rewritten_bytecode(tmp_path: Path) -> None:
    stale = ROOT / "bench" / "__pycache__" / f"planted-{os.getpid()}.cpython-311-pytest-9.1.1.pyc"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"")
    try:
        done = run_bench(tmp_path, "run_vs_st.py", "--repeat", "1", "--no-embedded",
                         "--published", str(published_document()))
    finally:
        stale.unlink()
    assert done.returncode == 1, shown(done)
    assert "pytest's rewritten bytecode" in done.stderr and "(or measure --bytecode with)" in done.stderr
    assert "median s" not in done.stdout, "nothing was timed"


def test_run_vs_st_will_not_time_an_installed_suite_it_cannot_find(tmp_path: Path) -> None:
    # The timed runs of --installed are the README's figures (tests/test_install.py runs the wheel itself).
    done = run_bench(tmp_path, "run_vs_st.py", "--repeat", "1", "--no-embedded", "--installed", str(tmp_path),
                     "--published", str(published_document()))
    assert done.returncode == 1, shown(done)
    assert f"no evermuse-conformance in {tmp_path}/bin: pip install the wheel into that environment" in done.stderr
    assert "median s" not in done.stdout, "nothing was timed"


def test_run_vs_st_fails_naming_each_run_that_did_not_complete(tmp_path: Path) -> None:
    done = run_bench(tmp_path, "run_vs_st.py", "--repeat", "1", "--no-embedded", "--bytecode", "with",
                     "--published", str(published_document()), "--suite-arg=--max-requests=5",
                     "--st-arg=--no-such-option", "--st-config", st_config(tmp_path))
    assert done.returncode == 1, shown(done)
    assert ("did not complete: with bytecode: pytest conformance --base-url SIM, run 1 of 1: exit 6, not 0"
            in done.stdout), shown(done)
    assert ("did not complete: with bytecode: st run PUBLISHED --max-examples 30, run 1 of 1: exit 2, not 0 or 1"
            in done.stdout)
    assert ("did not complete: with bytecode: st run CONTRACT --max-examples 30, run 1 of 1: exit 2, not 0 or 1"
            in done.stdout)
    assert "3 runs did not complete" in done.stderr


def test_lifecycle_times_one_run_over_its_floor(tmp_path: Path) -> None:
    done = run_bench(tmp_path, "lifecycle.py", "--lifecycle", "3", "--repeat", "1")
    assert done.returncode == 0, shown(done)
    assert "run: python -m pytest conformance -q" in done.stdout
    assert re.search(r"^wall: median [\d.]+ s, min [\d.]+ s, max [\d.]+ s; exit 0$", done.stdout, re.MULTILINE)
    assert "over the lifecycle of 3 s: median" in done.stdout
    assert "command: python bench/lifecycle.py --lifecycle 3 --repeat 1" in done.stdout


def test_request_costs_prints_what_each_activity_sends_and_the_rules_exercised(tmp_path: Path) -> None:
    done = run_bench(tmp_path, "request_costs.py")
    assert done.returncode == 0, shown(done)
    assert re.search(r"^\s*\d+  list walk$", done.stdout, re.MULTILINE), shown(done)
    assert re.search(r"^\s*\d+  probes$", done.stdout, re.MULTILINE)
    exercised = re.search(r"campaign total \(\d+ for the five scenarios\); (\d+) of (\d+) rules exercised", done.stdout)
    assert exercised and 0 < int(exercised.group(1)) <= int(exercised.group(2)), shown(done)
    assert "command: python bench/request_costs.py" in done.stdout


def test_report_page_writes_the_example_where_it_is_told(tmp_path: Path) -> None:
    # No browser here: the screenshot is chromium's part; the nights and the example are the script's.
    done = run_bench(tmp_path, "report_page.py", "--out", str(tmp_path), "--no-screenshot")
    assert done.returncode == 0, shown(done)
    assert "night 1: exit 0, faults none" in done.stdout
    assert "night 3: exit 1, faults type-upper-case" in done.stdout
    assert (tmp_path / "drift-example.md").read_text().startswith("# RED: 1 MUST and 0 SHOULD rules broken\n")
    assert not (tmp_path / "drift-page.png").exists()
    assert f"command: python bench/report_page.py --out {tmp_path} --no-screenshot" in done.stdout


def test_simulator_load_measures_status_reads(tmp_path: Path) -> None:
    done = run_bench(tmp_path, "simulator_load.py", "--seconds", "1", "--tool", "httpx")
    assert done.returncode == 0, shown(done)
    assert re.search(r"^GET /api/v1/ingest/batches/\{batchId\}: [\d,]+ requests/s for 1 s, 2 connections, "
                     r"load from httpx, 0 not 200$", done.stdout, re.MULTILINE), shown(done)
    assert "command: python bench/simulator_load.py --seconds 1 --connections 2 --tool httpx" in done.stdout


def test_hostile_measures_one_target(tmp_path: Path) -> None:
    done = run_bench(tmp_path, "hostile.py", "--target", "not-json")
    assert done.returncode == 0, shown(done)
    assert "| Hostile target | Exit | Wall time | Peak memory | Key seen in |" in done.stdout
    # A rule failed (1) or the run could not check (6), and the key appeared in no output.
    measured = re.search(r"^\| not-json \| [16] \| [\d.]+ s \| \d+ MiB \| nowhere \|$", done.stdout, re.MULTILINE)
    assert measured, shown(done)
    assert "command: python bench/hostile.py" in done.stdout


def test_detection_prints_the_docs_map_coverage_beside_what_it_catches(capsys: pytest.CaptureFixture[str]) -> None:
    load(ROOT / "bench" / "detection.py").print_docs_coverage()
    printed = capsys.readouterr().out
    statements = len(load_map())
    assert f"docs map: {statements} statements of the reference docs" in printed
    assert re.search(r"checked +\d+ \(\d+%\): \d+ by a MUST rule", printed)
    assert "PROBLEM" not in printed
