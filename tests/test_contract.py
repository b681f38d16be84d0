"""The contract is valid OpenAPI 3.1, and a correct server passes plain schemathesis on it."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from openapi_spec_validator import validate

from conformance.model.locations import CONTRACT_FILE
from conformance.model.yamlfile import load_yaml
from conformance.rules.contract import load_contract
from conformance.simulator import SimulatorServer, make_settings

KEY = "em_sk_contract_write"


def test_contract_passes_openapi_spec_validator() -> None:
    validate(load_yaml(CONTRACT_FILE.read_bytes()))
    done = subprocess.run([sys.executable, "-m", "openapi_spec_validator", str(CONTRACT_FILE)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_contract_links_the_202_batch_id_to_the_status_read() -> None:
    links = load_contract().resolved["paths"]["/api/v1/ingest"]["post"]["responses"]["202"]["links"]
    (link,) = links.values()
    assert link["operationId"] == "getBatchStatus"
    assert link["parameters"] == {"batchId": "$response.body#/batchId"}


def test_every_operation_documents_429_and_every_error_has_the_envelope() -> None:
    contract = load_contract()
    for op in contract.operations:
        assert 429 in contract.documented_statuses(op), op.label
        for code, response in op.responses.items():
            if code >= "400":
                schema = contract.response_schema(response)
                assert schema is not None and "error" in str(schema), f"{op.label} {code}"


def test_plain_st_run_with_all_checks_passes_against_the_simulator(tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    with SimulatorServer(make_settings(write_key=KEY)) as server:
        done = subprocess.run([str(st), "run", str(CONTRACT_FILE), "--url", server.base_url, "-H", f"x-api-key: {KEY}",
                               "--checks", "all", "--max-examples", "30", "--seed", "7"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "No issues found" in done.stdout


@pytest.mark.parametrize("prefix", ["", "/staging", "/eu/v2-gateway"])
def test_a_request_is_matched_to_its_operation_under_any_base_path(prefix: str) -> None:
    """Why the contract matches paths itself: a target served under a base path (a gateway prefix) is common,
    and schemathesis's lookup knows only the paths as the contract writes them."""
    path = f"{prefix}/api/v1/ingest/batches/b_1"
    operation = load_contract().operation_for("GET", path)
    assert operation is not None and operation.operation_id == "getBatchStatus"
    lookup = schemathesis.openapi.from_dict(copy.deepcopy(load_contract().document)).find_operation_by_path("GET", path)
    assert (lookup is not None) == (prefix == "")
