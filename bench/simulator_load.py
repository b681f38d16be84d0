"""GET status requests per second the reference simulator serves under a two-connection load.

The simulator runs in its own process (python -m conformance.simulator). The load comes from wrk when it
is installed (Debian package wrk), else from httpx in this process, whose own cost caps the figure.

A rate is a figure only for answers that are the batch's status: the script exits 1 when the batch could not be
created or any answer under load was not 200. Smallest: --seconds 1 --tool httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import time

import httpx

KEY = "em_sk_bench_write"


async def hammer(url: str, seconds: float, connections: int) -> tuple[int, int]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers={"x-api-key": KEY}, limits=limits) as client:
        done, failed = 0, 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done, failed
            while time.perf_counter() < deadline:
                answer = await client.get(url)
                done += 1
                failed += answer.status_code != 200

        await asyncio.gather(*(worker() for _ in range(connections)))
        return done, failed


def with_wrk(url: str, seconds: float, connections: int) -> tuple[float, int]:
    """Requests per second, and how many answers were not 2xx."""
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-H", f"x-api-key: {KEY}", url],
                         capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        sys.exit(f"wrk printed no Requests/sec: {out.strip()[-300:]}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(rate.group(1)), int(non_2xx.group(1)) if non_2xx else 0


def with_httpx(url: str, seconds: float, connections: int) -> tuple[float, int]:
    """Requests per second, and how many answers were not 200."""
    started = time.perf_counter()
    done, failed = asyncio.run(hammer(url, seconds, connections))
    return done / (time.perf_counter() - started), failed


def status_url(base: str) -> str:
    """The status of a batch the simulator has just accepted: what the load reads."""
    answer = httpx.post(f"{base}/api/v1/ingest", headers={"x-api-key": KEY}, json=[{"_type": "email"}])
    if answer.status_code != 202:
        sys.exit(f"the simulator did not accept the batch to read: {answer.status_code} {answer.text[:300]}")
    return f"{base}/api/v1/ingest/batches/{answer.json()['batchId']}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="how long the load lasts (default 10)")
    parser.add_argument("--connections", type=int, default=2, help="connections at once (default 2)")
    parser.add_argument("--tool", choices=("auto", "wrk", "httpx"), default="auto",
                        help="where the load comes from (default: wrk when installed, else httpx)")
    args = parser.parse_args(argv)
    tool = ("wrk" if shutil.which("wrk") else "httpx") if args.tool == "auto" else args.tool
    process = subprocess.Popen([sys.executable, "-m", "conformance.simulator", "--port", "0", "--api-key", KEY],
                               stdout=subprocess.PIPE, text=True)
    try:
        started = process.stdout.readline()  # type: ignore[union-attr]
        if " on " not in started:
            sys.exit(f"the simulator did not start: {started.strip() or 'no output'}")
        url = status_url(started.split(" on ")[1].strip())
        asyncio.run(hammer(url, 1, args.connections))  # warm-up
        rate, not_ok = (with_wrk if tool == "wrk" else with_httpx)(url, args.seconds, args.connections)
    finally:
        process.terminate()
        process.wait(10)
    expected = "2xx" if tool == "wrk" else "200"
    print(f"GET /api/v1/ingest/batches/{{batchId}}: {rate:,.0f} requests/s for {args.seconds:g} s, "
          f"{args.connections} connections, load from {tool}, {not_ok} not {expected}")
    print(f"command: python bench/simulator_load.py --seconds {args.seconds:g} --connections {args.connections} "
          f"--tool {tool}")
    if not_ok:
        sys.exit(f"{not_ok} answers under load were not {expected}: the rate is not that of status reads")


if __name__ == "__main__":
    main()
