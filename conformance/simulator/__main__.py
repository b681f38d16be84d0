"""python -m conformance.simulator: serve the reference simulator until stopped."""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from pathlib import Path

from conformance.rules.latitudes import load_latitudes
from conformance.simulator.choices import UnknownChoice
from conformance.simulator.faults import FAULTS, UnknownFault
from conformance.simulator.server import LOOPBACK, SimulatorDidNotStart, SimulatorServer, make_settings

SPEEDS = {"fast": 1.0, "realistic": 240.0}
EXIT_USAGE = 2
COMMAND = "evermuse-simulator"  # the installed console script


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=COMMAND if Path(sys.argv[0]).name == COMMAND else "python -m conformance.simulator",
        description="Serve the Evermuse Ingestion API reference simulator on 127.0.0.1 until stopped.",
    )
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0 picks a free one; default 8080)")
    p.add_argument("--api-key", help="write key of the first workspace (default: generated and printed)")
    p.add_argument("--read-api-key", help="api:read-only key of the first workspace (default: generated)")
    p.add_argument("--other-api-key", help="write key of a second workspace (default: generated)")
    p.add_argument("--fault", action="append", default=[], metavar="NAME",
                   help="break one rule on purpose (repeatable); see --list-faults")
    p.add_argument("--list-faults", action="store_true", help="print every fault with the rule it breaks, and exit")
    p.add_argument("--choice", action="append", default=[], metavar="NAME=VALUE",
                   help="make another choice the docs leave open (repeatable); see --list-choices")
    p.add_argument("--list-choices", action="store_true",
                   help="print every choice with its alternatives, the default first, and exit")
    p.add_argument("--speed", choices=sorted(SPEEDS), default="fast",
                   help="fast: a batch ends in about a second (default); realistic: in about four minutes")
    p.add_argument("--lifecycle-seconds", type=float, help="seconds from LANDING to the end; overrides --speed")
    p.add_argument("--rate-limit", type=int, metavar="N",
                   help="answer 429 once a key has sent N requests, until the second its count began is over")
    p.add_argument("--hold-reads", type=int, default=0, metavar="N",
                   help="hold each stage of a batch until N status reads have shown it (default 0: the clock alone; "
                        "a self-test device for slow machines)")
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain (with --tls-key)")
    p.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        return serve(parser().parse_args(argv))
    except BrokenPipeError:
        # The reader went away (| head, a closed pager): stop quietly, as command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def serve(args: argparse.Namespace) -> int:
    if args.list_faults:
        width = max(map(len, FAULTS))
        for fault in FAULTS.values():
            print(f"{fault.name:<{width}}  {fault.rule:<14}  {fault.description}")
        sys.stdout.flush()
        return 0
    if args.list_choices:
        latitudes = load_latitudes()
        width = max(map(len, latitudes))
        for latitude in latitudes.values():
            print(f"{latitude.name:<{width}}  {' | '.join(latitude.values)}  ({latitude.question})")
        sys.stdout.flush()
        return 0
    lifecycle = args.lifecycle_seconds if args.lifecycle_seconds is not None else SPEEDS[args.speed]
    if lifecycle <= 0:
        print("error: --lifecycle-seconds must be above 0.", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = make_settings(write_key=args.api_key, read_key=args.read_api_key, other_key=args.other_api_key,
                                 faults=args.fault, choices=args.choice, lifecycle_seconds=lifecycle,
                                 rate_limit=args.rate_limit, hold_reads=args.hold_reads)
    except (UnknownFault, UnknownChoice) as exc:
        print(f"error: {exc}.", file=sys.stderr)
        return EXIT_USAGE
    if bool(args.tls_cert) != bool(args.tls_key):
        print("error: --tls-cert and --tls-key go together; give both, or neither for HTTP.", file=sys.stderr)
        return EXIT_USAGE
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    if tls is not None:
        try:  # uvicorn loads them in its own thread, where a failure is only "did not start"
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(*tls)
        except (OSError, ssl.SSLError) as exc:
            print(f"error: could not load --tls-cert {args.tls_cert} with --tls-key {args.tls_key} ({exc}).",
                  file=sys.stderr)
            return EXIT_USAGE
    server = SimulatorServer(settings, port=args.port, tls=tls)
    try:
        server.start()
    except SimulatorDidNotStart:
        print(f"error: could not serve on {LOOPBACK}:{args.port}; choose another --port.", file=sys.stderr)
        return EXIT_USAGE
    print(f"Evermuse simulator on {server.base_url}", flush=True)
    print(f"  write key (api:write, workspace main):  {settings.write_key}")
    print(f"  read key  (api:read,  workspace main):  {settings.read_key}")
    print(f"  other key (api:write, workspace other): {settings.other_key}")
    print(f"  lifecycle: {lifecycle:g} s; faults: {', '.join(args.fault) or 'none'}; "
          f"choices: {', '.join(settings.choices.described()) or 'the defaults'}; stop with Ctrl-C", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
