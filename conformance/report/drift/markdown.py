"""The drift report for people: Markdown that reads well as a GitHub job summary or an issue body.

Short by design. The first line is the run's outcome, as decided once by the run. The first screen then gives
each broken MUST rule its sentence, since when it is broken, who should change and one curl line to reproduce
it; then the counts, which agree with the table below them. Details are collapsed, and what repeats every
night comes after what is new. The page stays under MAX_BYTES on any target: details that would pass it are
left to drift.json, which keeps every finding, and the page says what it left out.

Every string that came from the target or the published document is escaped: it reads as text in Markdown and
in the HTML page made from it, never as markup.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from typing import Any

MAX_BYTES = 30_000
# What the parts every page has may take; the rest is for details, as far as they fit.
DETAIL_RESERVE = 600
SHOWN_NEW = 5
SHOWN_PLACES = 3
SHOWN_FINDINGS = 8
SHOWN_UNDOCUMENTED = 15
SHOWN_MUST = 10
SHOWN_CURL = 600
STATE = {"new": "NEW", "flaky": "FLAKY", "persisting": "since {first_seen}"}
# Characters Markdown gives a meaning to inline, escaped with a backslash; <, > and & become entities.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


class _Markdown(str):
    """Markdown the report wrote itself, which _cell leaves as it is."""


def _cell(value: Any) -> str:
    """Any text as plain text in a Markdown line or table cell."""
    if isinstance(value, _Markdown):
        return value
    text = " ".join(str(value).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _code(value: Any) -> str:
    """Any text as an inline code span: nothing inside is markup (a table escapes its |)."""
    text = " ".join(str(value).split()).replace("`", "'")
    return _Markdown(f"`{text}`")


def _exact_code(text: str) -> str:
    """Text as a code span, character for character: delimited by more backticks than any run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{' '.join(text.splitlines())}{pad}{fence}"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fenced(lines: list[str], info: str = "text") -> list[str]:
    """A fenced block no line of the content can close: its fence is longer than any run of backticks in it."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *lines, fence]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    # In a table even a code span's | ends the cell, unless escaped (GitHub's table syntax).
    lines += ["| " + " | ".join(cell.replace("|", "\\|") if isinstance(cell, _Markdown) else _cell(cell)
                                for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _state(item: dict[str, Any]) -> str:
    state = item.get("state")
    return STATE.get(state, "").format(first_seen=item.get("first_seen")) if state else ""


def _seen(item: dict[str, Any], counted_run: bool = True) -> str:
    """In how many of the runs checked to the end; this run too, when it was not checked to the end."""
    if "seen_in" not in item:
        return ""
    return f"{item['seen_in']} of {item['of_runs']}" + ("" if counted_run else " checked, and this run")


def broken_rules(live: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The findings of each broken rule that nothing accepts, MUST rules first, in catalogue order."""
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for finding in live["findings"]:
        if not finding.get("accepted") or finding["accepted"]["expired"]:
            by_rule[finding["rule"]].append(finding)
    return dict(by_rule)


def _new_counts(live: dict[str, Any]) -> tuple[int, int]:
    """New in this run: findings of rules, and undocumented answers; the Part table counts the same."""
    return (sum(f.get("state") == "new" for f in live["findings"]),
            sum(u.get("state") == "new" for u in live["undocumented"]))


def _owner(rule: str, report: dict[str, Any]) -> str:
    """Who should change for a broken rule: the API, since its answers break the contract; the published
    document too where it differs from the contract at that rule."""
    differs = any(c.get("rule") == rule for c in report["published"].get("changes", []))
    return "the API" + ("; the published document differs here as well" if differs else "")


def verdict_line(report: dict[str, Any]) -> list[str]:
    """The first screen: the outcome, each broken MUST rule with what to do about it, then the counts."""
    live, outcome = report["live"], report["outcome"]
    broken = broken_rules(live)
    must = [rule for rule, found in broken.items() if found[0]["level"] == "MUST"]
    should = [rule for rule, found in broken.items() if found[0]["level"] == "SHOULD"]
    lines = [f"# {_cell(outcome['headline'])}", ""]
    if live["status"] == "not run":
        return lines
    for rule in must[:SHOWN_MUST]:
        found = broken[rule]
        first = found[0]
        since = _rule_state(found) or "in this run"
        places = "; ".join(_code(f"{f['operation']} {f['place'] or 'answer'}") for f in found[:SHOWN_PLACES])
        more = f" and {len(found) - SHOWN_PLACES} more" if len(found) > SHOWN_PLACES else ""
        # Three lines a rule, joined by hard line breaks: ten broken rules still fit the first screen.
        lines += [f"- **{rule}** (MUST) {_cell(first['sentence'])}  ",
                  f"  {since} · who should change: {_owner(rule, report)} · "
                  f"{_plural(len(found), 'finding')}, at {places}{more}  ",
                  f"  Reproduce with: {_exact_code(first['evidence']['curl'][:SHOWN_CURL])}"]
    if must:
        lines.append("")
    if len(must) > SHOWN_MUST:
        lines += [f"And {len(must) - SHOWN_MUST} more MUST rules broken: "
                  + ", ".join(_code(rule) for rule in must[SHOWN_MUST:]) + ".", ""]
    if should:
        lines += ["SHOULD broken: " + ", ".join(_code(rule) for rule in should), ""]
    unexercised = sum(v["outcome"] == "not exercised" for v in live.get("verdicts", []))
    findings_new, undocumented_new = _new_counts(live)
    lines += [f"{findings_new + undocumented_new} new in this run ({findings_new} findings of rules, "
              f"{undocumented_new} undocumented answers) · {unexercised} of {len(live.get('verdicts', []))} rules "
              f"not exercised", ""]
    return lines


def run_labels(history: list[dict[str, Any]]) -> list[str]:
    """Each run by its day, or by day and time where one day holds several runs."""
    days = [run["started_at"][5:10] for run in history]
    if len(set(days)) == len(days):
        return days
    return [f"{run['started_at'][5:10]} {run['started_at'][11:16]}" for run in history]


def counted(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The kept runs that were checked to the end: the only ones a trend may draw."""
    return [run for run in history if run.get("counts", run.get("status") == "checked")]


def trend_chart(history: list[dict[str, Any]]) -> list[str]:
    """The MUST and SHOULD rules broken per checked run, as text, and as a Mermaid xychart (which GitHub draws)
    once there are two runs to draw a line between."""
    # A run that sent nothing (NOT RUN, a comparison of documents alone) has no place in a trend of checks.
    left_out = sum(1 for run in history if run.get("status") != "not run") - len(counted(history))
    history = counted(history)
    note = [f"Runs not checked to the end, left out of the trend: {left_out}.", ""] if left_out else []
    if len(history) < 2:
        return note
    labels = ", ".join(f'"{label}"' for label in run_labels(history))
    top = max([1] + [max(run["must"], run["should"]) for run in history])
    return [f"MUST rules broken per checked run: {', '.join(str(run['must']) for run in history)} · "
            f"SHOULD: {', '.join(str(run['should']) for run in history)}.", "", *note,
            "```mermaid", "xychart-beta", f'    title "Rules broken per run, the last {len(history)}"',
            f"    x-axis [{labels}]", f'    y-axis "rules broken" 0 --> {top}',
            f"    line [{', '.join(str(run['must']) for run in history)}]",
            f"    line [{', '.join(str(run['should']) for run in history)}]", "```", ""]


def render(report: dict[str, Any]) -> str:
    p, live, published, trend = report["provenance"], report["live"], report["published"], report["trend"]
    lines = verdict_line(report)
    facts = [f"Evermuse Ingestion API spec drift on {p['started_at'][:10]}", f"target {_code(p['target'])}",
             f"contract {_code(p['contract_sha256'][:12])}", f"suite {_cell(p['suite_version'])}",
             f"seed {'n/a' if p['seed'] is None else p['seed']}", f"{p['requests']} requests",
             f"{p['started_at'][11:19]} to {p['finished_at'][11:19]} UTC"]
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
    head = live["status"] if live["status"] == "checked" or not live["reason"] \
        else f"{live['status']}: {live['reason']}"
    broken = broken_rules(live)
    return (f"{head}; {_plural(len(broken), 'rule')} broken, {rules.get('held', 0)} held, "
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
    text = "\n".join([f"Expected: {evidence['expected']}", f"Received: {evidence['received']}",
                      f"Request:  {evidence['request']} -> {evidence['status']} ({evidence['activity']})",
                      f"Body:     {evidence['body_excerpt'][:200]}", f"Reproduce with: {evidence['curl'][:1500]}"])
    return [f"{label}:", "", *_fenced(text.splitlines()), ""]


def _details(rule: str, found: list[dict[str, Any]], counted_run: bool = True) -> str:
    first = found[0]
    lines = [f"<details><summary>{rule} ({first['level']}) {_cell(first['sentence'])} - {len(found)} findings"
             f"</summary>", ""]
    rows = [[_state(f), f["operation"], f["place"] or "answer", f["count"], f.get("first_seen", ""),
             f.get("last_seen", ""), _seen(f, counted_run), _accepted(f.get("accepted")), _code(f["fingerprint"])]
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
    broken = broken_rules(live)
    counted_run = bool(report["outcome"]["counts_in_history"])
    details = {level: [(f"the details of {rule}", _details(rule, found, counted_run)) for rule, found in broken.items()
                       if found[0]["level"] == level] for level in ("MUST", "SHOULD")}
    # What repeats every night (the comparison of the documents) comes after what broke in this run.
    chunks = [*details["MUST"], ("the comparison of the published document", "\n".join(
        _published_section(report["published"])) + "\n\n"), *details["SHOULD"]]
    if live["undocumented"]:
        rows = [[_state(u), u["kind"], u["operation"], _code(u["detail"]), u["count"], _code(u["example"])]
                for u in live["undocumented"][:SHOWN_UNDOCUMENTED]]
        more = len(live["undocumented"]) - SHOWN_UNDOCUMENTED
        chunks.append(("undocumented answers", "\n".join(
            ["## Undocumented answers seen", "", *_table(["State", "Kind", "Operation", "What", "Count", "Example"],
                                                          rows),
             *([f"And {more} more in drift.json.", ""] if more > 0 else []), ""])))
    if live["never_observed"]:
        by_operation: dict[str, list[str]] = defaultdict(list)
        for item in live["never_observed"]:
            by_operation[item["operation"]].append(f"{item['kind']} {_cell(item['detail'])}")
        chunks.append(("what the run never observed", "\n".join(
            ["## Documented but not observed in this run", "",
             *[f"- {operation}: {', '.join(parts)}" for operation, parts in by_operation.items()], "", ""])))
    unexercised = [v for v in live.get("verdicts", []) if v["outcome"] == "not exercised"]
    if unexercised:
        chunks.append(("the rules not exercised", "\n".join(
            ["## Rules not exercised", "", "A rule that judged no exchange neither held nor broke:", "",
             *[f"- {v['rule']} ({v['level']}): {_cell(v['reason'])}" for v in unexercised], "", ""])))
    return chunks, []


def _accepted(accepted: dict[str, Any] | None) -> str:
    if not accepted:
        return ""
    return f"{'EXPIRED ' if accepted['expired'] else ''}until {accepted['expires']} ({accepted['owner']})"


def _published_section(published: dict[str, Any]) -> list[str]:
    lines = ["## Published document vs contract", ""]
    if published["status"] != "compared":
        return [*lines, f"Not compared: {_cell(published['error'])}. The rest of this report stands.", ""]
    lines += [f"Published document: {_code(published['source'])}", ""]
    changes = [c for c in published["changes"] if c.get("state") != "persisting"]
    unchanged = [c for c in published["changes"] if c.get("state") == "persisting"]
    lines += _table(["Level", "Operation", "Where", "Published", "Contract", "Who should change", "State"], [
        [c["level"], c["operation"], c["location"], c["published"], c["contract"],
         c["should_change"].removeprefix("the "), _state(c)] for c in changes]) if changes else []
    if unchanged:
        since = min(c.get("first_seen") or "" for c in unchanged)
        lines += [f"{len(unchanged)} more differences unchanged since {since} or later, listed in drift.json.", ""]
    if published["defects"]:
        lines += ["Defects of the published document:", ""]
        lines += _table(["Level", "Where", "What", "State"], [
            [d["level"], _code(d["location"]), d["detail"], _state(d)] for d in published["defects"]])
    return lines


def _resolved_section(trend: dict[str, Any]) -> list[str]:
    if not trend["resolved"]:
        return []
    lines = ["## Resolved since the last run", ""]
    lines += [f"- {_cell(item['title'])} (first seen {item['first_seen']}, {_code(item['fingerprint'])})"
              for item in trend["resolved"]]
    return [*lines, ""]


def _expectations_section(expectations: dict[str, Any]) -> list[str]:
    if not expectations["file"]:
        return []
    lines = ["## Known deviations", "", f"From {_code(expectations['file'])}.", ""]
    for title, key in (("Accepted", "accepted"), ("Expired, failing again", "expired"),
                       ("No longer reproduced: delete the entry", "no_longer_reproduced"),
                       ("Not judged in this run: kept", "not_judged")):
        entries = expectations.get(key, [])
        lines.append(f"- {title}: " + ("; ".join(
            _cell(f"{e['rule'] or e['fingerprint']} ({e['reason']}, {e['owner']}, until {e['expires']}, {e['link']})")
            for e in entries) if entries else "none"))
    return [*lines, ""]
