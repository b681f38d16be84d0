"""Rules of the batch list: page size, order, completeness and the cursor walk."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from conformance.model.exchange import Exchange, KeyRole, SeriesEnd, is_json_number
from conformance.rules.checks._target import LIST_OP, is_operation
from conformance.rules.checks.series import LIFECYCLE_RANK
from conformance.rules.registry import HELD, Finding, Judgement, judged, rule_check

DEFAULT_LIMIT = 20


def page(ex: Exchange) -> list[Mapping[str, Any]] | None:
    body = ex.response.json
    if ex.response.status != 200 or not is_operation(ex, LIST_OP) or not isinstance(body, dict):
        return None
    batches = body.get("batches")
    return [b for b in batches if isinstance(b, dict)] if isinstance(batches, list) else None


def earlier_batches(ex: Exchange) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for earlier in ex.context.earlier:
        if isinstance(earlier, dict) and isinstance(earlier.get("batches"), list):
            found.extend(b for b in earlier["batches"] if isinstance(b, dict))
    return found


def requested_limit(ex: Exchange) -> str | None:
    values = ex.request.query.get("limit")
    return values[-1] if values else None


def limit_number(raw: str) -> int | None:
    """A limit written as a whole number in ASCII digits, with an optional minus; None for anything else
    ("²" is a digit to Python, and no number to a server)."""
    return int(raw) if re.fullmatch(r"-?[0-9]{1,12}", raw) else None


@rule_check("EM-LIST-002", on="exchange")
def page_respects_limit(ex: Exchange) -> Judgement:
    batches, raw = page(ex), requested_limit(ex)
    if batches is None:
        return None
    number = None if raw is None else limit_number(raw)
    if raw is None:
        limit = DEFAULT_LIMIT
    elif number is not None and 1 <= number <= 100:
        limit = number
    else:
        return None
    if len(batches) > limit:
        return judged(Finding("/batches", f"at most {limit} batches", f"{len(batches)} batches"))
    return HELD


@rule_check("EM-LIST-003", on="exchange")
def newest_first(ex: Exchange) -> Judgement:
    batches = page(ex)
    if batches is None:
        return None
    before = earlier_batches(ex)
    walk = [*before, *batches]
    if len(walk) < 2:
        return None
    for position in range(max(1, len(before)), len(walk)):
        newer, older = walk[position - 1].get("createdAt"), walk[position].get("createdAt")
        if is_json_number(newer) and is_json_number(older) and older > newer:
            return judged(Finding(f"/batches/{position - len(before)}/createdAt",
                                  f"at most {newer!r}, the createdAt listed before it", repr(older)))
    return HELD


@rule_check("EM-LIST-004", on="exchange")
def new_batches_are_listed(ex: Exchange) -> Judgement:
    batches = page(ex)
    if batches is None or ex.context.ended not in (SeriesEnd.LAST_PAGE, SeriesEnd.PASSED):
        return None
    if not ex.context.expect_listed:
        return None
    seen = {b.get("batchId") for b in [*earlier_batches(ex), *batches]}
    missing = sorted(ex.context.expect_listed - seen)
    if missing:
        return judged(Finding("/batches", f"the batches just created: {', '.join(sorted(ex.context.expect_listed))}",
                              f"a walk of {len(ex.context.earlier) + 1} pages without {', '.join(missing)}"))
    return HELD


@rule_check("EM-LIST-005", on="exchange")
def cursor_never_repeats(ex: Exchange) -> Judgement:
    batches = page(ex)
    if batches is None or not ex.context.earlier or ex.context.quiet is not True:
        return None
    seen = {b.get("batchId") for b in earlier_batches(ex)}
    for position, batch in enumerate(batches):
        batch_id = batch.get("batchId")
        if batch_id in seen:
            return judged(Finding(f"/batches/{position}/batchId", "a batch not listed before in this walk",
                                  f"{batch_id!r} again"))
        seen.add(batch_id)
    return HELD


@rule_check("EM-LIST-006", on="exchange")
def out_of_range_limit_is_refused(ex: Exchange) -> Judgement:
    raw = requested_limit(ex)
    if raw is None or not is_operation(ex, LIST_OP) or ex.key_role not in (None, KeyRole.WRITE, KeyRole.READ):
        return None
    number = limit_number(raw)
    if number is None or 1 <= number <= 100:
        return None
    if ex.response.status == 429 or ex.response.transport_error is not None:
        return None
    if not 400 <= ex.response.status < 500:
        return judged(Finding("status", f"a 4xx: limit {raw} is outside 1 to 100", str(ex.response.status)))
    return HELD


@rule_check("EM-LIST-008", on="exchange")
def listed_status_is_not_behind_a_read(ex: Exchange) -> Judgement:
    batches, shown = page(ex), ex.context.shown_before
    if batches is None or not shown:
        return None
    findings, judged_any = [], False
    for position, batch in enumerate(batches):
        batch_id, listed = batch.get("batchId"), batch.get("status")
        read = shown.get(batch_id) if isinstance(batch_id, str) else None
        if read not in LIFECYCLE_RANK or not isinstance(listed, str) or listed not in LIFECYCLE_RANK:
            continue
        judged_any = True
        if LIFECYCLE_RANK[listed] < LIFECYCLE_RANK[read]:
            findings.append(Finding(f"/batches/{position}/status", f"{read}, or a later stage: a read showed {read} "
                                    f"at least {ex.context.write_lag_ms / 1000:g} s (--write-lag) before this page "
                                    "was asked for", repr(listed)))
    return findings if judged_any else None
