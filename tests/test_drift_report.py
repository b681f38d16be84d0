"""The drift report: its JSON keeps its schema, its Markdown is pinned, trends and the CLI work."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

from conformance.model.exchange import Observation
from conformance.report.drift import report
from conformance.report.drift.html import render_html
from conformance.report.drift.markdown import render
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checker import Checked, check_observation
from conformance.rules.expectations import NONE
from conformance.rules.outcome import Ending, decide, not_run
from conformance.rules.verdicts import Outcome, Verdict, judge
from tests.cases import iter_cases, to_exchange
from tests.reference import published_document

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
SCHEMA = json.loads(report.SCHEMA_FILE.read_text())
PROVENANCE = {"suite_version": "0.1.0", "contract_sha256": "0" * 64, "target": "https://staging.example.com",
              "started_at": "2026-11-28T03:17:00Z", "finished_at": "2026-11-28T03:21:40Z", "seed": 42,
              "requests": 371, "server_version": "x-api-version: 1.4.2",
              "published_spec": "tests/golden/published-small.yaml"}
CASES = (("a batch status with every record accepted", "a negative acceptedCount"),
         ("a 400 answer to the ingest", "a problem+json shape"))


def recorded() -> list[Checked]:
    """Two violations as a run would record them, from the rule cases: a negative count, then a problem+json 400."""
    found = {(case.group, case.description): case for case in iter_cases()}
    return [check_observation(Observation(f"read {description}", to_exchange(found[(group, description)].document)))
            for group, description in CASES]


def outcome_of(verdicts: dict[str, Verdict], **ending: str) -> dict[str, Any]:
    """How a run with these verdicts ended, as the plugin decides it: checked to the end unless told otherwise."""
    broken = [v for v in verdicts.values() if v.outcome == Outcome.VIOLATED]
    return decide(must=tuple(v.rule.id for v in broken if v.rule.is_must),
                  should=tuple(v.rule.id for v in broken if not v.rule.is_must), failed=bool(broken), seconds=280,
                  **ending).as_dict()


def sample(history: dict[str, Any] | None = None, *, started_at: str = PROVENANCE["started_at"],
           evidence: list[Checked] | None = None) -> dict[str, Any]:
    evidence = recorded() if evidence is None else evidence
    verdicts = judge(evidence, load_catalogue(), NONE, dt.date(2026, 11, 28))
    live, _ = report.live_part("checked", "", evidence, verdicts, {"held": 66, "violated": 2, "not exercised": 1}, NONE)
    published = report.published_part(str(GOLDEN / "published-small.yaml"), report.who_should_change(evidence))
    published["source"] = PROVENANCE["published_spec"]  # where the checkout lies is no part of the rendering
    built, _ = report.build(provenance={**PROVENANCE, "started_at": started_at}, live=live, published=published,
                            history=history, outcome=outcome_of(verdicts))
    return built


def nights(*evidence_per_night: list[Checked],
           endings: dict[int, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """One report per night, each with the history of the nights before; endings: how a night (from 1) ended,
    when it was not checked to the end (e.g. {2: {"interrupted": "interrupted by SIGTERM"}})."""
    history, reports = None, []
    for night, evidence in enumerate(evidence_per_night, start=1):
        verdicts = judge(evidence, load_catalogue(), NONE, dt.date(2026, 11, 28))
        outcome = outcome_of(verdicts, **(endings or {}).get(night, {}))
        live, _ = report.live_part(outcome["ending"], outcome["reason"], evidence, verdicts, {}, NONE)
        built, history = report.build(provenance={**PROVENANCE, "started_at": f"2026-11-2{night}T03:17:00Z"},
                                      live=live, published=report.published_part(None), history=history,
                                      outcome=outcome)
        reports.append(built)
    return reports


def test_report_json_follows_its_schema() -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(sample())


def test_report_markdown_matches_the_golden_file() -> None:
    rendered = render(sample())
    golden = GOLDEN / "drift.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered)
    assert rendered == golden.read_text()


def test_history_marks_findings_new_persisting_flaky_and_resolved() -> None:
    count, problem = recorded()
    first, second, third, fourth = nights([count], [count, problem], [count], [count, problem])
    states = [{f["rule"]: (f["state"], f["first_seen"], f["seen_in"], f["of_runs"]) for f in night["live"]["findings"]}
              for night in (first, second, third, fourth)]
    assert states[0]["EM-COUNT-001"] == ("new", "2026-11-21", 1, 1)
    assert states[1]["EM-COUNT-001"] == ("persisting", "2026-11-21", 2, 2)
    assert states[1]["EM-HTTP-003"][0] == "new"
    assert "EM-HTTP-003" not in states[2]
    resolved = {r["title"].split()[0] for r in third["trend"]["resolved"] if r["part"] == "live"}
    assert "EM-HTTP-003" in resolved and "EM-COUNT-001" not in resolved
    assert states[3]["EM-HTTP-003"] == ("flaky", "2026-11-22", 2, 4)
    assert [run["must"] for run in fourth["history"]] == [1, 2, 1, 2]
    for night in (first, second, third, fourth):
        jsonschema.Draft202012Validator(SCHEMA).validate(night)


def test_history_keeps_only_the_last_runs() -> None:
    history = None
    for night in range(1, 6):
        built = sample(history, started_at=f"2026-11-2{night}T03:17:00Z")
        history = report.apply_history(copy.deepcopy(built), history or {"version": 1, "runs": [], "titles": {}},
                                       keep=3)
    assert [run["started_at"][:10] for run in history["runs"]] == ["2026-11-23", "2026-11-24", "2026-11-25"]


def test_the_first_screen_gives_each_broken_must_rule_its_sentence_since_when_owner_and_curl() -> None:
    count, problem = recorded()
    third = nights([count], [count, problem], [count])[2]
    page = render(third)
    assert page.splitlines()[0] == "# RED: 1 MUST and 0 SHOULD rules broken"
    first_screen = "\n".join(page.splitlines()[:12])
    assert "- **EM-COUNT-001** (MUST) acceptedCount, rejectedCount and totalErrorCount are integers" in first_screen
    assert "since 2026-11-21 · who should change: the API · 1 finding, at" in first_screen
    assert "curl -X GET -H 'x-api-key: [redacted]'" in first_screen
    # The counts of the first screen are those of the Part table.
    second = render(nights([count], [count, problem])[1])
    assert "8 new in this run (5 findings of rules, 3 undocumented answers)" in second
    assert "| Live API vs contract | checked; 2 rules broken, 0 held, 0 accepted, 0 not exercised | 8 | 1 | 0 | 0 |" \
        in second
    assert "xychart-beta" in page and "line [1, 2, 1]" in page
    assert "## Resolved since the last run" in page


def test_a_single_run_draws_no_chart_and_the_documents_come_after_the_broken_rules() -> None:
    page = render(sample())
    assert "mermaid" not in page
    assert page.index("<details><summary>EM-HTTP-003") < page.index("## Published document vs contract")


def test_a_night_not_checked_to_the_end_neither_resolves_nor_flakes_a_finding() -> None:
    count, problem = recorded()
    endings = {2: {"interrupted": "interrupted by SIGTERM"}, 3: {"not_checked": "could not reach the target"}}
    first, second, third, fourth = nights([count, problem], [count], [], [count, problem], endings=endings)
    assert second["outcome"]["headline"].startswith("INTERRUPTED after 280 s: 1 MUST and 0 SHOULD rules broken so far")
    assert second["trend"]["resolved"] == [] and third["trend"]["resolved"] == []
    # The interrupted night's own report counts only the checked nights in "seen in", and says so.
    interrupted = {f["rule"]: (f["state"], f["seen_in"], f["of_runs"]) for f in second["live"]["findings"]}
    assert interrupted["EM-COUNT-001"] == ("persisting", 1, 1)
    assert "| 1 of 1 checked, and this run |" in render(second)
    states = {f["rule"]: (f["state"], f["first_seen"], f["seen_in"], f["of_runs"]) for f in fourth["live"]["findings"]}
    assert states["EM-HTTP-003"] == ("persisting", "2026-11-21", 2, 2)
    assert states["EM-COUNT-001"] == ("persisting", "2026-11-21", 2, 2)
    assert [(run["status"], run["counts"]) for run in fourth["history"]] == [
        ("checked", True), ("interrupted", False), ("not checked", False), ("checked", True)]
    page = render(fourth)
    assert "Runs not checked to the end, left out of the trend: 2." in page and "line [2, 2]" in page
    # The HTML page draws the same two runs, not the four kept.
    assert render_html(fourth, page).count("<circle") == 2 * 2
    for night in (first, second, third, fourth):
        jsonschema.Draft202012Validator(SCHEMA).validate(night)


def test_every_ending_heads_the_page_with_its_verdict() -> None:
    verdicts = judge(recorded(), load_catalogue(), NONE, dt.date(2026, 11, 28))
    heads = {ending: outcome_of(verdicts, **{ending: "why"})["headline"]
             for ending in ("internal_error", "interrupted", "not_checked", "stopped_by_bounds", "narrowed")}
    assert heads == {
        "internal_error": "INTERNAL ERROR after 280 s: 2 MUST and 0 SHOULD rules broken so far; not a clean run (why)",
        "interrupted": "INTERRUPTED after 280 s: 2 MUST and 0 SHOULD rules broken so far; not a clean run (why)",
        "not_checked": "NOT CHECKED after 280 s: 2 MUST and 0 SHOULD rules broken so far; not a clean run (why)",
        "stopped_by_bounds": "PARTIAL after 280 s: 2 MUST and 0 SHOULD rules broken in what was checked; not a clean "
                             "run (why)",
        "narrowed": "PARTIAL after 280 s: 2 MUST and 0 SHOULD rules broken in what was checked; not a clean run (why)",
    }
    assert outcome_of(verdicts)["headline"] == "RED: 2 MUST and 0 SHOULD rules broken"
    assert outcome_of({})["verdict"] == "GREEN" and outcome_of({})["exit_status"] == 0
    assert [outcome_of({}, **{ending: "why"})["exit_status"] for ending in heads] == [3, 2, 6, 6, 0]
    assert [outcome_of(verdicts, **{ending: "why"})["exit_status"] for ending in heads] == [3, 2, 6, 1, 1]
    assert Ending.CHECKED.value == "checked"


def test_unavailable_published_document_leaves_the_rest_of_the_report() -> None:
    live, _ = report.live_part("not run", "no run", [], {}, {}, NONE)
    missing = report.published_part("/nonexistent/spec.yaml")
    built, _ = report.build(provenance=dict(PROVENANCE), live=live, published=missing,
                            outcome=not_run("no run").as_dict())
    assert built["published"]["status"] == "unavailable"
    assert "could not read /nonexistent/spec.yaml" in built["published"]["error"]
    jsonschema.Draft202012Validator(SCHEMA).validate(built)
    assert "Not compared: could not read /nonexistent/spec.yaml" in render(built)


def test_published_document_defects_are_reported() -> None:
    part = report.published_part(str(published_document()))
    defects = {(d["kind"], d["location"]) for d in part["defects"]}
    assert ("nullable-in-3.1", "/components/schemas/IngestBatchListResponse/properties/nextCursor") in defects
    missing_bodies = {location for kind, location in defects if kind == "error-without-body"}
    assert "/paths/~1api~1v1~1ingest~1batches~1{batchId}/get/responses/404" in missing_bodies
    assert len(missing_bodies) == 12
    changes = {(c["operation"], c["location"], c["level"]) for c in part["changes"]}
    assert ("GET /api/v1/ingest/batches", "response 200.nextCursor", "breaking") in changes


def test_drift_command_compares_documents_without_a_run(tmp_path: Path) -> None:
    published = str(published_document())
    done = subprocess.run([sys.executable, "-m", "conformance.report.drift", "--published-spec", published,
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "drift.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(written)
    assert written["live"]["status"] == "not run"
    assert "nullable is no keyword of OpenAPI 3.1" in (tmp_path / "drift.md").read_text()


def test_drift_command_reports_an_unreachable_document_and_still_writes(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "conformance.report.drift", "--published-spec",
                           "http://127.0.0.1:9/ingest-v1.yaml", "--out", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.startswith("unavailable: 0 changes, 0 defects (could not fetch http://127.0.0.1:9/")
    assert (tmp_path / "drift.md").exists()


def test_drift_command_refuses_a_bad_baseline_with_a_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "old.json"
    bad.write_text("{not json")
    done = subprocess.run([sys.executable, "-m", "conformance.report.drift", "--published-spec", "x.yaml", "--out",
                           str(tmp_path), "--baseline", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "is not JSON (Expecting property name enclosed in double quotes); fix --baseline.")


def test_a_baseline_written_before_reports_stated_their_outcome_still_starts_the_history(tmp_path: Path) -> None:
    old = sample()
    del old["outcome"]  # a drift.json of an earlier suite version
    path = tmp_path / "drift.json"
    path.write_text(json.dumps(old))
    history = report.load_baseline(str(path))
    assert [(run["status"], run["counts"], run["must"]) for run in history["runs"]] == [("checked", True, 2)]
