"""Reading the project's YAML: with libyaml where PyYAML has it (the same result, ten times faster; the rule
catalogue and the contract are read on every run before its first request)."""

from __future__ import annotations

from typing import Any

import yaml

_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Yaml12Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """YAML as OpenAPI 3.1 reads it (1.2): an unquoted 2026-02-24T12:34:56Z is a string, not a timestamp."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str | bytes) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)


def load_safe(text: str | bytes) -> Any:
    """yaml.safe_load, through libyaml where there is one."""
    return yaml.load(text, Loader=_SafeLoader)
