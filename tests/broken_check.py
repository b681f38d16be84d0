"""A pytest plugin for the tests of how a run ends: one check of the suite raises, as a bug of ours would."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest


class BugInACheck(RuntimeError):
    pass


def pytest_configure(config: pytest.Config) -> None:
    from conformance.rules import checker

    real = checker.registered_checks

    def with_a_bug() -> list[Any]:
        def broken(*args: Any) -> None:
            raise BugInACheck("a check of the suite tripped over its own code")

        checks = list(real())
        # A check of every exchange: the bug is met at the run's first answer, whatever the target.
        first = next(check for check in checks if "exchange" in check.subjects)
        return [dataclasses.replace(check, func=broken) if check is first else check for check in checks]

    checker.registered_checks = with_a_bug
