"""What the campaign sends for a selection of the suite's tests.

The campaign is a conductor of activities, and each declares the rules it is there for: the preflight (always:
it tells an unreachable target from a broken one), the seeded batches read to their end (batches.serves), each
probe (Probe.rules) and the walk of the list (listwalk.RULES). A run of every test sends them all; a run of
some (`-k`, `-m`, `--lf`, node ids) sends only the activities its rules need, and a selection of no test of the
suite sends nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.activities import batches, listwalk
from conformance.activities.probes import PROBES, Need, Probe

# Rules judged on any answer of the target, whatever sent the request: a selection of one of them gets the
# whole campaign, since every exchange is evidence for it.
EVERY_ANSWER = frozenset({"EM-HTTP-001", "EM-HTTP-002", "EM-HTTP-003", "EM-HTTP-004", "EM-HTTP-007",
                          "EM-HTTP-008", "EM-HTTP-009", "EM-HTTP-010", "EM-RATE-001", "EM-SEC-001"})
NEEDS_A_BATCH = (Need.OWN_BATCH, Need.SEEDED_BATCH)


@dataclass(frozen=True)
class Plan:
    # The rules whose tests were selected; None when every test of the suite was.
    rules: frozenset[str] | None = None
    # Whether a property test was selected: they read the run's batches, so these are seeded for them.
    property_tests: bool = True

    @property
    def whole(self) -> bool:
        return self.rules is None or bool(self.rules & EVERY_ANSWER)

    def probes(self) -> list[Probe]:
        return [probe for probe in PROBES if self.whole or probe.rules & (self.rules or frozenset())]

    @property
    def reads_to_the_end(self) -> bool:
        """Whether the batches are read until they end: for the rules over a batch's series and for the list."""
        rules = self.rules or frozenset()
        return self.whole or self.property_tests or any(batches.serves(rule) for rule in rules) \
            or bool(rules & listwalk.RULES)

    @property
    def seeds(self) -> int | None:
        """How many of the scenarios to seed: None for all, 1 when only a probe needs a batch, 0 for none."""
        if self.reads_to_the_end:
            return None
        return 1 if any(need in NEEDS_A_BATCH for probe in self.probes() for need in probe.needs) else 0

    @property
    def walks_the_list(self) -> bool:
        return self.whole or bool((self.rules or frozenset()) & listwalk.RULES)


WHOLE = Plan()
