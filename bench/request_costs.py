"""What each activity of the default run costs in requests, and which rules it exercises.

Runs the scripted campaign in this process against the embedded simulator (no property tests, which
take what the campaign leaves of --max-requests). A rule is exercised when its verdict rests on at least one
exchange (held, violated, accepted or expired; not "not exercised"). A campaign that could not check the
simulator costs nothing worth printing: the script then exits 1 with the reason.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance.pytest.session import CouldNotCheck, EvermuseRun, Outcome
from conformance.settings.options import resolve


def activity_kind(activity: str) -> str:
    for scenario in ("all-valid", "mixed", "many-errors", "all-invalid", "attachments"):
        if re.search(rf"\b{scenario}\b", activity) and "again" not in activity:
            return f"scenario {scenario} (POST, first read, polling)"
    if activity.startswith("list page"):
        return "list walk"
    return "probe: " + re.sub(r"\s+#\d+$", "", activity)


def main() -> None:
    run = EvermuseRun(resolve(lambda option: None, lambda name: None, {}))
    run.start()
    try:
        run.run_campaign()
        not_checked = run.could_not_check()
    except CouldNotCheck as exc:
        not_checked = str(exc)
    finally:
        run.stop()
    if not_checked is not None:
        sys.exit(f"the campaign could not check the simulator: {not_checked}")
    verdicts = run.verdicts()
    exercised = sum(verdict.outcome != Outcome.NOT_EXERCISED for verdict in verdicts.values())
    costs = Counter(activity_kind(o.activity) for o in run.recorder.observations)
    scenario_total = sum(n for kind, n in costs.items() if kind.startswith("scenario"))
    groups: dict[str, int] = defaultdict(int)
    for kind, n in costs.items():
        groups["probes" if kind.startswith("probe") else kind] += n
    for kind, n in sorted(groups.items()):
        print(f"{n:4}  {kind}")
    print(f"{sum(costs.values()):4}  campaign total ({scenario_total} for the five scenarios); "
          f"{exercised} of {len(verdicts)} rules exercised")
    print("command: python bench/request_costs.py")


if __name__ == "__main__":
    main()
