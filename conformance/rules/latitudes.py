"""The latitudes (openapi/latitudes.yaml): where the docs leave a choice to the server, and what each choice is.

Plain data, read by the simulator (which can make every choice), by the suite's own tests (which run it
against each), and by the README (whose section "What the suite will not fail you for" is made from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from conformance.model.locations import LATITUDES_FILE
from conformance.model.yamlfile import load_safe


class LatitudeError(Exception):
    """The latitudes file, or a choice named after it, cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class Alternative:
    value: str
    says: str


@dataclass(frozen=True)
class Latitude:
    name: str
    question: str
    quotes: tuple[str, ...]
    silence: str
    alternatives: tuple[Alternative, ...]
    rules: tuple[str, ...]
    reported_by: dict[str, tuple[str, ...]]
    # Rules of `rules` that an alternative leaves nothing to judge (a field it leaves out, an answer it never gives).
    unjudged: dict[str, tuple[str, ...]]

    @property
    def default(self) -> str:
        return self.alternatives[0].value

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(a.value for a in self.alternatives)


def _latitude(entry: dict, path: Path) -> Latitude:
    name = entry.get("name", "?")
    alternatives = tuple(Alternative(str(a["value"]), str(a["says"])) for a in entry.get("alternatives", []))
    if len(alternatives) < 2:
        raise LatitudeError(f"{path}: {name} lists fewer than two alternatives; a latitude is a choice")
    if len({a.value for a in alternatives}) != len(alternatives):
        raise LatitudeError(f"{path}: {name} lists an alternative twice")
    reported = {str(value): tuple(rules) for value, rules in (entry.get("reported_by") or {}).items()}
    unjudged = {str(value): tuple(rules) for value, rules in (entry.get("unjudged") or {}).items()}
    return Latitude(name, str(entry["question"]), tuple(str(d["quote"]) for d in entry["docs"]),
                    " ".join(str(entry["silence"]).split()), alternatives, tuple(entry["rules"]), reported, unjudged)


@cache
def load_latitudes(path: Path = LATITUDES_FILE) -> dict[str, Latitude]:
    try:
        data = load_safe(path.read_text(encoding="utf-8"))
        entries = data["latitudes"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise LatitudeError(f"cannot read the latitudes {path}: {exc}") from None
    latitudes: dict[str, Latitude] = {}
    for entry in entries:
        try:
            latitude = _latitude(entry, path)
        except (KeyError, TypeError) as exc:
            raise LatitudeError(f"{path}: {entry.get('name', '?')} lacks {exc}") from None
        if latitude.name in latitudes:
            raise LatitudeError(f"{path}: {latitude.name} is declared twice")
        latitudes[latitude.name] = latitude
    return latitudes


def parse_choices(texts: tuple[str, ...] | list[str]) -> dict[str, str]:
    """NAME=VALUE settings, each naming a latitude and one of its alternatives."""
    latitudes = load_latitudes()
    chosen: dict[str, str] = {}
    for text in texts:
        name, _, value = text.partition("=")
        if name not in latitudes:
            raise LatitudeError(f"no choice named {name!r}; --list-choices shows them all")
        if value not in latitudes[name].values:
            raise LatitudeError(f"{name} is one of {', '.join(latitudes[name].values)}, not {value!r}")
        chosen[name] = value
    return chosen


def markdown() -> str:
    """The README's section "What the suite will not fail you for", made from the latitudes."""
    lines = ["Where the docs leave a choice to the server, the suite accepts every reasonable answer. Each row is",
             "a latitude of `openapi/latitudes.yaml`; the self-tests run the suite against the simulator making",
             "each choice, and all of them at once, and require a clean run.", "",
             "| Question the docs leave open | Accepted answers | Why it is open |", "|---|---|---|"]
    for latitude in load_latitudes().values():
        answers = "; ".join(f"`{a.value}`: {a.says}" for a in latitude.alternatives)
        lines.append(f"| {latitude.question} | {answers.replace('|', '/')} | {latitude.silence.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
