"""One test per catalogue rule: does the target keep it, over everything the run sent and saw?"""

from __future__ import annotations

import pytest

from conformance.pytest.plugin import judge_rule
from conformance.pytest.session import EvermuseRun
from conformance.rules.catalogue import load_catalogue

pytestmark = pytest.mark.evermuse


@pytest.mark.parametrize("rule_id", load_catalogue().ids)
def test_rule_holds(rule_id: str, finished_run: EvermuseRun, request: pytest.FixtureRequest) -> None:
    judge_rule(finished_run, rule_id, request.node)

