"""The campaign in-process: a long wait says what it waits for, and a finished batch is read twice more."""

from __future__ import annotations

import pytest

from conformance.activities.probes import id_like
from conformance.pytest.session import EvermuseRun
from conformance.settings.options import resolve
from conformance.simulator import SimulatorServer, make_settings

KEY = "em_sk_campaign_write"


def test_long_wait_reports_which_batch_which_status_and_how_long() -> None:
    lines: list[str] = []
    with SimulatorServer(make_settings(write_key=KEY, lifecycle_seconds=7)) as server:
        env = {"EVERMUSE_BASE_URL": server.base_url, "EVERMUSE_API_KEY": KEY}
        run = EvermuseRun(resolve(lambda option: None, lambda name: None, env))
        run.start()
        try:
            run.begin_campaign()
            run.finish_campaign(lines.append, every=2)
        finally:
            run.stop()
    assert lines, "no progress line during a wait of about seven seconds"
    assert lines[0].startswith("waiting ")
    assert " s of 600 s (--lifecycle-timeout) for: " in lines[0]
    assert lines[0].endswith(" of 400")
    assert any(name in lines[0] for name in ("all-valid", "mixed", "attachments"))
    assert any(status in lines[0] for status in ("LANDING", "LANDED", "PROCESSING"))
    seeded = run.campaign.seeded
    assert all(s.ended == "terminal" for s in seeded)
    assert all(len(s.reads) >= 4 for s in seeded)


def test_an_id_that_names_no_batch_is_far_from_sequential_neighbours() -> None:
    own = "1000000000003"
    unknown = id_like(own, frozenset({own}))
    # The property tests keep creating batches beside the run's own: a neighbour would soon name a real batch.
    assert len(unknown) == len(own) and unknown.isdigit()
    assert abs(int(unknown) - int(own)) > 1000
    assert id_like(own, frozenset({own, unknown})) not in {own, unknown}
    assert id_like("3fa85f64-5717-4562-b3fc-2c963f66afa6", frozenset()).startswith("3fa85f64-5717-4562-b3fc-")
    # A server that refuses ids of other shapes with 400 must still see one of its own: hex stays hex.
    hex_id = id_like("b_a292a1ae0e66717eeb2c", frozenset())
    assert hex_id.startswith("b_") and len(hex_id) == 22 and all(c in "0123456789abcdef" for c in hex_id[2:])


@pytest.mark.parametrize(("form", "ids"), [
    ("ulid", ["01JDQ7ZKQ8M4X2V9T0NPRB3H6E", "01JDQ7ZKQ9A1B2C3D4E5F6G7HJ", "01JDQ7ZKQAKMNPQRSTVWXYZ012"]),
    ("base58", ["3mJr7AoUXx2Wqd9zQ8kP1a", "9fHbZ4ycNE6tRMVL2sWg8h", "7KqXpB1rjUeY5nTzaD3mCw"]),
    ("nanoid", ["V1StGXR8_Z5jdHi6B-myT-", "Uakgb_J5m9g-0JDMbcJqLJ", "4f90d13a42-bc7Z_xY8pQ-"]),
], ids=["ulid", "base58", "nanoid"])
def test_an_id_that_names_no_batch_keeps_the_alphabet_of_the_apis_ids(form: str, ids: list[str]) -> None:
    """A server that refuses ids of other shapes must see one of its own: the characters its ids show, at their
    length, whatever their alphabet; a nanoid ending in - does not grow."""
    seen = "".join(batch_id[-4:] for batch_id in ids)
    for batch_id in ids:
        unknown = id_like(batch_id, frozenset(ids))
        assert len(unknown) == len(batch_id) and unknown not in ids
        assert unknown[:-4] == batch_id[:-4] and set(unknown[-4:]) <= set(seen), (form, unknown)
