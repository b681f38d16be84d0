"""A pytest plugin for the speed bench only (`-p bench._phases`): when each phase of a suite run ended.

Wall-clock times (time.time(), comparable with the bench's own clock and the simulator's), written as JSON to
the file named by $EVERMUSE_BENCH_PHASES when pytest is done. The bench adds the process start and the first
request the simulator saw.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

_MARKS: dict[str, float] = {"plugins_loaded": time.time()}


def pytest_sessionstart(session: Any) -> None:
    _MARKS["session_started"] = time.time()


def pytest_collection_finish(session: Any) -> None:
    _MARKS["collected"] = time.time()


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    # The property tests run first (the plugin orders them so); the last one's end is where the wait begins.
    key = "property_tests_done" if "test_generated" in nodeid else "rule_tests_done"
    _MARKS[key] = time.time()


def pytest_runtest_call(item: Any) -> None:
    # After the first rule test's setup, which waits for the campaign to end: that wait is a phase of its own.
    if "test_generated" not in item.nodeid:
        _MARKS.setdefault("rule_tests_started", time.time())


def pytest_unconfigure(config: Any) -> None:
    _MARKS["unconfigured"] = time.time()
    path = os.environ.get("EVERMUSE_BENCH_PHASES")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(_MARKS, out)
