"""The docs map (openapi/docs-map.yaml): every statement of the reference docs a client could observe, and the
rules that check it or why none does.

The skeleton is built by program from the reference texts beside a checkout (../shared/reference/): each
sentence of a description or of the page's prose, each schema constraint, each documented status code. The map
completes it by hand. `problems()` says where the map and the docs, or the map and the catalogue, part.

    python -m conformance.rules.docsmap coverage      the coverage figure the README quotes
    python -m conformance.rules.docsmap skeleton      the skeleton, as YAML, to complete a new statement from
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance.model.locations import DOCS_MAP_FILE, REFERENCE_DIR
from conformance.model.yamlfile import load_safe
from conformance.rules.catalogue import Catalogue, load_catalogue
from conformance.rules.latitudes import load_latitudes

TEXTS = {"page": "get-batch-status.page.txt", "published": "ingest-v1.published.yaml", "facts": "docs-facts.md"}
# The keywords of a schema a client can see the effect of, as the issue of the map lists them and a few more.
CONSTRAINTS = ("type", "maximum", "minimum", "maxLength", "maxItems", "minItems", "minProperties", "enum",
               "required", "pattern", "additionalProperties", "default", "nullable", "format")
SKIPPED_KEYS = {"examples", "example", "summary", "x-mint", "tags", "operationId", "servers", "$ref", "title"}
# Why a statement is not checked: "<kind>: <reason>", or "latitude <name>: <reason>" for a choice the docs leave.
WHY_UNCHECKED = ("not observable", "latitude", "advice", "covered elsewhere", "out of scope")
_REASON = re.compile(r"(not observable|advice|covered elsewhere|out of scope|latitude (?P<latitude>[a-z0-9-]+)): \S")
# The sections of docs-facts.md whose source is a page that neither the endpoint page nor the published
# document holds: their bullets are statements of their own.
FACT_SECTIONS = ("Keys and permissions", "How batches are processed")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"(])")
_TABLE_RULE = re.compile(r"\|[-:| ]+\|")


@dataclass(frozen=True)
class Statement:
    id: str
    text: str


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def sentences(text: str) -> list[str]:
    """A description as statements: each table row and list item alone, the prose between them by sentence."""
    found: list[str] = []
    prose: list[str] = []

    def flush() -> None:
        if prose:
            found.extend(s.strip() for s in _SENTENCE_END.split(" ".join(prose)) if s.strip())
            prose.clear()

    lines = [line.strip() for line in text.splitlines()]
    for position, line in enumerate(lines):
        following = lines[position + 1] if position + 1 < len(lines) else ""
        if not line or line.startswith("#") or _TABLE_RULE.fullmatch(line):
            flush()
        elif line.startswith("|") or re.match(r"^([-*]|\d+\.)\s", line):
            flush()
            if not _TABLE_RULE.fullmatch(following):  # a table's head names its columns, it states nothing
                found.append(line)
        else:
            prose.append(line)
    flush()
    return found


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _walk(node: Any, pointer: str) -> Iterator[Statement]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{pointer}/{index}")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in SKIPPED_KEYS:
            continue
        here = f"{pointer}/{_escape(str(key))}"
        if key == "description" and isinstance(value, str):
            for number, sentence in enumerate(sentences(value), start=1):
                yield Statement(f"published:{here}#{number}", sentence)
        elif key in CONSTRAINTS and not isinstance(value, dict):
            yield Statement(f"published:{here}", f"{key}: {_flow(value)}")
        elif re.fullmatch(r"[1-5]\d\d", str(key)) and pointer.endswith("/responses"):
            yield Statement(f"published:{here}", f"documented status {key}")
            yield from _walk(value, here)
        else:
            yield from _walk(value, here)


def published_statements(document: Mapping[str, Any]) -> list[Statement]:
    return list(_walk({k: v for k, v in document.items() if k in ("info", "paths", "components")}, ""))


_PAGE_TYPES = ("string", "integer", "number", "boolean", "object[]", "enum<string>", "header")
_PAGE_SECTIONS = {"Authorizations": "auth", "Path Parameters": "path", "Response": "response"}


def page_statements(text: str) -> list[Statement]:
    """The page's prose from Authorizations on: each field's type line, then its sentences and limits."""
    lines = [line.strip() for line in ("Authorizations" + text.split("Authorizations", 1)[-1]).splitlines()]
    found: list[Statement] = []
    section, field, number, options = "", "", 0, []
    position = 0
    while position < len(lines):
        line = lines[position]
        following = lines[position + 1] if position + 1 < len(lines) else ""
        if line in _PAGE_SECTIONS:
            section, field, number = _PAGE_SECTIONS[line], _PAGE_SECTIONS[line], 0
            position += 1
            continue
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", line) and following in _PAGE_TYPES:
            field, number = f"{section}/{line}", 0
            kind = [line, following]
            position += 2
            while position < len(lines) and lines[position] in ("required", "header"):
                kind.append(lines[position])
                position += 1
            found.append(Statement(f"page:{field}/type", " ".join(kind)))
            continue
        if line == "Available options:":
            options = []
            position += 1
            while position < len(lines) and re.fullmatch(r"[A-Z_]+,?", lines[position]):
                options.append(lines[position].rstrip(","))
                position += 1
            found.append(Statement(f"page:{field}/options", "Available options: " + ", ".join(options)))
            continue
        if line and line != "Example:" and not re.fullmatch(r"\d+", line) \
                and not line.startswith("Use this file") and not line.startswith("Fetch the complete"):
            for sentence in sentences(line):
                number += 1
                found.append(Statement(f"page:{field}#{number}", sentence))
        position += 1
    return found


def fact_statements(text: str) -> list[Statement]:
    found: list[Statement] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            number = 0
        elif section in FACT_SECTIONS and line.startswith("- "):
            number += 1
            slug = re.sub(r"[^a-z]+", "-", section.lower()).strip("-")
            found.append(Statement(f"facts:{slug}#{number}", line[2:].strip()))
        elif section in FACT_SECTIONS and line.startswith("  ") and found:
            found[-1] = Statement(found[-1].id, f"{found[-1].text} {line.strip()}")
    return found


def skeleton(reference: Path = REFERENCE_DIR) -> list[Statement]:
    """Every statement of the reference docs, in the order they are read."""
    page = (reference / TEXTS["page"]).read_text(encoding="utf-8")
    published = yaml.safe_load((reference / TEXTS["published"]).read_text(encoding="utf-8"))
    facts = (reference / TEXTS["facts"]).read_text(encoding="utf-8")
    return [*page_statements(page), *published_statements(published), *fact_statements(facts)]


@dataclass(frozen=True)
class Entry:
    id: str
    text: str
    checked_by: tuple[str, ...]
    unchecked: str

    @property
    def why_unchecked(self) -> str:
        kind = self.unchecked.split(":", 1)[0]
        return "latitude" if kind.startswith("latitude ") else kind


def load_map(path: Path = DOCS_MAP_FILE) -> list[Entry]:
    data = load_safe(path.read_text(encoding="utf-8"))
    return [Entry(str(item["id"]), str(item["text"]), tuple(item.get("checked_by") or ()),
                  str(item.get("unchecked") or "")) for item in data["statements"]]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("`", "").replace("|", " ")).strip().lower()


def problems(entries: list[Entry], statements: list[Statement] | None, catalogue: Catalogue) -> list[str]:
    """Where the map leaves a statement undecided, or parts from the docs or the catalogue: one sentence each."""
    found: list[str] = []
    by_id = {entry.id: entry for entry in entries}
    latitudes = load_latitudes()
    if len(by_id) != len(entries):
        found.extend(f"{i} appears {n} times in the map" for i, n in Counter(e.id for e in entries).items() if n > 1)
    for entry in entries:
        if bool(entry.checked_by) == bool(entry.unchecked):
            named = "both rules and a reason" if entry.checked_by else "neither a rule nor a reason"
            found.append(f"{entry.id} names {named}")
        found.extend(f"{entry.id} names {rule}, which the catalogue lacks" for rule in entry.checked_by
                     if rule not in catalogue)
        reason = _REASON.match(entry.unchecked)
        if entry.unchecked and reason is None:
            found.append(f"{entry.id} is unchecked for a reason not written as '<kind>: <why>' with a kind of "
                         f"{', '.join(WHY_UNCHECKED)} (latitude <name>)")
        elif reason and reason.group("latitude") and reason.group("latitude") not in latitudes:
            found.append(f"{entry.id} names latitude {reason.group('latitude')}, which latitudes.yaml lacks")
    if statements is not None:
        for statement in statements:
            entry = by_id.get(statement.id)
            if entry is None:
                found.append(f"{statement.id} ({statement.text!r}) is not in the map")
            elif entry.text != statement.text:
                found.append(f"{statement.id} reads {statement.text!r} in the docs but {entry.text!r} in the map")
        gone = sorted(by_id.keys() - {s.id for s in statements})
        found.extend(f"{i} is in the map but no longer in the docs" for i in gone)
    source_of = {file: source for source, file in TEXTS.items()}
    for rule in catalogue:
        for basis in rule.basis:
            if basis.text is None:
                continue  # not from the reference docs (RFC 9110)
            checks = [_norm(e.text) for e in entries
                      if rule.id in e.checked_by and e.id.startswith(source_of.get(basis.text, basis.text) + ":")]
            # Each sentence of the quote: in a statement the rule checks, or holding one (a quote of the published
            # document runs its YAML together: "X: type: object additionalProperties: false").
            for part in (_norm(p) for p in _SENTENCE_END.split(basis.quote)):
                if not any(text in part or part in text for text in checks):
                    found.append(f"{rule.id} rests on {basis.quote!r}, and no statement of the map it checks holds "
                                 f"{part!r}")
    return found


@dataclass(frozen=True)
class Coverage:
    statements: int
    by_must: int
    by_should_only: int
    unchecked: dict[str, int]

    def lines(self) -> list[str]:
        checked = self.by_must + self.by_should_only
        lines = [f"docs map: {self.statements} statements of the reference docs",
                 f"  checked      {checked} ({100 * checked / self.statements:.0f}%): {self.by_must} by a MUST rule, "
                 f"{self.by_should_only} by SHOULD rules only",
                 f"  unchecked    {self.statements - checked}, each with its reason:"]
        lines += [f"    {why:<18} {count}" for why, count in sorted(self.unchecked.items(), key=lambda i: -i[1])]
        return lines


def coverage(entries: list[Entry], catalogue: Catalogue) -> Coverage:
    must = sum(1 for e in entries if any(catalogue[r].is_must for r in e.checked_by if r in catalogue))
    should = sum(1 for e in entries if e.checked_by) - must
    return Coverage(len(entries), must, should, dict(Counter(e.why_unchecked for e in entries if not e.checked_by)))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "coverage"
    if command == "skeleton":
        print(yaml.safe_dump({"statements": [{"id": s.id, "text": s.text} for s in skeleton()]}, sort_keys=False,
                             allow_unicode=True, width=120))
        return 0
    entries, catalogue = load_map(), load_catalogue()
    statements = skeleton() if REFERENCE_DIR.is_dir() else None
    print("\n".join(coverage(entries, catalogue).lines()))
    trouble = problems(entries, statements, catalogue)
    if statements is None:
        print(f"  (the reference docs are not at {REFERENCE_DIR}: the map was not compared with them)")
    for problem in trouble:
        print(f"  PROBLEM: {problem}")
    return 1 if trouble else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
