"""Three nights of the suite against the simulator, one drift history, and the third night's drift.html looked at in
a real headless browser (Chromium from Debian's packages): the screenshot shows the chart and the first table.

Writes docs/drift-page.png and docs/drift-example.md (the third night's drift.md) unless --out says elsewhere.
"""

from __future__ import annotations

import argparse
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs"), help="where the screenshot and example go")
    parser.add_argument("--published-spec", default=str(ROOT.parent / "shared" / "reference" /
                                                        "ingest-v1.published.yaml"))
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed: apt-get install chromium")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVERMUSE_")}
    with tempfile.TemporaryDirectory() as scratch:
        history = Path(scratch) / "history.json"
        for night, faults in enumerate(NIGHTS, start=1):
            command = [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                       "--drift-report", f"{scratch}/night-{night}", "--drift-history", str(history),
                       "--published-spec", args.published_spec, "--simulator-lifecycle", "2",
                       "--lifecycle-timeout", "4", *[arg for fault in faults for arg in ("--simulator-fault", fault)]]
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            print(f"night {night}: exit {done.returncode}, faults {', '.join(faults) or 'none'}")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        page = Path(scratch) / "night-3" / "drift.html"
        shutil.copy(Path(scratch) / "night-3" / "drift.md", out / "drift-example.md")
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={scratch}/chromium",
                        f"--screenshot={out / 'drift-page.png'}", "--window-size=1280,1400", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    print(f"wrote {out / 'drift-page.png'} and {out / 'drift-example.md'}")
    print("command: python bench/report_page.py")


if __name__ == "__main__":
    main()
