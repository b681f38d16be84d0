"""The drift report and known deviations, as the nightly job uses them: through whole suite runs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from conformance.drift.report import SCHEMA_FILE
from conformance.simulator import SimulatorServer, make_settings
from tests.suite_runs import run_suite

SHARED_PUBLISHED = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "ingest-v1.published.yaml"
SMALL_PUBLISHED = Path(__file__).parent / "golden" / "published-small.yaml"
SCHEMA = json.loads(SCHEMA_FILE.read_text())
FAST = ("--lifecycle-timeout", "4", "--request-timeout", "2")
KEY = "em_sk_drift_runs_write"


def published() -> str:
    return str(SHARED_PUBLISHED if SHARED_PUBLISHED.exists() else SMALL_PUBLISHED)


def test_drift_report_names_the_fault_and_goes_from_new_to_resolved(tmp_path: Path) -> None:
    first, second = tmp_path / "night-1", tmp_path / "night-2"
    broken = run_suite(tmp_path, "--simulator-fault", "type-upper-case", "--drift-report", str(first),
                       "--published-spec", published(), *FAST)
    assert broken.returncode == 1, broken.output[-2000:]
    report = json.loads((first / "drift.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    (finding,) = [f for f in report["live"]["findings"] if f["rule"] == "EM-SENT-007"]
    assert finding["state"] == "new"
    assert "EM-SENT-007" in (first / "drift.md").read_text()
    assert report["published"]["status"] == "compared"

    fixed = run_suite(tmp_path, "--drift-report", str(second), "--drift-baseline", str(first / "drift.json"),
                      "--published-spec", published(), *FAST)
    assert fixed.returncode == 0, fixed.output[-2000:]
    after = json.loads((second / "drift.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(after)
    assert finding["fingerprint"] in {r["fingerprint"] for r in after["trend"]["resolved"]}
    assert all(change["state"] == "persisting" for change in after["published"]["changes"])
    assert "RESOLVED EM-SENT-007" in (second / "drift.md").read_text()


def test_drift_report_with_two_faults_holds_no_key(tmp_path: Path) -> None:
    out = tmp_path / "drift"
    with SimulatorServer(make_settings(write_key=KEY, faults=["key-echoed-in-header", "status-extra-field"])) as sim:
        run = run_suite(tmp_path, "--base-url", sim.base_url, "--drift-report", str(out), "--published-spec",
                        published(), *FAST, env={"EVERMUSE_API_KEY": KEY})
    assert run.returncode == 1
    rules = {f["rule"] for f in json.loads((out / "drift.json").read_text())["live"]["findings"]}
    assert {"EM-SEC-001", "EM-SHAPE-002"} <= rules
    for written in (out / "drift.json", out / "drift.md"):
        assert KEY not in written.read_text()
    assert KEY not in run.output
    assert KEY not in run.junit


def test_unreachable_published_document_leaves_the_live_part(tmp_path: Path) -> None:
    out = tmp_path / "drift"
    run = run_suite(tmp_path, "--drift-report", str(out), "--published-spec", "http://127.0.0.1:9/spec.yaml", *FAST)
    assert run.returncode == 0, run.output[-2000:]
    report = json.loads((out / "drift.json").read_text())
    assert report["published"]["status"] == "unavailable"
    assert report["live"]["status"] == "checked"


def _expectations(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / "target.yaml"
    path.write_text(f"target: test\ndeviations:\n{entry}")
    return path


ENTRY = """  - rule: EM-SENT-007
    reason: type still upper case until the normaliser ships
    link: https://tracker.example.com/EVM-7
    owner: ingest team
    expires: {expires}
"""


def test_known_deviation_does_not_fail_the_run(tmp_path: Path) -> None:
    path = _expectations(tmp_path, ENTRY.format(expires="2099-01-01"))
    run = run_suite(tmp_path, "--simulator-fault", "type-upper-case", "--expectations", str(path), *FAST)
    assert run.returncode == 0, run.output[-2000:]
    case = run.cases["test_rule_holds[EM-SENT-007]"]
    assert case.outcome == "skipped"  # JUnit writes an expected failure as skipped
    assert "accepted deviation: type still upper case" in case.text


def test_expired_deviation_fails_again(tmp_path: Path) -> None:
    path = _expectations(tmp_path, ENTRY.format(expires="2020-01-01"))
    run = run_suite(tmp_path, "--simulator-fault", "type-upper-case", "--expectations", str(path), *FAST)
    assert run.returncode == 1
    assert "the acceptance has expired" in run.cases["test_rule_holds[EM-SENT-007]"].text


def test_deviation_that_no_longer_happens_is_reported(tmp_path: Path) -> None:
    path = _expectations(tmp_path, ENTRY.format(expires="2099-01-01"))
    out = tmp_path / "drift"
    run = run_suite(tmp_path, "--expectations", str(path), "--drift-report", str(out),
                    "--published-spec", str(SMALL_PUBLISHED), *FAST)
    assert run.returncode == 0, run.output[-2000:]
    assert "EM-SENT-007 is listed as a known deviation" in run.output
    gone = json.loads((out / "drift.json").read_text())["expectations"]["no_longer_reproduced"]
    assert [entry["rule"] for entry in gone] == ["EM-SENT-007"]


@pytest.mark.parametrize(
    ("content", "sentence"),
    [("target: t\ndeviations:\n  - rule: EM-SENT-007\n", "is invalid at deviations/0"),
     ("target: [", "is not valid YAML"),
     (None, "cannot read the expectations file")],
    ids=["missing-fields", "not-yaml", "missing-file"],
)
def test_unusable_expectations_file_is_a_usage_error(tmp_path: Path, content: str | None, sentence: str) -> None:
    path = tmp_path / "target.yaml"
    if content is not None:
        path.write_text(content)
    run = run_suite(tmp_path, "--expectations", str(path))
    assert run.returncode == 4
    assert sentence in run.output
    assert "Traceback" not in run.output


def test_simulator_expectations_stay_empty() -> None:
    from conformance.expectations import load_expectations

    assert load_expectations("simulator").deviations == ()
