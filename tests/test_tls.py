"""A target over HTTPS whose certificate a private CA signed, as a staging behind a corporate CA is."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.client.tls import ssl_context
from conformance.settings.options import SettingsError, resolve
from conformance.simulator import SimulatorServer, make_settings
from tests.private_ca import write_private_ca
from tests.suite_runs import run_suite

EXIT_OK, EXIT_USAGE, EXIT_NOT_CHECKED = 0, 4, 6
KEYS = {"EVERMUSE_API_KEY": "em_sk_tls_write", "EVERMUSE_READ_API_KEY": "em_sk_tls_read",
        "EVERMUSE_OTHER_API_KEY": "em_sk_tls_other"}
# A deployed target's defaults wait as long as staging needs; the simulator needs what the embedded run gives it.
FAST = ("--lifecycle-timeout", "10", "--write-lag", "1.2", "--replica-lag", "1")


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_private_ca(tmp_path_factory.mktemp("private-ca"))


@pytest.fixture
def https_simulator(private_ca: dict[str, Path]) -> Iterator[SimulatorServer]:
    settings = make_settings(write_key=KEYS["EVERMUSE_API_KEY"], read_key=KEYS["EVERMUSE_READ_API_KEY"],
                             other_key=KEYS["EVERMUSE_OTHER_API_KEY"])
    with SimulatorServer(settings, tls=(str(private_ca["cert"]), str(private_ca["key"]))) as server:
        yield server


def test_the_ca_bundle_is_trusted_besides_the_public_cas(private_ca: dict[str, Path]) -> None:
    public = ssl_context(None)
    with_bundle = ssl_context(str(private_ca["ca"]))
    assert len(with_bundle.get_ca_certs()) == len(public.get_ca_certs()) + 1
    assert with_bundle.verify_mode == ssl.CERT_REQUIRED and with_bundle.check_hostname


def test_the_ca_bundle_comes_from_the_option_then_the_suites_variable_then_requests_and_openssls(
        private_ca: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(private_ca["ca"].read_bytes())
    ca = str(private_ca["ca"])

    def resolved(option: str | None, environ: dict[str, str]) -> tuple[str | None, str]:
        settings = resolve(lambda name: option if name == "--ca-bundle" else None, lambda name: None, environ)
        return settings.ca_bundle, settings.sources["ca_bundle"]

    assert resolved(ca, {"EVERMUSE_CA_BUNDLE": str(other)}) == (ca, "--ca-bundle")
    assert resolved(None, {"SSL_CERT_FILE": str(other), "REQUESTS_CA_BUNDLE": ca}) == (ca, "REQUESTS_CA_BUNDLE")
    assert resolved(None, {"SSL_CERT_FILE": ca}) == (ca, "SSL_CERT_FILE")
    assert resolved(None, {}) == (None, "certifi's bundle of public CAs")
    with pytest.raises(SettingsError, match=r"^--ca-bundle is '.*missing.pem', which cannot be read as a CA bundle "
                                            r"\(No such file or directory\); give the PEM file"):
        resolved(str(tmp_path / "missing.pem"), {})
    (tmp_path / "not-pem.txt").write_text("hello")
    with pytest.raises(SettingsError, match=r"^EVERMUSE_CA_BUNDLE is .* \(it holds no PEM certificate\)"):
        resolved(None, {"EVERMUSE_CA_BUNDLE": str(tmp_path / "not-pem.txt")})


def test_a_target_signed_by_a_private_ca_is_checked_with_ca_bundle(
        tmp_path: Path, https_simulator: SimulatorServer, private_ca: dict[str, Path]) -> None:
    assert https_simulator.base_url.startswith("https://127.0.0.1:")
    run = run_suite(tmp_path, "--base-url", https_simulator.base_url, "--ca-bundle", str(private_ca["ca"]), *FAST,
                    env=KEYS)
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert f"ca bundle           {private_ca['ca']} (--ca-bundle)" in run.output
    # Every request went over TLS to the simulator, the property tests' included.
    assert len(https_simulator.simulator.requests) > 100
    generated = [case for name, case in run.cases.items() if name.startswith("test_generated_requests")]
    assert generated and all(case.outcome == "passed" for case in generated)
    assert run.failing == []


def test_without_the_ca_the_run_is_not_checked_and_names_the_option(
        tmp_path: Path, https_simulator: SimulatorServer) -> None:
    env = {**KEYS, "REQUESTS_CA_BUNDLE": "", "SSL_CERT_FILE": ""}
    run = run_suite(tmp_path, "--base-url", https_simulator.base_url, *FAST, env=env)
    assert run.returncode == EXIT_NOT_CHECKED, run.output[-3000:]
    assert (f"could not check the target: the TLS certificate of {https_simulator.base_url} is not signed by a CA "
            f"this run trusts") in run.output
    assert "set --ca-bundle (EVERMUSE_CA_BUNDLE) to the PEM file of the CA that signed it" in run.output
    assert "Traceback" not in run.output


def test_requests_ca_bundle_is_honoured(tmp_path: Path, https_simulator: SimulatorServer,
                                        private_ca: dict[str, Path]) -> None:
    run = run_suite(tmp_path, "--base-url", https_simulator.base_url, *FAST,
                    env={**KEYS, "REQUESTS_CA_BUNDLE": str(private_ca["ca"])})
    assert run.returncode == EXIT_OK, run.output[-3000:]
    assert "(REQUESTS_CA_BUNDLE)" in run.output


def test_an_unreadable_ca_bundle_is_a_usage_error(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--ca-bundle", str(tmp_path / "nowhere.pem"))
    assert run.returncode == EXIT_USAGE, run.output[-3000:]
    assert "ERROR: --ca-bundle is " in run.output and "Traceback" not in run.output
