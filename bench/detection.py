"""How many simulator faults each tool catches, and how often it cries wolf at a conforming server.

Tools: this suite (`pytest conformance --simulator-fault F`), plain `st run --checks all` with this
project's contract, and plain `st run --checks all` with the published document when ../shared holds it.

Every run is read from what the tool writes for machines, never from its console: this suite's exit status
and JUnit file (the properties by which each test names what it found), st run's exit status and JSON report.
A run that did not complete (this suite: any exit but 0 or 1, a crash, a timeout, or no readable JUnit file;
st run: any exit but 0 or 1, a timeout, or no complete report) could not run: it is listed as such, counts
neither as clean nor as caught, and makes this script exit 1.

Caught: a tool catches a fault when it reports a failure it does not report against the correct simulator
(default choices, --clean-runs runs): for this suite a broken rule, a failed schemathesis check or a failing
test that names neither; for st run a (check code, operation) pair. So a tool that raises false alarms on a
correct server is credited only with what it adds to them. SHOULD-level faults are given --strict in this
suite (compared with clean runs under --strict), since without it they are reported but do not fail the run.

False alarms: the conforming variants (the simulator making each other alternative of every latitude in
openapi/latitudes.yaml, and all of them at once) on which the tool reports a failure. This suite runs each
conforming variant both without and with --strict: a MUST violation, a failed schemathesis check or an
unexplained failure in either is a false alarm; a SHOULD rule it reports violated (a warning without --strict,
a failure with it) is counted apart, as "SHOULD reported".
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._outcome import why_it_stopped  # noqa: E402
from conformance.model.locations import REFERENCE_DIR  # noqa: E402
from conformance.rules.catalogue import load_catalogue  # noqa: E402
from conformance.rules.docsmap import coverage, load_map, problems, skeleton  # noqa: E402
from conformance.rules.latitudes import load_latitudes  # noqa: E402
from conformance.simulator import FAULTS  # noqa: E402

KEY = "em_sk_detect_write"
CONTRACT = ROOT / "openapi" / "evermuse-ingest-v1.yaml"
PUBLISHED = ROOT.parent / "shared" / "reference" / "ingest-v1.published.yaml"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")}
# As the fault and latitude sweeps run it (tests/test_suite_runs.py): the embedded simulator holds each stage of a
# batch until a read has shown it, so a short lifecycle misses nothing; the timeout is only waited out by a stall.
FAST = ("--lifecycle-timeout", "15", "--simulator-lifecycle", "1")
# Both tools exit 0 when they found nothing and 1 when they found something; any other status means the run
# did not get to the end (this suite: 2 interrupted, 3 internal error, 4 unusable setting, 5 nothing collected,
# 6 could not check; st run: 2 configuration, schema or internal error, 130 interrupted).
COMPLETED = (0, 1)
# A rule test's outcome when the rule was found broken (conformance/rules/verdicts.py).
BROKEN = ("violated", "expired")


@dataclass(frozen=True)
class Variant:
    """One simulator (correct, with one fault, or making other choices), and whether this suite gets --strict."""

    kind: str  # "clean", "fault" or "choices"
    settings: tuple[str, ...] = ()  # the fault's name, or NAME=VALUE choices
    strict: bool = False

    @property
    def label(self) -> str:
        if self.kind == "fault":
            rule = load_catalogue()[FAULTS[self.settings[0]].rule]
            return f"{self.settings[0]} ({rule.id}, {rule.level})"
        if self.kind == "choices" and len(self.settings) > 1:
            return f"all {len(self.settings)} latitudes at once"
        return " ".join(self.settings) or "correct simulator"

    def suite_args(self) -> list[str]:
        option = {"fault": "--simulator-fault", "choices": "--simulator-choice", "clean": ""}[self.kind]
        return [arg for value in self.settings for arg in (option, value)] + (["--strict"] if self.strict else [])

    def simulator_args(self) -> list[str]:
        option = {"fault": "--fault", "choices": "--choice", "clean": ""}[self.kind]
        return [arg for value in self.settings for arg in (option, value)]


@dataclass(frozen=True)
class Result:
    """What one run reported. A run with a `problem` could not run, and nothing else about it counts."""

    must: frozenset[str] = frozenset()  # MUST rules broken, schemathesis or st checks failed, failures unexplained
    should: frozenset[str] = frozenset()  # SHOULD rules reported violated, whether or not that failed the run
    problem: str | None = None

    @property
    def ran(self) -> bool:
        return self.problem is None

    def failures(self, strict: bool) -> frozenset[str]:
        """What failed the run: a SHOULD violation does only under --strict."""
        return (self.must | self.should) if strict else self.must


def could_not_run(problem: str) -> Result:
    return Result(problem=problem)


# --- this suite ---------------------------------------------------------------------------------------------------

def failed(case: ET.Element) -> bool:
    return case.find("failure") is not None or case.find("error") is not None


def named_in_failure(case: ET.Element, properties: list[tuple[str, str]]) -> tuple[set[str], set[str]]:
    """(MUST-level, SHOULD-level) findings a failing test names through its JUnit properties.

    A rule test names its rule and level; a property test each rule it found broken (violated_rule) and each
    schemathesis check that failed (schemathesis_check). A failing test that names none is still a finding."""
    catalogue = load_catalogue()
    values = dict(properties)
    if "rule" in values:
        return ({values["rule"]}, set()) if values.get("level") != "SHOULD" else (set(), {values["rule"]})
    must, should = set(), set()
    for name, value in properties:
        if name == "violated_rule":
            (should if value in catalogue and not catalogue[value].is_must else must).add(value)
        elif name == "schemathesis_check":
            must.add(value)
    if not must and not should:
        must.add(f"unexplained failure of {case.get('name')}")
    return must, should


def read_junit(path: Path, status: int) -> Result:
    try:
        cases = list(ET.parse(path).getroot().iter("testcase"))
    except (OSError, ET.ParseError) as exc:
        return could_not_run(f"exit {status}, and no JUnit file to read ({exc})")
    must: set[str] = set()
    should: set[str] = set()
    failing = 0
    for case in cases:
        properties = [(p.get("name", ""), p.get("value", "")) for p in case.iter("property")]
        values = dict(properties)
        # Without --strict a broken SHOULD rule's test passes with a warning; its outcome still says so.
        if values.get("level") == "SHOULD" and values.get("outcome") in BROKEN:
            should.add(values["rule"])
        if failed(case):
            failing += 1
            named_must, named_should = named_in_failure(case, properties)
            must |= named_must
            should |= named_should
    # The status and the file must tell the same story, or neither can be trusted.
    if status == 0 and failing:
        return could_not_run(f"exit 0, yet the JUnit file shows {failing} failing tests")
    if status == 1 and not failing:
        return could_not_run("exit 1, yet the JUnit file shows no failing test")
    return Result(frozenset(must), frozenset(should))


def suite(variant: Variant, extra: list[str], timeout: float) -> Result:
    with tempfile.TemporaryDirectory() as scratch:
        junit = Path(scratch) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                   f"--junitxml={junit}", *FAST, *variant.suite_args(), *extra]
        try:
            done = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return could_not_run(f"timed out after {timeout:g} s")
        if done.returncode < 0:
            return could_not_run(f"killed by signal {-done.returncode}")
        if done.returncode not in COMPLETED:
            return could_not_run(f"exit {done.returncode}: {why_it_stopped(done.stdout + done.stderr)}")
        return read_junit(junit, done.returncode)


# --- st run -------------------------------------------------------------------------------------------------------

def read_st_report(path: Path, status: int) -> Result:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return could_not_run(f"exit {status}, and no JSON report to read ({exc})")
    # An uncaught exception also exits 1; the report then says the engine never finished.
    if not data.get("complete") or data.get("exit_code") != status:
        return could_not_run(f"exit {status}, and the report says the run stopped: {data.get('stop_reason')}")
    found = {f"{failure['code']} {operation}" for failure in data["failures"] for operation in failure["operations"]}
    found |= {f"error: {error['title']}" for error in data["errors"]}
    if status == 1 and not found:
        found.add(f"exit 1 without a failure: warnings {', '.join(data.get('warnings') or []) or 'none'}")
    return Result(must=frozenset(found))


def st_run(spec: Path, variant: Variant, examples: int, timeout: float) -> Result:
    command = [sys.executable, "-m", "conformance.simulator", "--port", "0", "--api-key", KEY]
    simulator = subprocess.Popen(command + variant.simulator_args(), stdout=subprocess.PIPE, text=True, env=ENV,
                                 cwd=ROOT)
    try:
        started = simulator.stdout.readline()  # type: ignore[union-attr]
        if " on " not in started:
            return could_not_run(f"the simulator did not start: {started.strip() or 'no output'}")
        url = started.split(" on ")[1].strip()
        st = str(Path(sys.executable).with_name("st"))
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "st.json"
            try:
                done = subprocess.run(
                    [st, "run", str(spec), "--url", url, "-H", f"x-api-key: {KEY}", "--checks", "all",
                     "--max-examples", str(examples), "--request-timeout", "2", "--seed", "1",
                     "--generation-database", "none", "--report", "json", "--report-json-path", str(report)],
                    cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return could_not_run(f"timed out after {timeout:g} s")
            if done.returncode not in COMPLETED:
                return could_not_run(f"exit {done.returncode}: {why_it_stopped(done.stdout + done.stderr)}")
            return read_st_report(report, done.returncode)
    finally:
        simulator.terminate()
        simulator.wait(10)


# --- the sweep ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tool:
    name: str
    run: Callable[[Variant], Result]
    knows_strict: bool  # only this suite has a --strict: it runs the conforming variants both ways


def fault_variant(name: str) -> Variant:
    return Variant("fault", (name,), strict=not load_catalogue()[FAULTS[name].rule].is_must)


def variants_for(tool: Tool, faults: list[str], conforming: list[Variant], clean_runs: int) -> list[Variant]:
    modes = (False, True) if tool.knows_strict else (False,)
    clean = [Variant("clean", strict=strict) for strict in modes for _ in range(clean_runs)]
    faulty = [fault_variant(name) if tool.knows_strict else Variant("fault", (name,)) for name in faults]
    return [*clean, *faulty, *(Variant(v.kind, v.settings, strict) for v in conforming for strict in modes)]


Results = dict[str, dict[Variant, list[Result]]]


def sweep(tools: list[Tool], faults: list[str], conforming: list[Variant], clean_runs: int, workers: int) -> Results:
    results: Results = {tool.name: {} for tool in tools}
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = [(tool.name, variant, pool.submit(tool.run, variant))
                   for tool in tools for variant in variants_for(tool, faults, conforming, clean_runs)]
        for name, variant, future in futures:
            results[name].setdefault(variant, []).append(future.result())
    return results


def baseline(runs: dict[Variant, list[Result]], strict: bool) -> frozenset[str]:
    """Whatever any clean run reports against the correct server counts as that tool's noise."""
    return frozenset().union(*(r.failures(strict) for r in runs.get(Variant("clean", strict=strict), []) if r.ran))


def runs_of(runs: dict[Variant, list[Result]], kind: str, settings: tuple[str, ...]) -> list[tuple[Variant, Result]]:
    """Every run of one simulator, with and without --strict."""
    return [(v, r) for v, rs in runs.items() if v.kind == kind and v.settings == settings for r in rs]


def clean_cell(runs: dict[Variant, list[Result]], strict: bool) -> str:
    not_run = sum(not r.ran for r in runs.get(Variant("clean", strict=strict), []))
    return f"{len(baseline(runs, strict))} failures" + (f", {not_run} could not run" if not_run else "")


def fault_cell(runs: dict[Variant, list[Result]], fault: str) -> str:
    ((variant, result),) = runs_of(runs, "fault", (fault,))
    if not result.ran:
        return "could not run"
    return "caught" if result.failures(variant.strict) - baseline(runs, variant.strict) else "missed"


def conforming_cell(runs: dict[Variant, list[Result]], variant: Variant) -> str:
    """What the runs with and without --strict found; a false alarm in one stands even when the other could not run."""
    results = [r for _, r in runs_of(runs, variant.kind, variant.settings)]
    should = frozenset().union(*(r.should for r in results if r.ran))
    found = ""
    if any(r.must for r in results if r.ran):
        found = "FALSE ALARM"
    elif should:
        found = f"SHOULD reported ({len(should)})"
    if not all(r.ran for r in results):
        return f"{found}, could not run" if found else "could not run"
    return found or "clean"


WIDTH = 28


def print_row(label: str, cells: list[str]) -> None:
    print(f"{label:46} " + " ".join(f"{cell:>{WIDTH}}" for cell in cells))


def print_table(tools: list[Tool], results: Results, faults: list[str], conforming: list[Variant],
                clean_runs: int) -> None:
    print_row("variant", [tool.name for tool in tools])
    print_row(f"(none: {clean_runs} runs, correct server)", [clean_cell(results[t.name], False) for t in tools])
    print_row(f"(none: {clean_runs} runs, correct server, --strict)",
              [clean_cell(results[t.name], True) if t.knows_strict else "" for t in tools])
    for name in faults:
        variant = fault_variant(name)
        print_row(variant.label + (" --strict" if variant.strict else ""),
                  [fault_cell(results[t.name], name) for t in tools])
    for variant in conforming:
        print_row(variant.label, [conforming_cell(results[t.name], variant) for t in tools])


def print_summary(tools: list[Tool], results: Results, faults: list[str], conforming: list[Variant]) -> int:
    """The totals, then the details behind them; returns how many runs could not run."""

    def conforming_results(tool: Tool) -> list[list[Result]]:
        return [[r for _, r in runs_of(results[tool.name], v.kind, v.settings) if r.ran] for v in conforming]

    def not_run(tool: Tool) -> list[tuple[Variant, Result]]:
        return [(v, r) for v, rs in results[tool.name].items() for r in rs if not r.ran]

    caught = {t.name: sum(fault_cell(results[t.name], f) == "caught" for f in faults) for t in tools}
    alarms = {t.name: sum(any(r.must for r in rs) for rs in conforming_results(t)) for t in tools}
    should = {t.name: sum(any(r.should for r in rs) for rs in conforming_results(t)) for t in tools}
    runs = {t.name: sum(len(rs) for rs in results[t.name].values()) for t in tools}
    print_row("faults caught", [f"{caught[t.name]} of {len(faults)}" for t in tools])
    print_row("false alarms (MUST or schemathesis)", [f"{alarms[t.name]} of {len(conforming)}" for t in tools])
    print_row("SHOULD reported, conforming variants",
              [f"{should[t.name]} of {len(conforming)}" if t.knows_strict else "n/a" for t in tools])
    print_row("could not run", [f"{len(not_run(t))} of {runs[t.name]} runs" for t in tools])
    for tool in tools:
        for strict in (False, True):
            noise = baseline(results[tool.name], strict)
            if noise:
                print(f"{tool.name} against a correct server{', --strict' if strict else ''}: "
                      f"{', '.join(sorted(noise))}")
        for variant, result in ((v, r) for v, rs in results[tool.name].items() if v.kind == "choices" for r in rs):
            if result.ran and (result.must or result.should):
                found = [*sorted(result.must), *(f"SHOULD {rule}" for rule in sorted(result.should))]
                print(f"{tool.name} on {variant.label}{' --strict' if variant.strict else ''}: {', '.join(found)}")
        for variant, result in not_run(tool):
            print(f"could not run: {tool.name} on {variant.label}{' --strict' if variant.strict else ''}: "
                  f"{result.problem}")
    return sum(len(not_run(tool)) for tool in tools)


def print_docs_coverage() -> None:
    """Detection says how well the rules catch what they check; the docs map says how much of the docs they check."""
    entries, catalogue = load_map(), load_catalogue()
    print()
    print("\n".join(coverage(entries, catalogue).lines()))
    statements = skeleton() if REFERENCE_DIR.is_dir() else None
    for problem in problems(entries, statements, catalogue):
        print(f"  PROBLEM: {problem}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=30, help="st run --max-examples (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="runs at the same time (default 2)")
    parser.add_argument("--fault", action="append", choices=sorted(FAULTS), metavar="NAME",
                        help="only this fault (repeatable; default: every fault, unless --choice is given)")
    parser.add_argument("--choice", action="append", metavar="NAME=VALUE",
                        help="only this latitude alternative (repeatable; default: every other alternative and all "
                             "of them at once, unless --fault is given)")
    parser.add_argument("--no-latitudes", action="store_true", help="leave out the false-alarm sweep")
    parser.add_argument("--clean-runs", type=int, default=3, help="runs against the correct simulator (default 3)")
    parser.add_argument("--no-st", action="store_true", help="leave out the st run tools")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one run may take (default 300)")
    parser.add_argument("--suite-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for every run of this suite, e.g. --suite-arg=--seed=1")
    args = parser.parse_args(argv)
    alternatives = {f"{lat.name}={value}" for lat in load_latitudes().values() for value in lat.values[1:]}
    for choice in args.choice or []:
        if choice not in alternatives:
            parser.error(f"--choice {choice}: not an alternative of a latitude; "
                         "python -m conformance.simulator --list-choices shows them (a default is no alternative)")
    if args.clean_runs < 1:
        parser.error("--clean-runs: at least 1, or nothing tells a fault's failures from the tool's noise")
    return args


def selected(args: argparse.Namespace) -> tuple[list[str], list[Variant]]:
    """The faults and conforming variants to run: those named, or all of them when neither kind is named."""
    latitudes = load_latitudes().values()
    named = bool(args.fault or args.choice)
    faults = list(dict.fromkeys(args.fault or ([] if named else sorted(FAULTS))))
    if args.no_latitudes:
        return faults, []
    if named:
        return faults, [Variant("choices", (choice,)) for choice in dict.fromkeys(args.choice or [])]
    each = [Variant("choices", (f"{lat.name}={value}",)) for lat in latitudes for value in lat.values[1:]]
    at_once = Variant("choices", tuple(f"{lat.name}={lat.values[1]}" for lat in latitudes))
    return faults, [*each, at_once]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    faults, conforming = selected(args)
    tools = [Tool("this suite", lambda v: suite(v, args.suite_arg, args.timeout), knows_strict=True)]
    if not args.no_st:
        tools.append(Tool(f"st run, contract, {args.examples} ex.",
                          lambda v: st_run(CONTRACT, v, args.examples, args.timeout), knows_strict=False))
        if PUBLISHED.exists():
            tools.append(Tool(f"st run, published, {args.examples} ex.",
                              lambda v: st_run(PUBLISHED, v, args.examples, args.timeout), knows_strict=False))
    started = time.perf_counter()
    results = sweep(tools, faults, conforming, args.clean_runs, args.workers)
    print_table(tools, results, faults, conforming, args.clean_runs)
    not_run = print_summary(tools, results, faults, conforming)
    print_docs_coverage()
    print(f"command: {shlex.join(['python', 'bench/detection.py', *argv])}"
          f"   ({time.perf_counter() - started:.0f} s, {os.cpu_count()} cores)")
    if not_run:
        print(f"{not_run} runs could not run: the figures above leave them out, so they are incomplete")
        sys.exit(1)


if __name__ == "__main__":
    main()
