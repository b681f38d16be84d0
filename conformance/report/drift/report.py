"""The drift report: its JSON (documented by drift-report.schema.json), Markdown and HTML, from one dict.

drift.json keeps every finding; drift.md and drift.html are the owners' morning read, short by design.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.client.bounded import RunClock
from conformance.report.drift import history as runs
from conformance.report.drift import live
from conformance.report.drift.published import PublishedUnavailable, find_defects, load_published
from conformance.report.drift.specdiff import API_SHOULD_CHANGE, PUBLISHED_SHOULD_CHANGE, Change, diff_documents
from conformance.report.redact import redact
from conformance.report.render import EVIDENCE_DIR
from conformance.rules.checker import Checked
from conformance.rules.contract import load_contract
from conformance.rules.expectations import NONE, Expectations
from conformance.rules.fingerprints import operation_label
from conformance.rules.verdicts import Verdict

SCHEMA_ID = "https://evermuse-conformance.invalid/drift-report/v2"
SCHEMA_FILE = Path(__file__).with_name("drift-report.schema.json")
VERSION = 2
LEVEL_ORDER = {"breaking": 0, "warning": 1, "info": 2}
NOT_SEEN = "not seen live: no evidence either way"

# Who should change, from what the run saw: (rule, operation, status or None) -> one of the three sentences.
WhoShouldChange = Callable[[str | None, str, int | None], str]


def provenance(*, target: str, started: float, finished: float, seed: int | None, requests: int,
               server_version: str | None, published_source: str | None) -> dict[str, Any]:
    def stamp(moment: float) -> str:
        return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "suite_version": __version__,
        "contract_sha256": load_contract().sha256,
        "target": redact(target),
        "started_at": stamp(started),
        "finished_at": stamp(finished),
        "seed": seed,
        "requests": requests,
        "server_version": server_version,
        "published_spec": published_source,
    }


def live_part(status: str, reason: str, evidence: list[Checked], verdicts: dict[str, Verdict], rules: dict[str, int],
              expectations: Expectations) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The live part, and the request bodies its curl lines name as evidence files."""
    # A run that could not do its work may still have seen findings; they are reported beside the reason.
    found, bodies = live.findings(verdicts) if evidence else ([], {})
    for finding in found:
        deviation = expectations.for_rule(finding["rule"]) or expectations.for_fingerprint(finding["fingerprint"])
        finding["accepted"] = None if deviation is None else {
            "reason": deviation.reason, "link": deviation.link, "owner": deviation.owner,
            "expires": deviation.expires.isoformat(), "expired": deviation.expired(dt.date.today())}
    return {
        "status": status,
        "reason": reason,
        "rules": rules,
        "verdicts": [{"rule": rule_id, "level": v.rule.level, "outcome": v.outcome.value, "judged": v.judged,
                      "reason": v.reason} for rule_id, v in verdicts.items()] if evidence else [],
        "findings": found,
        "undocumented": live.undocumented(evidence) if evidence else [],
        "never_observed": live.never_observed([c.observation for c in evidence]) if evidence else [],
    }, bodies


def who_should_change(evidence: list[Checked]) -> WhoShouldChange:
    """Decided per change from what the run saw at that operation (and status): an answer that breaks the rule
    behind the change sides with the published document, one the rule held on sides with the contract."""
    seen: dict[tuple[str, int], list[Checked]] = {}
    for checked in evidence:
        exchange = checked.observation.exchange
        if exchange.response.transport_error is None:
            seen.setdefault((operation_label(exchange), exchange.response.status), []).append(checked)

    def decide(rule: str | None, operation: str, status: int | None) -> str:
        answers = [c for (op, answered), cs in seen.items() if op == operation and status in (None, answered)
                   for c in cs]
        if rule is None or not answers:
            return NOT_SEEN
        if any(v.rule.id == rule for c in answers for v in c.violations):
            return API_SHOULD_CHANGE
        return PUBLISHED_SHOULD_CHANGE if any(rule in c.judged for c in answers) else NOT_SEEN

    return decide


def _status_of(change: Change) -> int | None:
    """The response status a change is about ("response 413", "response 200.batchId"), if any."""
    if not change.location.startswith("response "):
        return None
    code = change.location.split()[1].split(".")[0]
    return int(code) if code.isdigit() else None


def published_part(source: str | None, decide: WhoShouldChange | None = None,
                   clock: RunClock | None = None, ca_bundle: str | None = None) -> dict[str, Any]:
    if source is None:
        return {"status": "not compared", "source": None, "error": "no --published-spec", "changes": [], "defects": []}
    try:
        published = load_published(source, clock=clock, ca_bundle=ca_bundle)
    except PublishedUnavailable as exc:
        return {"status": "unavailable", "source": source, "error": str(exc), "changes": [], "defects": []}
    changes = sorted(diff_documents(published.resolved, load_contract().resolved),
                     key=lambda c: (LEVEL_ORDER[c.level], c.operation, c.location))
    return {
        "status": "compared",
        "source": source,
        "error": None,
        "changes": [{
            "fingerprint": c.fingerprint, "kind": c.kind, "operation": c.operation, "location": c.location,
            "published": c.published, "contract": c.contract, "level": c.level, "rule": c.rule,
            "should_change": decide(c.rule, c.operation, _status_of(c)) if decide else NOT_SEEN,
        } for c in changes],
        "defects": [{"fingerprint": d.fingerprint, "kind": d.kind, "location": d.location, "detail": d.detail,
                     "level": d.level, "should_change": PUBLISHED_SHOULD_CHANGE}
                    for d in sorted(find_defects(published), key=lambda d: (LEVEL_ORDER[d.level], d.location))],
    }


def expectations_part(expectations: Expectations, found: list[dict[str, Any]], today: dt.date, *,
                      held: frozenset[str] = frozenset(), checked: bool = True) -> dict[str, Any]:
    """Each known deviation as this run saw it. One that did not happen is "no longer reproduced" (its entry can
    go) only when its rule held in a run checked to the end; otherwise it was not judged, and is kept."""
    reproduced_rules = {f["rule"] for f in found}
    reproduced_prints = {f["fingerprint"] for f in found}

    def entry(d: Any) -> dict[str, Any]:
        return {"rule": d.rule, "fingerprint": d.fingerprint, "reason": d.reason, "link": d.link, "owner": d.owner,
                "expires": d.expires.isoformat()}

    def reproduced(d: Any) -> bool:
        return d.rule in reproduced_rules or d.fingerprint in reproduced_prints

    def judged(d: Any) -> bool:
        return checked and (d.rule is None or d.rule in held)

    return {
        "file": str(expectations.path) if expectations.path else None,
        "accepted": [entry(d) for d in expectations.deviations if not d.expired(today) and reproduced(d)],
        "expired": [entry(d) for d in expectations.deviations if d.expired(today)],
        "no_longer_reproduced": [entry(d) for d in expectations.deviations if not reproduced(d) and judged(d)],
        "not_judged": [entry(d) for d in expectations.deviations if not reproduced(d) and not judged(d)],
    }


def _items(report: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Every fingerprinted finding with its part and a one-line title."""
    for finding in report["live"]["findings"]:
        yield "live", finding, f"{finding['rule']} {finding['operation']} {finding['place'] or 'answer'}"
    for item in report["live"]["undocumented"]:
        yield "live", item, f"undocumented {item['kind']} {item['detail']} in {item['operation']}"
    for change in report["published"]["changes"]:
        yield "published", change, f"{change['kind']} {change['operation']} {change['location']}"
    for defect in report["published"]["defects"]:
        yield "published", defect, f"defect {defect['kind']} at {defect['location']}"


def apply_history(report: dict[str, Any], history: dict[str, Any], keep: int) -> dict[str, Any]:
    """Each finding's state, first and last seen, and how often; the trend; and the history with this run in it."""
    items = list(_items(report))
    updated = runs.record_run(history, report, [(item["fingerprint"], f"{part}: {title}")
                                                for part, item, title in items], keep=keep)
    for _, item, _ in items:
        seen = runs.presence(updated, item["fingerprint"])
        assert seen is not None
        item.update(state=seen.state, first_seen=seen.first_seen, last_seen=seen.last_seen, seen_in=seen.seen_in,
                    of_runs=seen.of)
    evaluated = {"live": report["live"]["status"] != "not run",
                 "published": report["published"]["status"] == "compared"}
    resolved = [dict(r, part=r["title"].split(":")[0], title=r["title"].split(": ", 1)[-1])
                for r in runs.resolved(updated) if evaluated.get(r["title"].split(":")[0], True)]
    states = [item["state"] for _, item, _ in items]
    report["trend"] = {"runs": len(updated["runs"]), "new": states.count("new"),
                       "persisting": states.count("persisting"), "flaky": states.count("flaky"), "resolved": resolved}
    report["history"] = [{**{key: run[key] for key in ("started_at", "status", "must", "should")},
                          "counts": runs.counts(run)} for run in updated["runs"]]
    return updated


def build(*, provenance: dict[str, Any], live: dict[str, Any], published: dict[str, Any],
          outcome: dict[str, Any], expectations: Expectations = NONE, history: dict[str, Any] | None = None,
          keep: int = runs.DEFAULT_KEEP) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report, and the history with its run added.

    outcome is how the run ended (RunOutcome.as_dict()): the report states it, never decides it again.
    """
    report = {"$schema": SCHEMA_ID, "version": VERSION, "outcome": outcome, "provenance": provenance, "live": live,
              "published": published}
    updated = apply_history(report, history or runs.empty(), keep)
    held = frozenset(v["rule"] for v in live.get("verdicts", []) if v["outcome"] == "held")
    report["expectations"] = expectations_part(expectations, live["findings"],
                                               dt.date.fromisoformat(provenance["started_at"][:10]), held=held,
                                               checked=bool(outcome["counts_in_history"]))
    return report, updated


def not_run_report(target: str, reason: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """The report of a session that sent nothing: it says so, and compares no document."""
    now = time.time()
    live, _ = live_part("not run", reason, [], {}, {}, NONE)
    origin = provenance(target=target, started=now, finished=now, seed=None, requests=0, server_version=None,
                        published_source=None)
    built, _ = build(provenance=origin, live=live, published=published_part(None), outcome=outcome)
    return built


class BaselineError(Exception):
    """The baseline drift.json cannot be used; the message names it."""


def load_baseline(path: str) -> dict[str, Any]:
    """A history of one run from last night's drift.json, for a run without a history file of its own."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read the baseline {path} ({exc.strerror}); fix --drift-baseline") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"the baseline {path} is not JSON ({exc.msg}); fix --drift-baseline") from None
    if not isinstance(data, dict) or data.get("version") not in (1, VERSION):
        raise BaselineError(f"the baseline {path} is not a drift report; fix --drift-baseline")
    for finding in data["live"]["findings"]:
        finding.setdefault("place", finding.get("evidence", {}).get("pointer", ""))
    return runs.from_report(data, [(item["fingerprint"], f"{part}: {title}") for part, item, title in _items(data)])


def write(report: dict[str, Any], directory: Path, bodies: dict[str, bytes] | None = None) -> list[Path]:
    """drift.json, drift.md and drift.html, and each request body a curl line names, under evidence/."""
    from conformance.report.drift.html import render_html
    from conformance.report.drift.markdown import render

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if bodies:
        (directory / EVIDENCE_DIR).mkdir(exist_ok=True)
        for name, body in bodies.items():
            # The body as sent; a key in it, were there one, would leave no file.
            path = directory / EVIDENCE_DIR / name
            path.write_bytes(redact(body.decode("latin-1")).encode("latin-1"))
            written.append(path)
    json_path, md_path, html_path = directory / "drift.json", directory / "drift.md", directory / "drift.html"
    json_path.write_text(redact(json.dumps(report, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8")
    markdown = redact(render(report))
    md_path.write_text(markdown, encoding="utf-8")
    html_path.write_text(redact(render_html(report, markdown)), encoding="utf-8")
    return [json_path, md_path, html_path, *written]
