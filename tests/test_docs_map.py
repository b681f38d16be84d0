"""The docs map decides every statement of the docs: checked by named rules, or unchecked for a stated reason.

Each way the map can part from the docs or the catalogue is shown to be caught on a copy of the map broken in
that one way, so the test of the real map can fail.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from conformance.rules.catalogue import Catalogue, load_catalogue
from conformance.rules.docsmap import Entry, coverage, load_map, problems, skeleton
from tests.reference import reference_dir

ROOT = Path(__file__).resolve().parent.parent
# Built at run time: the scan for IDs the catalogue lacks must not see a made-up one.
UNKNOWN_RULE = "EM-" + "NOPE-001"


@pytest.fixture(scope="module")
def statements():
    return skeleton(reference_dir())


def _replaced(entries: list[Entry], statement_id: str, **changes) -> list[Entry]:
    return [dataclasses.replace(e, **changes) if e.id == statement_id else e for e in entries]


def test_every_statement_of_the_docs_is_in_the_map_and_decided(statements) -> None:
    assert problems(load_map(), statements, load_catalogue()) == []


def test_the_map_alone_names_only_rules_and_latitudes_that_exist() -> None:
    """What a checkout without the reference docs (an installed wheel) can still check."""
    assert problems(load_map(), None, load_catalogue()) == []


def test_the_skeleton_reads_every_kind_of_statement(statements) -> None:
    texts = [s.text for s in statements]
    for keyword in ("type", "maximum", "minimum", "maxLength", "maxItems", "minItems", "enum", "required", "pattern",
                    "additionalProperties", "minProperties"):
        assert any(text.startswith(f"{keyword}: ") for text in texts), keyword
    assert "documented status 413" in texts
    assert "Maximum string length: 128" in texts  # the page's limits
    assert "Defaults to 20, maximum 100." in texts  # a description, by sentence
    assert "| `FAILED` | Something went wrong (check errors for details) |" in texts  # a table row
    assert any(s.id.startswith("facts:keys-and-permissions#") for s in statements)  # the other pages' facts
    assert len({s.id for s in statements}) == len(statements), "two statements share an id"


def test_an_unmapped_statement_is_caught(statements) -> None:
    entries = load_map()
    dropped = next(e for e in entries if e.id.endswith("/_attachments/maxItems"))
    found = problems([e for e in entries if e is not dropped], statements, load_catalogue())
    assert f"{dropped.id} ('maxItems: 10') is not in the map" in found
    # The rule that rests on it no longer has its quote in the map either.
    assert any(p.startswith("EM-INGEST-012 rests on 'maxItems: 10', and no statement of the map it checks holds")
               for p in found)


def test_a_statement_the_docs_reword_is_caught(statements) -> None:
    entries = load_map()
    target = next(e for e in entries if e.text == "A batch can contain up to 1,000 records.")
    found = problems(_replaced(entries, target.id, text="A batch can contain up to 500 records."), statements,
                     load_catalogue())
    assert any(p.startswith(f"{target.id} reads 'A batch can contain up to 1,000 records.' in the docs") for p in found)


def test_a_statement_neither_checked_nor_excused_is_caught() -> None:
    entries = load_map()
    target = next(e for e in entries if e.unchecked)
    found = problems(_replaced(entries, target.id, unchecked=""), None, load_catalogue())
    assert f"{target.id} names neither a rule nor a reason" in found
    both = problems(_replaced(entries, target.id, checked_by=("EM-SHAPE-001",)), None, load_catalogue())
    assert f"{target.id} names both rules and a reason" in both


def test_a_rule_the_catalogue_lacks_is_caught() -> None:
    entries = load_map()
    target = next(e for e in entries if e.checked_by)
    found = problems(_replaced(entries, target.id, checked_by=(UNKNOWN_RULE,)), None, load_catalogue())
    assert f"{target.id} names {UNKNOWN_RULE}, which the catalogue lacks" in found


def test_a_rule_whose_quote_no_statement_holds_is_caught() -> None:
    entries = load_map()
    quoted = "Use this to check whether your records have finished processing."
    target = next(e for e in entries if e.text == quoted)
    found = problems(_replaced(entries, target.id, checked_by=()), None, load_catalogue())
    assert f"EM-SERIES-006 rests on {quoted!r}, and no statement of the map it checks holds {quoted.lower()!r}" \
        in found


def test_a_quote_whose_every_sentence_is_not_in_the_map_is_caught() -> None:
    """A sentence made up beside a real one does not pass on the strength of the real one."""
    catalogue = load_catalogue()
    rule = catalogue["EM-LIST-002"]
    basis = dataclasses.replace(rule.basis[0], quote=rule.basis[0].quote + " Pages never hold fewer than 20.")
    changed = Catalogue([dataclasses.replace(rule, basis=(basis,)) if r.id == rule.id else r for r in catalogue],
                        catalogue.path)
    found = problems(load_map(), None, changed)
    assert any(p.startswith("EM-LIST-002 rests on") and p.endswith("'pages never hold fewer than 20.'") for p in found)


def test_a_reason_must_say_which_kind_and_a_latitude_must_exist() -> None:
    entries = load_map()
    target = next(e for e in entries if e.unchecked)
    for vague in ("seems fine", "not observable", "latitude: open", "covered elsewhere:"):
        found = problems(_replaced(entries, target.id, unchecked=vague), None, load_catalogue())
        assert any(p.startswith(f"{target.id} is unchecked for a reason not written as") for p in found), vague
    unknown = problems(_replaced(entries, target.id, unchecked="latitude no-such-choice: open"), None,
                       load_catalogue())
    assert f"{target.id} names latitude no-such-choice, which latitudes.yaml lacks" in unknown


def test_the_readme_quotes_the_coverage_the_map_gives() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = coverage(load_map(), load_catalogue()).lines()
    block = re.search(r"python -m conformance.rules.docsmap coverage\n(.*?)```", readme, re.DOTALL)
    assert block is not None, "the README shows no coverage figure under its command"
    assert block.group(1).rstrip("\n").splitlines() == lines
