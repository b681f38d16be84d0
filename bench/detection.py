"""How many simulator faults each tool catches, and what it reports against a correct simulator.

Tools: this suite (`pytest conformance --simulator-fault F`), plain `st run --checks all` with this
project's contract, and plain `st run --checks all` with the published document when ../shared holds it.
A tool catches a fault when it reports a failure it does not report against the correct simulator: for
this suite a failing test, for st run a (check code, operation) pair from its JSON report. So a tool
that raises false alarms on a correct server is credited only with what it adds to them. SHOULD-level
faults are given --strict in this suite, since without it they are reported but do not fail the run.
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

from conformance.catalogue import load_catalogue  # noqa: E402
from conformance.simulator import FAULTS  # noqa: E402

KEY = "em_sk_detect_write"
CONTRACT = ROOT / "openapi" / "evermuse-ingest-v1.yaml"
PUBLISHED = ROOT.parent / "shared" / "reference" / "ingest-v1.published.yaml"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")}


Signature = frozenset[str]


CLEAN_RUNS = 3


def suite(fault: str | None) -> Signature:
    extra = [] if fault is None else ["--simulator-fault", fault]
    if fault is not None and not load_catalogue()[FAULTS[fault].rule].is_must:
        extra.append("--strict")
    command = [sys.executable, "-m", "pytest", "conformance", "-q", "-rf", "-p", "no:cacheprovider",
               "--lifecycle-timeout", "4", "--request-timeout", "2", *extra]
    out = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True).stdout
    return frozenset(re.findall(r"^FAILED (\S+)", out, flags=re.MULTILINE))


def st_run(spec: Path, fault: str | None, examples: int) -> Signature:
    command = [sys.executable, "-m", "conformance.simulator", "--port", "0", "--api-key", KEY]
    simulator = subprocess.Popen(command + ([] if fault is None else ["--fault", fault]), stdout=subprocess.PIPE,
                                 text=True, env=ENV, cwd=ROOT)
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
    args = parser.parse_args()
    faults = args.fault or sorted(FAULTS)
    tools = {"this suite": suite,
             f"st run, contract, {args.examples} ex.": lambda f: st_run(CONTRACT, f, args.examples)}
    if PUBLISHED.exists():
        tools[f"st run, published, {args.examples} ex."] = lambda f: st_run(PUBLISHED, f, args.examples)
    started = time.perf_counter()
    jobs = [(name, fault) for name in tools for fault in [*([None] * CLEAN_RUNS), *faults]]
    results: dict[tuple[str, str | None], Signature] = {}
    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        futures = [(key, pool.submit(tools[key[0]], key[1])) for key in jobs]
        for key, future in futures:
            # Whatever any clean run reports against the correct server counts as that tool's noise.
            results[key] = results.get(key, frozenset()) | future.result()

    def caught(name: str, fault: str) -> bool:
        return bool(results[(name, fault)] - results[(name, None)])

    print(f"{'fault':36} {'rule':14} " + " ".join(f"{name:>28}" for name in tools))
    clean = " ".join(f"{f'{len(results[(name, None)])} failures':>28}" for name in tools)
    print(f"{f'(none: {CLEAN_RUNS} runs, correct server)':36} {'':14} {clean}")
    for fault in faults:
        cells = " ".join(f"{'caught' if caught(name, fault) else 'missed':>28}" for name in tools)
        print(f"{fault:36} {FAULTS[fault].rule:14} {cells}")
    print(f"{'caught':51} " + " ".join(
        f"{sum(caught(name, f) for f in faults):>21} of {len(faults):<3}" for name in tools))
    for name in tools:
        if results[(name, None)]:
            print(f"{name} against a correct server: {', '.join(sorted(results[(name, None)]))}")
    print(f"command: python bench/detection.py --examples {args.examples} --workers {args.workers}"
          f"   ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
