"""The run's settings: each from the command line, else the environment, else the ini file, else a default.

Secrets come from the environment only, and never appear in what describe() returns.
"""

from __future__ import annotations

import os
import random
import secrets
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.model.exchange import Keys

DEFAULT_MAX_REQUESTS = 400
DEFAULT_LIFECYCLE_TIMEOUT = 10.0
# A deployment runs a queue and downloads attachments from the internet: staging takes about ten minutes.
DEFAULT_DEPLOYED_LIFECYCLE_TIMEOUT = 600.0
# How long a new batch may be missing from reads and from the list (replicas, a search index behind the list):
# a few seconds is what read replicas and search indexes commonly run behind; the embedded simulator, whose
# list lags a second at most, gets less, and each run of it waits that much less.
DEFAULT_WRITE_LAG, DEFAULT_DEPLOYED_WRITE_LAG = 1.2, 3.0
# How far a read may go back behind an earlier read (two reads served by replicas at different points):
# short for the simulator, whose batches live a second; longer for a deployment.
DEFAULT_REPLICA_LAG, DEFAULT_DEPLOYED_REPLICA_LAG = 1.0, 3.0
DEFAULT_REQUEST_TIMEOUT = 10.0
# Sized for staging: a lifecycle of about four minutes, waited out, and everything else besides.
DEFAULT_MAX_DURATION = 1800.0
DEFAULT_ATTACHMENT_URL = "https://www.example.com/"
DEFAULT_HISTORY_RUNS = 60

KEY_VARIABLES = {"write": "EVERMUSE_API_KEY", "read": "EVERMUSE_READ_API_KEY", "other": "EVERMUSE_OTHER_API_KEY"}


class SettingsError(Exception):
    """A setting the user gave cannot be used; the message names it and says what to change."""


@dataclass(frozen=True)
class Setting:
    """One setting's resolution: its names in each source, and how to read its text."""

    name: str
    option: str
    variable: str
    ini: str
    default: Any
    parse: Callable[[str, str], Any] = lambda text, source: text
    # What --help and the console script's usage say of it; what its value is; how pytest reads its ini key.
    help: str = ""
    metavar: str = "S"
    ini_type: str = "string"


def _number(kind: type, minimum: float) -> Callable[[str, str], Any]:
    def parse(text: str, source: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise SettingsError(f"{source} is {text!r}, not a {'whole ' if kind is int else ''}number; "
                                f"give a number of at least {minimum:g}.") from None
        if value < minimum:
            raise SettingsError(f"{source} is {text}; give a number of at least {minimum:g}.")
        return value

    return parse


def _url(text: str, source: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{source} is {text!r}, not an http(s) URL; give one like https://staging.example.com.")
    if parts.query or parts.fragment:
        raise SettingsError(f"{source} is {text!r}; give the base URL without a query or fragment.")
    return text.rstrip("/")


def _ca_bundle(text: str, source: str) -> str:
    path = Path(text).expanduser()
    try:
        ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        reason = "it holds no PEM certificate" if isinstance(exc, ssl.SSLError) else exc.strerror or str(exc)
        raise SettingsError(f"{source} is {text!r}, which cannot be read as a CA bundle ({reason}); give the PEM "
                            f"file of the CA that signed the target's certificate.") from None
    return str(path.resolve())


SETTINGS = (
    Setting("base_url", "--base-url", "EVERMUSE_BASE_URL", "evermuse_base_url", None, _url, metavar="URL",
            help="target base URL; without one the embedded reference simulator is started"),
    Setting("lifecycle_timeout", "--lifecycle-timeout", "EVERMUSE_LIFECYCLE_TIMEOUT", "evermuse_lifecycle_timeout",
            DEFAULT_LIFECYCLE_TIMEOUT, _number(float, 0.1), ini_type="float",
            help="seconds to wait for a batch to end (default 10 for the embedded simulator, 600 with --base-url)"),
    Setting("write_lag", "--write-lag", "EVERMUSE_WRITE_LAG", "evermuse_write_lag", DEFAULT_WRITE_LAG,
            _number(float, 0), ini_type="float",
            help="seconds a new batch may be missing from reads and from the list (default 1.2 for the embedded "
                 "simulator, 3 with --base-url)"),
    Setting("replica_lag", "--replica-lag", "EVERMUSE_REPLICA_LAG", "evermuse_replica_lag", DEFAULT_REPLICA_LAG,
            _number(float, 0), ini_type="float",
            help="seconds a read may go back behind an earlier read before it is a break (default 1 for the "
                 "embedded simulator, 3 with --base-url)"),
    Setting("max_requests", "--max-requests", "EVERMUSE_MAX_REQUESTS", "evermuse_max_requests",
            DEFAULT_MAX_REQUESTS, _number(int, 1), metavar="N", ini_type="int",
            help="most requests the whole run may send (default 400)"),
    Setting("request_timeout", "--request-timeout", "EVERMUSE_REQUEST_TIMEOUT", "evermuse_request_timeout",
            DEFAULT_REQUEST_TIMEOUT, _number(float, 0.1), ini_type="float",
            help="seconds each request may take in all: connect, headers and body (default 10)"),
    Setting("max_duration", "--max-duration", "EVERMUSE_MAX_DURATION", "evermuse_max_duration",
            DEFAULT_MAX_DURATION, _number(float, 1), ini_type="float",
            help="seconds the whole run may take; it then ends with what it has (default 1800)"),
    Setting("ca_bundle", "--ca-bundle", "EVERMUSE_CA_BUNDLE", "evermuse_ca_bundle", None, _ca_bundle, metavar="PEM",
            help="PEM file of the private CAs the target's TLS certificate may chain to, trusted besides the "
                 "public ones (default: REQUESTS_CA_BUNDLE, else SSL_CERT_FILE, else none)"),
    Setting("attachment_url", "--attachment-url", "EVERMUSE_ATTACHMENT_URL", "evermuse_attachment_url",
            DEFAULT_ATTACHMENT_URL, _url, metavar="URL",
            help="an attachment URL the target can download (default https://www.example.com/)"),
    Setting("seed", "--seed", "EVERMUSE_SEED", "evermuse_seed", None, _number(int, 0), metavar="N", ini_type="int",
            help="seed of generated data and run ids (default random, shown in the header)"),
    Setting("product_id", "--product-id", "EVERMUSE_PRODUCT_ID", "evermuse_product_id", "conformance-product",
            metavar="ID", help="_product_id of seeded records (default conformance-product)"),
    Setting("project_id", "--project-id", "EVERMUSE_PROJECT_ID", "evermuse_project_id", "conformance-project",
            metavar="ID", help="_project_ids entry of seeded records (default conformance-project)"),
    Setting("expectations", "--expectations", "EVERMUSE_EXPECTATIONS", "evermuse_expectations", None,
            metavar="NAME|PATH", help="known deviations: a name in fixtures/expectations/ or a path (default: "
                                      "none; simulator for the embedded one)"),
    Setting("drift_report", "--drift-report", "EVERMUSE_DRIFT_REPORT", "evermuse_drift_report", None,
            metavar="DIR", help="write drift.md, drift.json and drift.html into this directory"),
    Setting("published_spec", "--published-spec", "EVERMUSE_PUBLISHED_SPEC", "evermuse_published_spec",
            "https://docs.evermuse.com/openapi/ingest-v1.yaml", metavar="URL|PATH",
            help="URL or path of the published OpenAPI document the drift report compares"),
    Setting("drift_baseline", "--drift-baseline", "EVERMUSE_DRIFT_BASELINE", "evermuse_drift_baseline", None,
            metavar="PATH",
            help="last night's drift.json, to start the history from when there is no history file yet"),
    Setting("drift_history", "--drift-history", "EVERMUSE_DRIFT_HISTORY", "evermuse_drift_history", None,
            metavar="PATH", help="the history of the last runs the report draws its trend from (default: "
                                 "history.json beside the report)"),
    Setting("drift_history_runs", "--drift-history-runs", "EVERMUSE_DRIFT_HISTORY_RUNS", "evermuse_drift_history_runs",
            DEFAULT_HISTORY_RUNS, _number(int, 1), metavar="N", ini_type="int",
            help="how many runs the history keeps (default 60)"),
)


@dataclass(frozen=True)
class Flag:
    """An option of the suite beside the settings: how it reads in --help and in the console script's usage."""

    option: str
    metavar: str | None  # None: a switch that takes no value
    help: str


FLAGS = {flag.option: flag for flag in (
    Flag("--read-only", None, "send no POST; check the batches named by --batch-id, or the newest listed"),
    Flag("--batch-id", "ID", "a batch to check in --read-only mode (repeatable)"),
    Flag("--simulator-fault", "NAME", "self-test device: break one rule in the embedded simulator (repeatable; "
                                      "evermuse-simulator --list-faults)"),
    Flag("--simulator-choice", "NAME=VALUE", "self-test device: make the embedded simulator take another choice "
                                             "the docs leave open (repeatable; evermuse-simulator --list-choices)"),
    Flag("--simulator-lifecycle", "S", "self-test device: seconds the embedded simulator takes for a batch "
                                       "lifecycle (default 1)"),
)}
# Where a CA bundle comes from when no setting of the suite names one, in this order: requests' and OpenSSL's
# variables, which CI images set for a corporate CA.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


@dataclass(frozen=True)
class RunSettings:
    base_url: str | None
    keys: Keys
    lifecycle_timeout: float
    write_lag: float
    replica_lag: float
    max_requests: int
    request_timeout: float
    max_duration: float
    attachment_url: str
    seed: int
    product_id: str
    project_id: str
    expectations: str | None = None
    drift_report: str | None = None
    published_spec: str | None = None
    drift_baseline: str | None = None
    drift_history: str | None = None
    drift_history_runs: int = DEFAULT_HISTORY_RUNS
    ca_bundle: str | None = None
    read_only: bool = False
    batch_ids: tuple[str, ...] = ()
    strict: bool = False
    simulator_faults: tuple[str, ...] = ()
    simulator_choices: tuple[str, ...] = ()
    simulator_lifecycle: float = 1.0
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    @property
    def ids_known(self) -> bool:
        """Whether the records' product and project exist on the target, so the run knows which records are valid."""
        return self.embedded or "default" not in (self.sources.get("product_id"), self.sources.get("project_id"))

    def describe(self) -> list[tuple[str, str]]:
        """Every resolved setting with where it came from, for the report header; keys only as present/absent."""
        rows = [("target", f"{self.base_url} ({self.sources['base_url']})" if self.base_url
                 else "embedded reference simulator (no --base-url, EVERMUSE_BASE_URL or evermuse_base_url)")]
        for name in ("lifecycle_timeout", "write_lag", "replica_lag", "max_requests", "request_timeout", "max_duration",
                     "ca_bundle", "attachment_url", "seed",
                     "product_id", "project_id", "expectations", "drift_report", "published_spec", "drift_baseline",
                     "drift_history", "drift_history_runs"):
            value = getattr(self, name)
            rows.append((name.replace("_", " "), f"{'none' if value is None else value} ({self.sources[name]})"))
        for role, variable in KEY_VARIABLES.items():
            present = getattr(self.keys, role) is not None
            shown = ("generated by the simulator" if self.embedded else "set") if present else "not set"
            rows.append((f"{role} key", f"{shown} ({variable})"))
        rows.append(("mode", "read-only (no POST)" if self.read_only else "read and write"))
        if self.batch_ids:
            rows.append(("batch ids", ", ".join(self.batch_ids)))
        rows.append(("SHOULD rules", "fail the run (--strict)" if self.strict else "reported, do not fail"))
        if not self.ids_known:
            rows.append(("record validity", "unknown: set --product-id and --project-id to ids of the target's "
                                            "workspace to judge what becomes of valid records"))
        if self.simulator_faults:
            rows.append(("simulator faults", ", ".join(self.simulator_faults)))
        if self.simulator_choices:
            rows.append(("simulator choices", ", ".join(self.simulator_choices)))
        return rows


def resolve(option: Callable[[str], Any], ini: Callable[[str], Any], environ: Mapping[str, str] | None = None,
            *, flags: Mapping[str, Any] | None = None) -> RunSettings:
    """Resolve every setting: command line, then environment, then ini file, then default."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        given = option(setting.option)
        if given is not None and not str(given).strip():
            raise SettingsError(f"{setting.option} is empty; give a value or leave the option out.")
        candidates = [(given, setting.option), (env.get(setting.variable), setting.variable),
                      (ini(setting.ini), f"{setting.ini} in the ini file")]
        for text, source in candidates:
            if text not in (None, ""):
                values[setting.name] = setting.parse(str(text), source)
                sources[setting.name] = source
                break
        else:
            values[setting.name] = setting.default
            sources[setting.name] = "default"
    if values["base_url"] is not None and sources["lifecycle_timeout"] == "default":
        values["lifecycle_timeout"] = DEFAULT_DEPLOYED_LIFECYCLE_TIMEOUT
        sources["lifecycle_timeout"] = "default for a deployed target"
    if values["base_url"] is not None and sources["write_lag"] == "default":
        values["write_lag"], sources["write_lag"] = DEFAULT_DEPLOYED_WRITE_LAG, "default for a deployed target"
    if values["base_url"] is not None and sources["replica_lag"] == "default":
        values["replica_lag"], sources["replica_lag"] = DEFAULT_DEPLOYED_REPLICA_LAG, "default for a deployed target"
    for variable in CA_BUNDLE_VARIABLES:
        if values["ca_bundle"] is None and env.get(variable):
            values["ca_bundle"], sources["ca_bundle"] = _ca_bundle(env[variable], variable), variable
    if values["ca_bundle"] is None:
        sources["ca_bundle"] = "certifi's bundle of public CAs" + (", and SSL_CERT_DIR" if env.get("SSL_CERT_DIR")
                                                                   else "")
    if values["seed"] is None:
        values["seed"] = random.SystemRandom().randrange(2**32)
        sources["seed"] = "random"
    if values["drift_history"] is None and values["drift_report"] is not None:
        values["drift_history"] = str(Path(values["drift_report"]) / "history.json")
        sources["drift_history"] = "beside --drift-report"
    if values["expectations"] is None and values["base_url"] is None:
        values["expectations"], sources["expectations"] = "simulator", "the embedded simulator's"
    flags = dict(flags or {})
    if values["base_url"] is None:
        # The embedded simulator takes whatever keys the run gives it; they exist before collection,
        # when schemathesis already builds its first cases.
        keys = Keys(*(f"em_sk_sim_{role}_{secrets.token_hex(12)}" for role in KEY_VARIABLES))
    else:
        keys = Keys(**{role: env.get(variable) or None for role, variable in KEY_VARIABLES.items()})
    settings = RunSettings(keys=keys, sources=sources, **values, **flags)
    _check_consistency(settings)
    return settings


def _check_consistency(settings: RunSettings) -> None:
    if settings.embedded:
        if settings.batch_ids and not settings.read_only:
            raise SettingsError("--batch-id names batches of a real target; add --read-only and --base-url.")
        return
    if settings.simulator_faults or settings.simulator_choices:
        raise SettingsError("--simulator-fault and --simulator-choice apply to the embedded simulator only; "
                            "leave out --base-url.")
    if settings.keys.write is None and not settings.read_only:
        raise SettingsError(
            "EVERMUSE_API_KEY is not set: export an api:write key of the target's workspace, "
            "or add --read-only with EVERMUSE_API_KEY set to any key that may read batches.")
    if settings.keys.write is None:
        raise SettingsError("EVERMUSE_API_KEY is not set: export a key of the target's workspace "
                            "that may read batches.")
