"""The one entry point: an exchange in, the rules it violates out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import conformance.checks  # noqa: F401  (registers every Python check)
from conformance.catalogue import load_catalogue
from conformance.checks._target import INGEST_OP, LIST_OP, STATUS_OP, is_operation
from conformance.checks.schema import schema_findings
from conformance.exchange import Exchange
from conformance.registry import Finding, Violation, registered_checks


def _documents(ex: Exchange, subject: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The documents of the answer a batch or accepted check reads, with their place in the body."""
    body = ex.response.json
    if not isinstance(body, dict):
        return
    if subject == "accepted" and ex.response.status == 202 and is_operation(ex, INGEST_OP):
        yield "", body
    elif subject == "batch" and ex.response.status == 200:
        if is_operation(ex, STATUS_OP):
            yield "", body
        elif is_operation(ex, LIST_OP) and isinstance(body.get("batches"), list):
            for position, item in enumerate(body["batches"]):
                if isinstance(item, dict):
                    yield f"/batches/{position}", item


def _findings(ex: Exchange) -> Iterator[tuple[str, Finding]]:
    if ex.response.transport_error is not None:
        # Without an answer there is nothing else to judge.
        yield from ((r.rule_id, f) for r in registered_checks() if r.rule_id == "EM-HTTP-007" for f in r.func(ex))
        return
    yield from schema_findings(ex)
    for registered in registered_checks():
        for subject in registered.subjects:
            if subject == "exchange":
                for finding in registered.func(ex):
                    yield registered.rule_id, finding
                continue
            for prefix, doc in _documents(ex, subject):
                for finding in registered.func(doc, ex):
                    pointer = prefix + finding.pointer if finding.pointer.startswith("/") else finding.pointer
                    yield registered.rule_id, Finding(pointer, finding.expected, finding.received)


def check(ex: Exchange) -> list[Violation]:
    """Every rule violation the exchange shows, in catalogue order, one per rule and place."""
    catalogue = load_catalogue()
    seen: dict[tuple[str, str], Violation] = {}
    for rule_id, finding in _findings(ex):
        violation = Violation(catalogue[rule_id], finding.pointer, finding.expected, finding.received, ex)
        seen.setdefault(violation.key, violation)
    order = {rule_id: position for position, rule_id in enumerate(catalogue.ids)}
    return sorted(seen.values(), key=lambda v: (order[v.rule.id], v.pointer))
