"""Rules every answer meets, whatever the operation: media type, JSON, status codes, methods, secrets."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.model.exchange import JSON, Exchange, KeyRole, Observation
from conformance.model.keyforms import holds_key, shown_start
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checks._target import is_malformed_batch_id, operation, path_item, requested_batch_id
from conformance.rules.contract import load_contract
from conformance.rules.registry import HELD, Finding, Judgement, RunJudgement, Violation, judged, rule_check, run_check

# The answers the published document gives a JSON body; the others it leaves without one. It gives a 400 to
# the ingest alone: a 400 to a read (a gateway's, often) is any other error.
JSON_STATUSES = (200, 202, 429)
INGEST = ("post", "/api/v1/ingest")
# Methods a client of this API might send by mistake; TRACE, QUERY and the like it would not.
CLIENT_METHODS = ("delete", "patch", "post", "put")


def _with_body(ex: Exchange) -> bool:
    return ex.request.method.upper() != "HEAD" and ex.response.transport_error is None


def _media_type(ex: Exchange) -> str:
    return (ex.response.header("content-type") or "").split(";")[0].strip().lower()


def _json_label(ex: Exchange) -> Finding | None:
    if _media_type(ex) != JSON:
        received = ex.response.header("content-type")
        return Finding("header:Content-Type", JSON, received if received is not None else "no Content-Type header")
    return None


def _json_body(ex: Exchange) -> Finding | None:
    parsed = ex.response.parsed
    if ex.response.truncated:
        return Finding("body", "one complete JSON document of reasonable size",
                       f"a body past {len(ex.response.body):,} bytes; the suite stopped reading there")
    if not parsed.ok:
        excerpt = shown_start(ex.response.body.decode("utf-8", "replace"), 120, ex.context.keys.secrets)
        more = f" ... ({len(ex.response.body)} bytes)" if len(ex.response.body) > 120 else ""
        return Finding("body", "one well-formed JSON document", f"{parsed.error}: {excerpt!r}{more}")
    return None


def _documented_json_status(ex: Exchange) -> bool:
    op = operation(ex)
    if op is None:
        return False
    return ex.response.status in JSON_STATUSES or (ex.response.status == 400 and (op.method, op.template) == INGEST)


def _documented_json_answer(ex: Exchange) -> bool:
    return _with_body(ex) and _documented_json_status(ex)


@rule_check("EM-HTTP-007", on="exchange")
def request_is_answered(ex: Exchange) -> Judgement:
    if operation(ex) is None:
        return None  # a path or method the docs do not have promises no answer
    if ex.response.answered_on_retry:
        return None  # closed unanswered, then answered on a fresh connection: the retry is the exchange judged
    if ex.response.transport_error is not None:
        return judged(Finding("connection", "an answer within the request timeout", ex.response.transport_error))
    return HELD


@rule_check("EM-HTTP-001", on="exchange")
def content_type_is_json(ex: Exchange) -> Judgement:
    if not _documented_json_answer(ex):
        return None
    return judged(*filter(None, [_json_label(ex)]))


@rule_check("EM-HTTP-002", on="exchange")
def body_is_json(ex: Exchange) -> Judgement:
    if not _documented_json_answer(ex):
        return None
    return judged(*filter(None, [_json_body(ex)]))


def _is_other_error(ex: Exchange) -> bool:
    """An error answer with a body the published document does not describe; an empty one is as it describes."""
    return (_with_body(ex) and ex.response.status >= 400 and bool(ex.response.body) and path_item(ex) is not None
            and not _documented_json_status(ex))


@rule_check("EM-HTTP-009", on="exchange")
def other_error_is_json_envelope(ex: Exchange) -> Judgement:
    """The envelope's fields are judged by the contract's OtherErrorEnvelope; here, that it is JSON at all."""
    if not _is_other_error(ex):
        return None
    label = _json_label(ex)
    return judged(label) if label else judged(*filter(None, [_json_body(ex)]))


def _any_4xx_will_do(ex: Exchange) -> bool:
    batch_id = requested_batch_id(ex)
    return batch_id is not None and is_malformed_batch_id(batch_id)


@rule_check("EM-HTTP-004", on="exchange")
def success_has_documented_status(ex: Exchange) -> Judgement:
    op = operation(ex)
    if op is None or not 200 <= ex.response.status < 300:
        return None
    documented = sorted(s for s in load_contract().documented_statuses(op) if 200 <= s < 300)
    if ex.response.status not in documented:
        return judged(Finding("status", f"{', '.join(map(str, documented))} for {op.label}", str(ex.response.status)))
    return HELD


@rule_check("EM-HTTP-010", on="exchange")
def error_has_documented_status(ex: Exchange) -> Judgement:
    op = operation(ex)
    if op is None or ex.response.status < 400 or _any_4xx_will_do(ex):
        return None
    documented = load_contract().documented_statuses(op)
    if ex.response.status not in documented:
        errors = sorted(s for s in documented if s >= 400)
        return judged(Finding("status", f"one of {', '.join(map(str, errors))} for {op.label}",
                              str(ex.response.status)))
    return HELD


def _undefined_client_method(ex: Exchange) -> bool:
    item = path_item(ex)
    method = ex.request.method.lower()
    return item is not None and method in CLIENT_METHODS and method not in item.methods


@rule_check("EM-HTTP-005", on="exchange")
def other_methods_get_405(ex: Exchange) -> Judgement:
    # Without a key that may use the path, a 401 may rightly come first.
    if not _undefined_client_method(ex) or ex.key_role not in (None, KeyRole.WRITE, KeyRole.READ):
        return None
    if ex.response.status == 429 or ex.response.transport_error is not None:
        return None
    if ex.response.status != 405:
        item = path_item(ex)
        assert item is not None
        return judged(Finding("status", f"405 for {ex.request.method.upper()} {item.template}",
                              str(ex.response.status)))
    return HELD


@rule_check("EM-HTTP-006", on="exchange")
def method_not_allowed_names_allowed_methods(ex: Exchange) -> Judgement:
    item = path_item(ex)
    if ex.response.status != 405 or item is None or ex.request.method.lower() in item.methods:
        return None
    allow = ex.response.header("allow")
    named = {m.strip().lower() for m in (allow or "").split(",") if m.strip()}
    if not set(item.methods) <= named:
        expected = ", ".join(m.upper() for m in item.methods)
        return judged(Finding("header:Allow", f"Allow naming {expected}",
                              allow if allow is not None else "no Allow header"))
    return HELD


@rule_check("EM-SEC-001", on="exchange")
def api_key_never_echoed(ex: Exchange) -> Judgement:
    keys = ex.context.keys
    presented = ex.request.header("x-api-key")
    if keys is None or presented not in keys.secrets or ex.response.transport_error is not None:
        return None
    findings = []
    # The body as bytes read one to one as characters: an encoded key is ASCII in any text encoding.
    body = ex.response.body.decode("latin-1")
    for secret in keys.secrets:
        findings += [Finding(f"header:{name}", "no API key in any header, in any encoding",
                             "a header value holding an API key") for name, value in ex.response.headers.items()
                     if holds_key(f"{name}: {value}", secret)]
        if holds_key(body, secret):
            findings.append(Finding("body", "no API key in the body, in any encoding", "a body holding an API key"))
    return findings


@run_check("EM-HTTP-008")
def each_operation_accepts_a_valid_request(observations: Sequence[Observation]) -> RunJudgement:
    """Over the run: each documented operation and media type the run used validly took at least one request."""
    tried: dict[str, list[Observation]] = {}
    for observation in observations:
        label = observation.exchange.context.valid_for
        if label is not None and observation.exchange.response.status != 429:
            tried.setdefault(label, []).append(observation)
    rule = load_catalogue()["EM-HTTP-008"]
    violations = []
    for label, seen in sorted(tried.items()):
        answers = [o.exchange.response for o in seen]
        if not any(200 <= answer.status < 300 for answer in answers):
            got = sorted({str(answer.status) if answer.transport_error is None else "no answer" for answer in answers})
            violations.append(Violation(rule, label, f"a 2xx to at least one of the {len(seen)} valid requests",
                                        f"never: {', '.join(got)}", seen[0].exchange, seen[0].activity))
    return RunJudgement(sum(len(seen) for seen in tried.values()), tuple(violations))
