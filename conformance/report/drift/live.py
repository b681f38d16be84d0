"""Live API vs contract: what the run saw, as findings with evidence, and how much of the contract it touched."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from conformance.model.exchange import Observation
from conformance.model.keyforms import hidden_start
from conformance.report.redact import redact
from conformance.report.render import MAX_SHOWN_BODY, body_file_name, curl_line
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checker import Checked
from conformance.rules.contract import load_contract
from conformance.rules.fingerprints import fingerprint, operation_label, pointer_template, violation_fingerprint
from conformance.rules.registry import Violation
from conformance.rules.verdicts import Verdict

# Headers any HTTP server may send; the contract documents none of its own.
ORDINARY_HEADERS = frozenset({
    "content-type", "content-length", "date", "server", "connection", "keep-alive", "transfer-encoding", "allow",
    "retry-after", "vary", "cache-control", "content-encoding", "etag", "via", "x-request-id", "request-id",
    "strict-transport-security", "access-control-allow-origin", "x-content-type-options",
})
UNDOCUMENTED_FIELD = "no field the contract does not define"
# Characters of an answer's body the evidence shows, counted once the body is redacted.
EXCERPT = 300


def version_header(observations: Iterable[Observation]) -> str | None:
    """The first header naming the server's version (x-api-version, api-version, ...), as name: value."""
    for observation in observations:
        for name, value in observation.exchange.response.headers.items():
            if "version" in name.lower():
                return redact(f"{name}: {value}")
    return None


def body_excerpt(body: bytes) -> str:
    """The start of a body, redacted before it is cut: a key across the cut is hidden whole, where redacting
    the excerpt would leave the key's first part, which no longer looks like a key."""
    return hidden_start(body.decode("utf-8", "replace"), EXCERPT, redact)


def _evidence(violation: Violation) -> dict[str, Any]:
    exchange = violation.exchange
    assert exchange is not None
    return {
        "activity": violation.activity,
        "request": f"{exchange.request.method.upper()} {exchange.request.raw_path}",
        "status": exchange.response.status,
        "pointer": violation.pointer,
        "expected": violation.expected,
        "received": redact(violation.received),
        "body_excerpt": body_excerpt(exchange.response.body),
        "curl": curl_line(exchange.request),
    }


def findings(verdicts: dict[str, Verdict]) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Each finding, grouped by rule, operation and place, with its first and last example; and the request
    bodies too long for a curl line, by the evidence file name the curl lines give them."""
    grouped: dict[str, list[Violation]] = defaultdict(list)
    for verdict in verdicts.values():
        for violation in verdict.violations:
            grouped[violation_fingerprint(violation)].append(violation)
    result, bodies = [], {}
    for key, seen in grouped.items():
        first, last = seen[0], seen[-1]
        for violation in (first, last):
            body = violation.exchange.request.body if violation.exchange is not None else None
            if body and len(body) > MAX_SHOWN_BODY:
                bodies[body_file_name(body)] = body
        result.append({
            "fingerprint": key,
            "rule": first.rule.id,
            "level": first.rule.level,
            "sentence": first.rule.sentence,
            "operation": operation_label(first.exchange) if first.exchange is not None else "",
            "place": pointer_template(first.pointer),
            "count": len(seen),
            "evidence": _evidence(first),
            "last": _evidence(last),
        })
    order = {rule_id: n for n, rule_id in enumerate(load_catalogue().ids)}
    return sorted(result, key=lambda f: (f["level"] != "MUST", order[f["rule"]], f["operation"], f["place"])), bodies


def undocumented(evidence: list[Checked]) -> list[dict[str, Any]]:
    contract = load_contract()
    seen: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], str] = {}

    def note(kind: str, operation: str, detail: str, example: str) -> None:
        seen[(kind, operation, detail)] += 1
        examples.setdefault((kind, operation, detail), example)

    for checked in evidence:
        exchange = checked.observation.exchange
        if exchange.response.transport_error is not None:
            continue
        label = operation_label(exchange)
        line = f"{exchange.request.method.upper()} {exchange.request.raw_path} -> {exchange.response.status}"
        op = contract.operation_for(exchange.request.method, exchange.request.raw_path)
        if op is not None and exchange.response.status not in contract.documented_statuses(op):
            note("status", label, str(exchange.response.status), line)
        media_type = (exchange.response.header("content-type") or "(none)").split(";")[0].strip()
        if media_type != "application/json":
            note("content-type", label, media_type, line)
        for name in exchange.response.headers:
            if name.lower() not in ORDINARY_HEADERS:
                note("header", label, name.lower(), line)
        for violation in checked.violations:
            if violation.expected == UNDOCUMENTED_FIELD:
                note("field", label, violation.pointer.rsplit("/", 1)[-1], line)
    return [
        {"fingerprint": fingerprint("undocumented", kind, operation, detail), "kind": kind, "operation": operation,
         "detail": detail, "count": count, "example": redact(examples[(kind, operation, detail)])}
        for (kind, operation, detail), count in sorted(seen.items())
    ]


def never_observed(observations: list[Observation]) -> list[dict[str, Any]]:
    """Documented answers and fields the run never saw: how much of the contract it did not exercise."""
    contract = load_contract()
    statuses: dict[str, set[int]] = defaultdict(set)
    fields: dict[str, set[str]] = defaultdict(set)
    for observation in observations:
        exchange = observation.exchange
        op = contract.operation_for(exchange.request.method, exchange.request.raw_path)
        body = exchange.response.json
        if op is None:
            continue
        statuses[op.label].add(exchange.response.status)
        documents = body.get("batches", []) if op.operation_id == "listBatches" and isinstance(body, dict) else [body]
        for document in documents:
            if isinstance(document, dict) and exchange.response.status in (200, 202):
                fields[op.label].update(document)
    missing = []
    for op in contract.operations:
        for status in sorted(contract.documented_statuses(op) - statuses[op.label]):
            missing.append({"operation": op.label, "kind": "status", "detail": str(status)})
        success = next((r for code, r in op.responses.items() if code in ("200", "202")), None)
        schema = contract.response_schema(success) or {}
        properties = schema.get("properties", {})
        if op.operation_id == "listBatches":
            properties = schema["properties"]["batches"]["items"].get("properties", {})
        for name in sorted(set(properties) - fields[op.label]):
            missing.append({"operation": op.label, "kind": "field", "detail": name})
    return missing
