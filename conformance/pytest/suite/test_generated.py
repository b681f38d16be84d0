"""Property tests: schemathesis generates requests from the contract; built-in checks and every rule judge them.

The plugin runs them before the per-rule tests, so those count what the generated requests found too.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import zlib
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection

from conformance.client.bounded import MAX_RETRY_WAIT, RunLimitReached, retry_wait
from conformance.client.requests_bridge import KEY_PLACEHOLDER, exchange_of
from conformance.pytest import coverage_cache
from conformance.pytest.session import EvermuseRun
from conformance.report.redact import REDACTED
from conformance.rules.contract import load_contract

pytestmark = [pytest.mark.evermuse, pytest.mark.property_test]

NDJSON = "application/x-ndjson"
FUZZED_EXAMPLES = 8
STATEFUL_SCENARIOS = 3
STATEFUL_STEPS = 3
# Each step may send a request and the checks that send again a few more: a share below this is not begun.
STATEFUL_MIN_SHARE = 12
# Built-in checks whose judgement a catalogue rule makes at the level the docs support:
# unsupported_method (EM-HTTP-005, EM-HTTP-006), status_code_conformance (EM-HTTP-004, EM-HTTP-010),
# content_type_conformance and response_schema_conformance (the contract's x-rules, EM-HTTP-001/002/009),
# ensure_resource_availability (EM-INGEST-002, which allows a new batch a moment before it can be read),
# ignored_auth (EM-AUTH-001, EM-AUTH-002 on every operation; its probes leave the session they are given,
# and with it the run's budget, deadline and read cap), positive_data_acceptance (EM-HTTP-011, which knows
# for each operation and parameter which refusal the docs or a named latitude allow, where the check has one
# list of statuses for all).
JUDGED_BY_RULES = ["unsupported_method", "status_code_conformance", "content_type_conformance",
                   "response_schema_conformance", "ensure_resource_availability", "ignored_auth",
                   "positive_data_acceptance"]
# Methods a client of this API might send where a path does not define them.
CLIENT_METHODS = {"delete", "patch", "post", "put"}

# The contract as the rules stage loaded it: one reading of the file for the whole suite.
schema = schemathesis.openapi.from_dict(copy.deepcopy(load_contract().document))
schema.config.generation.update(max_examples=FUZZED_EXAMPLES, database="none")
schema.config.output.sanitization.replacement = REDACTED
schemathesis.serializer.alias(NDJSON, "text/plain")
schema.config.checks.update(excluded_check_names=JUDGED_BY_RULES)
# A rate limiter may stand before the key is read (a gateway's per-address limit): 429 to a request without
# a key says "later", not "accepted". EM-AUTH-001 judges the answer once the target answers at all.
schema.config.checks.missing_required_header.expected_statuses = [
    *schema.config.checks.missing_required_header.expected_statuses, "429"]
schema.config.phases.coverage.unexpected_methods = set(CLIENT_METHODS)
# Drawn once per contract, suite and schemathesis, and read back by every later run.
coverage_cache.install(schema, salt=Path(__file__).read_bytes())
# Values captured from answers would make the requests depend on what the target holds and on when the
# background campaign wrote it; without them a --seed replays the same requests. aim_at_own_batches gives
# the reads real ids instead.
for _phase in (schema.config.phases.examples, schema.config.phases.coverage, schema.config.phases.fuzzing,
               schema.config.phases.stateful):
    if hasattr(_phase, "extra_data_sources"):
        _phase.extra_data_sources.responses = False


@schema.auth()
class RunKey:
    """A stand-in for the write key: the run's session sends the key in its place.

    schemathesis leaves it off the cases that test missing credentials, and never holds the key itself.
    """

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return KEY_PLACEHOLDER

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "x-api-key": data}


def aim_at_own_batches(run: EvermuseRun, case: schemathesis.Case) -> None:
    """Half the generated batch ids become ids of the run's own batches, so reads also find real ones."""
    own = run.campaign.own_batch_ids if run.campaign else []
    parameters = case.path_parameters
    if own and isinstance(parameters, dict) and isinstance(parameters.get("batchId"), str):
        draw = zlib.crc32(parameters["batchId"].encode())
        if draw % 2 == 0:
            parameters["batchId"] = own[draw % len(own)]


def invalid_data_refused(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                         case: schemathesis.Case) -> bool | None:
    """negative_data_rejection, knowing that the ingest refuses a record in its 202: the docs' per-record
    rejection ("Number of records that failed validation and were rejected") is a refusal, not "accepted"."""
    if case.method.upper() == "POST" and response.status_code == 202:
        try:
            rejected = response.json().get("rejectedCount")
        except (ValueError, AttributeError):
            rejected = None
        if isinstance(rejected, int) and not isinstance(rejected, bool) and rejected >= 1:
            return None
    return negative_data_rejection(ctx, response, case)


# Always left out: under --strict, invalid_data_refused judges in its place.
EXCLUDED_CHECKS = [negative_data_rejection]


def strict_checks(run: EvermuseRun) -> list[Any]:
    """The docs do not say what a parameter outside the contract gets (format "does not affect validation"),
    so invalid data is judged refused only under --strict."""
    return [invalid_data_refused] if run.settings.strict else []


def give_own_idempotency_key(run: EvermuseRun, case: schemathesis.Case) -> None:
    """One Idempotency-Key, one body: a key generated again for another body gets a fresh key of its length.

    What a server answers the same key with a different body is left open by the docs, so the run never asks.
    """
    headers = case.headers or {}
    name = next((n for n in headers if n.lower() == "idempotency-key"), None)
    if name is None or not isinstance(headers[name], str):
        return
    body = json.dumps(case.body, sort_keys=True, default=repr) if not isinstance(case.body, str) else case.body
    digest = hashlib.sha256(f"{case.media_type}\n{body}".encode()).hexdigest()
    key = headers[name]
    if run.generated_keys.setdefault(key, digest) == digest:
        return
    if len(key) < 8:
        del headers[name]  # too short to make unique: the request goes without one
        return
    fresh = ""
    while len(fresh) < len(key):
        fresh += hashlib.sha256(f"{run.campaign.identity.run_id if run.campaign else ''}-{len(run.generated_keys)}-"
                                f"{len(fresh)}".encode()).hexdigest()
    headers[name] = fresh[: len(key)]
    run.generated_keys[headers[name]] = digest


def transport_kwargs(run: EvermuseRun) -> dict[str, Any]:
    """How schemathesis sends, for the case and for the checks that send again: through the run's client."""
    return {"session": run.bridge, "base_url": run.base_url, "allow_redirects": False,
            "timeout": run.settings.request_timeout}


def call_as_generated(run: EvermuseRun, case: schemathesis.Case, kwargs: dict[str, Any]) -> schemathesis.Response:
    """Send the case, telling the run whether the contract calls it valid: only the case knows its mode, and
    the requests the checks send again are not it."""
    run.sending_contract_valid = case.meta is not None and case.meta.generation.mode.is_positive
    try:
        return case.call(**kwargs)
    finally:
        run.sending_contract_valid = False


def call_politely(run: EvermuseRun, case: schemathesis.Case) -> schemathesis.Response:
    """Send a generated case; a 429 is judged, waited out when it asks for a bearable wait, and sent once more;
    a read answered 500 is sent once more.

    A request that gets no answer ends the test as skipped (the bridge recorded it for EM-HTTP-007):
    shrinking would only wait out the same silence again and again.
    """
    give_own_idempotency_key(run, case)
    kwargs = transport_kwargs(run)
    try:
        response = call_as_generated(run, case, kwargs)
        if response.status_code == 429:
            answer = exchange_of(response.request)
            wait = retry_wait(answer.response) if answer is not None else MAX_RETRY_WAIT + 1
            if wait <= MAX_RETRY_WAIT and wait < run.clock.remaining():
                case.validate_response(response, transport_kwargs=kwargs, additional_checks=strict_checks(run),
                                       excluded_checks=EXCLUDED_CHECKS)
                time.sleep(wait)
                response = call_as_generated(run, case, kwargs)
        if response.status_code == 500 and case.method.upper() == "GET":
            # The documented 500 says "Please retry the request": a read is retried once, as a client would, and
            # the retry's answer judged; the 500 itself is judged by the rules (EM-HTTP-009). A 500 that stays is
            # still a server error.
            response = call_as_generated(run, case, kwargs)
    except requests.RequestException as exc:
        pytest.skip(f"the target did not answer a generated request ({type(exc).__name__}); see EM-HTTP-007")
    return response


@pytest.fixture
def property_test(evermuse_run: EvermuseRun, request: pytest.FixtureRequest) -> EvermuseRun:
    """The run, told which property test sends now; a test is skipped before it starts if the run has stopped.

    Deciding here, before hypothesis runs, keeps its examples consistent: a skip in the middle of a
    stateful run reads to hypothesis as flaky generation.
    """
    evermuse_run.property_label = request.node.name
    if evermuse_run.stopped:
        pytest.skip(f"the run stopped early: {evermuse_run.stopped}")
    return evermuse_run


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_meet_the_contract(case: schemathesis.Case, property_test: EvermuseRun) -> None:
    run = property_test
    if case.media_type == NDJSON and not isinstance(case.body, str):
        return  # a negative "not a string" NDJSON body turns into valid NDJSON text on the wire
    if run.settings.read_only and case.method.upper() != "GET":
        run.declined[run.property_label] = "--read-only sends nothing but reads"
        return  # reported as a test that sent nothing, with that reason
    if not run.property_share_left():
        return  # this test's share of the run is spent; a test that sent nothing is reported skipped
    aim_at_own_batches(run, case)
    try:
        case.validate_response(call_politely(run, case), transport_kwargs=transport_kwargs(run),
                               additional_checks=strict_checks(run), excluded_checks=EXCLUDED_CHECKS)
    except RunLimitReached:
        return  # the budget or the time ran out on the way; what was sent is judged
    except requests.RequestException as exc:
        pytest.skip(f"the target did not answer a request of a check ({type(exc).__name__}); see EM-HTTP-007")


def linked_workflow(run: EvermuseRun) -> type:
    """POST a batch, then follow the 202's link to read it: a state machine bound to this run."""

    class LinkedWorkflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return transport_kwargs(run)

        def call(self, case: schemathesis.Case, **kwargs: Any) -> schemathesis.Response:
            try:
                return call_politely(run, case)
            except RunLimitReached as exc:
                pytest.skip(f"the stateful test stopped: {exc}")

        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case,
                              additional_checks: list[Any] | None = None, **kwargs: Any) -> None:
            case.validate_response(response, additional_checks=[*(additional_checks or []), *strict_checks(run)],
                                   transport_kwargs=kwargs or None, excluded_checks=EXCLUDED_CHECKS,
                                   recorder=self.recorder)

    return LinkedWorkflow


def test_linked_workflow_reads_what_it_sent(property_test: EvermuseRun) -> None:
    run = property_test
    if run.settings.read_only:
        pytest.skip("sent no request: --read-only sends no POST, so there is no 202 link to follow")
    if run.property_budget.get(run.property_label, 0) < STATEFUL_MIN_SHARE:
        pytest.skip(f"the request budget (--max-requests {run.budget.limit}) leaves the stateful test "
                    f"fewer than {STATEFUL_MIN_SHARE} requests")
    workflow = hypothesis.seed(run.settings.seed)(linked_workflow(run))
    # No example database: a failure saved by one run would be replayed first by the next, whatever its --seed.
    workflow.run(settings=settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS,
                                   deadline=None, suppress_health_check=list(HealthCheck), database=None))
