"""The drift report for people: Markdown that reads well as a GitHub job summary or an issue body."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

STATE = {"new": "NEW", "persisting": "since {first_seen}", None: ""}


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    text = _cell(value).replace("`", "'")
    return f"`{text}`"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _state(item: dict[str, Any]) -> str:
    state = item.get("state")
    return STATE.get(state, "").format(first_seen=item.get("first_seen")) if state else ""


def _counts(items: list[dict[str, Any]]) -> tuple[str, str]:
    if not items or "state" not in items[0]:
        return "", ""
    return str(sum(i["state"] == "new" for i in items)), str(sum(i["state"] == "persisting" for i in items))


def render(report: dict[str, Any]) -> str:
    p, live, published, trend = report["provenance"], report["live"], report["published"], report["trend"]
    lines = [f"# Evermuse Ingestion API: spec drift on {p['started_at'][:10]}", ""]
    facts = [f"target {_code(p['target'])}", f"contract {_code(p['contract_sha256'][:12])}",
             f"suite {p['suite_version']}", f"seed {'n/a' if p['seed'] is None else p['seed']}",
             f"{p['requests']} requests",
             f"{p['started_at'][11:19]} to {p['finished_at'][11:19]} UTC"]
    if p["server_version"]:
        facts.append(f"server {_code(p['server_version'])}")
    lines += [" · ".join(facts), ""]
    resolved_by_part = defaultdict(int)
    for item in trend["resolved"]:
        resolved_by_part[item["part"]] += 1
    baseline = trend["baseline"] is not None
    lines += _table(["Part", "Result", "New", "Persisting", "Resolved"], [
        ["Live API vs contract", _live_summary(live), *_counts(live["findings"] + live["undocumented"]),
         str(resolved_by_part["live"]) if baseline else ""],
        ["Published document vs contract", _published_summary(published),
         *_counts(published["changes"] + published["defects"]), str(resolved_by_part["published"]) if baseline else ""],
    ])
    lines += _live_section(live)
    lines += _published_section(published)
    lines += _trend_section(trend)
    lines += _expectations_section(report["expectations"])
    return "\n".join(lines).rstrip() + "\n"


def _live_summary(live: dict[str, Any]) -> str:
    if live["status"] != "checked":
        return f"{live['status']}: {live['reason']}"
    rules = live["rules"]
    violated = sorted({(f["rule"], f["level"]) for f in live["findings"]})
    must = sum(level == "MUST" for _, level in violated)
    head = f"**{len(violated)} rules violated** ({must} MUST, {len(violated) - must} SHOULD)" if violated else \
        "no rule violated"
    return f"{head}, {rules.get('held', 0)} held, {rules.get('not exercised', 0)} not exercised"


def _published_summary(published: dict[str, Any]) -> str:
    if published["status"] != "compared":
        return f"{published['status']}: {published['error']}"
    levels = [c["level"] for c in published["changes"]]
    return (f"{len(levels)} changes ({levels.count('breaking')} breaking, {levels.count('warning')} warning, "
            f"{levels.count('info')} info), {len(published['defects'])} defects of the document")


def _live_section(live: dict[str, Any]) -> list[str]:
    lines = ["## Live API vs contract", ""]
    if live["status"] == "not run":
        return [*lines, f"No live run: {live['reason']}.", ""]
    if live["status"] != "checked":
        return [*lines, f"The target could not be checked: {live['reason']}.", ""]
    lines += ["### Rule violations", ""]
    if not live["findings"]:
        lines += ["None: every exercised rule held.", ""]
    else:
        lines += _table(["State", "Rule", "Level", "Operation", "Where", "Count", "Accepted"], [
            [_state(f), f["rule"], f["level"], f["operation"], f["evidence"]["pointer"] or "answer", f["count"],
             _accepted(f.get("accepted"))] for f in live["findings"]])
        for finding in live["findings"]:
            evidence = finding["evidence"]
            lines += [f"<details><summary>{finding['rule']} ({finding['level']}) {_cell(finding['sentence'])}"
                      f"</summary>", "", "```text",
                      f"Expected: {evidence['expected']}", f"Received: {evidence['received']}",
                      f"Request:  {evidence['request']} -> {evidence['status']} ({evidence['activity']})",
                      f"Body:     {evidence['body_excerpt']}", f"Reproduce with: {evidence['curl']}",
                      f"Fingerprint: {finding['fingerprint']}", "```", "", "</details>", ""]
    lines += _verdicts_section(live.get("verdicts", []))
    lines += ["### Undocumented answers seen", ""]
    if live["undocumented"]:
        lines += _table(["State", "Kind", "Operation", "What", "Count", "Example"], [
            [_state(u), u["kind"], u["operation"], _code(u["detail"]), u["count"], u["example"]]
            for u in live["undocumented"]])
    else:
        lines += ["None.", ""]
    lines += ["### Documented but not observed in this run", ""]
    by_operation: dict[str, list[str]] = defaultdict(list)
    for item in live["never_observed"]:
        by_operation[item["operation"]].append(f"{item['kind']} {item['detail']}")
    lines += [f"- {operation}: {', '.join(parts)}" for operation, parts in by_operation.items()] or ["Nothing."]
    return [*lines, ""]


def _verdicts_section(verdicts: list[dict[str, Any]]) -> list[str]:
    """Every rule with how much the run judged it: a rule held only on evidence."""
    if not verdicts:
        return []
    unexercised = [v for v in verdicts if v["outcome"] == "not exercised"]
    lines = [f"<details><summary>Exchanges judged per rule ({len(unexercised)} rules not exercised)</summary>", ""]
    lines += _table(["Rule", "Level", "Verdict", "Judged", "Why not exercised"],
                    [[v["rule"], v["level"], v["outcome"], v["judged"], v["reason"]] for v in verdicts])
    return [*lines, "</details>", ""]


def _accepted(accepted: dict[str, Any] | None) -> str:
    if not accepted:
        return ""
    return f"{'EXPIRED ' if accepted['expired'] else ''}until {accepted['expires']} ({accepted['owner']})"


def _published_section(published: dict[str, Any]) -> list[str]:
    lines = ["## Published document vs contract", ""]
    if published["status"] != "compared":
        return [*lines, f"Not compared: {published['error']}. The rest of this report stands.", ""]
    lines += [f"Published document: {_code(published['source'])}", "", "### Changes", ""]
    lines += _table(["Level", "Operation", "Where", "Published", "Contract", "Who should change", "State",
                     "Fingerprint"], [
        [c["level"], c["operation"], c["location"], c["published"], c["contract"],
         c["should_change"].removeprefix("the "), _state(c), _code(c["fingerprint"])] for c in published["changes"]])
    lines += ["### Defects of the published document", ""]
    lines += _table(["Level", "Where", "What", "State", "Fingerprint"], [
        [d["level"], _code(d["location"]), d["detail"], _state(d), _code(d["fingerprint"])]
        for d in published["defects"]]) if published["defects"] else ["None.", ""]
    return lines


def _trend_section(trend: dict[str, Any]) -> list[str]:
    lines = ["## Since the baseline", ""]
    if trend["baseline"] is None:
        return [*lines, "No baseline given (--drift-baseline): every finding counts as seen for the first time.", ""]
    lines += [f"Baseline {_code(trend['baseline'])}, the run of {trend['baseline_started_at']}: "
              f"{trend['new']} new, {trend['persisting']} persisting, {len(trend['resolved'])} resolved.", ""]
    lines += [f"- RESOLVED {item['title']} (first seen {item['first_seen']}, {_code(item['fingerprint'])})"
              for item in trend["resolved"]]
    return [*lines, ""]


def _expectations_section(expectations: dict[str, Any]) -> list[str]:
    if not expectations["file"]:
        return []
    lines = ["## Known deviations", "", f"From {_code(expectations['file'])}.", ""]
    for title, key in (("Accepted", "accepted"), ("Expired, failing again", "expired"),
                       ("No longer reproduced: delete the entry", "no_longer_reproduced")):
        entries = expectations[key]
        lines.append(f"- {title}: " + ("; ".join(
            f"{e['rule'] or e['fingerprint']} ({e['reason']}, {e['owner']}, until {e['expires']}, {e['link']})"
            for e in entries) if entries else "none"))
    return [*lines, ""]
