"""What of the suite a session runs: all of it, some of it (-k, -m, --lf, node ids), or none; and so what the
campaign sends for it (conformance/activities/plan.py)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.activities.plan import WHOLE, Plan
from conformance.rules.catalogue import load_catalogue


@dataclass(frozen=True)
class Selection:
    plan: Plan
    # Why the run is partial: which tests were selected, and how; None when every test was.
    narrowed: str | None
    tests: int


def _module_path(name: str) -> Path | None:
    """Where `--pyargs name` points: the package's folder or the module's file; None if it names no module."""
    try:
        spec = importlib.util.find_spec(name)
    except Exception:  # a name that is no module's, or a package whose import fails: pytest says so itself
        return None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        return None
    return Path(spec.origin).parent if spec.submodule_search_locations else Path(spec.origin)


def _path_of(config: pytest.Config, arg: str) -> Path:
    name = arg.split("::")[0]
    module = _module_path(name) if config.option.pyargs else None  # pytest, too, tries the module first
    return (module or config.invocation_params.dir / name).resolve()


def _paths(config: pytest.Config) -> list[tuple[str, Path]]:
    return [(arg, _path_of(config, arg)) for arg in config.args]


def collects_the_suite(config: pytest.Config, suite: Path) -> bool:
    """Whether this session will collect the conformance suite: an argument is its folder, inside it or above it."""
    folder = suite.resolve()
    return any(path == folder or folder in path.parents or path in folder.parents for _, path in _paths(config))


def names_a_part(config: pytest.Config, suite: Path) -> bool:
    """Whether an argument names a file or a test inside the suite rather than the suite or a folder above it."""
    return any("::" in arg or suite.resolve() in path.parents for arg, path in _paths(config))


def whole_by_its_arguments(config: pytest.Config, suite: Path) -> bool:
    """Whether the command line asks for every test of the suite: no -k, -m, --lf, --sw or --deselect, and no
    argument that names a part of the suite. Known before collection, so the whole run can start meanwhile."""
    option = config.option
    narrowing = ("lf", "stepwise", "deselect")
    if option.keyword or option.markexpr or any(getattr(option, name, None) for name in narrowing):
        return False
    return not names_a_part(config, suite)


def selection_of(config: pytest.Config, items: list[pytest.Item], deselected: int, suite: Path) -> Selection:
    """What the session selected of the suite's items, once collected, and the plan of what to send for it."""
    rules = frozenset(item.callspec.params["rule_id"] for item in items
                      if not item.get_closest_marker("property_test") and hasattr(item, "callspec"))
    properties = sum(1 for item in items if item.get_closest_marker("property_test"))
    catalogue = load_catalogue().ids
    if not deselected and rules == set(catalogue) and properties and not any("::" in arg for arg in config.args):
        return Selection(WHOLE, None, len(items))
    option = config.option
    how = [f"-k {option.keyword!r}" if option.keyword else "", f"-m {option.markexpr!r}" if option.markexpr else "",
           "--lf" if getattr(option, "lf", False) else "", "--sw" if getattr(option, "stepwise", False) else "",
           "--deselect" if getattr(option, "deselect", None) else "",
           "a part of the suite named" if names_a_part(config, suite) else ""]
    narrowed = (f"{len(rules)} of {len(catalogue)} rules' tests and {properties} property tests selected"
                f" by {', '.join(h for h in how if h) or 'a plugin'}")
    return Selection(Plan(rules, property_tests=bool(properties)), narrowed, len(items))
