"""Rules every answer meets, whatever the operation: media type, JSON, status codes, methods, secrets."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.checks._target import is_malformed_batch_id, operation, path_item, requested_batch_id
from conformance.contract import load_contract
from conformance.exchange import Exchange
from conformance.registry import Finding, rule_check

JSON_MEDIA_TYPE = "application/json"


def _answers_with_body(ex: Exchange) -> bool:
    return ex.request.method.upper() != "HEAD"


@rule_check("EM-HTTP-007", on="exchange")
def request_is_answered(ex: Exchange) -> Iterator[Finding]:
    if ex.response.transport_error is not None:
        yield Finding("connection", "an answer within the request timeout", ex.response.transport_error)


@rule_check("EM-HTTP-001", on="exchange")
def content_type_is_json(ex: Exchange) -> Iterator[Finding]:
    if not _answers_with_body(ex):
        return
    header = ex.response.header("content-type")
    media_type = (header or "").split(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        received = header if header is not None else "no Content-Type header"
        yield Finding("header:Content-Type", JSON_MEDIA_TYPE, received)


@rule_check("EM-HTTP-002", on="exchange")
def body_is_json(ex: Exchange) -> Iterator[Finding]:
    if not _answers_with_body(ex):
        return
    parsed = ex.response.parsed
    if ex.response.truncated:
        yield Finding("body", "one complete JSON document of reasonable size",
                      f"a body past {len(ex.response.body):,} bytes; the suite stopped reading there")
    elif not parsed.ok:
        excerpt = ex.response.body[:120].decode("utf-8", "replace")
        more = f" ... ({len(ex.response.body)} bytes)" if len(ex.response.body) > 120 else ""
        yield Finding("body", "one well-formed JSON document", f"{parsed.error}: {excerpt!r}{more}")


@rule_check("EM-HTTP-004", on="exchange")
def status_is_documented(ex: Exchange) -> Iterator[Finding]:
    item = path_item(ex)
    if item is None:
        return
    batch_id = requested_batch_id(ex)
    if batch_id is not None and is_malformed_batch_id(batch_id):
        return  # any 4xx is right for an id no batch can have (EM-ID-002)
    op = operation(ex)
    if op is None:
        return  # a method the path does not define is EM-HTTP-005's to judge
    documented = load_contract().documented_statuses(op)
    if ex.response.status not in documented:
        yield Finding("status", f"one of {', '.join(map(str, sorted(documented)))} for {op.label}",
                      str(ex.response.status))


@rule_check("EM-HTTP-005", on="exchange")
def other_methods_get_405(ex: Exchange) -> Iterator[Finding]:
    item = path_item(ex)
    if item is None or ex.request.method.lower() in item.methods or ex.request.method.upper() == "HEAD":
        return
    if ex.key_role not in (None, "write", "read"):
        return  # without a valid key, 401 may come first
    if ex.response.status not in (405, 429):
        yield Finding("status", f"405 for {ex.request.method.upper()} {item.template}", str(ex.response.status))


@rule_check("EM-HTTP-006", on="exchange")
def method_not_allowed_names_allowed_methods(ex: Exchange) -> Iterator[Finding]:
    item = path_item(ex)
    if ex.response.status != 405 or item is None or ex.request.method.lower() in item.methods:
        return
    allow = ex.response.header("allow")
    named = {m.strip().lower() for m in (allow or "").split(",") if m.strip()}
    if not set(item.methods) <= named:
        expected = ", ".join(m.upper() for m in item.methods)
        yield Finding("header:Allow", f"Allow naming {expected}", allow if allow is not None else "no Allow header")


@rule_check("EM-SEC-001", on="exchange")
def api_key_never_echoed(ex: Exchange) -> Iterator[Finding]:
    keys = ex.context.keys
    if keys is None:
        return
    for secret in keys.secrets:
        for name, value in ex.response.headers.items():
            if secret in value:
                yield Finding(f"header:{name}", "no API key in any header", "a header value holding an API key")
        if secret.encode() in ex.response.body:
            yield Finding("body", "no API key in the body", "a body holding an API key")
