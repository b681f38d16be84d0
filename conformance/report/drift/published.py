"""The published OpenAPI document: fetching it, and the defects of the document itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import yaml

from conformance.client.bounded import FetchRefused, RunClock, fetch_document
from conformance.model.exchange import json_pointer
from conformance.model.yamlfile import load_yaml
from conformance.report.drift.specdiff import OPERATIONS
from conformance.rules.contract import ContractError, inline_refs, resolver_for
from conformance.rules.fingerprints import fingerprint

DEFAULT_PUBLISHED_SPEC = "https://docs.evermuse.com/openapi/ingest-v1.yaml"
_BASE = "urn:evermuse-conformance:published"


class PublishedUnavailable(Exception):
    """The published document could not be fetched or read; the message says why."""


@dataclass(frozen=True)
class Published:
    source: str
    document: dict[str, Any]
    resolved: dict[str, Any]


@dataclass(frozen=True)
class Defect:
    kind: str
    location: str
    detail: str
    level: str

    @property
    def fingerprint(self) -> str:
        return fingerprint("defect", self.kind, self.location)


def load_published(source: str, *, timeout: float = 15.0, clock: RunClock | None = None,
                   ca_bundle: str | None = None) -> Published:
    """The published document at a URL (fetched within the run's bounds: clock is its --max-duration) or a path."""
    try:
        if source.startswith(("http://", "https://")):
            text = fetch_document(source, timeout=timeout, clock=clock, ca_bundle=ca_bundle).decode("utf-8", "replace")
        else:
            text = Path(source).read_text(encoding="utf-8")
    except FetchRefused as exc:
        raise PublishedUnavailable(str(exc)) from None
    except OSError as exc:
        raise PublishedUnavailable(f"could not read {source}: {exc.strerror}") from None
    try:
        document = load_yaml(text)
    except yaml.YAMLError as exc:
        raise PublishedUnavailable(f"{source} is not YAML or JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(document, dict) or "paths" not in document:
        raise PublishedUnavailable(f"{source} is not an OpenAPI document")
    try:
        resolved = inline_refs(document, resolver_for(document, _BASE))
    except (ContractError, referencing.exceptions.Unresolvable) as exc:
        raise PublishedUnavailable(f"{source} has references that cannot be resolved: {exc}") from None
    return Published(source, document, resolved)


def _walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    yield pointer, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, pointer + json_pointer([key]))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


def find_defects(published: Published) -> list[Defect]:
    document = published.document
    defects: list[Defect] = []
    version = str(document.get("openapi", ""))
    if version.startswith("3.1"):
        for pointer, node in _walk(document):
            if isinstance(node, dict) and "nullable" in node and "/examples/" not in pointer:
                defects.append(Defect("nullable-in-3.1", pointer, "nullable is no keyword of OpenAPI 3.1, which writes "
                                      "type: [..., \"null\"]; a strict 3.1 validator rejects null here", "breaking"))
    if document.get("security") == []:
        defects.append(Defect("security-switched-off", "/security", "a top-level security: [] tells tools that no "
                              "operation needs a key, against every operation's own security", "warning"))
    for method, path in OPERATIONS:
        operation = document.get("paths", {}).get(path, {}).get(method) or {}
        for status, response in (operation.get("responses") or {}).items():
            if str(status)[:1] in "45" and not (response or {}).get("content"):
                pointer = json_pointer(["paths", path, method, "responses", status])
                defects.append(Defect("error-without-body", pointer, f"{method.upper()} {path} documents {status} "
                                      "without a body, though the docs describe one JSON error envelope", "warning"))
    defects += _example_defects(published)
    # Imported here: it takes a fifth of a second, and only a run that writes a drift report needs it.
    from openapi_spec_validator import validate as validate_openapi

    try:
        validate_openapi(document)
    except Exception as exc:  # the validator raises several unrelated types
        path = getattr(exc, "absolute_path", None) or []
        pointer = json_pointer(path) or "/"
        message = getattr(exc, "message", None) or str(exc).splitlines()[0]
        defects.append(Defect("invalid-openapi", pointer, f"openapi-spec-validator: {message}", "warning"))
    return defects


def _example_defects(published: Published) -> Iterator[Defect]:
    """Request body examples that their own schema refuses."""
    for method, path in OPERATIONS:
        operation = published.resolved.get("paths", {}).get(path, {}).get(method) or {}
        content = (operation.get("requestBody") or {}).get("content") or {}
        for media_type, media in content.items():
            schema = media.get("schema")
            if not isinstance(schema, dict) or "json" not in media_type:
                continue
            for name, example in (media.get("examples") or {}).items():
                error = jsonschema.exceptions.best_match(
                    jsonschema.Draft202012Validator(schema).iter_errors(example.get("value")))
                if error is not None:
                    pointer = json_pointer(["paths", path, method, "requestBody", "content", media_type, "examples",
                                            name])
                    yield Defect("example-fails-its-schema", pointer, f"example {name}: {error.message[:200]}",
                                 "info")
