"""The suite as its users install it: the wheel, in a fresh virtual environment outside the checkout.

One test, in steps: each step of the user's way needs the one before it, and a virtual environment with
its dependencies is built once. It downloads from the package index what pip's cache does not hold.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from conformance import __version__
from conformance.rules.outcome import EXIT_FAILED, EXIT_NOT_CHECKED, EXIT_OK
from tests.private_ca import write_private_ca
from tests.suite_runs import ROOT

MUST_FAULT = "count-as-string"  # EM-COUNT-001 (MUST)
KEYS = {"EVERMUSE_API_KEY": "em_sk_wheel_write", "EVERMUSE_READ_API_KEY": "em_sk_wheel_read",
        "EVERMUSE_OTHER_API_KEY": "em_sk_wheel_other"}
FAST = ["--lifecycle-timeout", "10", "--write-lag", "1.2", "--replica-lag", "1"]


def _user_environment() -> dict[str, str]:
    """The user's shell: none of the checkout's or the project tests' settings, and no trusted private CA."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("EVERMUSE_", "PYTEST_", "VIRTUAL_ENV", "PYTHON"))
            and k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")}


def _run(argv: list[str], cwd: Path, timeout: float = 300, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run(argv, cwd=cwd, env={**_user_environment(), **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def _step(what: str, argv: list[str], cwd: Path, status: int, **kwargs: object) -> str:
    code, output = _run(argv, cwd, **kwargs)  # type: ignore[arg-type]
    assert code == status, f"{what}: exit {code}, expected {status}\n$ {' '.join(argv)}\n{output[-4000:]}"
    return output


@contextmanager
def _https_simulator(bin_dir: Path, tls: dict[str, str], cwd: Path) -> Iterator[str]:
    """The installed simulator command over HTTPS, started apart from the run, as a staging would be."""
    log = (cwd / "simulator.txt").open("w+")
    process = subprocess.Popen([str(bin_dir / "evermuse-simulator"), "--port", "0", "--tls-cert", tls["cert"],
                                "--tls-key", tls["key"], "--api-key", KEYS["EVERMUSE_API_KEY"],
                                "--read-api-key", KEYS["EVERMUSE_READ_API_KEY"],
                                "--other-api-key", KEYS["EVERMUSE_OTHER_API_KEY"]],
                               cwd=cwd, env=_user_environment(), stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(600):
            log.seek(0)
            found = re.search(r"Evermuse simulator on (https://\S+)", log.read())
            if found:
                yield found.group(1)
                return
            assert process.poll() is None, f"the simulator ended: {log.read()}"
            with suppress(subprocess.TimeoutExpired):
                process.wait(0.1)
        raise AssertionError("the simulator printed no address within a minute")
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def test_the_wheel_installed_outside_the_checkout_runs_the_suite_both_ways(tmp_path: Path) -> None:
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    # With the project's own hatchling (a test extra): the wheel is the same, and no build environment is made.
    _step("build the wheel", [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                              str(dist), str(ROOT)], tmp_path, EXIT_OK, timeout=600)
    wheel = next(dist.glob("evermuse_conformance-*.whl"))
    _step("make a virtual environment", [sys.executable, "-m", "venv", str(venv)], tmp_path, EXIT_OK)
    bin_dir = venv / "bin"
    _step("pip install the wheel", [str(bin_dir / "pip"), "install", "-q", str(wheel)], work, EXIT_OK, timeout=900)
    located = _step("import it", [str(bin_dir / "python"), "-c", "import conformance; print(conformance.__file__)"],
                    work, EXIT_OK)
    assert str(venv) in located and str(ROOT) not in located, located

    console = [str(bin_dir / "evermuse-conformance")]
    pytest_entry = [str(bin_dir / "pytest"), "--pyargs", "conformance"]
    versions = _step("pytest -VV", [str(bin_dir / "pytest"), "-VV"], work, EXIT_OK)
    assert f"evermuse-conformance-{__version__}" in versions, versions
    tls = {name: str(path) for name, path in write_private_ca(tmp_path).items()}

    def both_targets(first: list[str], second: list[str], phase: str) -> None:
        """Each entry runs the embedded simulator green and red, and the HTTPS target with and without its CA."""
        green = _step(f"{phase}: embedded", [*first], work, EXIT_OK)
        assert f"evermuse-conformance {__version__} settings:" in green, green[-3000:]
        red = _step(f"{phase}: a MUST fault", [*second, "--simulator-fault", MUST_FAULT], work, EXIT_FAILED)
        assert "EM-COUNT-001 (MUST)" in red, red[-3000:]
        with _https_simulator(bin_dir, tls, tmp_path) as url:
            _step(f"{phase}: HTTPS with --ca-bundle", [*second, "--base-url", url, "--ca-bundle", tls["ca"], *FAST],
                  work, EXIT_OK, env=KEYS)
            refused = _step(f"{phase}: HTTPS without it", [*first, "--base-url", url, *FAST], work,
                            EXIT_NOT_CHECKED, env=KEYS)
            assert "set --ca-bundle (EVERMUSE_CA_BUNDLE)" in refused, refused[-3000:]
            assert "Traceback" not in refused

    both_targets(console, pytest_entry, "alone")
    _step("pip install pytest-base-url", [str(bin_dir / "pip"), "install", "-q", "pytest-base-url>=2.1,<3"], work,
          EXIT_OK, timeout=600)
    both_targets(pytest_entry, console, "beside pytest-base-url")
