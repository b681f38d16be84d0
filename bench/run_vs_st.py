"""The default conformance run beside plain `st run`, against the same simulator, in one invocation.

For each tool: wall time and the requests the simulator received (its own count, not the tool's).
Also the default run as the README's first command starts it, with its embedded simulator.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance.simulator import SimulatorServer, make_settings  # noqa: E402

KEYS = {"EVERMUSE_API_KEY": "em_sk_bench_write", "EVERMUSE_READ_API_KEY": "em_sk_bench_read",
        "EVERMUSE_OTHER_API_KEY": "em_sk_bench_other"}
CONTRACT = ROOT / "openapi" / "evermuse-ingest-v1.yaml"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - started, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # Both tools as a user runs them: bytecode cached (a shell may forbid writing it), no EVERMUSE_* leaking in.
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith("EVERMUSE_") and k != "PYTHONDONTWRITEBYTECODE"}
    settings = make_settings(write_key=KEYS["EVERMUSE_API_KEY"], read_key=KEYS["EVERMUSE_READ_API_KEY"],
                             other_key=KEYS["EVERMUSE_OTHER_API_KEY"])
    st = str(Path(sys.executable).with_name("st"))
    rows: dict[str, list[tuple[float, int, int]]] = {}
    with SimulatorServer(settings) as server:
        tools = {
            "pytest conformance --base-url SIM": (
                [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                 "--base-url", server.base_url], {**base_env, **KEYS}),
            "st run CONTRACT --checks all": (
                [st, "run", str(CONTRACT), "--url", server.base_url, "-H", f"x-api-key: {KEYS['EVERMUSE_API_KEY']}",
                 "--checks", "all"], base_env),
        }
        for _ in range(args.repeat):
            for name, (command, env) in tools.items():
                before = len(server.simulator.requests)
                seconds, status = timed(command, env)
                rows.setdefault(name, []).append((seconds, len(server.simulator.requests) - before, status))
    for _ in range(args.repeat):
        seconds, status = timed([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider"],
                                base_env)
        rows.setdefault("pytest conformance (embedded simulator)", []).append((seconds, -1, status))
    print(f"{'tool':42} {'median s':>9} {'min s':>7} {'max s':>7} {'requests':>9}  exit")
    for name, runs in rows.items():
        times = [r[0] for r in runs]
        requests = "/".join(str(r[1]) for r in runs) if runs[0][1] >= 0 else "n/a"
        statuses = "/".join(str(r[2]) for r in runs)
        print(f"{name:42} {statistics.median(times):9.1f} {min(times):7.1f} {max(times):7.1f} {requests:>9}  "
              f"{statuses}")
    print(f"command: python bench/run_vs_st.py --repeat {args.repeat}   ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
