"""Rules of the batch list: page size, order, completeness and the cursor walk."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from conformance.checks._target import LIST_OP, is_operation
from conformance.exchange import Exchange
from conformance.registry import Finding, rule_check

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


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


@rule_check("EM-LIST-002", on="exchange")
def page_respects_limit(ex: Exchange) -> Iterator[Finding]:
    batches = page(ex)
    raw = requested_limit(ex)
    if batches is None:
        return
    if raw is None:
        limit = DEFAULT_LIMIT
    elif raw.isdigit() and 1 <= int(raw) <= 100:
        limit = int(raw)
    else:
        return
    if len(batches) > limit:
        yield Finding("/batches", f"at most {limit} batches", f"{len(batches)} batches")


@rule_check("EM-LIST-003", on="exchange")
def newest_first(ex: Exchange) -> Iterator[Finding]:
    batches = page(ex)
    if batches is None:
        return
    before = earlier_batches(ex)
    walk = [*before, *batches]
    for position in range(max(1, len(before)), len(walk)):
        newer, older = _number(walk[position - 1].get("createdAt")), _number(walk[position].get("createdAt"))
        if newer is not None and older is not None and older > newer:
            index = position - len(before)
            yield Finding(f"/batches/{index}/createdAt", f"at most {newer!r}, the createdAt listed before it",
                          repr(older))
            return


@rule_check("EM-LIST-004", on="exchange")
def new_batches_are_listed(ex: Exchange) -> Iterator[Finding]:
    batches = page(ex)
    if batches is None or ex.context.ended is None or not ex.context.expect_listed:
        return
    seen = {b.get("batchId") for b in [*earlier_batches(ex), *batches]}
    missing = sorted(ex.context.expect_listed - seen)
    if missing:
        yield Finding("/batches", f"the batches just created: {', '.join(sorted(ex.context.expect_listed))}",
                      f"a walk of {len(ex.context.earlier) + 1} pages without {', '.join(missing)}")


@rule_check("EM-LIST-005", on="exchange")
def cursor_never_repeats(ex: Exchange) -> Iterator[Finding]:
    batches = page(ex)
    if batches is None:
        return
    seen = {b.get("batchId") for b in earlier_batches(ex)}
    for position, batch in enumerate(batches):
        batch_id = batch.get("batchId")
        if batch_id in seen:
            yield Finding(f"/batches/{position}/batchId", "a batch not listed before in this walk",
                          f"{batch_id!r} again")
            return
        seen.add(batch_id)


@rule_check("EM-LIST-006", on="exchange")
def out_of_range_limit_is_400(ex: Exchange) -> Iterator[Finding]:
    raw = requested_limit(ex)
    if raw is None or not is_operation(ex, LIST_OP) or ex.key_role not in (None, "write", "read"):
        return
    if raw.lstrip("-").isdigit() and not 1 <= int(raw) <= 100 and ex.response.status not in (400, 429):
        yield Finding("status", f"400: limit {raw} is outside 1 to 100", str(ex.response.status))
