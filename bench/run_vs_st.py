"""The default conformance run beside plain `st run`, as users run both, in one invocation.

The anchor is plain `st run --max-examples 30` on the published OpenAPI document, against the same separately
started simulator (batches end in about --lifecycle seconds) as `pytest conformance --base-url SIM`, in
alternating rounds; beside it, the same st run on the contract. st stops fuzzing an operation at its first
failure, and the published document's defects (statuses it does not document) give it some at once, so on that
document it sends a few hundred requests; on the contract, which the simulator meets, it explores to the end, as
it would against an API that meets its document. Each mode is measured twice over:
- without bytecode (PYTHONDONTWRITEBYTECODE=1, as in many CI containers): nothing is cached between runs but
  the bytecode pip compiled at install time;
- with bytecode: each tool writes and reads its bytecode in a private cache (PYTHONPYCACHEPREFIX) that one
  untimed warm-up run fills first, as on a developer's machine.
Also `pytest conformance --collect-only`, and the README's first command with its embedded simulator. With
--installed VENV (a virtual environment the wheel was installed into, outside the checkout), also the suite as
its users run it from there, in a folder of its own: `evermuse-conformance --base-url SIM`, and
`pytest --pyargs conformance --base-url SIM`, which loads the plugins in the order the environment lists them.

For each run: wall time and the requests the simulator received (its own count, not the tool's). For the
suite, each phase, from a bench-only pytest plugin (bench/_phases.py): from the process start to the first
request the simulator saw, startup (to the session's start), collection, property tests, the wait for the
campaign, and the rule tests with the exit.

A time is a figure only for a run that completed, so the script exits 1, naming the run, when one did not:
`pytest conformance` must exit 0 against the correct simulator (1 would be a false alarm, any other status a
run that could not check), and `st run` must exit 0 or 1. st exits 1 when it reports a failure, having run to
the end; 2 (a configuration, schema or internal error), 130 (interrupted), a signal or a timeout mean it did not.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._outcome import why_it_stopped  # noqa: E402
from conformance.simulator import SimulatorServer, make_settings  # noqa: E402

KEYS = {"EVERMUSE_API_KEY": "em_sk_bench_write", "EVERMUSE_READ_API_KEY": "em_sk_bench_read",
        "EVERMUSE_OTHER_API_KEY": "em_sk_bench_other"}
PUBLISHED = ROOT.parent / "shared" / "reference" / "ingest-v1.published.yaml"
SUITE_COMPLETED = (0,)
ST_COMPLETED = (0, 1)
SUITE = "pytest conformance --base-url SIM"
ST = "st run PUBLISHED --max-examples 30"
# st stops fuzzing an operation at its first failure, and the published document's defects give it some at once;
# on the contract, which the simulator meets, it explores to the end: the anchor for a conforming API.
ST_CONTRACT = "st run CONTRACT --max-examples 30"
CONTRACT = ROOT / "openapi" / "evermuse-ingest-v1.yaml"
COLLECT = "pytest conformance --collect-only"
PAIRED = (SUITE, ST, ST_CONTRACT)  # run in turn, each round
EMBEDDED = "pytest conformance (embedded simulator)"
INSTALLED_CONSOLE = "evermuse-conformance --base-url SIM (wheel)"
INSTALLED_PYTEST = "pytest --pyargs conformance --base-url SIM (wheel)"
# Phase name, and the marks of bench/_phases.py (or "spawned", "first request") it runs between.
PHASES = [
    ("to first request", "spawned", "first request"),
    ("startup", "spawned", "session_started"),
    ("collection", "session_started", "collected"),
    ("property tests", "collected", "property_tests_done"),
    ("wait", "property_tests_done", "rule_tests_started"),
    ("rules + exit", "rule_tests_started", "exited"),
]


@dataclass(frozen=True)
class Run:
    seconds: float
    requests: int  # as the simulator counted them; -1 when it runs inside the tool
    status: int | None  # None: timed out
    last_words: str = ""  # the line that says why, for a run that did not complete
    marks: dict[str, float] = field(default_factory=dict)  # when each phase ended (time.time())


@dataclass(frozen=True)
class Tool:
    command: list[str]
    completed: tuple[int, ...]  # the exit statuses of a run that got to the end
    env: dict[str, str] = field(default_factory=dict)  # beyond the mode's environment
    cwd: Path | None = None  # where it runs: the checkout unless it is the installed wheel's


def timed(tool: Tool, env: dict[str, str], timeout: float, received_at: list[float] | None) -> Run:
    """One run: wall time, requests and the first one's time (from the simulator's log), phases, exit status."""
    before = len(received_at) if received_at is not None else 0
    with tempfile.TemporaryDirectory(prefix="evermuse-bench-") as scratch:
        phases_file = Path(scratch) / "phases.json"
        env = {**env, **tool.env, "EVERMUSE_BENCH_PHASES": str(phases_file)}
        spawned = time.time()
        started = time.perf_counter()
        try:
            done = subprocess.run(tool.command, cwd=tool.cwd or ROOT, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return Run(time.perf_counter() - started, -1, None)
        seconds = time.perf_counter() - started
        marks = json.loads(phases_file.read_text()) if phases_file.exists() else {}
    marks.update(spawned=spawned, exited=spawned + seconds)
    requests = -1
    if received_at is not None:
        requests = len(received_at) - before
        if requests:
            marks["first request"] = received_at[before]
    why = "" if done.returncode in tool.completed else why_it_stopped(done.stdout + done.stderr)
    return Run(seconds, requests, done.returncode, why, marks)


Rows = dict[str, list[Run]]


@dataclass
class Mode:
    """How bytecode is treated: the environment of every run, and whether one warm-up run comes first."""
    name: str
    env: dict[str, str]
    warm_up: bool


def rewritten_bytecode_places(installed: Path | None = None) -> list[Path]:
    """Where pytest's rewritten bytecode of what a suite run imports would lie: site-packages and the checkout."""
    import schemathesis

    return [Path(schemathesis.__file__).parent.parent, ROOT / "conformance", ROOT / "bench",
            *([installed / "lib"] if installed else [])]


def rewritten_bytecode(installed: Path | None = None) -> list[Path]:
    """pytest's rewritten bytecode beside the sources a suite run imports: a run without bytecode would read it,
    which a user's fresh container does not have (pytest writes it only where bytecode may be written)."""
    return [pyc for place in rewritten_bytecode_places(installed) for pyc in place.rglob("*-pytest-*.pyc")]


def modes(which: str, base_env: dict[str, str], cache: str) -> list[Mode]:
    without = Mode("without bytecode", {**base_env, "PYTHONDONTWRITEBYTECODE": "1"}, warm_up=False)
    with_ = Mode("with bytecode", {**base_env, "PYTHONPYCACHEPREFIX": cache}, warm_up=True)
    return {"without": [without], "with": [with_], "both": [without, with_]}[which]


def tools_for(args: argparse.Namespace, base_url: str) -> dict[str, Tool]:
    st = str(Path(sys.executable).with_name("st"))
    suite = [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider", "-p", "bench._phases"]

    def st_on(document: Path) -> Tool:
        return Tool([st, *(["--config-file", args.st_config] if args.st_config else []), "run", str(document),
                     "--url", base_url, "-H", f"x-api-key: {KEYS['EVERMUSE_API_KEY']}", "--max-examples", "30",
                     *args.st_arg], ST_COMPLETED)

    installed = {}
    if args.installed:
        # A folder of its own, outside the checkout: no rootdir, ini or conftest of the project's.
        elsewhere = Path(tempfile.mkdtemp(prefix="evermuse-bench-installed-"))
        common = ["-q", "-p", "no:cacheprovider", "--base-url", base_url, *args.suite_arg]
        installed = {
            INSTALLED_CONSOLE: Tool([str(args.installed / "bin" / "evermuse-conformance"), *common], SUITE_COMPLETED,
                                    KEYS, elsewhere),
            INSTALLED_PYTEST: Tool([str(args.installed / "bin" / "pytest"), "--pyargs", "conformance", *common],
                                   SUITE_COMPLETED, KEYS, elsewhere),
        }
    return {
        **installed,
        SUITE: Tool([*suite, "--base-url", base_url, *args.suite_arg], SUITE_COMPLETED, KEYS),
        ST: st_on(args.published),
        ST_CONTRACT: st_on(CONTRACT),
        COLLECT: Tool([*suite, "--collect-only", "--base-url", base_url, *args.suite_arg], SUITE_COMPLETED, KEYS),
        EMBEDDED: Tool([*suite, *args.suite_arg], SUITE_COMPLETED),
    }


def measure(args: argparse.Namespace, mode: Mode, progress: Callable[[str], None]) -> tuple[dict[str, Tool], Rows]:
    """Every tool of one mode: suite and st in alternating pairs against one simulator, then the others."""
    settings = make_settings(write_key=KEYS["EVERMUSE_API_KEY"], read_key=KEYS["EVERMUSE_READ_API_KEY"],
                             other_key=KEYS["EVERMUSE_OTHER_API_KEY"], lifecycle_seconds=args.lifecycle)
    rows: Rows = {}
    with SimulatorServer(settings) as server:
        tools = tools_for(args, server.base_url)
        if args.no_embedded:
            del tools[EMBEDDED]
        log = server.simulator.received_at
        if mode.warm_up:
            for name, tool in tools.items():
                progress(f"{mode.name}: warm-up run of {name}")
                timed(tool, mode.env, args.timeout, log)
        for number in range(1, args.repeat + 1):
            for name in PAIRED:
                progress(f"{mode.name}: {name}, run {number}")
                rows.setdefault(name, []).append(timed(tools[name], mode.env, args.timeout, log))
        for name in [name for name in tools if name not in PAIRED]:
            for number in range(1, args.repeat + 1):
                progress(f"{mode.name}: {name}, run {number}")
                rows.setdefault(name, []).append(
                    timed(tools[name], mode.env, args.timeout, None if name == EMBEDDED else log))
    return tools, rows


def incomplete(name: str, tool: Tool, runs: list[Run], timeout: float) -> list[str]:
    """A sentence for each run of one tool that did not get to the end."""
    expected = " or ".join(map(str, tool.completed))
    return [f"{name}, run {number} of {len(runs)}: "
            + (f"timed out after {timeout:g} s" if run.status is None
               else f"exit {run.status}, not {expected}: {run.last_words}")
            for number, run in enumerate(runs, start=1) if run.status not in tool.completed]


def phase_seconds(run: Run, start: str, end: str) -> float | None:
    if start not in run.marks or end not in run.marks:
        return None
    return run.marks[end] - run.marks[start]


def print_tables(mode: Mode, rows: Rows) -> None:
    width = max(42, *map(len, rows))
    print(f"\n{mode.name}")
    print(f"  {'tool':{width}} {'median s':>9} {'min s':>7} {'max s':>7} {'requests':>13}  exit")
    for name, runs in rows.items():
        times = [r.seconds for r in runs]
        requests = "/".join(str(r.requests) for r in runs) if runs[0].requests >= 0 else "n/a"
        statuses = "/".join("timeout" if r.status is None else str(r.status) for r in runs)
        print(f"  {name:{width}} {statistics.median(times):9.2f} {min(times):7.2f} {max(times):7.2f} {requests:>13}  "
              f"{statuses}")
    print(f"  {'phases, median s:':{width}} " + " ".join(f"{phase:>16}" for phase, _, _ in PHASES))
    for name, runs in rows.items():
        cells = []
        for _, start, end in PHASES:
            values = [v for run in runs if (v := phase_seconds(run, start, end)) is not None]
            cells.append(f"{statistics.median(values):16.2f}" if values else f"{'-':>16}")
        print(f"  {name:{width}} " + " ".join(cells))
    for anchor, document in ((ST, "the published document"), (ST_CONTRACT, "the contract")):
        pairs = [s.seconds / t.seconds for s, t in zip(rows[SUITE], rows[anchor], strict=True)]
        print(f"  the suite takes {statistics.median(pairs):.2f} of st run's wall time on {document} (median of "
              f"{len(pairs)} alternating pairs: {', '.join(f'{p:.2f}' for p in pairs)})")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool in each mode (default 3)")
    parser.add_argument("--bytecode", choices=["without", "with", "both"], default="both",
                        help="measure without bytecode, with it, or both (default)")
    parser.add_argument("--lifecycle", type=float, default=1.0,
                        help="seconds the simulator takes for a batch lifecycle (default 1)")
    parser.add_argument("--no-embedded", action="store_true", help="leave out the run with the embedded simulator")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one run may take (default 600)")
    parser.add_argument("--published", type=Path, default=PUBLISHED,
                        help="the published OpenAPI document st runs on (default: ../shared/reference/...)")
    parser.add_argument("--suite-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for every pytest conformance run, e.g. --suite-arg=--seed=1")
    parser.add_argument("--st-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for every st run, e.g. --st-arg=--phases=fuzzing")
    parser.add_argument("--installed", type=Path, metavar="VENV",
                        help="also time the suite installed from the wheel into this virtual environment")
    parser.add_argument("--st-config", metavar="FILE",
                        help="st --config-file FILE: a schemathesis.toml (default: the one st finds, if any)")
    args = parser.parse_args(argv)
    if not args.published.is_file():
        sys.exit(f"no published document at {args.published}: pass its path with --published")
    # Both tools as a user runs them: no EVERMUSE_* and no bytecode setting of this shell leaking in.
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith("EVERMUSE_") and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    if args.installed and not (args.installed / "bin" / "evermuse-conformance").exists():
        sys.exit(f"no evermuse-conformance in {args.installed}/bin: pip install the wheel into that environment")
    if args.bytecode != "with" and (stale := rewritten_bytecode(args.installed)):
        sys.exit(f"{len(stale)} files of pytest's rewritten bytecode (e.g. {stale[0]}) would make the runs without "
                 f"bytecode faster than in a fresh container: delete every *-pytest-*.pyc under "
                 f"{', '.join(map(str, rewritten_bytecode_places(args.installed)))} (or measure --bytecode with)")
    failures = []
    with tempfile.TemporaryDirectory(prefix="evermuse-bench-pycache-") as cache:
        for mode in modes(args.bytecode, base_env, cache):
            tools, rows = measure(args, mode, lambda line: print(f"  ... {line}", file=sys.stderr, flush=True))
            print_tables(mode, rows)
            failures += [f"{mode.name}: {sentence}" for name, runs in rows.items()
                         for sentence in incomplete(name, tools[name], runs, args.timeout)]
    print(f"\ncommand: {shlex.join(['python', 'bench/run_vs_st.py', *argv])}   ({os.cpu_count()} cores)")
    for sentence in failures:
        print(f"did not complete: {sentence}")
    if failures:
        sys.exit(f"{len(failures)} runs did not complete: their times are no figures")


if __name__ == "__main__":
    main()
