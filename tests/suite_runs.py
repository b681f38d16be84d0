"""Running the conformance suite as a user does, in a subprocess, and reading what it reports."""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.simulator import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
# The JUnit properties by which a failing test names what failed (conformance/pytest/plugin.py).
FINDING_PROPERTIES = ("rule", "violated_rule", "schemathesis_check")


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
    # What the run left in its working directory.
    left_behind: list[str] = field(default_factory=list)

    @property
    def failing_rules(self) -> set[str]:
        """Rules named by failing tests: a failing rule test, or a rule a failing property test reports."""
        return {finding for finding in self.findings if finding.startswith("EM-")}

    @property
    def findings(self) -> set[str]:
        """Everything that failed the run, read from the JUnit properties the suite writes: each broken rule, each
        schemathesis check that failed ("ST101 not_a_server_error"), and any failing test that names neither."""
        found = set()
        for case in self.cases.values():
            if case.outcome != "failed":
                continue
            named = {value for name, value in case.properties if name in FINDING_PROPERTIES}
            found |= named or {f"unexplained failure of {case.name}"}
        return found

    @property
    def junit_properties(self) -> list[tuple[str, str]]:
        """The properties of the JUnit test suite, where the plugin says how the run ended."""
        if not self.junit:
            return []
        return [(p.get("name"), p.get("value")) for suite in ET.fromstring(self.junit).iter("testsuite")
                for properties in suite.findall("properties") for p in properties.findall("property")]

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


def _clean_environment() -> dict[str, str]:
    # Bytecode is written even where the caller's environment forbids it: pytest rewrites the asserts of
    # every plugin's modules, and without a cache each of the many runs here compiles them all again.
    # PYTEST_BASE_URL is pytest-base-url's (installed beside the suite here); a test that means it sets it.
    return {k: v for k, v in os.environ.items()
            if not k.startswith("EVERMUSE_") and k not in ("PYTHONDONTWRITEBYTECODE", "PYTEST_BASE_URL")}


class Zygote:
    """The client of tests/zygote.py: one per process of the project's tests, started at its first use."""

    _process: subprocess.Popen[bytes] | None = None
    _pending = b""

    @classmethod
    def run(cls, argv: list[str], cwd: Path, env: dict[str, str], out: Path, timeout: float) -> int:
        if cls._process is None or cls._process.poll() is not None:
            cls._pending = b""
            cls._process = subprocess.Popen([sys.executable, "-m", "tests.zygote"], cwd=ROOT, env=_clean_environment(),
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        request = {"argv": argv, "cwd": str(cwd), "env": env, "out": str(out)}
        assert cls._process.stdin is not None
        cls._process.stdin.write(json.dumps(request).encode() + b"\n")
        cls._process.stdin.flush()
        pid = int(cls._line(60))
        status = cls._line(timeout)
        if status is None:
            os.killpg(pid, signal.SIGKILL)
            cls._line(60)
            raise subprocess.TimeoutExpired(argv, timeout)
        return int(status)

    @classmethod
    def _line(cls, timeout: float) -> str | None:
        """The zygote's next line, or None when none came within timeout."""
        assert cls._process is not None and cls._process.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in cls._pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([cls._process.stdout], [], [], max(0.0, left))
            if not ready:
                return None
            chunk = os.read(cls._process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("the zygote of tests/zygote.py ended; its errors are above")
            cls._pending += chunk
        line, cls._pending = cls._pending.split(b"\n", 1)
        return line.decode()


def _argv(tmp_path: Path, args: tuple[str, ...], suite: str = "conformance",
          cache_dir: Path | None = None) -> list[str]:
    # pytest's cache is left out unless a test asks for one of its own (--lf): it would be the checkout's.
    cache = ["-o", f"cache_dir={cache_dir}"] if cache_dir is not None else ["-p", "no:cacheprovider"]
    return [str(ROOT / suite), *cache, "-p", "no:xdist", "-p", "evermuse",
            "-c", str(ROOT / "pyproject.toml"), f"--junitxml={tmp_path / 'junit.xml'}", *args]


def _finished(tmp_path: Path, returncode: int, output: str) -> SuiteRun:
    junit_path = tmp_path / "junit.xml"
    junit = junit_path.read_text() if junit_path.exists() else ""
    workdir = tmp_path / "workdir"
    return SuiteRun(returncode, output, junit, _cases(junit) if junit else {},
                    sorted(path.name for path in workdir.iterdir()))


class StartedSuite:
    """pytest conformance in a process of its own, to be signalled while it runs: as a job runner cancels it."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None):
        self.tmp_path = tmp_path
        (tmp_path / "workdir").mkdir(parents=True, exist_ok=True)
        self.out = (tmp_path / "output.txt").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "pytest", *_argv(tmp_path, args)],
                                        cwd=tmp_path / "workdir", env={**_clean_environment(), **(env or {})},
                                        stdout=self.out, stderr=subprocess.STDOUT)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def __enter__(self) -> StartedSuite:
        return self

    def __exit__(self, *exc: object) -> None:
        # A test that failed before waiting leaves no run behind it.
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.out.close()

    def wait(self, timeout: float = 120) -> SuiteRun:
        try:
            returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self.out.close()
        return _finished(self.tmp_path, returncode, (self.tmp_path / "output.txt").read_text(errors="replace"))


def run_suite(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 240,
              memory_limit: int | None = None, suite: str = "conformance", cache_dir: Path | None = None) -> SuiteRun:
    """pytest conformance, with no EVERMUSE_* variable from the caller's environment unless given.

    memory_limit caps the address space of the run, so a test of unbounded reading cannot take the machine;
    such a run has an interpreter of its own. The others are forked from tests/zygote.py, which has imported
    what every run needs once.
    suite: another copy of the suite's test files to collect, with the project's plugin and settings.
    cache_dir: pytest's cache for the run (for --lf); without one the run has none.
    """
    # The run's working directory is its own, as a user's would be: whatever the run leaves there is seen, and
    # nothing lands in the checkout.
    workdir = tmp_path / "workdir"
    workdir.mkdir(parents=True, exist_ok=True)
    argv = _argv(tmp_path, args, suite, cache_dir)
    environment = {**_clean_environment(), **(env or {})}
    if memory_limit is None:
        out = tmp_path / "output.txt"
        returncode = Zygote.run(argv, workdir, environment, out, timeout)
        output = out.read_text(errors="replace")
    else:
        done = subprocess.run([sys.executable, "-m", "pytest", *argv], cwd=workdir, env=environment,
                              capture_output=True, text=True, timeout=timeout,
                              preexec_fn=_memory_limit(memory_limit))
        returncode, output = done.returncode, done.stdout + done.stderr
    return _finished(tmp_path, returncode, output)


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
