"""python -m conformance.report.drift: the published-vs-contract part of the drift report, without a live run."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from conformance.report.drift import report
from conformance.report.drift.published import DEFAULT_PUBLISHED_SPEC
from conformance.rules.outcome import not_run

EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance.report.drift",
        description="Compare the published OpenAPI document with the suite's contract and write drift.md and "
                    "drift.json. No request goes to any API.")
    parser.add_argument("--published-spec", default=DEFAULT_PUBLISHED_SPEC, metavar="URL|PATH",
                        help=f"the published document (default {DEFAULT_PUBLISHED_SPEC})")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory to write drift.md and drift.json")
    parser.add_argument("--baseline", metavar="PATH", help="an earlier drift.json, to mark findings new or resolved")
    args = parser.parse_args(argv)
    started = time.time()
    try:
        baseline = report.load_baseline(args.baseline) if args.baseline else None
    except report.BaselineError as exc:
        print(f"error: {str(exc).replace('--drift-baseline', '--baseline')}.", file=sys.stderr)
        return EXIT_USAGE
    live, _ = report.live_part("not run", "spec comparison only (python -m conformance.report.drift)", [], {}, {},
                               report.NONE)
    published = report.published_part(args.published_spec)
    origin = report.provenance(target="none: spec comparison only", started=started, finished=time.time(), seed=None,
                               requests=0, server_version=None, published_source=args.published_spec)
    outcome = not_run("spec comparison only: no request went to any API").as_dict()
    built, _ = report.build(provenance=origin, live=live, published=published, history=baseline, outcome=outcome)
    try:
        json_path, md_path, *_ = report.write(built, Path(args.out))
    except OSError as exc:
        print(f"error: cannot write into {args.out} ({exc.strerror}); choose another --out.", file=sys.stderr)
        return EXIT_USAGE
    print(f"{published['status']}: {len(published['changes'])} changes, {len(published['defects'])} defects"
          + (f" ({published['error']})" if published["error"] else ""))
    print(f"wrote {md_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
