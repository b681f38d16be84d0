"""Published document vs contract: a structural diff of the three operations, graded for API clients.

Each schema is reduced to facts per location (type, enum, bounds, required-ness, closedness); a
difference in a fact is a change. Its level says what it does to a client built from the published
document: breaking (it will misbehave), warning (it may), info (it will not).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance.rules.fingerprints import fingerprint

OPERATIONS = (("post", "/api/v1/ingest"), ("get", "/api/v1/ingest/batches"),
              ("get", "/api/v1/ingest/batches/{batchId}"))
BOUNDS = ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "minProperties")
UPPER = ("maxLength", "maximum", "maxItems")
PUBLISHED_SHOULD_CHANGE = "the published document should change"
API_SHOULD_CHANGE = "the API should change"


@dataclass
class Facts:
    types: frozenset[str] | None = None
    enum: frozenset[Any] | None = None
    bounds: dict[str, Any] = field(default_factory=dict)
    required: bool = False
    closed: bool = False
    accepts_anything: bool = False
    rule: str | None = None


@dataclass(frozen=True)
class Change:
    kind: str
    operation: str
    location: str
    published: str
    contract: str
    level: str
    rule: str | None

    @property
    def fingerprint(self) -> str:
        return fingerprint("published", self.kind, self.operation, self.location)


def _types(schema: dict[str, Any]) -> frozenset[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    # A 3.1 document means null only by the type null; the 3.0 keyword nullable is a defect, not a type.
    return frozenset(kind if isinstance(kind, list) else [kind])


def schema_facts(schema: Any, path: str = "", *, required: bool = True, rule: str | None = None,
                 ) -> Iterator[tuple[str, Facts]]:
    """Every location of a schema with its facts; branches of oneOf are numbered, allOf is merged."""
    if schema is True or schema == {}:
        yield path, Facts(accepts_anything=True, required=required, rule=rule)
        return
    if not isinstance(schema, dict):
        return
    rule = schema.get("x-rule") if isinstance(schema.get("x-rule"), str) else rule
    any_of = schema.get("anyOf") or []
    if any(branch is True or branch == {} for branch in any_of):
        # "a valid X, or anything else": the facts of X, marked as accepting anything.
        real = next((b for b in any_of if b is not True and b != {}), {})
        for location, facts in schema_facts(real, path, required=required, rule=rule):
            if location == path:
                facts.accepts_anything = True
            yield location, facts
        return
    merged = dict(schema)
    for part in schema.get("allOf", []):
        if isinstance(part, dict):
            merged = {**part, **merged, "required": [*part.get("required", []), *merged.get("required", [])]}
    facts = Facts(types=_types(merged), enum=frozenset(map(str, merged["enum"])) if "enum" in merged else None,
                  bounds={k: merged[k] for k in BOUNDS if k in merged}, required=required,
                  closed=merged.get("additionalProperties") is False, rule=rule)
    yield path, facts
    names = set(merged.get("required", []))
    for name, sub in merged.get("properties", {}).items():
        yield from schema_facts(sub, f"{path}.{name}", required=name in names, rule=rule)
    if isinstance(merged.get("items"), dict | bool):
        yield from schema_facts(merged["items"], f"{path}[]", rule=rule)
    for number, branch in enumerate(merged.get("oneOf", [])):
        yield from schema_facts(branch, f"{path}|{number}", rule=rule)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(map(str, value))) or "(none)"
    return str(value)


def _level(kind: str, *, response: bool, stricter_side: str | None = None) -> str:
    """What the change does to a client that trusts the published document."""
    if response:
        return {
            "type": "breaking", "required": "breaking", "enum-values-missing": "breaking", "closed": "info",
            "field-only-in-contract": "warning", "field-only-in-published": "warning",
            "bound": "warning" if stricter_side == "published" else "info", "accepts-anything": "info",
        }.get(kind, "info")
    return {
        "type": "breaking", "required": "breaking", "enum-values-missing": "breaking",
        "field-only-in-contract": "warning", "field-only-in-published": "info", "closed": "warning",
        "bound": "warning" if stricter_side == "contract" else "info", "accepts-anything": "warning",
    }.get(kind, "info")


def compare_schemas(operation: str, where: str, published: Any, contract: Any, *, response: bool,
                    ) -> Iterator[Change]:
    theirs = dict(schema_facts(published))
    ours = dict(schema_facts(contract))
    reported_absent: list[str] = []
    for location in sorted(set(theirs) | set(ours)):
        place = f"{where}{location}" or where
        mine, other = ours.get(location), theirs.get(location)
        if any(location.startswith(parent) for parent in reported_absent):
            continue  # inside a field already reported as missing on one side
        if mine is None or other is None:
            reported_absent.append(location + ".")
            reported_absent.append(location + "[]")
        if mine is None:
            if other is not None and not location.count("|"):
                yield Change("field-only-in-published", operation, place, "present", "absent",
                             _level("field-only-in-published", response=response), None)
            continue
        if other is None:
            if not location.count("|"):
                yield Change("field-only-in-contract", operation, place, "absent", "present",
                             _level("field-only-in-contract", response=response), mine.rule)
            continue
        yield from _compare_facts(operation, place, other, mine, response)


def _compare_facts(operation: str, place: str, other: Facts, mine: Facts, response: bool) -> Iterator[Change]:
    def change(kind: str, published: Any, contract: Any, stricter: str | None = None) -> Change:
        level = _level(kind, response=response, stricter_side=stricter)
        return Change(kind, operation, place, _show(published), _show(contract), level, mine.rule)

    if mine.accepts_anything != other.accepts_anything:
        yield change("accepts-anything", "only valid values" if not other.accepts_anything else "anything",
                     "anything, invalid items rejected one by one" if mine.accepts_anything else "only valid values")
        return
    if other.types is not None and mine.types is not None and other.types != mine.types:
        yield change("type", other.types, mine.types)
    if other.enum != mine.enum and other.enum is not None and mine.enum is not None:
        missing = mine.enum - other.enum if response else other.enum - mine.enum
        yield change("enum-values-missing" if missing else "enum", other.enum, mine.enum)
    if other.required != mine.required:
        published_demands = other.required if response else mine.required
        yield change("required" if published_demands else "optional", "required" if other.required else "optional",
                     "required" if mine.required else "optional")
    if other.closed != mine.closed:
        yield change("closed", "closed" if other.closed else "open", "closed" if mine.closed else "open")
    for bound in sorted(set(other.bounds) | set(mine.bounds)):
        theirs, ours = other.bounds.get(bound), mine.bounds.get(bound)
        if theirs == ours:
            continue
        if theirs is None or ours is None:
            stricter = "published" if ours is None else "contract"
        else:
            stricter = "published" if (theirs < ours) == (bound in UPPER) else "contract"
        yield change("bound", f"{bound} {theirs}" if theirs is not None else f"no {bound}",
                     f"{bound} {ours}" if ours is not None else f"no {bound}", stricter)


def _json_schema(media: dict[str, Any] | None) -> Any:
    if not media:
        return None
    return (media.get("content") or {}).get("application/json", {}).get("schema")


def diff_documents(published: dict[str, Any], contract: dict[str, Any]) -> list[Change]:
    """Both documents with their references written out; the three operations compared."""
    changes: list[Change] = []
    for method, path in OPERATIONS:
        label = f"{method.upper()} {path}"
        theirs = published.get("paths", {}).get(path, {}).get(method)
        ours = contract.get("paths", {}).get(path, {}).get(method)
        if theirs is None or ours is None:
            changes.append(Change("operation", label, label, "present" if theirs else "absent",
                                  "present" if ours else "absent", "breaking" if ours else "info", None))
            continue
        changes += _compare_parameters(label, theirs, ours)
        their_bodies, our_bodies = _contents(theirs.get("requestBody")), _contents(ours.get("requestBody"))
        for media_type in sorted(set(their_bodies) | set(our_bodies)):
            their_schema, our_schema = their_bodies.get(media_type), our_bodies.get(media_type)
            where = f"request body {media_type}"
            if their_schema is None or our_schema is None:
                changes.append(Change("media-type", label, where, "present" if their_schema else "absent",
                                      "present" if our_schema else "absent", "warning", None))
            else:
                # What the API takes of a request body shows in what it accepts: EM-INGEST-006 judges that.
                changes += [dataclasses.replace(change, rule=change.rule or "EM-INGEST-006")
                            for change in compare_schemas(label, where, their_schema, our_schema, response=False)]
        changes += _compare_responses(label, theirs.get("responses", {}), ours.get("responses", {}))
    return changes


def _contents(body: dict[str, Any] | None) -> dict[str, Any]:
    return {media: content.get("schema", {}) for media, content in ((body or {}).get("content") or {}).items()}


def _compare_parameters(label: str, theirs: dict[str, Any], ours: dict[str, Any]) -> Iterator[Change]:
    def index(op: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {f"{p['in']} {p['name']}": p for p in op.get("parameters", []) if isinstance(p, dict)}

    their_params, our_params = index(theirs), index(ours)
    for key in sorted(set(their_params) | set(our_params)):
        where = f"parameter {key}"
        if key not in our_params or key not in their_params:
            yield Change("parameter", label, where, "present" if key in their_params else "absent",
                         "present" if key in our_params else "absent", "info", None)
            continue
        yield from compare_schemas(label, where, their_params[key].get("schema", {}),
                                   our_params[key].get("schema", {}), response=False)
        if bool(their_params[key].get("required")) != bool(our_params[key].get("required")):
            yield Change("required", label, where, str(bool(their_params[key].get("required"))).lower(),
                         str(bool(our_params[key].get("required"))).lower(), "breaking", None)


def _compare_responses(label: str, theirs: dict[str, Any], ours: dict[str, Any]) -> Iterator[Change]:
    for status in sorted(set(theirs) | set(ours)):
        where = f"response {status}"
        if status not in ours or status not in theirs:
            yield Change("status", label, where, "documented" if status in theirs else "not documented",
                         "documented" if status in ours else "not documented", "warning" if status in ours else "info",
                         "EM-HTTP-010" if status >= "400" else "EM-HTTP-004")
            continue
        their_schema, our_schema = _json_schema(theirs[status]), _json_schema(ours[status])
        if our_schema is not None and their_schema is None:
            yield Change("body", label, where, "no body", "a JSON body", "warning", _body_rule(status))
        elif our_schema is None and their_schema is not None:
            yield Change("body", label, where, "a JSON body", "no body", "info", None)
        elif our_schema is not None:
            yield from compare_schemas(label, where, their_schema, our_schema, response=True)


def _body_rule(status: str) -> str:
    """The rule that holds the body of an answer with this status to the contract."""
    if status == "429":
        return "EM-RATE-001"
    if status == "400":
        return "EM-HTTP-003"
    return "EM-HTTP-009" if status >= "400" else "EM-HTTP-002"
