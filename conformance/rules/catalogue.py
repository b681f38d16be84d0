"""The rule catalogue (openapi/rules.yaml): every rule the suite enforces, declared once, with its ground."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from conformance.model.locations import CATALOGUE_FILE
from conformance.model.yamlfile import load_safe

RULE_ID = re.compile(r"^EM-[A-Z]+-\d{3}$")
LEVELS = ("MUST", "SHOULD")
# The reference texts (keys of the catalogue's `texts`) a MUST can rest on: the endpoint's page and the published
# document. docs-facts.md ("facts") summarises the other pages: a sentence of it can support a rule, never make it
# a MUST on its own.
PRIMARY_TEXTS = ("page", "published")


class CatalogueError(Exception):
    """The catalogue file cannot be used as it stands."""


@dataclass(frozen=True)
class Basis:
    """One sentence a rule rests on: the docs page it is on, and the reference text it is quoted from."""

    page: str
    url: str
    text: str | None
    quote: str
    # The key of the catalogue's `texts` the quote is from (None for a text outside the reference docs).
    source: str | None = None

    @property
    def from_docs(self) -> bool:
        return self.text is not None

    @property
    def primary(self) -> bool:
        """Quoted from the endpoint's page or the published document, not from a summary of the docs."""
        return self.from_docs and self.source in PRIMARY_TEXTS


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    sentence: str
    judges: str
    spec: str
    basis: tuple[Basis, ...]
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

    @property
    def source(self) -> str:
        """The docs page a reader opens first: the page of the rule's first basis."""
        return self.basis[0].url


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


def _basis(entry: Any, rule_id: str, pages: Mapping[str, str], texts: Mapping[str, str], path: Path) -> Basis:
    if not isinstance(entry, dict) or not entry.get("quote"):
        raise CatalogueError(f"{path}: {rule_id} has a basis without a quote")
    page, text = entry.get("page"), entry.get("in")
    if page not in pages:
        raise CatalogueError(f"{path}: {rule_id} cites page {page!r}, which the catalogue's pages lack")
    if text is not None and text not in texts:
        raise CatalogueError(f"{path}: {rule_id} quotes from {text!r}, which the catalogue's texts lack")
    return Basis(page, pages[page], texts[text] if text else None, " ".join(str(entry["quote"]).split()), text)


def must_problem(rule: Rule) -> str | None:
    """Why a rule cannot be a MUST on the basis it has, or None: a MUST rests on a sentence of the endpoint's page or
    of the published document that states it, not on a summary of the docs alone nor on a text outside them."""
    if not rule.is_must or any(basis.primary for basis in rule.basis):
        return None
    summaries = sorted({basis.text for basis in rule.basis if basis.from_docs})
    if summaries:
        return (f"{rule.id} is a MUST resting on {', '.join(summaries)} alone, a summary of the docs; quote the "
                f"sentence of the endpoint's page or of the published document that states it, or make it a SHOULD")
    return f"{rule.id} is a MUST without a sentence of the docs in its basis; quote one, or make it a SHOULD"


def problems(catalogue: Catalogue) -> list[str]:
    """Every rule of the catalogue that cannot be a MUST as its basis stands, one sentence each."""
    return [problem for rule in catalogue if (problem := must_problem(rule)) is not None]


def parse_catalogue(text: str, path: Path) -> Catalogue:
    try:
        data = load_safe(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise CatalogueError(f"{path} has no list of rules under the key 'rules'")
    pages, texts = data.get("pages") or {}, data.get("texts") or {}
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
        missing = [field for field in ("sentence", "judges", "spec", "basis") if not entry.get(field)]
        if missing:
            raise CatalogueError(f"{path}: {rule_id} lacks {', '.join(missing)}")
        basis = tuple(_basis(item, rule_id, pages, texts, path) for item in entry["basis"])
        rule = Rule(
            id=rule_id,
            level=entry["level"],
            sentence=" ".join(str(entry["sentence"]).split()),
            judges=" ".join(str(entry["judges"]).split()),
            spec=entry["spec"],
            basis=basis,
            note=" ".join(str(entry.get("note", "")).split()),
        )
        problem = must_problem(rule)
        if problem is not None:
            raise CatalogueError(f"{path}: {problem}")
        rules.append(rule)
    return Catalogue(rules, path)


@cache
def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cannot read the rule catalogue {path}: {exc.strerror}") from None
    return parse_catalogue(text, path)
