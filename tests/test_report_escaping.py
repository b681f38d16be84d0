"""The report's pages trust nothing the target sent: field names, values, headers and bodies are text in drift.md
and in drift.html, never markup, whatever characters they hold."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from conformance.model.exchange import Observation
from conformance.report.drift import report
from conformance.rules.catalogue import load_catalogue
from conformance.rules.checker import check_observation
from conformance.rules.expectations import NONE
from conformance.rules.outcome import decide
from conformance.rules.verdicts import judge
from tests.cases import to_exchange

FIELD = '<img src=x onerror="alert(1)">'
VALUE = "<script>alert(2)</script> *bold* _it_ [link](javascript:alert(3)) ```"
HEADER = "<b>1.4</b> | *x*"
PATH_ID = "b_<svg onload=alert(4)>"
# What the suite's own page is made of: nothing else may appear, and no attribute that runs code.
OWN_ELEMENTS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "ul", "li", "table", "thead",
                "tbody", "tr", "th", "td", "code", "pre", "details", "summary", "strong", "em", "br", "figure", "svg",
                "line", "text", "polyline", "circle", "rect"}


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def hostile_report() -> dict[str, Any]:
    status = {"batchId": PATH_ID, "status": "COMPLETE", "createdAt": 1764340000000, "acceptedCount": 1,
              "rejectedCount": 0, "totalErrorCount": 0, FIELD: VALUE, "source": VALUE}
    exchange = to_exchange({
        "request": {"method": "GET", "path": f"/api/v1/ingest/batches/{PATH_ID}",
                    "headers": {"x-api-key": "em_sk_fixture_write"}},
        "response": {"status": 200, "headers": {"content-type": "application/json", "x-api-version": HEADER,
                                                "x-" + FIELD: VALUE},
                     "json": status},
    })
    evidence = [check_observation(Observation(f"read {VALUE}", exchange))]
    verdicts = judge(evidence, load_catalogue(), NONE, dt.date(2026, 12, 1))
    broken = [v for v in verdicts.values() if v.violations]
    outcome = decide(must=tuple(v.rule.id for v in broken), should=(), failed=True, seconds=3,
                     interrupted=f"interrupted while reading {VALUE}").as_dict()
    live, _ = report.live_part("interrupted", outcome["reason"], evidence, verdicts, {}, NONE)
    origin = report.provenance(target=f"https://{FIELD}.example", started=1764550000, finished=1764550003, seed=1,
                               requests=1, server_version=f"x-api-version: {HEADER}", published_source=None)
    built, _ = report.build(provenance=origin, live=live, published=report.published_part(None), outcome=outcome)
    return built


def test_no_string_of_the_target_is_markup_in_the_html_page(tmp_path: Path) -> None:
    built = hostile_report()
    assert "EM-SHAPE-002" in {f["rule"] for f in built["live"]["findings"]}
    report.write(built, tmp_path)
    page = Elements()
    page.feed((tmp_path / "drift.html").read_text())
    tags = {tag for tag, _ in page.elements}
    assert tags <= OWN_ELEMENTS, tags - OWN_ELEMENTS
    attributes = {name for _, attrs in page.elements for name, _ in attrs}
    assert not [name for name in attributes if name.startswith("on") or name in ("src", "href")]
    text = "".join(page.text)
    # The target's strings are there, as text.
    assert FIELD in text and "<script>alert(2)</script>" in text and HEADER in text


def test_no_string_of_the_target_is_markup_in_the_markdown(tmp_path: Path) -> None:
    built = hostile_report()
    report.write(built, tmp_path)
    markdown = (tmp_path / "drift.md").read_text()
    # Code is text in Markdown: fenced blocks and code spans are taken out; what is left must hold no raw HTML.
    prose = re.sub(r"^(`{3,})[a-z]*\n.*?^\1$", "", markdown, flags=re.MULTILINE | re.DOTALL)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    for raw in ("<img", "<script", "<svg", "<b>"):
        assert raw not in prose, raw
    assert "&lt;script&gt;" in prose or "&lt;img" in prose  # the target's strings outside code, escaped
    assert "*bold*" not in prose.replace("\\*bold\\*", "")
    assert json.loads((tmp_path / "drift.json").read_text())["live"]["findings"]
