"""Running the conformance suite as a user does, in a subprocess, and reading what it reports."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.simulator import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Case:
    name: str
    outcome: str  # passed, failed, skipped
    properties: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""


@dataclass
class SuiteRun:
    returncode: int
    output: str
    junit: str
    cases: dict[str, Case]

    @property
    def failing_rules(self) -> set[str]:
        """Rules named by failing tests: a failing rule test, or a rule a failing property test reports."""
        rules = set()
        for case in self.cases.values():
            if case.outcome == "failed":
                rules |= {value for name, value in case.properties if name in ("rule", "violated_rule")}
        return rules

    @property
    def failing(self) -> list[str]:
        return [name for name, case in self.cases.items() if case.outcome == "failed"]


def _cases(junit: str) -> dict[str, Case]:
    cases = {}
    for element in ET.fromstring(junit).iter("testcase"):
        outcome, text = "passed", ""
        for kind in ("failure", "error", "skipped"):
            found = element.find(kind)
            if found is not None:
                outcome = "skipped" if kind == "skipped" else "failed"
                text = (found.get("message") or "") + (found.text or "")
        properties = [(p.get("name"), p.get("value")) for p in element.iter("property")]
        cases[element.get("name")] = Case(element.get("name"), outcome, properties, text)
    return cases


def _memory_limit(limit: int | None) -> Any:
    if limit is None:
        return None

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def run_suite(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 240,
              memory_limit: int | None = None, suite: str = "conformance") -> SuiteRun:
    """pytest conformance, with no EVERMUSE_* variable from the caller's environment unless given.

    memory_limit caps the address space of the run, so a test of unbounded reading cannot take the machine.
    suite: another copy of the suite's test files to collect, with the project's plugin and settings.
    """
    # Bytecode is written even where the caller's environment forbids it: pytest rewrites the asserts of
    # every plugin's modules, and without a cache each of the many runs here compiles them all again.
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("EVERMUSE_") and k != "PYTHONDONTWRITEBYTECODE"}
    junit_path = tmp_path / "junit.xml"
    command = [sys.executable, "-m", "pytest", suite, "-p", "no:cacheprovider", "-p", "no:xdist",
               "-p", "conformance.pytest.plugin", "-c", str(ROOT / "pyproject.toml"), f"--junitxml={junit_path}",
               *args]
    done = subprocess.run(command, cwd=ROOT, env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=_memory_limit(memory_limit))
    junit = junit_path.read_text() if junit_path.exists() else ""
    return SuiteRun(done.returncode, done.stdout + done.stderr, junit, _cases(junit) if junit else {})


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Any ASGI app on a free loopback port, for the time of the block."""
    with LoopbackServer(app) as server:
        yield server.base_url


class ThrottledWhere:
    """An ASGI app behind a gateway that answers 429 (retryAfter 0) to the requests `where` picks."""

    def __init__(self, app: Any, where: Callable[[dict[str, Any]], bool]):
        self.app = app
        self.where = where

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.where(scope):
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"error": "rate_limited", "message": "later", '
                                                               b'"retryAfter": 0}'})
            return
        await self.app(scope, receive, send)
