"""Known deviations of a target, as data: which rule or finding, why, whose, and until when."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from conformance.model.locations import FIXTURES_DIR
from conformance.model.yamlfile import load_yaml
from conformance.rules.fingerprints import violation_fingerprint
from conformance.rules.registry import Violation

EXPECTATIONS_DIR = FIXTURES_DIR / "expectations"
SCHEMA_FILE = EXPECTATIONS_DIR / "expectations.schema.json"


class ExpectationsError(Exception):
    """The expectations file cannot be used; the message names it and what is wrong."""


@dataclass(frozen=True)
class Deviation:
    reason: str
    link: str
    owner: str
    expires: dt.date
    rule: str | None = None
    fingerprint: str | None = None

    def expired(self, today: dt.date) -> bool:
        return self.expires < today

    def describe(self) -> str:
        return f"{self.reason} (owner {self.owner}, until {self.expires.isoformat()}, {self.link})"


@dataclass(frozen=True)
class Expectations:
    target: str
    path: Path | None
    deviations: tuple[Deviation, ...]

    def for_rule(self, rule_id: str) -> Deviation | None:
        return next((d for d in self.deviations if d.rule == rule_id), None)

    def for_fingerprint(self, fingerprint: str) -> Deviation | None:
        return next((d for d in self.deviations if d.fingerprint == fingerprint), None)

    def covering(self, violation: Violation) -> Deviation | None:
        """The deviation that accepts this violation: one listed for its rule, else for its fingerprint."""
        return self.for_rule(violation.rule.id) or self.for_fingerprint(violation_fingerprint(violation))


NONE = Expectations(target="", path=None, deviations=())


def resolve_path(name_or_path: str) -> Path:
    """A bare name is fixtures/expectations/<name>.yaml; anything else is a path."""
    if "/" not in name_or_path and not name_or_path.endswith((".yaml", ".yml")):
        return EXPECTATIONS_DIR / f"{name_or_path}.yaml"
    return Path(name_or_path)


def load_expectations(name_or_path: str, source: str = "--expectations") -> Expectations:
    path = resolve_path(name_or_path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ExpectationsError(f"cannot read the expectations file {path} ({exc.strerror}); fix {source}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise ExpectationsError(f"the expectations file {path} is not valid YAML ({first}); "
                                f"fix it or {source}") from None
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "the top level"
        raise ExpectationsError(f"the expectations file {path} is invalid at {where}: {error.message}")
    try:
        deviations = tuple(
            Deviation(reason=d["reason"], link=d["link"], owner=d["owner"],
                      expires=dt.date.fromisoformat(d["expires"]), rule=d.get("rule"), fingerprint=d.get("fingerprint"))
            for d in data["deviations"]
        )
    except ValueError as exc:
        raise ExpectationsError(f"the expectations file {path} has an expiry that is no date: {exc}") from None
    return Expectations(target=data["target"], path=path, deviations=deviations)
