"""The latitudes are data the rest agrees with: rules that exist, quotes that are the docs' own, and the README."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance.model.locations import LATITUDES_FILE
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checks.valid_requests import latitudes_named
from conformance.rules.latitudes import LatitudeError, load_latitudes, markdown, parse_choices
from tests.reference import reference_dir

ROOT = Path(__file__).resolve().parent.parent


def test_there_are_twenty_and_more_alternatives_to_the_defaults() -> None:
    assert sum(len(latitude.alternatives) - 1 for latitude in load_latitudes().values()) >= 20


def test_every_latitude_names_rules_the_catalogue_has() -> None:
    catalogue = load_catalogue()
    for latitude in load_latitudes().values():
        assert latitude.rules, latitude.name
        assert all(rule in catalogue for rule in latitude.rules), latitude.name
        for value, rules in latitude.reported_by.items():
            assert value in latitude.values[1:], latitude.name
            assert all(not catalogue[rule].is_must for rule in rules), f"{latitude.name}: a MUST reports no latitude"
        for value, rules in latitude.unjudged.items():
            assert value in latitude.values[1:], latitude.name
            assert set(rules) <= set(latitude.rules), f"{latitude.name}: unjudged names a rule it does not touch"


def test_every_latitude_quotes_the_docs_word_for_word() -> None:
    reference = reference_dir()
    texts = yaml.safe_load((ROOT / "openapi" / "rules.yaml").read_text())["texts"]
    for entry in yaml.safe_load(LATITUDES_FILE.read_text())["latitudes"]:
        for doc in entry["docs"]:
            text = " ".join((reference / texts[doc["in"]]).read_text(encoding="utf-8").split())
            assert " ".join(doc["quote"].split()) in text, f"{entry['name']}: {doc['quote']!r}"


def test_choices_are_named_after_latitudes_and_their_alternatives() -> None:
    assert parse_choices(["unissued-cursor=400"]) == {"unissued-cursor": "400"}
    with pytest.raises(LatitudeError, match="no choice named 'nope'"):
        parse_choices(["nope=1"])


def test_readme_says_what_the_suite_will_not_fail_you_for() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## What the suite will not fail you for\n") + len("## What the suite will not fail you for\n")
    section = readme[start:readme.index("\n## ", start)].strip("\n") + "\n"
    assert section == markdown(), "regenerate with: python -c 'from conformance.rules.latitudes import markdown; " \
                                  "print(markdown())'"


def test_each_refusal_a_valid_request_may_get_is_allowed_by_a_declared_latitude_that_names_the_rule() -> None:
    latitudes = load_latitudes()
    named = latitudes_named()
    assert named, "EM-HTTP-011 allows no refusal at all"
    for name in sorted(named):
        assert name in latitudes, f"EM-HTTP-011 allows a refusal by {name}, which latitudes.yaml lacks"
        assert "EM-HTTP-011" in latitudes[name].rules, f"{name} does not name EM-HTTP-011 among the rules it touches"
