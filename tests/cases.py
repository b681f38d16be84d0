"""Loads the rule cases of fixtures/cases into exchanges the checker can read."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpatch

from conformance.model.exchange import (
    Context,
    Exchange,
    Intent,
    Keys,
    Replay,
    Request,
    Response,
    SentBatch,
    SeriesEnd,
)
from conformance.model.locations import FIXTURES_DIR

CASES_DIR = FIXTURES_DIR / "cases"
BASE_URL = "http://127.0.0.1:8080"
FIXTURE_KEYS = {"write": "em_sk_fixture_write", "read": "em_sk_fixture_read", "other": "em_sk_fixture_other"}


@dataclass(frozen=True)
class Case:
    file: str
    group: str
    rules: tuple[str, ...]
    description: str
    valid: bool
    violates: tuple[str, ...]
    document: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{Path(self.file).stem}: {self.group}: {self.description}"


def case_files() -> list[Path]:
    return sorted(p for p in CASES_DIR.glob("*.json") if not p.name.endswith(".schema.json"))


def iter_cases() -> Iterator[Case]:
    for path in case_files():
        for group in json.loads(path.read_text(encoding="utf-8")):
            for test in group["tests"]:
                document = copy.deepcopy(group["exchange"])
                if test.get("patch"):
                    document = jsonpatch.apply_patch(document, test["patch"])
                yield Case(path.name, group["description"], tuple(group["rules"]), test["description"],
                           test["valid"], tuple(test.get("violates", ())), document)


def _body(message: dict[str, Any]) -> bytes | None:
    if "json" in message:
        body = json.dumps(message["json"]).encode()
    elif "text" in message:
        body = message["text"].encode()
    else:
        return None
    # Trailing whitespace keeps JSON valid, so a large body needs no large fixture.
    return body.ljust(message.get("pad_to_bytes", 0), b" ")


def _sent(data: dict[str, Any] | None) -> SentBatch | None:
    if data is None:
        return None
    invalid = data.get("invalid_positions")
    return SentBatch(
        records=tuple(data["records"] * data.get("repeat", 1)),
        accepted=data.get("accepted"),
        invalid_positions=frozenset(invalid) if invalid is not None else None,
        sent_at_ms=data.get("sent_at_ms"),
        answered_at_ms=data.get("answered_at_ms"),
    )


def to_exchange(document: dict[str, Any]) -> Exchange:
    request, response = document["request"], document["response"]
    context = document.get("context", {})
    keys = context.get("keys", FIXTURE_KEYS)
    return Exchange(
        Request(request["method"], BASE_URL + request["path"], request.get("headers", {}), _body(request)),
        Response(response["status"], response.get("headers", {"content-type": "application/json"}),
                 _body(response) or b"", transport_error=response.get("transport_error"),
                 truncated=response.get("truncated", False),
                 **({"received_at_ms": response["received_at_ms"]} if "received_at_ms" in response else {})),
        Context(
            keys=Keys(**keys) if keys is not None else None,
            sent=_sent(context.get("sent")),
            earlier=tuple(context.get("earlier", ())),
            ended=SeriesEnd(context["ended"]) if "ended" in context else None,
            own_batch_ids=frozenset(context.get("own_batch_ids", ())),
            expect_listed=frozenset(context.get("expect_listed", ())),
            quiet=context.get("quiet"),
            replay_of=context.get("replay_of"),
            intent=Intent(context["intent"]) if "intent" in context else None,
            valid_for=context.get("valid_for"),
            resent_of=context.get("resent_of"),
            replays=tuple(Replay(r["original"], tuple(r["after_original_ms"]), r.get("record_type"))
                          for r in context.get("replays", ())),
            given_batch_ids=frozenset(context.get("given_batch_ids", ())),
            shown_before=context.get("shown_before"),
        ),
    )
