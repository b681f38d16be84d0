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
import pytest

from conformance.catalogue import load_catalogue
from conformance.checker import Checked, check_observation
from conformance.drift import report
from conformance.drift.markdown import render
from conformance.exchange import Observation
from conformance.expectations import NONE
from conformance.verdicts import judge
from tests.cases import iter_cases, to_exchange

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
SHARED_PUBLISHED = HERE.parent.parent / "shared" / "reference" / "ingest-v1.published.yaml"
SCHEMA = json.loads(report.SCHEMA_FILE.read_text())
PROVENANCE = {"suite_version": "0.1.0", "contract_sha256": "0" * 64, "target": "https://staging.example.com",
              "started_at": "2026-11-28T03:17:00Z", "finished_at": "2026-11-28T03:21:40Z", "seed": 42,
              "requests": 371, "server_version": "x-api-version: 1.4.2",
              "published_spec": "tests/golden/published-small.yaml"}
CASES = (("a batch status with every record accepted", "a negative acceptedCount"),
         ("a 400 answer", "a problem+json shape"))


def recorded() -> list[Checked]:
    """Two violations as a run would record them, from the rule cases."""
    return [check_observation(Observation(f"read {case.description}", to_exchange(case.document)))
            for case in iter_cases() if (case.group, case.description) in CASES]


def sample(baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    evidence = recorded()
    verdicts = judge(evidence, load_catalogue(), NONE, dt.date(2026, 11, 28))
    live = report.live_part("checked", "", evidence, verdicts, {"held": 66, "violated": 2, "not exercised": 1}, NONE)
    published = report.published_part(str(GOLDEN / "published-small.yaml"), {f["rule"] for f in live["findings"]})
    published["source"] = PROVENANCE["published_spec"]  # where the checkout lies is no part of the rendering
    return report.build(provenance=dict(PROVENANCE), live=live, published=published, baseline=baseline,
                        baseline_source="baseline/drift.json" if baseline else None)


def test_report_json_follows_its_schema() -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(sample())


def test_report_markdown_matches_the_golden_file() -> None:
    rendered = render(sample())
    golden = GOLDEN / "drift.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered)
    assert rendered == golden.read_text()


def test_trend_marks_findings_new_persisting_and_resolved() -> None:
    first = sample()
    second_baseline = copy.deepcopy(first)
    second_baseline["provenance"]["started_at"] = "2026-11-27T03:17:00Z"
    for item in second_baseline["live"]["findings"]:
        item["first_seen"] = "2026-11-20"
    gone = {"fingerprint": "0123456789ab", "rule": "EM-SENT-007", "level": "MUST", "sentence": "s", "operation": "o",
            "count": 1, "evidence": first["live"]["findings"][0]["evidence"], "accepted": None,
            "state": "new", "first_seen": "2026-11-25"}
    second_baseline["live"]["findings"].append(gone)
    second = sample(second_baseline)
    states = {f["fingerprint"]: (f["state"], f["first_seen"]) for f in second["live"]["findings"]}
    assert set(states.values()) == {("persisting", "2026-11-20")}
    assert [r["fingerprint"] for r in second["trend"]["resolved"]] == ["0123456789ab"]
    assert second["trend"]["new"] == 0
    jsonschema.Draft202012Validator(SCHEMA).validate(second)
    assert "RESOLVED EM-SENT-007" in render(second)


def test_unavailable_published_document_leaves_the_rest_of_the_report() -> None:
    built = report.build(provenance=dict(PROVENANCE), live=report.live_part("not run", "no run", [], {}, {}, NONE),
                         published=report.published_part("/nonexistent/spec.yaml", set()))
    assert built["published"]["status"] == "unavailable"
    assert "could not read /nonexistent/spec.yaml" in built["published"]["error"]
    jsonschema.Draft202012Validator(SCHEMA).validate(built)
    assert "Not compared: could not read /nonexistent/spec.yaml" in render(built)


@pytest.mark.skipif(not SHARED_PUBLISHED.exists(), reason="../shared/reference is not beside this checkout")
def test_published_document_defects_are_reported() -> None:
    part = report.published_part(str(SHARED_PUBLISHED), set())
    defects = {(d["kind"], d["location"]) for d in part["defects"]}
    assert ("nullable-in-3.1", "/components/schemas/IngestBatchListResponse/properties/nextCursor") in defects
    missing_bodies = {location for kind, location in defects if kind == "error-without-body"}
    assert "/paths/~1api~1v1~1ingest~1batches~1{batchId}/get/responses/404" in missing_bodies
    assert len(missing_bodies) == 12
    changes = {(c["operation"], c["location"], c["level"]) for c in part["changes"]}
    assert ("GET /api/v1/ingest/batches", "response 200.nextCursor", "breaking") in changes


@pytest.mark.skipif(not SHARED_PUBLISHED.exists(), reason="../shared/reference is not beside this checkout")
def test_drift_command_compares_documents_without_a_run(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "conformance.drift", "--published-spec", str(SHARED_PUBLISHED),
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "drift.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(written)
    assert written["live"]["status"] == "not run"
    assert "nullable is no keyword of OpenAPI 3.1" in (tmp_path / "drift.md").read_text()


def test_drift_command_reports_an_unreachable_document_and_still_writes(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "conformance.drift", "--published-spec",
                           "http://127.0.0.1:9/ingest-v1.yaml", "--out", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.startswith("unavailable: 0 changes, 0 defects (could not fetch http://127.0.0.1:9/")
    assert (tmp_path / "drift.md").exists()


def test_drift_command_refuses_a_bad_baseline_with_a_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "old.json"
    bad.write_text("{not json")
    done = subprocess.run([sys.executable, "-m", "conformance.drift", "--published-spec", "x.yaml", "--out",
                           str(tmp_path), "--baseline", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "is not JSON (Expecting property name enclosed in double quotes); fix --baseline.")
