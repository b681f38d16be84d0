"""Wall time of `pytest conformance` against the embedded simulator whose batches take LIFECYCLE seconds to end.

The floor is the lifecycle itself: the run cannot end before its batches do. What the run adds on top of it is
interpreter start, collection, and what is left to do once the batches have ended.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifecycle", type=float, default=20.0, help="seconds a batch takes to end (default 20)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # As a user runs it: bytecode cached, no EVERMUSE_* setting leaking in from this shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_") and k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
               "--simulator-lifecycle", f"{args.lifecycle:g}", "--lifecycle-timeout", f"{args.lifecycle * 1.5:g}"]
    walls, statuses = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        statuses.append(done.returncode)
    shown = " ".join(["python", *command[1:]])
    print(f"run: {shown}")
    print(f"wall: median {statistics.median(walls):.2f} s, min {min(walls):.2f} s, max {max(walls):.2f} s; "
          f"exit {'/'.join(map(str, statuses))}")
    print(f"over the lifecycle of {args.lifecycle:g} s: median {statistics.median(walls) - args.lifecycle:.2f} s")
    print(f"command: python bench/lifecycle.py --lifecycle {args.lifecycle:g} --repeat {args.repeat}   "
          f"({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
