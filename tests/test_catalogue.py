"""The catalogue loads, refuses what it cannot use with a sentence, and the registry guards its IDs."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from conformance.model.locations import CATALOGUE_FILE
from conformance.rules.catalogue import Catalogue, CatalogueError, load_catalogue, parse_catalogue, problems
from conformance.rules.registry import DuplicateRuleCheck, registered_checks, rule_check
from tests.reference import reference_dir

# Built at run time: the scan for IDs the catalogue lacks must not see a made-up one.
FAKE = "EM-" + "TEST-001"
HEAD = """
pages: {a: https://docs.example/a, rfc: https://rfc.example/1}
texts: {page: page.txt}
rules:
"""
RULE = f"""  - {{id: {FAKE}, level: MUST, sentence: A thing holds., judges: every thing, spec: /paths,
     basis: [{{page: a, in: page, quote: A thing holds.}}]}}
"""
GOOD = HEAD + RULE
# The same rule resting on a summary of the docs (docs-facts.md) alone.
ON_SUMMARY = GOOD.replace("texts: {page: page.txt}", "texts: {page: page.txt, facts: facts.md}").replace(
    "in: page,", "in: facts,")


def test_catalogue_holds_at_least_25_rules_with_both_levels() -> None:
    catalogue = load_catalogue()
    assert len(catalogue) >= 25
    assert {rule.level for rule in catalogue} == {"MUST", "SHOULD"}


def test_every_must_rests_on_a_sentence_of_the_page_or_the_published_document() -> None:
    catalogue = load_catalogue()
    assert problems(catalogue) == []
    for rule in catalogue:
        assert rule.basis, rule.id
        if rule.is_must:
            assert any(basis.primary for basis in rule.basis), f"{rule.id} is a MUST without a sentence of the " \
                                                                "page or the published document"


def test_a_must_resting_on_the_summary_alone_is_caught_in_the_catalogue_and_in_its_file() -> None:
    """The catalogue broken one way: a MUST whose only quote is from docs-facts.md, a summary of the docs."""
    catalogue = load_catalogue()
    rule = catalogue["EM-AUTH-006"]
    summary = [basis for basis in rule.basis if not basis.primary]
    assert summary and all(basis.text == "docs-facts.md" for basis in summary)  # it has a summary quote to keep
    broken = Catalogue([dataclasses.replace(r, basis=tuple(summary)) if r.id == rule.id else r for r in catalogue],
                       catalogue.path)
    assert problems(broken) == ["EM-AUTH-006 is a MUST resting on docs-facts.md alone, a summary of the docs; quote "
                                "the sentence of the endpoint's page or of the published document that states it, "
                                "or make it a SHOULD"]
    # The file broken the same way does not load: its published quote left out, the summary's kept.
    text = CATALOGUE_FILE.read_text(encoding="utf-8")
    published = ("      - {page: list, in: published, quote: \"Returns a paginated list of batches you've submitted, "
                 "newest first.\"}\n")
    summary_quote = '      - {page: auth, in: facts, quote: "Keys are scoped to a workspace"}\n'
    assert text.count(published + summary_quote) == 1
    with pytest.raises(CatalogueError, match=re.escape("EM-AUTH-006 is a MUST resting on docs-facts.md alone")):
        parse_catalogue(text.replace(published + summary_quote, summary_quote), CATALOGUE_FILE)
    # A SHOULD may rest on the summary alone.
    should = Catalogue([dataclasses.replace(r, level="SHOULD") if r.id == rule.id else r for r in broken],
                       catalogue.path)
    assert problems(should) == []


def test_every_basis_quote_is_word_for_word_in_the_docs() -> None:
    reference = reference_dir()

    def words(text: str) -> str:
        return " ".join(text.split())

    texts: dict[str, str] = {}
    for rule in load_catalogue():
        for basis in rule.basis:
            if basis.text is None:
                continue
            text = texts.setdefault(basis.text, words((reference / basis.text).read_text(encoding="utf-8")))
            assert basis.quote in text, f"{rule.id} quotes {basis.quote!r}, which {basis.text} does not hold"


def test_a_should_may_rest_on_the_summary_alone() -> None:
    rule = parse_catalogue(ON_SUMMARY.replace("level: MUST", "level: SHOULD"), Path("rules.yaml"))[FAKE]
    assert rule.basis[0].from_docs and not rule.basis[0].primary


def test_catalogue_rule_title_is_id_level_sentence() -> None:
    rule = parse_catalogue(GOOD, Path("rules.yaml"))[FAKE]
    assert rule.title == f"{FAKE} (MUST) A thing holds."
    assert rule.area == "TEST"
    assert rule.source == "https://docs.example/a"
    assert rule.basis[0].quote == "A thing holds."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + RULE, f"{FAKE} is declared twice"),
        (GOOD.replace(FAKE, "EM-test-1"), "not of the form EM-<AREA>-<NNN>"),
        (GOOD.replace("MUST", "MAY"), "not MUST or SHOULD"),
        (GOOD.replace("judges: every thing, ", ""), "lacks judges"),
        (GOOD.replace("basis: [{page: a, in: page, quote: A thing holds.}]", "basis: []"), "lacks basis"),
        (GOOD.replace("page: a,", "page: b,"), "cites page 'b'"),
        (GOOD.replace("in: page,", "in: book,"), "quotes from 'book'"),
        (GOOD.replace("in: page,", "in: null,").replace("page: a,", "page: rfc,"),
         "is a MUST without a sentence of the docs in its basis"),
        (ON_SUMMARY, f"{FAKE} is a MUST resting on facts.md alone, a summary of the docs"),
        ("rules: {}", "no list of rules"),
        ("rules: [", "is not valid YAML"),
    ],
    ids=["duplicate", "bad-id", "bad-level", "no-judges", "no-basis", "unknown-page", "unknown-text",
         "must-without-docs", "must-on-summary-only", "not-a-list", "bad-yaml"],
)
def test_catalogue_refuses_with_a_sentence(text: str, message: str) -> None:
    with pytest.raises(CatalogueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_catalogue(text, Path("rules.yaml"))


def test_catalogue_unknown_id_is_an_error() -> None:
    with pytest.raises(CatalogueError, match="is not in the rule catalogue"):
        load_catalogue()["EM-" + "NOSUCH-999"]  # built at run time so the ID scan does not see it


def test_unreadable_catalogue_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read the rule catalogue"):
        load_catalogue(tmp_path / "absent.yaml")


def test_registering_a_rule_twice_is_an_error_at_import() -> None:
    taken = registered_checks()[0].rule_id
    with pytest.raises(DuplicateRuleCheck, match=f"{taken} is checked twice"):
        rule_check(taken, on="exchange")(lambda ex: None)


def test_registering_an_unknown_rule_is_an_error_at_import() -> None:
    with pytest.raises(CatalogueError):
        rule_check("EM-" + "NOSUCH-998", on="exchange")


def test_registering_an_unknown_subject_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown subject 'headers'"):
        rule_check("EM-HTTP-001", on="headers")
