"""How many simulator faults each tool catches, and how often it cries wolf at a conforming server.

Tools: this suite (`pytest conformance --simulator-fault F`), plain `st run --checks all` with this
project's contract, and plain `st run --checks all` with the published document when ../shared holds it.

Caught: a tool catches a fault when it reports a failure it does not report against the correct
simulator (default choices, three runs): for this suite a failing test, for st run a (check code,
operation) pair from its JSON report. So a tool that raises false alarms on a correct server is credited
only with what it adds to them. SHOULD-level faults are given --strict in this suite, since without it
they are reported but do not fail the run.

False alarms: the conforming variants (the simulator with its default choices, and with each other
alternative of every latitude in openapi/latitudes.yaml) on which the tool reports any failure at all.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance.rules.catalogue import load_catalogue  # noqa: E402
from conformance.rules.latitudes import load_latitudes  # noqa: E402
from conformance.simulator import FAULTS  # noqa: E402

KEY = "em_sk_detect_write"
CONTRACT = ROOT / "openapi" / "evermuse-ingest-v1.yaml"
PUBLISHED = ROOT.parent / "shared" / "reference" / "ingest-v1.published.yaml"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")}


Signature = frozenset[str]


CLEAN_RUNS = 3


# A variant of the simulator: ("fault", name), ("choice", "name=value"), or ("clean", "").
Variant = tuple[str, str]
CLEAN: Variant = ("clean", "")


def suite(variant: Variant) -> Signature:
    kind, name = variant
    extra = {"fault": ["--simulator-fault", name], "choice": ["--simulator-choice", name], "clean": []}[kind]
    if kind == "fault" and not load_catalogue()[FAULTS[name].rule].is_must:
        extra.append("--strict")
    command = [sys.executable, "-m", "pytest", "conformance", "-q", "-rf", "-p", "no:cacheprovider",
               "--lifecycle-timeout", "4", "--request-timeout", "2", "--simulator-lifecycle", "2", *extra]
    out = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True).stdout
    return frozenset(re.findall(r"^FAILED (\S+)", out, flags=re.MULTILINE))


def st_run(spec: Path, variant: Variant, examples: int) -> Signature:
    command = [sys.executable, "-m", "conformance.simulator", "--port", "0", "--api-key", KEY]
    kind, name = variant
    extra = {"fault": ["--fault", name], "choice": ["--choice", name], "clean": []}[kind]
    simulator = subprocess.Popen(command + extra, stdout=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    try:
        url = simulator.stdout.readline().split(" on ")[1].strip()  # type: ignore[union-attr]
        st = str(Path(sys.executable).with_name("st"))
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "st.json"
            subprocess.run([st, "run", str(spec), "--url", url, "-H", f"x-api-key: {KEY}", "--checks", "all",
                            "--max-examples", str(examples), "--request-timeout", "2", "--seed", "1",
                            "--generation-database", "none", "--report", "json", "--report-json-path", str(report)],
                           cwd=ROOT, env=ENV, capture_output=True)
            data = json.loads(report.read_text())
        found = {f"{failure['code']} {operation}"
                 for failure in data["failures"] for operation in failure["operations"]}
        return frozenset(found | {f"error: {error['title']}" for error in data["errors"]})
    finally:
        simulator.terminate()
        simulator.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=30, help="st run --max-examples (default 30)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fault", action="append", help="only these faults (default: all)")
    parser.add_argument("--no-latitudes", action="store_true", help="leave out the false-alarm sweep")
    args = parser.parse_args()
    faults = [("fault", name) for name in (args.fault or sorted(FAULTS))]
    choices = [] if args.no_latitudes else [("choice", f"{latitude.name}={value}")
                                            for latitude in load_latitudes().values() for value in latitude.values[1:]]
    tools = {"this suite": suite,
             f"st run, contract, {args.examples} ex.": lambda v: st_run(CONTRACT, v, args.examples)}
    if PUBLISHED.exists():
        tools[f"st run, published, {args.examples} ex."] = lambda v: st_run(PUBLISHED, v, args.examples)
    started = time.perf_counter()
    variants: list[Variant] = [*([CLEAN] * CLEAN_RUNS), *faults, *choices]
    results: dict[tuple[str, Variant], Signature] = {}
    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        futures = [((name, variant), pool.submit(tools[name], variant)) for name in tools for variant in variants]
        for key, future in futures:
            # Whatever any clean run reports against the correct server counts as that tool's noise.
            results[key] = results.get(key, frozenset()) | future.result()

    def caught(name: str, fault: Variant) -> bool:
        return bool(results[(name, fault)] - results[(name, CLEAN)])

    conforming = [CLEAN, *choices]
    width = 28
    print(f"{'variant':46} " + " ".join(f"{name:>{width}}" for name in tools))
    print(f"{f'(none: {CLEAN_RUNS} runs, correct server)':46} "
          + " ".join(f"{f'{len(results[(name, CLEAN)])} failures':>{width}}" for name in tools))
    for fault in faults:
        cells = " ".join(f"{'caught' if caught(name, fault) else 'missed':>{width}}" for name in tools)
        print(f"{fault[1] + ' (' + FAULTS[fault[1]].rule + ')':46} {cells}")
    for choice in choices:
        cells = " ".join(f"{'FALSE ALARM' if results[(name, choice)] else 'clean':>{width}}" for name in tools)
        print(f"{choice[1]:46} {cells}")
    print(f"{'faults caught':46} " + " ".join(
        f"{f'{sum(caught(name, f) for f in faults)} of {len(faults)}':>{width}}" for name in tools))
    print(f"{'false alarms, conforming variants':46} " + " ".join(
        f"{f'{sum(bool(results[(name, v)]) for v in conforming)} of {len(conforming)}':>{width}}" for name in tools))
    for name in tools:
        if results[(name, CLEAN)]:
            print(f"{name} against a correct server: {', '.join(sorted(results[(name, CLEAN)]))}")
    print(f"command: python bench/detection.py --examples {args.examples} --workers {args.workers}"
          f"   ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
