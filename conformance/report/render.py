"""The one shape of a failure, used by tests, schemathesis checks and reports alike."""

from __future__ import annotations

import hashlib
import shlex

from conformance.model.exchange import Exchange, Request
from conformance.model.locations import CONTRACT_FILE
from conformance.report.redact import REDACTED, redact
from conformance.rules.registry import Violation

SHOWN_HEADERS = ("content-type", "idempotency-key", "accept")
MAX_SHOWN_BODY = 2048
# Where the drift report keeps the bodies too long for a curl line, relative to the report.
EVIDENCE_DIR = "evidence"


def body_file_name(body: bytes) -> str:
    """The name of the file a body too long for a curl line is kept in: the same body, the same name."""
    return f"{hashlib.sha256(body).hexdigest()[:16]}.bin"


def curl_line(request: Request, evidence_dir: str = EVIDENCE_DIR) -> str:
    """The request as a curl command; a body over 2 KiB is named as a file in evidence_dir, which the drift
    report writes (--drift-report DIR puts it in DIR/evidence)."""
    parts = ["curl", "-X", request.method.upper()]
    for name, value in request.headers.items():
        if name.lower() == "x-api-key":
            parts += ["-H", f"x-api-key: {REDACTED}"]
        elif name.lower() in SHOWN_HEADERS:
            parts += ["-H", f"{name}: {value}"]
    body = request.body or b""
    if body and len(body) <= MAX_SHOWN_BODY:
        parts += ["--data-binary", body.decode("utf-8", "replace")]
    elif body:
        parts += ["--data-binary", f"@{evidence_dir}/{body_file_name(body)}"]
    parts.append(request.url)
    return redact(" ".join(shlex.quote(part) for part in parts))


def where(exchange: Exchange, pointer: str) -> str:
    place = f"{exchange.request.method.upper()} {exchange.request.raw_path} -> {exchange.response.status}"
    if pointer.startswith("/"):
        return f"{place}, body {pointer}"
    return f"{place}, {pointer}" if pointer else place


def render(violation: Violation, *, curl: bool = True, evidence_dir: str = EVIDENCE_DIR) -> str:
    """The failure shape; curl=False where the caller prints its own reproduction line."""
    rule = violation.rule
    lines = [
        rule.title,
        f"  Expected: {violation.expected}",
        f"  Received: {violation.received}",
    ]
    if violation.exchange is not None:
        lines.append(f"  Where:    {where(violation.exchange, violation.pointer)}")
    lines.append(f"  Spec:     openapi/{CONTRACT_FILE.name}#{rule.spec}")
    lines.append(f"  Docs:     {rule.source}")
    if violation.exchange is not None and curl:
        lines.append(f"  Reproduce with: {curl_line(violation.exchange.request, evidence_dir)}")
    return redact("\n".join(lines))
