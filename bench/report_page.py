"""Three nights of the suite against the simulator, one drift history, and the third night's drift.html looked at in
a real headless browser (Chromium from Debian's packages): the screenshot shows the chart and the first table.

Writes docs/drift-page.png and docs/drift-example.md (the third night's drift.md) unless --out says elsewhere;
--no-screenshot leaves the browser out and writes only the example. The example is what it says only when each
night ends as its simulator calls for (0 without a fault, 1 with one): the script exits 1, naming the night, when
one does not, and writes nothing. Smallest: --out DIR --no-screenshot.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NIGHTS = [(), ("type-upper-case", "errors-reverse-order", "key-echoed-in-header"), ("type-upper-case",)]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def run_nights(scratch: str, published_spec: str, timeout: float) -> list[str]:
    """The three nights against one history; a sentence for each night that did not end as its simulator calls for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")}
    history = Path(scratch) / "history.json"
    wrong = []
    for night, faults in enumerate(NIGHTS, start=1):
        command = [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                   "--drift-report", f"{scratch}/night-{night}", "--drift-history", str(history),
                   "--published-spec", published_spec, "--simulator-lifecycle", "1",
                   "--lifecycle-timeout", "15", *[arg for fault in faults for arg in ("--simulator-fault", fault)]]
        expected = 1 if faults else 0
        try:
            status: int | str = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                                               timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
        print(f"night {night}: exit {status}, faults {', '.join(faults) or 'none'}")
        if status != expected:
            wrong.append(f"night {night} ended with {status}, not {expected}")
    return wrong


def screenshot(chromium: str, page: Path, png: Path, scratch: str) -> None:
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={scratch}/chromium", f"--screenshot={png}",
                    "--window-size=1280,1400", page.as_uri()], check=True, capture_output=True, timeout=120)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs"), help="where the screenshot and example go (default docs/)")
    parser.add_argument("--published-spec", default=str(ROOT.parent / "shared" / "reference" /
                                                        "ingest-v1.published.yaml"))
    parser.add_argument("--no-screenshot", action="store_true", help="write only drift-example.md: no browser")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one night may take (default 300)")
    args = parser.parse_args(argv)
    chromium = None if args.no_screenshot else shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None and not args.no_screenshot:
        sys.exit("chromium is not installed: apt-get install chromium (or --no-screenshot)")
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as scratch:
        wrong = run_nights(scratch, args.published_spec, args.timeout)
        if wrong:
            sys.exit(f"the example would not show what it says, so nothing was written: {'; '.join(wrong)}")
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(scratch) / "night-3" / "drift.md", out / "drift-example.md")
        written = [out / "drift-example.md"]
        if chromium is not None:
            screenshot(chromium, Path(scratch) / "night-3" / "drift.html", out / "drift-page.png", scratch)
            written.insert(0, out / "drift-page.png")
    print(f"wrote {' and '.join(map(str, written))}")
    print(f"command: {shlex.join(['python', 'bench/report_page.py', *argv])}")


if __name__ == "__main__":
    main()
