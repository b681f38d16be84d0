"""GET status requests per second the reference simulator serves under a two-connection load.

The simulator runs in its own process (python -m conformance.simulator). The load comes from wrk when it
is installed (Debian package wrk), else from httpx in this process, whose own cost caps the figure.
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


def with_wrk(url: str, seconds: float, connections: int) -> tuple[float, str]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-H", f"x-api-key: {KEY}", url],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, f"{non_2xx.group(1) if non_2xx else 0} not 2xx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--tool", choices=("auto", "wrk", "httpx"), default="auto")
    args = parser.parse_args()
    tool = ("wrk" if shutil.which("wrk") else "httpx") if args.tool == "auto" else args.tool
    process = subprocess.Popen([sys.executable, "-m", "conformance.simulator", "--port", "0", "--api-key", KEY],
                               stdout=subprocess.PIPE, text=True)
    try:
        base = process.stdout.readline().split(" on ")[1].strip()  # type: ignore[union-attr]
        batch = httpx.post(f"{base}/api/v1/ingest", headers={"x-api-key": KEY}, json=[{"_type": "email"}]).json()
        url = f"{base}/api/v1/ingest/batches/{batch['batchId']}"
        asyncio.run(hammer(url, 1, args.connections))  # warm-up
        if tool == "wrk":
            rate, note = with_wrk(url, args.seconds, args.connections)
        else:
            started = time.perf_counter()
            done, failed = asyncio.run(hammer(url, args.seconds, args.connections))
            rate, note = done / (time.perf_counter() - started), f"{failed} not 200"
    finally:
        process.terminate()
        process.wait(10)
    print(f"GET /api/v1/ingest/batches/{{batchId}}: {rate:,.0f} requests/s for {args.seconds:g} s, "
          f"{args.connections} connections, load from {tool}, {note}")
    print(f"command: python bench/simulator_load.py --seconds {args.seconds:g} --connections {args.connections} "
          f"--tool {tool}")


if __name__ == "__main__":
    main()
