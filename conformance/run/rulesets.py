"""Which rules each activity of the run exercises: what a passing rule may claim to have been checked on."""

from __future__ import annotations


def _ids(area: str, *numbers: int) -> frozenset[str]:
    return frozenset(f"EM-{area}-{n:03d}" for n in numbers)


EVERY_ANSWER = _ids("HTTP", 1, 2, 3, 4, 7) | {"EM-SEC-001"}
BATCH_BODY = _ids("SHAPE", 1, 2, 3, 4) | _ids("COUNT", 1, 2, 3) | {"EM-STATUS-001", "EM-TIME-001"}
ERRORS = _ids("ERR", 1, 2, 3, 4, 5, 6, 7)
DOWNLOADS = _ids("ATT", 1, 2, 3, 4, 5, 6) | _ids("SERIES", 4, 5, 7) | {"EM-SENT-010"}
SEED_ANSWER = (_ids("INGEST", 1, 6) | _ids("COUNT", 1, 2, 3) | _ids("SENT", 2, 5, 6)
               | {"EM-SHAPE-003"})
FIRST_READ = BATCH_BODY | _ids("SENT", 1, 3, 7, 8, 9) | {"EM-INGEST-002"}
SERIES = _ids("SERIES", 1, 2, 3)
LIST_WALK = _ids("LIST", 1, 2, 3, 4, 5) | BATCH_BODY
