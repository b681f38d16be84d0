"""The hand-written OpenAPI contract: its operations, response schemas and the rule behind each constraint."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import referencing
import yaml
from referencing.jsonschema import DRAFT202012

from conformance.model.locations import CONTRACT_FILE
from conformance.model.yamlfile import load_yaml

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_BASE_URI = "urn:evermuse-conformance:contract"


class ContractError(Exception):
    """The contract file cannot be used as it stands."""


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    responses: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.template}"


@dataclass(frozen=True)
class PathItem:
    template: str
    methods: tuple[str, ...]

    @property
    def segments(self) -> list[str]:
        return self.template.strip("/").split("/")

    def matches(self, raw_segments: list[str]) -> bool:
        # Matched against the tail of the request path, so a base URL with a prefix still matches.
        ours = self.segments
        if len(raw_segments) < len(ours):
            return False
        tail = raw_segments[len(raw_segments) - len(ours) :]
        return all(
            (mine.startswith("{") and mine.endswith("}") and theirs != "") or mine == theirs
            for mine, theirs in zip(ours, tail, strict=True)
        )

    def parameter(self, raw_segments: list[str], name: str) -> str | None:
        ours = self.segments
        tail = raw_segments[len(raw_segments) - len(ours) :]
        for mine, theirs in zip(ours, tail, strict=True):
            if mine == "{" + name + "}":
                return theirs
        return None


def inline_refs(node: Any, resolver: referencing.Resolver, trail: tuple[str, ...] = ()) -> Any:
    """Replace every local $ref by its target.

    jsonschema reports an error's schema path without the $ref hops, so finding the x-rule that
    encloses a failing keyword needs a schema with the references written out.
    """
    if isinstance(node, list):
        return [inline_refs(item, resolver, trail) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in trail:
            raise ContractError(f"the contract refers to itself through {ref}; the suite needs a tree of schemas")
        target = resolver.lookup(ref).contents
        merged = dict(inline_refs(target, resolver, (*trail, ref)))
        merged.update({k: inline_refs(v, resolver, trail) for k, v in node.items() if k != "$ref"})
        return merged
    return {key: inline_refs(value, resolver, trail) for key, value in node.items()}


def resolver_for(document: dict[str, Any], base_uri: str) -> referencing.Resolver:
    """A resolver of the document's own JSON pointers, as local $refs use them."""
    resource = DRAFT202012.create_resource(document)
    return referencing.Registry().with_resource(base_uri, resource).resolver(base_uri=base_uri)


class Contract:
    def __init__(self, document: dict[str, Any], path: Path, raw: bytes):
        self.document = document
        self.path = path
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self._resolver = resolver_for(document, _BASE_URI)
        self.resolved: dict[str, Any] = inline_refs(document, self._resolver)

    def pointer(self, pointer: str) -> Any:
        """The part of the contract at a JSON pointer; LookupError when there is none."""
        try:
            return self._resolver.lookup("#" + pointer).contents
        except referencing.exceptions.Unresolvable as exc:
            raise LookupError(f"{pointer} does not exist in {self.path.name}") from exc

    @cached_property
    def path_items(self) -> list[PathItem]:
        items = []
        for template, item in self.resolved.get("paths", {}).items():
            methods = tuple(m for m in HTTP_METHODS if m in item)
            items.append(PathItem(template, methods))
        # Longest template first, so /batches/{batchId} wins over /batches for a deeper path.
        return sorted(items, key=lambda p: len(p.segments), reverse=True)

    @cached_property
    def operations(self) -> list[Operation]:
        return [
            Operation(method, item.template, self.resolved["paths"][item.template][method]["operationId"],
                      self.resolved["paths"][item.template][method].get("responses", {}))
            for item in self.path_items
            for method in item.methods
        ]

    def path_item_for(self, raw_path: str) -> PathItem | None:
        segments = raw_path.strip("/").split("/")
        for item in self.path_items:
            if len(segments) >= len(item.segments) and item.matches(segments):
                return item
        return None

    def operation_for(self, method: str, raw_path: str) -> Operation | None:
        item = self.path_item_for(raw_path)
        if item is None or method.lower() not in item.methods:
            return None
        return self.operation(item.template, method)

    def operation(self, template: str, method: str) -> Operation:
        for op in self.operations:
            if op.template == template and op.method == method.lower():
                return op
        raise LookupError(f"{method.upper()} {template} is not in the contract")

    def documented_statuses(self, op: Operation) -> set[int]:
        return {int(code) for code in op.responses if code.isdigit()}

    def response_schema(self, response: dict[str, Any] | None) -> dict[str, Any] | None:
        if not response:
            return None
        media = response.get("content", {}).get("application/json")
        return media.get("schema") if media else None

    def schema(self, name: str) -> dict[str, Any]:
        return self.resolved["components"]["schemas"][name]

    def iter_response_schemas(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for op in self.operations:
            for code, response in op.responses.items():
                schema = self.response_schema(response)
                if schema is not None:
                    yield f"{op.label} -> {code}", schema


@cache
def load_contract(path: Path = CONTRACT_FILE) -> Contract:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ContractError(f"cannot read the contract {path}: {exc.strerror}") from None
    try:
        document = load_yaml(raw)
    except yaml.YAMLError as exc:
        raise ContractError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
        raise ContractError(f"{path} is not an OpenAPI 3.1 document")
    return Contract(document, path, raw)
