"""The drift report and known deviations, as the nightly job uses them: through whole suite runs."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conformance.report.drift.report import SCHEMA_FILE
from conformance.simulator import SimulatorServer, make_settings
from tests.leaks import describe, leaks_in
from tests.reference import PUBLISHED
from tests.suite_runs import run_suite

SMALL_PUBLISHED = Path(__file__).parent / "golden" / "published-small.yaml"
SCHEMA = json.loads(SCHEMA_FILE.read_text())
# A bound a busy machine stays well within: the embedded simulator's batches end in about a second.
FAST = ("--lifecycle-timeout", "15")
# Random-looking, so that no 8 characters of it turn up in a run's output by chance (tests/leaks.py).
KEY = "em_sk_Vb4Jq8Xr2Nk6Tz1Wd5Hm9Ls3"


def published() -> str:
    return str(PUBLISHED if PUBLISHED.exists() else SMALL_PUBLISHED)


def test_three_nights_with_a_history_chart_a_finding_from_first_seen_to_resolved(tmp_path: Path) -> None:
    history = tmp_path / "history.json"
    common = ("--drift-history", str(history), "--published-spec", published(), *FAST)
    nights = [run_suite(tmp_path, *faults, "--drift-report", str(tmp_path / f"night-{n}"), *common)
              for n, faults in enumerate([(), ("--simulator-fault", "type-upper-case"), ()], start=1)]
    assert [night.returncode for night in nights] == [0, 1, 0], nights[1].output[-2000:]
    second = json.loads((tmp_path / "night-2" / "drift.json").read_text())
    third = json.loads((tmp_path / "night-3" / "drift.json").read_text())
    for report in (second, third):
        jsonschema.Draft202012Validator(SCHEMA).validate(report)
    (finding,) = [f for f in second["live"]["findings"] if f["rule"] == "EM-SENT-007"]
    assert (finding["state"], finding["seen_in"], finding["of_runs"]) == ("new", 1, 2)
    assert finding["fingerprint"] in {r["fingerprint"] for r in third["trend"]["resolved"]}
    page = (tmp_path / "night-3" / "drift.md").read_text()
    assert "line [0, 1, 0]" in page and 'x-axis ["' in page
    assert "## Resolved since the last run" in page and "EM-SENT-007" in page
    assert len(json.loads(history.read_text())["runs"]) == 3
    assert page.count("<svg") == 0 and (tmp_path / "night-3" / "drift.html").read_text().count("<circle") == 6


TEN_FAULTS = ("status-extra-field", "count-as-string", "errors-uncapped", "type-upper-case", "source-as-number",
              "key-echoed-in-header", "no-size-limit", "list-oldest-first", "download-counter-as-string",
              "error-body-problem-json")


def test_a_target_breaking_ten_rules_gets_a_short_page_a_full_json_and_no_key(tmp_path: Path) -> None:
    out = tmp_path / "drift"
    with SimulatorServer(make_settings(write_key=KEY, faults=list(TEN_FAULTS), lifecycle_seconds=2)) as sim:
        run = run_suite(tmp_path, "--base-url", sim.base_url, "--drift-report", str(out), "--published-spec",
                        published(), *FAST, env={"EVERMUSE_API_KEY": KEY})
        report = json.loads((out / "drift.json").read_text())
        replayable = [f for f in report["live"]["findings"] if "@evidence/" in f["evidence"]["curl"]]
        assert replayable, "the body over 5 MB has an evidence file"
        evidence = replayable[0]["evidence"]
        command = shlex.split(evidence["curl"].replace("[redacted]", KEY))
        replayed = subprocess.run([*command, "-s", "-o", "/dev/null", "-w", "%{http_code}"], cwd=out,
                                  capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert int(replayed.stdout) == evidence["status"]
    page = (out / "drift.md").read_text()
    assert len(page.encode()) < 30_000
    broken = {v["rule"] for v in report["live"]["verdicts"] if v["outcome"] == "violated"}
    assert len(broken) >= 10
    first_screen = "\n".join(page.splitlines()[:40])
    assert all(rule in first_screen for rule in broken)
    assert {f["rule"] for f in report["live"]["findings"]} == broken
    assert sum(f["count"] for f in report["live"]["findings"]) >= len(report["live"]["findings"])
    artefacts = {str(path): path.read_bytes().decode("latin-1") for path in out.rglob("*") if path.is_file()}
    found = leaks_in({**artefacts, "console": run.output, "JUnit": run.junit}, KEY)
    assert not found, describe(found)


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


def test_a_deviation_of_a_rule_the_run_did_not_judge_is_kept_not_called_gone(tmp_path: Path) -> None:
    # The simulator throttles no one, so EM-RATE-001 (what a 429 says) is never exercised; a selection of one
    # other rule leaves EM-SENT-007 unjudged too.
    entries = ENTRY.format(expires="2099-01-01") + ENTRY.replace("EM-SENT-007", "EM-RATE-001").format(
        expires="2099-01-01")
    path = _expectations(tmp_path, entries)
    out = tmp_path / "drift"
    run = run_suite(tmp_path, "--expectations", str(path), "--drift-report", str(out), "--published-spec",
                    str(SMALL_PUBLISHED), *FAST)
    assert run.returncode == 0, run.output[-2000:]
    assert "EM-RATE-001 is listed as a known deviation" not in run.output
    kept = json.loads((out / "drift.json").read_text())["expectations"]
    assert [e["rule"] for e in kept["no_longer_reproduced"]] == ["EM-SENT-007"]
    assert [e["rule"] for e in kept["not_judged"]] == ["EM-RATE-001"]
    selected = run_suite(tmp_path / "selected", "-k", "EM-SHAPE-001", "--expectations", str(path), "--drift-report",
                         str(out), "--published-spec", str(SMALL_PUBLISHED), *FAST)
    assert selected.returncode == 0, selected.output[-2000:]
    assert "listed as a known deviation" not in selected.output
    kept = json.loads((out / "drift.json").read_text())["expectations"]
    assert kept["no_longer_reproduced"] == [] and len(kept["not_judged"]) == 2


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
    from conformance.rules.expectations import load_expectations

    assert load_expectations("simulator").deviations == ()
