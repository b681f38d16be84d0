"""evermuse-conformance: the suite as a command, for those who do not write pytest.

It is `pytest -p evermuse --pyargs conformance.pytest.suite` with the user's arguments after it: the same
options, outputs and exit statuses. `-p evermuse` loads the plugin before the other installed plugins, which
spares the libraries pytest's assertion rewriting (conformance/pytest/rewriting.py).
"""

from __future__ import annotations

import os
import sys
import textwrap

from conformance import __version__
from conformance.settings.options import FLAGS, SETTINGS

PROG = "evermuse-conformance"
SUITE_PACKAGE = "conformance.pytest.suite"
PLUGIN_ENTRY_POINT = "evermuse"

# Entry point names, as -p takes them: the suite's plugin, and schemathesis's, whose tests the property tests are.
REQUIRED_PLUGINS = (PLUGIN_ENTRY_POINT, "schemathesis")
# The options that take a value: given as "--option VALUE", they are joined into "--option=VALUE" before pytest
# sees them. pytest chooses its root folder and ini file before it knows a plugin's options, from every word that
# names an existing path: `--ca-bundle /etc/ssl/ca.pem` would move the root folder (and .pytest_cache) to /.
VALUE_OPTIONS = frozenset({*(setting.option for setting in SETTINGS),
                           *(flag.option for flag in FLAGS.values() if flag.metavar)})
PYTEST_OPTIONS = [
    ("--junitxml PATH", "a JUnit file: a test per rule, its rule, level and outcome as properties"),
    ("-k EXPR, --lf", "check part of the suite: its rules' names, or what failed last time (a PARTIAL run)"),
    ("-q, -v, -rA", "less or more on the console"),
    ("--pytest-help", "every option pytest and its plugins take"),
]
EXIT_STATUSES = [
    ("0", "GREEN: checked to the end, every MUST rule held (or PARTIAL: what a selection ran held)"),
    ("1", "RED: a MUST rule is broken or a schemathesis check failed (with --strict, a SHOULD rule too)"),
    ("2", "INTERRUPTED: Ctrl-C or SIGTERM; the report says what was found so far"),
    ("3", "INTERNAL ERROR: a bug of the suite, never blamed on the target"),
    ("4", "a setting cannot be used: one sentence names it"),
    ("5", "NOT RUN: the selection chose no test"),
    ("6", "NOT CHECKED: the target could not be checked (unreachable, key refused, untrusted certificate), or "
          "the run's bounds stopped it first"),
]


def _rows(rows: list[tuple[str, str]], width: int = 100) -> list[str]:
    left = max(len(name) for name, _ in rows) + 2
    lines = []
    for name, text in rows:
        wrapped = textwrap.wrap(text, width - left - 2) or [""]
        lines.append(f"  {name:<{left}}{wrapped[0]}")
        lines += [" " * (left + 2) + more for more in wrapped[1:]]
    return lines


def usage() -> str:
    settings = [(f"{s.option} {s.metavar}", f"{s.help} [{s.variable}]") for s in SETTINGS]
    return "\n".join([
        f"usage: {PROG} [--base-url URL] [options]",
        "",
        "Checks a deployment of the Evermuse Ingestion API against its contract and the rules of its public",
        "docs, and reports what breaks. Without --base-url it checks its own reference simulator.",
        "Keys come from the environment only: EVERMUSE_API_KEY (api:write), EVERMUSE_READ_API_KEY,",
        "EVERMUSE_OTHER_API_KEY. Each setting: option > environment variable [shown] > ini key > default.",
        "",
        "settings:",
        *_rows(settings),
        "",
        "flags:",
        *_rows([(f"{flag.option} {flag.metavar}" if flag.metavar else flag.option, flag.help)
                for flag in FLAGS.values()] + [("--strict", "SHOULD rules fail the run too (pytest's own)")]),
        "",
        "pytest options work too, for instance:",
        *_rows(PYTEST_OPTIONS),
        "",
        "exit status:",
        *_rows(EXIT_STATUSES),
        "",
        f"{PROG} {__version__}",
    ])


def joined(args: list[str]) -> list[str]:
    """The arguments with each of the suite's "--option VALUE" pairs written "--option=VALUE"."""
    out: list[str] = []
    words = iter(args)
    for word in words:
        value = next(words, None) if word in VALUE_OPTIONS else None
        out.append(word if value is None else f"{word}={value}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "-h" in args or "--help" in args:
        print(usage())
        return 0
    if "--version" in args or "-V" in args:
        print(f"{PROG} {__version__}")
        return 0
    import pytest

    # Without autoload, the plugins the suite needs are named; otherwise only its own, to load it first.
    needed = REQUIRED_PLUGINS if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") else REQUIRED_PLUGINS[:1]
    plugins = [word for name in needed for word in ("-p", name)]
    if "--pytest-help" in args:
        return int(pytest.main([*plugins, "--help"]))
    return int(pytest.main([*plugins, "--pyargs", SUITE_PACKAGE, *joined(args)]))


if __name__ == "__main__":
    sys.exit(main())
