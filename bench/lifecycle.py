"""Wall time of `pytest conformance` against the embedded simulator whose batches take LIFECYCLE seconds to end.

The floor is the lifecycle itself: the run cannot end before its batches do. What the run adds on top of it is
interpreter start, collection, and what is left to do once the batches have ended.

A time is a figure only for a run that checked the target and found it conforming: the script exits 1, naming
the run, when one exits other than 0 or does not end within --timeout. Smallest: --lifecycle 2 --repeat 1.
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


def timed(command: list[str], env: dict[str, str], timeout: float) -> tuple[float, int | None]:
    """Wall time and exit status of one run; the status is None when it did not end within timeout."""
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, None
    return time.perf_counter() - started, done.returncode


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lifecycle", type=float, default=20.0, help="seconds a batch takes to end (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one run may take (default 600)")
    args = parser.parse_args(argv)
    # As a user runs it: bytecode cached, no EVERMUSE_* setting leaking in from this shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_") and k != "PYTHONDONTWRITEBYTECODE"}
    # The lifecycle timeout is a bound, never what is measured: half a minute past the lifecycle, so that a run on a
    # busy machine, which reads each batch's stages more slowly, still ends by its batches.
    command = [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
               "--simulator-lifecycle", f"{args.lifecycle:g}", "--lifecycle-timeout", f"{args.lifecycle + 30:g}"]
    runs = [timed(command, env, args.timeout) for _ in range(args.repeat)]
    walls = [wall for wall, _ in runs]
    statuses = ["timeout" if status is None else str(status) for _, status in runs]
    shown = " ".join(["python", *command[1:]])
    print(f"run: {shown}")
    print(f"wall: median {statistics.median(walls):.2f} s, min {min(walls):.2f} s, max {max(walls):.2f} s; "
          f"exit {'/'.join(statuses)}")
    print(f"over the lifecycle of {args.lifecycle:g} s: median {statistics.median(walls) - args.lifecycle:.2f} s")
    print(f"command: python bench/lifecycle.py --lifecycle {args.lifecycle:g} --repeat {args.repeat}   "
          f"({os.cpu_count()} cores)")
    failed = [f"run {number} of {len(runs)}: " + ("timed out" if status == "timeout" else f"exit {status}")
              for number, status in enumerate(statuses, start=1) if status != "0"]
    if failed:
        sys.exit(f"did not check a conforming target, so its time is no figure: {'; '.join(failed)}")


if __name__ == "__main__":
    main()
