"""The default conformance run beside plain `st run`, against the same simulator, in one invocation.

For each tool: wall time and the requests the simulator received (its own count, not the tool's).
Also the default run as the README's first command starts it, with its embedded simulator.

A time is a figure only for a run that completed, so the script exits 1, naming the run, when one did not:
`pytest conformance` must exit 0 against the correct simulator (1 would be a false alarm, any other status a
run that could not check), and `st run` must exit 0 or 1. st exits 1 when it reports a failure, having run to
the end; 2 (a configuration, schema or internal error), 130 (interrupted), a signal or a timeout mean it did not.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._outcome import why_it_stopped  # noqa: E402
from conformance.simulator import SimulatorServer, make_settings  # noqa: E402

KEYS = {"EVERMUSE_API_KEY": "em_sk_bench_write", "EVERMUSE_READ_API_KEY": "em_sk_bench_read",
        "EVERMUSE_OTHER_API_KEY": "em_sk_bench_other"}
CONTRACT = ROOT / "openapi" / "evermuse-ingest-v1.yaml"
SUITE_COMPLETED = (0,)
ST_COMPLETED = (0, 1)
EMBEDDED = "pytest conformance (embedded simulator)"


@dataclass(frozen=True)
class Run:
    seconds: float
    requests: int  # as the simulator counted them; -1 when it runs inside the tool
    status: int | None  # None: timed out
    last_words: str = ""  # the line that says why, for a run that did not complete


@dataclass(frozen=True)
class Tool:
    command: list[str]
    env: dict[str, str]
    completed: tuple[int, ...]  # the exit statuses of a run that got to the end


def timed(tool: Tool, timeout: float) -> tuple[float, int | None, str]:
    """Wall time, exit status (None: timed out) and, for a run that did not complete, why."""
    started = time.perf_counter()
    try:
        done = subprocess.run(tool.command, cwd=ROOT, env=tool.env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, None, ""
    why = "" if done.returncode in tool.completed else why_it_stopped(done.stdout + done.stderr)
    return time.perf_counter() - started, done.returncode, why


Rows = dict[str, list[Run]]


def against_one_simulator(args: argparse.Namespace, base_env: dict[str, str]) -> tuple[dict[str, Tool], Rows]:
    """Both tools, in turn, against one simulator that counts what each sent."""
    settings = make_settings(write_key=KEYS["EVERMUSE_API_KEY"], read_key=KEYS["EVERMUSE_READ_API_KEY"],
                             other_key=KEYS["EVERMUSE_OTHER_API_KEY"])
    st = str(Path(sys.executable).with_name("st"))
    rows: Rows = {}
    with SimulatorServer(settings) as server:
        tools = {
            "pytest conformance --base-url SIM": Tool(
                [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                 "--base-url", server.base_url, *args.suite_arg], {**base_env, **KEYS}, SUITE_COMPLETED),
            "st run CONTRACT --checks all": Tool(
                [st, *(["--config-file", args.st_config] if args.st_config else []), "run", str(CONTRACT),
                 "--url", server.base_url, "-H", f"x-api-key: {KEYS['EVERMUSE_API_KEY']}", "--checks", "all",
                 *args.st_arg], base_env, ST_COMPLETED),
        }
        for _ in range(args.repeat):
            for name, tool in tools.items():
                before = len(server.simulator.requests)
                seconds, status, why = timed(tool, args.timeout)
                rows.setdefault(name, []).append(Run(seconds, len(server.simulator.requests) - before, status, why))
    return tools, rows


def embedded(args: argparse.Namespace, base_env: dict[str, str]) -> tuple[Tool, list[Run]]:
    """The README's first command: the suite with its own simulator, whose requests nobody outside counts."""
    tool = Tool([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider", *args.suite_arg],
                base_env, SUITE_COMPLETED)
    runs = []
    for _ in range(args.repeat):
        seconds, status, why = timed(tool, args.timeout)
        runs.append(Run(seconds, -1, status, why))
    return tool, runs


def incomplete(name: str, tool: Tool, runs: list[Run], timeout: float) -> list[str]:
    """A sentence for each run of one tool that did not get to the end."""
    expected = " or ".join(map(str, tool.completed))
    return [f"{name}, run {number} of {len(runs)}: "
            + (f"timed out after {timeout:g} s" if run.status is None
               else f"exit {run.status}, not {expected}: {run.last_words}")
            for number, run in enumerate(runs, start=1) if run.status not in tool.completed]


def print_table(rows: Rows) -> None:
    print(f"{'tool':42} {'median s':>9} {'min s':>7} {'max s':>7} {'requests':>9}  exit")
    for name, runs in rows.items():
        times = [r.seconds for r in runs]
        requests = "/".join(str(r.requests) for r in runs) if runs[0].requests >= 0 else "n/a"
        statuses = "/".join("timeout" if r.status is None else str(r.status) for r in runs)
        print(f"{name:42} {statistics.median(times):9.1f} {min(times):7.1f} {max(times):7.1f} {requests:>9}  "
              f"{statuses}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (default 3)")
    parser.add_argument("--no-embedded", action="store_true", help="leave out the run with the embedded simulator")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one run may take (default 600)")
    parser.add_argument("--suite-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for every pytest conformance run, e.g. --suite-arg=--seed=1")
    parser.add_argument("--st-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for every st run, e.g. --st-arg=--max-examples=5")
    parser.add_argument("--st-config", metavar="FILE",
                        help="st --config-file FILE: a schemathesis.toml (default: the one st finds, if any)")
    args = parser.parse_args(argv)
    # Both tools as a user runs them: bytecode cached (a shell may forbid writing it), no EVERMUSE_* leaking in.
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith("EVERMUSE_") and k != "PYTHONDONTWRITEBYTECODE"}
    tools, rows = against_one_simulator(args, base_env)
    if not args.no_embedded:
        tools[EMBEDDED], rows[EMBEDDED] = embedded(args, base_env)
    print_table(rows)
    suite, st = ([r.seconds for r in rows[name]] for name in ("pytest conformance --base-url SIM",
                                                               "st run CONTRACT --checks all"))
    print(f"the default run takes {statistics.median(suite) / statistics.median(st):.2f} of st run's wall time")
    print(f"command: {shlex.join(['python', 'bench/run_vs_st.py', *argv])}   ({os.cpu_count()} cores)")
    failures = [sentence for name, runs in rows.items()
                for sentence in incomplete(name, tools[name], runs, args.timeout)]
    for sentence in failures:
        print(f"did not complete: {sentence}")
    if failures:
        sys.exit(f"{len(failures)} runs did not complete: their times are no figures")


if __name__ == "__main__":
    main()
