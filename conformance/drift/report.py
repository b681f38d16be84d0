"""The drift report: its JSON (documented by drift-report.schema.json) and its Markdown, from one dict."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.checker import Checked
from conformance.contract import load_contract
from conformance.drift import live
from conformance.drift.published import PublishedUnavailable, find_defects, load_published
from conformance.drift.specdiff import API_SHOULD_CHANGE, PUBLISHED_SHOULD_CHANGE, diff_documents
from conformance.expectations import NONE, Expectations
from conformance.redact import redact
from conformance.verdicts import Verdict

SCHEMA_ID = "https://evermuse-conformance.invalid/drift-report/v1"
SCHEMA_FILE = Path(__file__).with_name("drift-report.schema.json")
VERSION = 1
LEVEL_ORDER = {"breaking": 0, "warning": 1, "info": 2}


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
              expectations: Expectations) -> dict[str, Any]:
    # A run that could not do its work may still have seen findings; they are reported beside the reason.
    checked = bool(evidence)
    found = live.findings(verdicts) if checked else []
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
                      "reason": v.reason} for rule_id, v in verdicts.items()] if checked else [],
        "findings": found,
        "undocumented": live.undocumented(evidence) if checked else [],
        "never_observed": live.never_observed([c.observation for c in evidence]) if checked else [],
    }


def published_part(source: str | None, violated_rules: set[str]) -> dict[str, Any]:
    if source is None:
        return {"status": "not compared", "source": None, "error": "no --published-spec", "changes": [], "defects": []}
    try:
        published = load_published(source)
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
            # When the live API breaks the rule behind a change, it sides with the published document.
            "should_change": API_SHOULD_CHANGE if c.rule in violated_rules else PUBLISHED_SHOULD_CHANGE,
        } for c in changes],
        "defects": [{"fingerprint": d.fingerprint, "kind": d.kind, "location": d.location, "detail": d.detail,
                     "level": d.level, "should_change": PUBLISHED_SHOULD_CHANGE}
                    for d in sorted(find_defects(published), key=lambda d: (LEVEL_ORDER[d.level], d.location))],
    }


def expectations_part(expectations: Expectations, found: list[dict[str, Any]], today: dt.date) -> dict[str, Any]:
    reproduced_rules = {f["rule"] for f in found}
    reproduced_prints = {f["fingerprint"] for f in found}

    def entry(d: Any) -> dict[str, Any]:
        return {"rule": d.rule, "fingerprint": d.fingerprint, "reason": d.reason, "link": d.link, "owner": d.owner,
                "expires": d.expires.isoformat()}

    return {
        "file": str(expectations.path) if expectations.path else None,
        "accepted": [entry(d) for d in expectations.deviations if not d.expired(today)
                     and (d.rule in reproduced_rules or d.fingerprint in reproduced_prints)],
        "expired": [entry(d) for d in expectations.deviations if d.expired(today)],
        "no_longer_reproduced": [entry(d) for d in expectations.deviations
                                 if d.rule not in reproduced_rules and d.fingerprint not in reproduced_prints],
    }


def _items(report: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Every fingerprinted finding with its part and a one-line title."""
    for finding in report["live"]["findings"]:
        yield "live", finding, f"{finding['rule']} {finding['operation']} {finding['evidence']['pointer']}"
    for item in report["live"]["undocumented"]:
        yield "live", item, f"undocumented {item['kind']} {item['detail']} in {item['operation']}"
    for change in report["published"]["changes"]:
        yield "published", change, f"{change['kind']} {change['operation']} {change['location']}"
    for defect in report["published"]["defects"]:
        yield "published", defect, f"defect {defect['kind']} at {defect['location']}"


def apply_trend(report: dict[str, Any], baseline: dict[str, Any] | None, baseline_source: str | None) -> None:
    today = report["provenance"]["started_at"][:10]
    before = {item["fingerprint"]: (part, item, title) for part, item, title in _items(baseline)} if baseline else {}
    current = set()
    for _, item, _ in _items(report):
        current.add(item["fingerprint"])
        if item["fingerprint"] in before:
            item["state"] = "persisting"
            item["first_seen"] = before[item["fingerprint"]][1].get("first_seen") or baseline["provenance"][
                "started_at"][:10]
        else:
            item["state"] = "new"
            item["first_seen"] = today
    evaluated = {"live": report["live"]["status"] == "checked",
                 "published": report["published"]["status"] == "compared"}
    resolved = [{"fingerprint": key, "part": part, "title": title, "first_seen": item.get("first_seen")}
                for key, (part, item, title) in sorted(before.items()) if key not in current and evaluated[part]]
    states = [item["state"] for _, item, _ in _items(report)]
    report["trend"] = {
        "baseline": baseline_source,
        "baseline_started_at": baseline["provenance"]["started_at"] if baseline else None,
        "new": states.count("new") if baseline else None,
        "persisting": states.count("persisting") if baseline else None,
        "resolved": resolved,
    }


def build(*, provenance: dict[str, Any], live: dict[str, Any], published: dict[str, Any],
          expectations: Expectations = NONE, baseline: dict[str, Any] | None = None,
          baseline_source: str | None = None) -> dict[str, Any]:
    report = {"$schema": SCHEMA_ID, "version": VERSION, "provenance": provenance, "live": live,
              "published": published}
    apply_trend(report, baseline, baseline_source)
    report["expectations"] = expectations_part(expectations, live["findings"],
                                               dt.date.fromisoformat(provenance["started_at"][:10]))
    return report


class BaselineError(Exception):
    """The baseline drift.json cannot be used; the message names it."""


def load_baseline(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read the baseline {path} ({exc.strerror}); fix --drift-baseline") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"the baseline {path} is not JSON ({exc.msg}); fix --drift-baseline") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise BaselineError(f"the baseline {path} is not a version {VERSION} drift report; fix --drift-baseline")
    return data


def write(report: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    from conformance.drift.markdown import render

    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "drift.json", directory / "drift.md"
    json_path.write_text(redact(json.dumps(report, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8")
    md_path.write_text(redact(render(report)), encoding="utf-8")
    return json_path, md_path
