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


def test_nightly_runs_on_a_schedule_and_by_hand_with_secret_keys() -> None:
    nightly = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    triggers = nightly[True]  # YAML 1.1 reads the key "on" as true
    assert triggers["schedule"][0]["cron"]
    assert "workflow_dispatch" in triggers
    job = nightly["jobs"]["staging"]
    assert job["env"]["EVERMUSE_API_KEY"] == "${{ secrets.EVERMUSE_API_KEY }}"
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "tox -e staging" in script
    assert "GITHUB_STEP_SUMMARY" in script
    assert "--drift-history history/history.json" in script  # the history is kept between nights
    assert "6) echo" in script  # a target that could not be checked fails with its own message
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(u.startswith("actions/cache/restore") for u in uses)
    assert any(u.startswith("actions/upload-artifact") for u in uses)


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = ci.strip().splitlines()[-1]
    assert command in readme
