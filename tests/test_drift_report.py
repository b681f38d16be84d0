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
from conformance.report.drift.markdown import render
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checker import Checked, check_observation
from conformance.rules.expectations import NONE
from conformance.rules.verdicts import judge
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
         ("a 400 answer", "a problem+json shape"))


def recorded() -> list[Checked]:
    """Two violations as a run would record them, from the rule cases: a negative count, then a problem+json 400."""
    found = {(case.group, case.description): case for case in iter_cases()}
    return [check_observation(Observation(f"read {description}", to_exchange(found[(group, description)].document)))
            for group, description in CASES]


def sample(history: dict[str, Any] | None = None, *, started_at: str = PROVENANCE["started_at"],
           evidence: list[Checked] | None = None) -> dict[str, Any]:
    evidence = recorded() if evidence is None else evidence
    verdicts = judge(evidence, load_catalogue(), NONE, dt.date(2026, 11, 28))
    live, _ = report.live_part("checked", "", evidence, verdicts, {"held": 66, "violated": 2, "not exercised": 1}, NONE)
    published = report.published_part(str(GOLDEN / "published-small.yaml"), report.who_should_change(evidence))
    published["source"] = PROVENANCE["published_spec"]  # where the checkout lies is no part of the rendering
    built, _ = report.build(provenance={**PROVENANCE, "started_at": started_at}, live=live, published=published,
                            history=history)
    return built


def nights(*evidence_per_night: list[Checked]) -> list[dict[str, Any]]:
    """One report per night, each with the history of the nights before."""
    history, reports = None, []
    for night, evidence in enumerate(evidence_per_night, start=1):
        verdicts = judge(evidence, load_catalogue(), NONE, dt.date(2026, 11, 28))
        live, _ = report.live_part("checked", "", evidence, verdicts, {}, NONE)
        built, history = report.build(provenance={**PROVENANCE, "started_at": f"2026-11-2{night}T03:17:00Z"},
                                      live=live, published=report.published_part(None), history=history)
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


def test_the_page_opens_with_red_or_green_every_broken_rule_and_a_chart() -> None:
    count, problem = recorded()
    third = nights([count], [count, problem], [count])[2]
    page = render(third)
    first_screen = "\n".join(page.splitlines()[:40])
    assert first_screen.count("**RED**") == 1
    assert "MUST broken: `EM-COUNT-001`" in first_screen
    assert "xychart-beta" in first_screen and "line [1, 2, 1]" in first_screen
    assert "## Resolved since the last run" in page


def test_unavailable_published_document_leaves_the_rest_of_the_report() -> None:
    live, _ = report.live_part("not run", "no run", [], {}, {}, NONE)
    missing = report.published_part("/nonexistent/spec.yaml")
    built, _ = report.build(provenance=dict(PROVENANCE), live=live, published=missing)
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
