"""The drift history: the last N runs, with what each saw, so a finding can say since when and how often.

history.json holds, per run, its date, how it ended, how many MUST and SHOULD rules it found broken, and the
fingerprints of its findings. A finding's state in the newest run follows from the runs checked to the end:
new (seen for the first time), persisting (seen in every checked run since it first appeared), flaky (it came
and went), and resolved (seen in the last checked run, not in this one). A run that was not checked to the end
(interrupted, partial, not checked, a bug of ours) is kept with its outcome, but it neither resolves nor flakes a
finding: an outage night leaves "since when" as it was.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VERSION = 1
DEFAULT_KEEP = 60


class HistoryError(Exception):
    """The history file cannot be used; the message names it and what to change."""


def empty() -> dict[str, Any]:
    return {"version": VERSION, "runs": [], "titles": {}}


def load_history(path: Path) -> dict[str, Any]:
    """The history at path, or an empty one when there is none yet."""
    if not path.exists():
        return empty()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HistoryError(f"the drift history {path} cannot be read ({exc}); fix or delete it, or set "
                           f"--drift-history") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("runs"), list):
        raise HistoryError(f"the drift history {path} is not a version {VERSION} history; delete it or set "
                           f"--drift-history")
    return data


def from_report(report: dict[str, Any], items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """A history of one run, from a drift.json given as --drift-baseline."""
    return record_run(empty(), report, items, keep=DEFAULT_KEEP)


def outcome_of(report: dict[str, Any]) -> dict[str, Any]:
    """The outcome a report states; for a drift.json written before reports stated one (a --drift-baseline),
    what its verdicts and status said."""
    if "outcome" in report:
        return report["outcome"]
    verdicts = report["live"].get("verdicts", [])
    broken = [v for v in verdicts if v["outcome"] in ("violated", "expired")]
    return {"must": [v["rule"] for v in broken if v["level"] == "MUST"],
            "should": [v["rule"] for v in broken if v["level"] == "SHOULD"],
            "counts_in_history": report["live"]["status"] == "checked"}


def record_run(history: dict[str, Any], report: dict[str, Any], items: Iterable[tuple[str, str]], *,
               keep: int) -> dict[str, Any]:
    """The history with this report's run added, and only the last `keep` runs kept.

    items are the report's findings as (fingerprint, title).
    """
    runs = list(history["runs"])
    findings = dict(items)
    outcome = outcome_of(report)
    runs.append({
        "id": (runs[-1]["id"] + 1) if runs else 1,
        "started_at": report["provenance"]["started_at"],
        # Which suite judged it: a new version may judge what an older one let pass.
        "suite_version": report["provenance"].get("suite_version"),
        "status": report["live"]["status"],
        "counts": bool(outcome["counts_in_history"]),
        # The run's outcome counts what it broke; the history does not count again.
        "must": len(outcome["must"]),
        "should": len(outcome["should"]),
        "findings": sorted(findings),
    })
    runs = runs[-keep:]
    kept = {fingerprint for run in runs for fingerprint in run["findings"]}
    titles = {k: v for k, v in {**history.get("titles", {}), **findings}.items() if k in kept}
    return {"version": VERSION, "runs": runs, "titles": titles}


@dataclass(frozen=True)
class Presence:
    state: str  # new, persisting, flaky
    first_seen: str
    last_seen: str
    seen_in: int
    of: int


def counts(run: dict[str, Any]) -> bool:
    """Whether a kept run judges findings: checked to the end (a run kept before outcomes were: checked)."""
    return bool(run.get("counts", run.get("status") == "checked"))


def _judging(history: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs a finding's state is read from: those checked to the end, and the newest whatever its outcome."""
    runs = history["runs"]
    return [run for run in runs[:-1] if counts(run)] + runs[-1:]


def presence(history: dict[str, Any], fingerprint: str) -> Presence | None:
    """How a finding of the newest run stands in the history (which holds that run); None if it is not in it."""
    runs = _judging(history)
    seen = [run for run in runs if fingerprint in run["findings"]]
    if not seen or seen[-1] is not runs[-1]:
        return None
    first = runs.index(seen[0])
    if len(seen) == 1:
        state = "new"
    elif len(seen) == len(runs) - first:
        state = "persisting"
    else:
        state = "flaky"
    # A newest run that does not count is not counted here either: "seen in" is over the runs checked to the end.
    uncounted = 0 if counts(runs[-1]) else 1
    return Presence(state, seen[0]["started_at"][:10], seen[-1]["started_at"][:10], len(seen) - uncounted,
                    len(runs) - uncounted)


def resolved(history: dict[str, Any]) -> list[dict[str, Any]]:
    """Findings of the last checked run before the newest that the newest did not see; none when the newest was
    not checked to the end, since it may not have looked."""
    runs = _judging(history)
    if len(runs) < 2 or not counts(runs[-1]):
        return []
    gone = sorted(set(runs[-2]["findings"]) - set(runs[-1]["findings"]))
    first_seen = {fingerprint: next(r["started_at"][:10] for r in runs if fingerprint in r["findings"])
                  for fingerprint in gone}
    return [{"fingerprint": fingerprint, "title": history["titles"].get(fingerprint, fingerprint),
             "first_seen": first_seen[fingerprint]} for fingerprint in gone]


def save_history(history: dict[str, Any], path: Path) -> None:
    """Written whole or not at all: a run killed while writing leaves the last history as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(history, indent=1) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
