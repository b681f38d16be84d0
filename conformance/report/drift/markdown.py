"""The drift report for people: Markdown that reads well as a GitHub job summary or an issue body.

Short by design. The first screen says red or green, names every broken rule and what is new, and shows the
trend over the kept runs as a Mermaid chart; a table gives one row per broken rule; details are collapsed.
The page stays under MAX_BYTES on any target: details that would pass it are left to drift.json, which keeps
every finding, and the page says what it left out.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

MAX_BYTES = 30_000
# What the parts every page has may take; the rest is for details, as far as they fit.
DETAIL_RESERVE = 600
SHOWN_NEW = 5
SHOWN_PLACES = 3
SHOWN_FINDINGS = 8
SHOWN_UNDOCUMENTED = 15
STATE = {"new": "NEW", "flaky": "FLAKY", "persisting": "since {first_seen}"}


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


def _seen(item: dict[str, Any]) -> str:
    return f"{item['seen_in']} of {item['of_runs']}" if "seen_in" in item else ""


def broken_rules(live: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The findings of each broken rule that nothing accepts, MUST rules first, in catalogue order."""
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for finding in live["findings"]:
        if not finding.get("accepted") or finding["accepted"]["expired"]:
            by_rule[finding["rule"]].append(finding)
    return dict(by_rule)


def verdict_line(report: dict[str, Any]) -> list[str]:
    live = report["live"]
    broken = broken_rules(live)
    must = [rule for rule, found in broken.items() if found[0]["level"] == "MUST"]
    should = [rule for rule, found in broken.items() if found[0]["level"] == "SHOULD"]
    unexercised = sum(v["outcome"] == "not exercised" for v in live.get("verdicts", []))
    new = [f for f in live["findings"] if f.get("state") == "new"]
    if live["status"] == "not run":
        head = f"**NOT RUN**: {live['reason']}"
    elif must:
        head = "**RED**"
    elif live["status"] != "checked":
        head = f"**NOT CHECKED**: {live['reason']}"
    else:
        head = "**GREEN**"
    if live["status"] != "not run":
        head += (f": {len(must)} MUST and {len(should)} SHOULD rules broken · {len(new)} findings new in this run · "
                 f"{unexercised} of {len(live.get('verdicts', []))} rules not exercised")
    lines = [head, ""]
    if must:
        lines += ["MUST broken: " + ", ".join(_code(rule) for rule in must), ""]
    if should:
        lines += ["SHOULD broken: " + ", ".join(_code(rule) for rule in should), ""]
    if new:
        shown = "; ".join(f"{f['rule']} at {f['operation']} {f['place'] or 'answer'}" for f in new[:SHOWN_NEW])
        more = f"; and {len(new) - SHOWN_NEW} more" if len(new) > SHOWN_NEW else ""
        lines += [f"New in this run: {shown}{more}.", ""]
    return lines


def run_labels(history: list[dict[str, Any]]) -> list[str]:
    """Each run by its day, or by day and time where one day holds several runs."""
    days = [run["started_at"][5:10] for run in history]
    if len(set(days)) == len(days):
        return days
    return [f"{run['started_at'][5:10]} {run['started_at'][11:16]}" for run in history]


def trend_chart(history: list[dict[str, Any]]) -> list[str]:
    """A Mermaid xychart of MUST and SHOULD rules broken per run (GitHub renders it in summaries and issues)."""
    if not history:
        return []
    labels = ", ".join(f'"{label}"' for label in run_labels(history))
    top = max([1] + [max(run["must"], run["should"]) for run in history])
    return ["```mermaid", "xychart-beta", f'    title "Rules broken per run, the last {len(history)}"',
            f"    x-axis [{labels}]", f'    y-axis "rules broken" 0 --> {top}',
            f"    line [{', '.join(str(run['must']) for run in history)}]",
            f"    line [{', '.join(str(run['should']) for run in history)}]", "```", "",
            f"MUST rules broken per run: {', '.join(str(run['must']) for run in history)} · "
            f"SHOULD: {', '.join(str(run['should']) for run in history)}.", ""]


def render(report: dict[str, Any]) -> str:
    p, live, published, trend = report["provenance"], report["live"], report["published"], report["trend"]
    lines = [f"# Evermuse Ingestion API: spec drift on {p['started_at'][:10]}", ""]
    lines += verdict_line(report)
    facts = [f"target {_code(p['target'])}", f"contract {_code(p['contract_sha256'][:12])}",
             f"suite {p['suite_version']}", f"seed {'n/a' if p['seed'] is None else p['seed']}",
             f"{p['requests']} requests", f"{p['started_at'][11:19]} to {p['finished_at'][11:19]} UTC"]
    if p["server_version"]:
        facts.append(f"server {_code(p['server_version'])}")
    lines += [" · ".join(facts), ""]
    lines += trend_chart(report.get("history", []))
    resolved_by_part: dict[str, int] = defaultdict(int)
    for item in trend["resolved"]:
        resolved_by_part[item["part"]] += 1
    lines += _table(["Part", "Result", "New", "Persisting", "Flaky", "Resolved"], [
        ["Live API vs contract", _live_summary(live), *_counts(live["findings"] + live["undocumented"]),
         str(resolved_by_part["live"])],
        ["Published document vs contract", _published_summary(published),
         *_counts(published["changes"] + published["defects"]), str(resolved_by_part["published"])],
    ])
    lines += _broken_rules_table(live)
    lines += _published_section(published)
    lines += _resolved_section(trend)
    lines += _expectations_section(report["expectations"])
    page = "\n".join(lines)
    extras, left_out = _extras(report)
    kept = []
    for title, chunk in extras:
        if len(page.encode()) + sum(len(c.encode()) for c in kept) + len(chunk.encode()) + DETAIL_RESERVE > MAX_BYTES:
            left_out.append(title)
            continue
        kept.append(chunk)
    tail = [f"Left out to keep this page short, and all in drift.json: {'; '.join(left_out)}.", ""] if left_out else []
    return (page.rstrip() + "\n\n" + "".join(kept) + "\n".join(tail)).rstrip() + "\n"


def _counts(items: list[dict[str, Any]]) -> list[str]:
    return [str(sum(i.get("state") == state for i in items)) for state in ("new", "persisting", "flaky")]


def _live_summary(live: dict[str, Any]) -> str:
    if live["status"] == "not run":
        return f"not run: {live['reason']}"
    rules = live["rules"]
    head = "checked" if live["status"] == "checked" else f"not checked: {live['reason']}"
    broken = broken_rules(live)
    return (f"{head}; {len(broken)} rules broken, {rules.get('held', 0)} held, "
            f"{rules.get('accepted', 0)} accepted, {rules.get('not exercised', 0)} not exercised")


def _published_summary(published: dict[str, Any]) -> str:
    if published["status"] != "compared":
        return f"{published['status']}: {published['error']}"
    levels = [c["level"] for c in published["changes"]]
    return (f"{len(levels)} changes ({levels.count('breaking')} breaking, {levels.count('warning')} warning, "
            f"{levels.count('info')} info), {len(published['defects'])} defects of the document")


def _rule_state(found: list[dict[str, Any]]) -> str:
    states = {f.get("state") for f in found}
    for state in ("new", "flaky"):
        if state in states:
            return STATE[state]
    first = min((f.get("first_seen") or "" for f in found), default="")
    return f"since {first}" if first else ""


def _broken_rules_table(live: dict[str, Any]) -> list[str]:
    broken = broken_rules(live)
    lines = ["## Broken rules", ""]
    if live["status"] == "not run":
        return [*lines, f"No live run: {live['reason']}.", ""]
    if not broken:
        return [*lines, "None: every rule that judged an exchange held.", ""]
    rows = []
    for rule, found in broken.items():
        places = [f"{f['operation']} {f['place'] or 'answer'}" for f in found]
        where = "; ".join(places[:SHOWN_PLACES]) + (f"; +{len(places) - SHOWN_PLACES} more"
                                                    if len(places) > SHOWN_PLACES else "")
        rows.append([_rule_state(found), rule, found[0]["level"], len(found), where, sum(f["count"] for f in found),
                     max((f.get("seen_in", 0) for f in found), default=0) or "",
                     ])
    return [*lines, *_table(["State", "Rule", "Level", "Findings", "Where", "Count", "Runs seen in"], rows)]


def _example(evidence: dict[str, Any], label: str) -> list[str]:
    return [f"{label}:", "", "```text", f"Expected: {evidence['expected']}", f"Received: {evidence['received']}",
            f"Request:  {evidence['request']} -> {evidence['status']} ({evidence['activity']})",
            f"Body:     {evidence['body_excerpt'][:200]}", f"Reproduce with: {evidence['curl'][:1500]}", "```", ""]


def _details(rule: str, found: list[dict[str, Any]]) -> str:
    first = found[0]
    lines = [f"<details><summary>{rule} ({first['level']}) {_cell(first['sentence'])} - {len(found)} findings"
             f"</summary>", ""]
    rows = [[_state(f), f["operation"], f["place"] or "answer", f["count"], f.get("first_seen", ""),
             f.get("last_seen", ""), _seen(f), _accepted(f.get("accepted")), _code(f["fingerprint"])]
            for f in found[:SHOWN_FINDINGS]]
    lines += _table(["State", "Operation", "Where", "Count", "First seen", "Last seen", "Runs seen in", "Accepted",
                     "Fingerprint"], rows)
    if len(found) > SHOWN_FINDINGS:
        lines += [f"And {len(found) - SHOWN_FINDINGS} more findings of {rule} in drift.json.", ""]
    lines += _example(first["evidence"], "First example")
    if first["last"]["request"] != first["evidence"]["request"] or first["count"] > 1:
        lines += _example(first["last"], "Last example")
    return "\n".join([*lines, "</details>", "", ""])


def _extras(report: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """The optional parts, most useful first, each with what to call it if it must be left out."""
    live = report["live"]
    chunks = [(f"the details of {rule}", _details(rule, found)) for rule, found in broken_rules(live).items()]
    if live["undocumented"]:
        rows = [[_state(u), u["kind"], u["operation"], _code(u["detail"]), u["count"], u["example"]]
                for u in live["undocumented"][:SHOWN_UNDOCUMENTED]]
        more = len(live["undocumented"]) - SHOWN_UNDOCUMENTED
        chunks.append(("undocumented answers", "\n".join(
            ["## Undocumented answers seen", "", *_table(["State", "Kind", "Operation", "What", "Count", "Example"],
                                                          rows),
             *([f"And {more} more in drift.json.", ""] if more > 0 else []), ""])))
    if live["never_observed"]:
        by_operation: dict[str, list[str]] = defaultdict(list)
        for item in live["never_observed"]:
            by_operation[item["operation"]].append(f"{item['kind']} {item['detail']}")
        chunks.append(("what the run never observed", "\n".join(
            ["## Documented but not observed in this run", "",
             *[f"- {operation}: {', '.join(parts)}" for operation, parts in by_operation.items()], "", ""])))
    unexercised = [v for v in live.get("verdicts", []) if v["outcome"] == "not exercised"]
    if unexercised:
        chunks.append(("the rules not exercised", "\n".join(
            ["## Rules not exercised", "", "A rule that judged no exchange neither held nor broke:", "",
             *[f"- {v['rule']} ({v['level']}): {v['reason']}" for v in unexercised], "", ""])))
    return chunks, []


def _accepted(accepted: dict[str, Any] | None) -> str:
    if not accepted:
        return ""
    return f"{'EXPIRED ' if accepted['expired'] else ''}until {accepted['expires']} ({accepted['owner']})"


def _published_section(published: dict[str, Any]) -> list[str]:
    lines = ["## Published document vs contract", ""]
    if published["status"] != "compared":
        return [*lines, f"Not compared: {published['error']}. The rest of this report stands.", ""]
    lines += [f"Published document: {_code(published['source'])}", ""]
    lines += _table(["Level", "Operation", "Where", "Published", "Contract", "Who should change", "State"], [
        [c["level"], c["operation"], c["location"], c["published"], c["contract"],
         c["should_change"].removeprefix("the "), _state(c)] for c in published["changes"]])
    if published["defects"]:
        lines += ["Defects of the published document:", ""]
        lines += _table(["Level", "Where", "What", "State"], [
            [d["level"], _code(d["location"]), d["detail"], _state(d)] for d in published["defects"]])
    return lines


def _resolved_section(trend: dict[str, Any]) -> list[str]:
    if not trend["resolved"]:
        return []
    lines = ["## Resolved since the last run", ""]
    lines += [f"- {item['title']} (first seen {item['first_seen']}, {_code(item['fingerprint'])})"
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
