"""The choices the simulator makes where the docs leave one open: one per latitude of openapi/latitudes.yaml.

Unlike a fault, every choice is correct. The default of each is the latitude's first alternative.
"""

from __future__ import annotations

from conformance.rules.latitudes import LatitudeError, load_latitudes, parse_choices


class UnknownChoice(ValueError):
    pass


class ChoiceSet:
    """The choices one simulator makes; unnamed latitudes take their default."""

    def __init__(self, texts: tuple[str, ...] | list[str] = ()):
        try:
            self.chosen = parse_choices(list(texts))
        except LatitudeError as exc:
            raise UnknownChoice(str(exc)) from None

    def picks(self, name: str, value: str) -> bool:
        """Whether the simulator makes this choice; a name or value the latitudes lack is a simulator bug."""
        latitude = load_latitudes().get(name)
        if latitude is None or value not in latitude.values:
            raise UnknownChoice(f"the simulator asks for an undeclared choice {name}={value}")
        return self.chosen.get(name, latitude.default) == value

    def described(self) -> list[str]:
        return [f"{name}={value}" for name, value in self.chosen.items()]
