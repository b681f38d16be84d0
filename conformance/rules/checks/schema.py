"""The rules the contract's JSON Schemas express: each failing keyword answers to its nearest x-rule."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import jsonschema
import jsonschema_rs

from conformance.model.exchange import Exchange, json_pointer
from conformance.model.keyforms import shown_start
from conformance.rules.contract import load_contract
from conformance.rules.registry import Finding

# How much of what the target sent a finding quotes: a value's repr, and the start of a string too long.
SHOWN = 200
SHOWN_OF_A_LONG_STRING = 60


def rule_for_error(error: jsonschema.ValidationError, root: dict[str, Any]) -> str | None:
    """The x-rule nearest to the failing keyword, walking down the schema path from the root."""
    node: Any = root
    found: str | None = None
    for key in error.absolute_schema_path:
        if isinstance(node, dict):
            annotation = node.get("x-rule")
            if isinstance(annotation, str):
                found = annotation
            elif isinstance(annotation, dict) and key in annotation:
                found = annotation[key]
        node = node[key]
    return found


def applied_rules(schema: Any, instance: Any) -> set[str]:
    """The x-rules of every subschema that applied to some part of the instance.

    jsonschema reports only what failed; a rule is judged wherever its subschema met a value, whether
    that value passed or not: the download counters' rule on a batch that shows them, not on one
    without attachments.
    """
    rules: set[str] = set()

    def walk(node: Any, value: Any) -> None:
        if not isinstance(node, dict):
            return
        annotation = node.get("x-rule")
        rules.update([annotation] if isinstance(annotation, str) else
                     annotation.values() if isinstance(annotation, dict) else [])
        for combinator in ("allOf", "anyOf", "oneOf"):
            for branch in node.get(combinator, []):
                walk(branch, value)
        if isinstance(value, dict):
            properties = node.get("properties", {})
            for name, member in value.items():
                walk(properties.get(name, node.get("additionalProperties")), member)
        elif isinstance(value, list):
            for item in value:
                walk(node.get("items"), item)

    walk(schema, instance)
    return rules


def response_schema(ex: Exchange) -> dict[str, Any] | None:
    """The schema the answer's body must meet: the documented one, else the envelope of any error."""
    contract = load_contract()
    status = ex.response.status
    if status == 429:
        return contract.schema("RateLimitedEnvelope")
    op = contract.operation_for(ex.request.method, ex.request.raw_path)
    if op is not None and str(status) in op.responses:
        return contract.response_schema(op.responses[str(status)])
    if op is not None and 200 <= status < 300:
        # An undocumented success is EM-HTTP-004's finding; its body is still judged as the documented one.
        return next((contract.response_schema(r) for code, r in op.responses.items() if code.startswith("2")), None)
    if status >= 400:
        return contract.schema("OtherErrorEnvelope")
    return None


def _short(value: Any, secrets: Sequence[str]) -> str:
    text = shown_start(repr(value), SHOWN + 1, secrets)
    return text if len(text) <= SHOWN else text[:SHOWN - 3] + "..."


def describe(error: jsonschema.ValidationError, secrets: Sequence[str] = ()) -> Iterator[Finding]:
    """Findings in the suite's words: where, what the contract asks, what came; the run's keys (secrets) hidden
    in what came."""
    where = json_pointer(error.absolute_path)
    keyword, wanted, instance = error.validator, error.validator_value, error.instance
    if keyword == "required" and isinstance(instance, dict):
        for name in wanted:
            if name not in instance:
                yield Finding(f"{where}/{name}", f"the field {name}", "absent")
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        for name in sorted(set(instance) - known):
            received = f"{name}: {_short(instance[name], secrets)}"
            yield Finding(json_pointer([*error.absolute_path, name]), "no field the contract does not define",
                          received)
    else:
        phrases = {
            "type": lambda: f"a JSON {' or '.join(wanted) if isinstance(wanted, list) else wanted}",
            "minimum": lambda: f"a number of at least {wanted}",
            "maximum": lambda: f"a number of at most {wanted}",
            "minLength": lambda: f"a string of at least {wanted} characters",
            "maxLength": lambda: f"a string of at most {wanted} characters",
            "maxItems": lambda: f"an array of at most {wanted} items",
            "enum": lambda: "one of " + ", ".join(map(str, wanted)),
        }
        expected = phrases[keyword]() if keyword in phrases else error.message
        received = f"{len(instance)} items" if keyword == "maxItems" else _short(instance, secrets)
        if keyword in ("maxLength", "minLength") and isinstance(instance, str):
            start = shown_start(instance, SHOWN_OF_A_LONG_STRING, secrets)
            received = f"{len(instance)} characters: {_short(start, secrets)}"
        yield Finding(where or "/", expected, received)


_FAST: dict[int, tuple[dict[str, Any], Any]] = {}


def _meets(schema: dict[str, Any], body: Any) -> bool:
    """Whether the body meets the schema, as jsonschema_rs (compiled once per schema) judges it.

    A body that meets its schema, most of them, needs no more; one that does not is judged again by jsonschema,
    whose errors carry the schema paths the x-rules are found by. jsonschema_rs is ten times faster.
    """
    try:
        entry = _FAST.get(id(schema))
        if entry is None or entry[0] is not schema:
            entry = _FAST[id(schema)] = (schema, jsonschema_rs.Draft202012Validator(schema))
        return bool(entry[1].is_valid(body))
    except Exception:  # a value it cannot take (NaN, a huge integer): jsonschema decides alone
        return False


def schema_judgements(ex: Exchange) -> tuple[set[str], list[tuple[str, Finding]]]:
    """The x-rules the answer's body was judged by, and the findings of those it broke."""
    if ex.request.method.upper() == "HEAD" or ex.response.truncated or not ex.response.parsed.ok:
        return set(), []
    schema = response_schema(ex)
    if schema is None:
        return set(), []
    body = ex.response.parsed.value
    secrets = ex.context.keys.secrets if ex.context.keys is not None else []
    found = []
    errors = () if _meets(schema, body) else jsonschema.Draft202012Validator(schema).iter_errors(body)
    for error in errors:
        rule_id = rule_for_error(error, schema)
        if rule_id is None:
            raise LookupError(f"no x-rule encloses {list(error.absolute_schema_path)} in the contract")
        found += [(rule_id, finding) for finding in describe(error, secrets)]
    return applied_rules(schema, body), found
