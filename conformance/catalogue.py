"""The rule catalogue (openapi/rules.yaml): every rule the suite enforces, declared once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from conformance.locations import CATALOGUE_FILE

RULE_ID = re.compile(r"^EM-[A-Z]+-\d{3}$")
LEVELS = ("MUST", "SHOULD")


class CatalogueError(Exception):
    """The catalogue file cannot be used as it stands."""


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    sentence: str
    source: str
    spec: str
    note: str = ""

    @property
    def area(self) -> str:
        return self.id.split("-")[1]

    @property
    def title(self) -> str:
        return f"{self.id} ({self.level}) {self.sentence}"

    @property
    def is_must(self) -> bool:
        return self.level == "MUST"


class Catalogue:
    def __init__(self, rules: list[Rule], path: Path):
        self.path = path
        self._rules = {rule.id: rule for rule in rules}

    def __getitem__(self, rule_id: str) -> Rule:
        try:
            return self._rules[rule_id]
        except KeyError:
            raise CatalogueError(f"{rule_id} is not in the rule catalogue {self.path}") from None

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def ids(self) -> list[str]:
        return list(self._rules)


def parse_catalogue(text: str, path: Path) -> Catalogue:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise CatalogueError(f"{path} has no list of rules under the key 'rules'")
    rules: list[Rule] = []
    seen: set[str] = set()
    for position, entry in enumerate(data["rules"]):
        if not isinstance(entry, dict):
            raise CatalogueError(f"{path}: rule #{position} is not a mapping")
        rule_id = entry.get("id", "")
        if not RULE_ID.match(str(rule_id)):
            raise CatalogueError(f"{path}: rule #{position} has id {rule_id!r}, not of the form EM-<AREA>-<NNN>")
        if rule_id in seen:
            raise CatalogueError(f"{path}: {rule_id} is declared twice")
        seen.add(rule_id)
        if entry.get("level") not in LEVELS:
            raise CatalogueError(f"{path}: {rule_id} has level {entry.get('level')!r}, not MUST or SHOULD")
        missing = [field for field in ("sentence", "source", "spec") if not entry.get(field)]
        if missing:
            raise CatalogueError(f"{path}: {rule_id} lacks {', '.join(missing)}")
        rules.append(
            Rule(
                id=rule_id,
                level=entry["level"],
                sentence=" ".join(str(entry["sentence"]).split()),
                source=entry["source"],
                spec=entry["spec"],
                note=" ".join(str(entry.get("note", "")).split()),
            )
        )
    return Catalogue(rules, path)


@cache
def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cannot read the rule catalogue {path}: {exc.strerror}") from None
    return parse_catalogue(text, path)


def rule(rule_id: str) -> Rule:
    return load_catalogue()[rule_id]
