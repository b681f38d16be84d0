"""The suite against each hostile target of tests/test_hostile_targets.py: exit status, wall time, peak memory,
and where the key appeared (console, JUnit, DEBUG log, drift.md, drift.json, drift.html, evidence files), as
tests/leaks.py finds it: in any form, or eight characters of its secret part, independently of the suite's own
redaction.

The tests assert the behaviour; this measures it. Peak memory is the run's maximum resident set size, read
from the kernel's accounting of the child process (os.wait4).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance.simulator import SimulatorServer, make_settings  # noqa: E402
from tests.leaks import leaks_in  # noqa: E402
from tests.suite_runs import ThrottledWhere, serve  # noqa: E402
from tests.test_hostile_targets import (  # noqa: E402
    KEY,
    QUICK,
    Hostile,
    gzip_bomb,
    status_read,
    trickled_headers,
    written_files,
)

MODES = ["not-json", "truncated", "huge", "html", "silent", "reset", "echo-key", "deep", "nan", "twice", "bad-utf8",
         "trickle-body", "endless-body", "gzip-bomb", "reflect-base64-body", "reflect-base64-header",
         "reflect-percent-location", "reflect-json-escapes", "reflect-unprefixed", "reflect-hex-body",
         "key-across-300", "key-across-200", "key-across-not-json", "throttle-all", "throttle-for-an-hour"]


@contextmanager
def throttled_reads() -> Iterator[str]:
    with serve(ThrottledWhere(SimulatorServer(make_settings(write_key=KEY)).simulator.app, status_read)) as url:
        yield url


@contextmanager
def slow_lifecycle() -> Iterator[str]:
    with SimulatorServer(make_settings(write_key=KEY, lifecycle_seconds=60)) as server:
        yield server.base_url


TARGETS: dict[str, tuple[Callable[[], AbstractContextManager[str]], tuple[str, ...]]] = {
    **{mode: ((lambda mode=mode: serve(Hostile(mode))), ()) for mode in MODES},
    "trickle-headers": (trickled_headers, ()),
    "throttle-status-reads": (throttled_reads, ()),
    "max-duration-8s": (slow_lifecycle, ("--lifecycle-timeout", "60", "--max-requests", "400", "--max-duration", "8")),
}


def measure(name: str) -> str:
    start_target, extra = TARGETS[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")} | {"EVERMUSE_API_KEY": KEY}
    with tempfile.TemporaryDirectory() as scratch, start_target() as url:
        out = Path(scratch)
        command = [sys.executable, "-m", "pytest", "conformance", "-p", "no:cacheprovider", "--base-url", url, *QUICK,
                   *extra, f"--junitxml={out / 'junit.xml'}", f"--log-file={out / 'run.log'}",
                   "--log-file-level=DEBUG", "--drift-report", str(out / "drift"), "--published-spec",
                   "http://127.0.0.1:9/none.yaml"]
        started = time.perf_counter()
        with open(out / "console.txt", "w") as console:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=console, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        files = {"console": out / "console.txt", "JUnit": out / "junit.xml",
                 **written_files(out / "run.log", out / "drift")}
        # Read as bytes one to one: an evidence file holds a body as sent, and every form of a key is ASCII.
        leaked = list(leaks_in({label: path.read_bytes().decode("latin-1") for label, path in files.items()
                                if path.is_file()}, KEY))
        return (f"| {name} | {os.waitstatus_to_exitcode(status)} | {wall:.1f} s | {usage.ru_maxrss / 1024:.0f} MiB | "
                f"{', '.join(leaked) or 'nowhere'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="only these (default: all)")
    args = parser.parse_args()
    targets = args.target or list(TARGETS)
    if "gzip-bomb" in targets:
        gzip_bomb()  # made once, before any target serves it
    print("| Hostile target | Exit | Wall time | Peak memory | Key seen in |")
    print("|---|---|---|---|---|")
    for name in targets:
        print(measure(name), flush=True)
    print(f"\ncommand: python bench/hostile.py   ({', '.join(QUICK)})")


if __name__ == "__main__":
    main()
