"""One test per catalogue rule: does the target keep it, over everything the run sent and saw?"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.catalogue import load_catalogue
from conformance.plugin import judge_rule
from conformance.session import EvermuseRun

pytestmark = pytest.mark.evermuse


@pytest.mark.parametrize("rule_id", load_catalogue().ids)
def test_rule_holds(rule_id: str, evermuse_run: EvermuseRun, record_property: Any) -> None:
    judge_rule(evermuse_run, rule_id, record_property)

