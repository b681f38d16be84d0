"""The one entry point of the checks: an exchange in; the rules it was judged by, and those it violates, out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import conformance.rules.checks  # noqa: F401  (registers every Python check)
from conformance.model.exchange import Exchange, Observation
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checks._target import INGEST_OP, LIST_OP, STATUS_OP, is_operation
from conformance.rules.checks.schema import schema_judgements
from conformance.rules.registry import Finding, Violation, registered_checks


@dataclass(frozen=True)
class Checked:
    """One observation with what the checks made of it."""

    observation: Observation
    judged: frozenset[str]
    violations: tuple[Violation, ...]


def _documents(ex: Exchange, subject: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The documents of the answer a batch or accepted check reads, with their place in the body."""
    body = ex.response.json
    if not isinstance(body, dict):
        return
    if subject == "accepted" and 200 <= ex.response.status < 300 and is_operation(ex, INGEST_OP):
        yield "", body
    elif subject == "batch" and ex.response.status == 200:
        if is_operation(ex, STATUS_OP):
            yield "", body
        elif is_operation(ex, LIST_OP) and isinstance(body.get("batches"), list):
            for position, item in enumerate(body["batches"]):
                if isinstance(item, dict):
                    yield f"/batches/{position}", item


def _judgements(ex: Exchange) -> Iterator[tuple[str, list[Finding]]]:
    if ex.response.transport_error is not None:
        # Without an answer only EM-HTTP-007 has anything to judge.
        for registered in registered_checks():
            outcome = registered.func(ex) if registered.rule_id == "EM-HTTP-007" else None
            if outcome is not None:
                yield registered.rule_id, outcome
        return
    applied, schema_findings = schema_judgements(ex)
    for rule_id in applied:
        yield rule_id, [finding for found_rule, finding in schema_findings if found_rule == rule_id]
    for registered in registered_checks():
        for subject in registered.subjects:
            if subject == "exchange":
                outcome = registered.func(ex)
                if outcome is not None:
                    yield registered.rule_id, outcome
                continue
            for prefix, doc in _documents(ex, subject):
                outcome = registered.func(doc, ex)
                if outcome is not None:
                    yield registered.rule_id, [
                        Finding(prefix + f.pointer if f.pointer.startswith("/") else f.pointer, f.expected, f.received)
                        for f in outcome]


def check_observation(observation: Observation) -> Checked:
    """Every rule the observation was judged by, and each violation, one per rule and place, in catalogue order."""
    catalogue = load_catalogue()
    judged: set[str] = set()
    seen: dict[tuple[str, str], Violation] = {}
    for rule_id, findings in _judgements(observation.exchange):
        judged.add(rule_id)
        for finding in findings:
            violation = Violation(catalogue[rule_id], finding.pointer, finding.expected, finding.received,
                                  observation.exchange, observation.activity)
            seen.setdefault(violation.key, violation)
    order = {rule_id: position for position, rule_id in enumerate(catalogue.ids)}
    violations = sorted(seen.values(), key=lambda v: (order[v.rule.id], v.pointer))
    return Checked(observation, frozenset(judged), tuple(violations))


def check(ex: Exchange, activity: str = "") -> list[Violation]:
    """The violations one exchange shows, for callers that need nothing else."""
    return list(check_observation(Observation(activity, ex)).violations)
