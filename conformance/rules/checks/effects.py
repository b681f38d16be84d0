"""Rules of what a request does, beyond what its answer looks like: a replay processes nothing again, and the
format hint leaves validation as it was."""

from __future__ import annotations

from conformance.model.exchange import Exchange, SeriesEnd, is_json_number
from conformance.rules.checks._target import INGEST_OP, accepted_doc, is_operation
from conformance.rules.checks.listing import earlier_batches, page
from conformance.rules.checks.sent import COUNTS
from conformance.rules.checks.valid_requests import NOT_ABOUT_THE_REQUEST
from conformance.rules.registry import Finding, Judgement, judged, rule_check


@rule_check("EM-INGEST-010", on="exchange")
def replay_creates_no_batch(ex: Exchange) -> Judgement:
    batches = page(ex)
    if batches is None or not ex.context.replays or ex.context.ended not in (SeriesEnd.LAST_PAGE, SeriesEnd.PASSED):
        return None
    walk = [*earlier_batches(ex), *batches]
    created = {b["batchId"]: b.get("createdAt") for b in walk if isinstance(b.get("batchId"), str)}
    findings, judged_any = [], False
    for replay in ex.context.replays:
        original_at = created.get(str(replay.original.get("batchId")))
        if not is_json_number(original_at):
            continue  # the original is not listed (EM-LIST-004 says whether it should be)
        judged_any = True
        start, end = (original_at + offset for offset in replay.after_original_ms)
        for batch in walk:
            batch_id, created = batch.get("batchId"), batch.get("createdAt")
            if (not isinstance(batch_id, str) or batch_id in ex.context.given_batch_ids
                    or not is_json_number(created) or not start <= created <= end):
                continue
            if all(batch.get(name) == replay.original.get(name) for name in COUNTS) \
                    and batch.get("type") in (None, replay.record_type):
                findings.append(Finding("/batches", f"no batch made by the replay of {replay.original['batchId']!r}",
                                        f"{batch_id!r}, never given to the run, with the same counts, "
                                        f"created {created!r} while the replay was under way"))
    return findings if judged_any else None


@rule_check("EM-INGEST-011", on="exchange")
def format_hint_leaves_validation_alone(ex: Exchange) -> Judgement:
    first = ex.context.resent_of
    if first is None or not is_operation(ex, INGEST_OP) or ex.response.transport_error is not None \
            or ex.response.status in NOT_ABOUT_THE_REQUEST or ex.response.status >= 500:
        return None  # a 5xx says "please retry", not what the hint did
    hint = ",".join(ex.request.query.get("format", []))
    doc = accepted_doc(ex)
    if doc is None:
        return judged(Finding("status", f"a 2xx, as the same records got without format={hint}",
                              str(ex.response.status)))
    return [Finding(f"/{name}", f"{first.get(name)!r}, as without format={hint}", repr(doc.get(name)))
            for name in COUNTS if doc.get(name) != first.get(name)]
