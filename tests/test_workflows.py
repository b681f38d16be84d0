"""The CI and nightly workflow files are valid GitHub workflows and do what the README says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_workflows_validate_against_the_github_workflow_schema() -> None:
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or "check-jsonschema"
    done = subprocess.run([checker, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(WORKFLOWS) == 2


def nightly_steps() -> dict[str, dict]:
    nightly = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    return {step.get("name", step.get("uses", "")): step for step in nightly["jobs"]["staging"]["steps"]}


def test_nightly_runs_on_a_schedule_and_by_hand_with_secret_keys() -> None:
    nightly = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    triggers = nightly[True]  # YAML 1.1 reads the key "on" as true
    assert triggers["schedule"][0]["cron"]
    assert "workflow_dispatch" in triggers
    steps = nightly_steps()
    run = steps["Run the suite against staging"]
    # The keys are given to the one step that runs the suite, after the target was checked against the list.
    assert run["env"]["EVERMUSE_API_KEY"] == "${{ secrets.EVERMUSE_API_KEY }}"
    assert "env" not in nightly["jobs"]["staging"]
    names = list(steps)
    assert names.index("Check the target is allowed") < names.index("Run the suite against staging")
    script = "\n".join(step.get("run", "") for step in steps.values())
    assert "tox -e staging" in script
    assert "GITHUB_STEP_SUMMARY" in script
    assert "--drift-history history/history.json" in script  # the history is kept between nights
    for status in ("2)", "3)", "6)"):
        assert f"{status} echo" in script  # each ending gets its own message
    uses = [step.get("uses", "") for step in steps.values()]
    assert any(u.startswith("actions/cache/restore") for u in uses)
    assert any(u.startswith("actions/upload-artifact") for u in uses)


def test_the_nightly_history_survives_a_cache_miss_and_a_rerun() -> None:
    steps = nightly_steps()
    restore, save = steps["Restore the drift history"], steps["Save the history with tonight's run in it"]
    # A re-run (run_attempt 2) may save its own cache entry: a key is never written twice.
    assert "github.run_attempt" in restore["with"]["key"] and save["with"]["key"] == restore["with"]["key"]
    fallback = steps["Fall back to the last night's history artefact"]
    assert fallback["if"] == "steps.cache.outputs.cache-matched-key == ''"
    assert "gh run download" in fallback["run"] and "--name drift-history" in fallback["run"]
    assert steps["Keep the history as an artefact too"]["with"]["name"] == "drift-history"
    setup = next(step for step in steps.values() if step.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"


def _guard(tmp_path: Path, requested: str, staging: str = "https://staging.example.com",
           listed: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".github").mkdir(exist_ok=True)
    targets = (ROOT / ".github" / "nightly-targets.txt").read_text() + "".join(f"{url}\n" for url in listed)
    (tmp_path / ".github" / "nightly-targets.txt").write_text(targets)
    script = nightly_steps()["Check the target is allowed"]["run"]
    return subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "REQUESTED": requested, "STAGING": staging})


def test_a_manual_run_sends_the_keys_only_to_a_listed_host(tmp_path: Path) -> None:
    refused = _guard(tmp_path, "https://attacker.example")
    assert refused.returncode == 4 and "not listed in .github/nightly-targets.txt" in refused.stdout
    # A comment line of the list is not a target, nor is a prefix of a listed URL.
    assert _guard(tmp_path, "# Base URLs").returncode == 4
    assert _guard(tmp_path, "https://staging2.example.com", listed=("https://staging2.example.com/x",)).returncode == 4
    assert _guard(tmp_path, "https://staging2.example.com", listed=("https://staging2.example.com",)).returncode == 0
    assert _guard(tmp_path, "").returncode == 0  # the repository's own STAGING_BASE_URL
    assert _guard(tmp_path, "", staging="").returncode == 6


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = ci.strip().splitlines()[-1]
    assert command in readme
