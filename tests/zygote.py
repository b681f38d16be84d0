"""A process that has imported what every suite run imports, and forks one child per run.

The project's tests run `pytest conformance` a couple of hundred times. Each run as its own interpreter pays
for importing pytest, schemathesis, hypothesis, the web stack and the suite again; a child forked from a
process that already holds them starts at once, and is otherwise the same `pytest.main` a user's command runs,
in its own working directory, environment and output file. Nothing here starts a thread, so forking is safe.

Protocol, one JSON object a line on stdin: {"argv", "cwd", "env", "out"}. For each, the zygote answers a line
with the child's pid, then one with its exit status once it has ended (a killed child: -signal).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import hypothesis.configuration as hypothesis_configuration

# What a suite run imports before it collects a test: imported once here, shared by every child.
PRELOAD = [
    "pytest", "_pytest.junitxml", "_pytest.terminal", "_pytest.logging", "_pytest.warnings", "hypothesis",
    "schemathesis", "schemathesis.pytest.plugin", "httpx", "requests", "uvicorn", "starlette.applications",
    "jsonschema", "yaml", "markdown", "conformance.pytest.plugin", "conformance.pytest.session",
    "conformance.simulator", "conformance.report.drift.report",
]


def preload() -> None:
    for name in PRELOAD:
        __import__(name)


def run_child(request: dict) -> None:
    """In the forked child: become the run, then leave without running the parent's exit handlers."""
    code = 70
    try:
        os.setsid()  # its own process group, so a timeout ends the run and whatever it started
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # hypothesis fixed its default folder (the working directory's .hypothesis) when it was imported here.
        hypothesis_configuration.__hypothesis_home_directory_default = Path.cwd() / ".hypothesis"
        nothing = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nothing, 0)
        out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.close(nothing)
        # Modules imported here before pytest started cannot have their asserts rewritten, which pytest says in
        # a warning a run of its own would not print: the run's output stays as a user sees it.
        argv = ["-W", "ignore::pytest.PytestAssertRewriteWarning", *request["argv"]]
        sys.argv = [sys.executable, "-m", "pytest", *argv]
        import pytest

        code = int(pytest.main(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # the run itself could not start: say why in its output, as an interpreter would
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    preload()
    answers = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        answers.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            run_child(request)
        answers.write(f"{pid}\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(f"{os.waitstatus_to_exitcode(status)}\n")
        answers.flush()


if __name__ == "__main__":
    serve()
