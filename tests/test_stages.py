"""The tree is the data flow: each stage folder of conformance/ imports only the stages its docstring names."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "conformance"
# In the order data flows; a stage may import only stages before it, and of those only the ones listed.
STAGES = ["model", "settings", "client", "activities", "rules", "report", "simulator", "pytest"]
MAY_IMPORT = {
    "model": set(),
    "settings": {"model"},
    "client": {"model", "settings"},
    "activities": {"model", "settings", "client"},
    "rules": {"model", "settings"},
    "report": {"model", "settings", "client", "rules"},
    "simulator": {"model", "rules"},
    "pytest": set(STAGES[:-1]),
}
# The simulator is a second, independent reading of the docs: of the rules stage it reads data, never judgement.
SIMULATOR_READS_ONLY = {"conformance.rules.contract", "conformance.rules.latitudes"}


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "conformance" else None


def imports_of(relative: Path, source: str) -> list[tuple[int, str]]:
    """Every conformance module a file of the package imports, at any depth of the file, with its line.

    relative: the file's place under conformance/; source: its text.
    """
    package = ".".join(("conformance", *relative.with_suffix("").parts[:-1]))
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            # "from conformance.pytest import st_checks" imports the module conformance.pytest.st_checks.
            found += [(node.lineno, f"{base}.{alias.name}" if stage_of(base) is None or base.count(".") < 2
                       else base) for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("conformance.")]


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_lives_in_a_stage_folder_that_says_what_it_owns() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert loose == [], f"modules outside a stage folder: {loose}"
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(STAGES)
    for stage in STAGES:
        doc = importlib.import_module(f"conformance.{stage}").__doc__ or ""
        allowed = MAY_IMPORT[stage]
        assert doc.strip(), f"conformance/{stage}/__init__.py has no docstring"
        if stage not in ("model", "pytest", "simulator"):
            assert f"May import: {', '.join(s for s in STAGES if s in allowed)}." in doc, doc


def assert_imports_only_earlier_named_stages(relative: Path, source: str) -> None:
    stage = relative.parts[0] if len(relative.parts) > 1 else None
    if stage is None:
        assert imports_of(relative, source) == []
        return
    for line, module in imports_of(relative, source):
        target = stage_of(module)
        if target in (None, stage) or module == "conformance.__version__":
            continue
        assert target in MAY_IMPORT[stage], f"{relative}:{line} ({stage}) imports {module} ({target})"
        assert STAGES.index(target) < STAGES.index(stage)
        if stage == "simulator" and target == "rules":
            assert module in SIMULATOR_READS_ONLY, f"{relative}:{line} imports {module}"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_stage_imports_only_the_stages_before_it_that_it_names(path: Path) -> None:
    assert_imports_only_earlier_named_stages(path.relative_to(PACKAGE), path.read_text())


def test_the_import_check_sees_a_later_stage() -> None:
    """The check above can fail: a settings module importing the report is caught (the module exists only here)."""
    with pytest.raises(AssertionError, match=re.escape("imports conformance.report.render")):
        assert_imports_only_earlier_named_stages(Path("settings/_probe_for_test.py"),
                                                 "from conformance.report.render import render\n")
