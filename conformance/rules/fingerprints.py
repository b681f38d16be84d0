"""Stable fingerprints of findings: the same defect gets the same one from night to night."""

from __future__ import annotations

import hashlib
import re

from conformance.model.exchange import Exchange
from conformance.rules.contract import load_contract
from conformance.rules.registry import Violation

_INDEX = re.compile(r"/\d+(?=/|$)")


def fingerprint(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]


def operation_label(exchange: Exchange) -> str:
    contract = load_contract()
    op = contract.operation_for(exchange.request.method, exchange.request.raw_path)
    if op is not None:
        return op.label
    item = contract.path_item_for(exchange.request.raw_path)
    where = item.template if item else "(a path outside the contract)"
    return f"{exchange.request.method.upper()} {where}"


def pointer_template(pointer: str) -> str:
    """/batches/3/errors/0/index and /batches/7/errors/2/index are the same place."""
    return _INDEX.sub("/*", pointer)


def violation_fingerprint(violation: Violation) -> str:
    operation = operation_label(violation.exchange) if violation.exchange is not None else ""
    return fingerprint("live", violation.rule.id, operation, pointer_template(violation.pointer))
