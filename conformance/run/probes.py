"""Probes: keys and workspaces, ids no batch can have, other methods, bodies that are not batches, limits."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from conformance.run.scenarios import valid_record
from conformance.run.settings import KEY_VARIABLES

if TYPE_CHECKING:
    from conformance.run.campaign import Campaign

INGEST = "/api/v1/ingest"
BATCHES = "/api/v1/ingest/batches"
OVERSIZE_BYTES = 5 * 1024 * 1024 + 256 * 1024


def run_all(campaign: Campaign) -> None:
    probe_keys(campaign)
    probe_batch_ids(campaign)
    probe_other_methods(campaign)
    if not campaign.settings.read_only:
        probe_ingest_bodies(campaign)
    probe_limits(campaign)


def _one_record_batch(campaign: Campaign, purpose: str) -> bytes:
    record = valid_record(0, campaign.identity, record_type="message")
    record["_vendor_ids"] = {"conformance_id": f"{campaign.identity.run_id}-{purpose}"}
    return json.dumps([record]).encode()


def some_batch_id(campaign: Campaign) -> str:
    """One of the run's batches; an id of no batch when none could be created, where any id will do."""
    own = campaign.own_batch_ids
    return own[0] if own else f"b_conformance_absent_{campaign.identity.run_id}"


def probe_keys(campaign: Campaign) -> None:
    own = some_batch_id(campaign)
    reads = (("GET", f"{BATCHES}/{own}", {}), ("GET", BATCHES, {"limit": "100"}))
    writes = () if campaign.settings.read_only else (("POST", INGEST, {}),)
    invalid_key = f"em_sk_conformance_not_a_key_{campaign.identity.run_id}"
    for label, key, rule in (("without a key", None, "EM-AUTH-001"), ("with a key that names none", invalid_key,
                                                                     "EM-AUTH-002")):
        for method, path, params in (*reads, *writes):
            body = _one_record_batch(campaign, "no-key") if method == "POST" else None
            campaign.send(f"{method} {path.split('/')[-1]} {label}", {rule}, method, path, key=key, params=params,
                          body=body, content_type="application/json" if body else None,
                          headers=campaign.identity.idempotency_key(f"key-{rule}") if body else None)
    _probe_read_key(campaign, reads, writes)
    _probe_other_workspace(campaign, own)


def _probe_read_key(campaign: Campaign, reads: tuple, writes: tuple) -> None:
    rules = {"EM-AUTH-003"} | ({"EM-AUTH-004"} if writes else set())
    if campaign.client.keys.read is None:
        campaign.recorder.skip(rules, f"{KEY_VARIABLES['read']} is not set: the run has no api:read-only key")
        return
    for method, path, params in reads:
        campaign.send(f"{method} {path.split('/')[-1]} with the read key", {"EM-AUTH-003"}, method, path, key="read",
                      params=params)
    for method, path, _ in writes:
        campaign.send("POST ingest with the read key", {"EM-AUTH-004"}, method, path, key="read",
                      body=_one_record_batch(campaign, "read-key"), content_type="application/json",
                      headers=campaign.identity.idempotency_key("read-key"))


def _probe_other_workspace(campaign: Campaign, own: str) -> None:
    rules = {"EM-AUTH-005", "EM-AUTH-006"}
    if campaign.client.keys.other is None:
        campaign.recorder.skip(rules, f"{KEY_VARIABLES['other']} is not set: the run has no key of another workspace")
        return
    if not campaign.own_batch_ids:
        campaign.recorder.skip(rules, "no batch of the run's workspace could be created or found")
        return
    campaign.send("GET our batch with another workspace's key", {"EM-AUTH-005"}, "GET", f"{BATCHES}/{own}",
                  key="other")
    campaign.send("GET the list with another workspace's key", {"EM-AUTH-006"}, "GET", BATCHES, key="other",
                  params={"limit": "100"})


def malformed_ids(own: str) -> dict[str, str]:
    """Ids no batch can have, percent-encoded as they go on the wire."""
    return {
        "over 128 characters": "b" * 129,
        "non-ASCII": "%C3%A9t%C3%A9-" + own[:8],
        "quoted": f"%22{own}%22",
        "a dot segment": "%2E%2E",
        "an encoded slash": f"{own}%2F..%2F{own}",
    }


def probe_batch_ids(campaign: Campaign) -> None:
    own = some_batch_id(campaign)
    unknown = f"b_conformance_absent_{campaign.identity.run_id}"
    campaign.send("GET a batch id that names no batch", {"EM-ID-001"}, "GET", f"{BATCHES}/{unknown}",
                  context=campaign.context(probe="unknown-id"))
    for label, batch_id in malformed_ids(own).items():
        campaign.send(f"GET a batch id {label}", {"EM-ID-002"}, "GET", f"{BATCHES}/{batch_id}")


def probe_other_methods(campaign: Campaign) -> None:
    if campaign.settings.read_only:
        campaign.recorder.skip({"EM-HTTP-005", "EM-HTTP-006"}, "--read-only sends nothing but reads")
        return
    absent = f"b_conformance_absent_{campaign.identity.run_id}"
    for method, path in (("DELETE", f"{BATCHES}/{absent}"), ("PUT", INGEST), ("POST", BATCHES)):
        campaign.send(f"{method} {path}", {"EM-HTTP-005", "EM-HTTP-006"}, method, path)


def probe_ingest_bodies(campaign: Campaign) -> None:
    replayed = next((s for s in campaign.seeded if s.scenario.name == "mixed"), None) or next(
        iter(campaign.seeded), None)
    if replayed is None:
        campaign.recorder.skip({"EM-INGEST-003"}, "no batch could be created to send again")
    else:
        body, media_type = replayed.scenario.body()
        campaign.send(f"ingest {replayed.scenario.name} again with its Idempotency-Key", {"EM-INGEST-003"}, "POST",
                      INGEST, body=body, content_type=media_type,
                      headers=campaign.identity.idempotency_key(replayed.scenario.name),
                      context=campaign.context(sent=replayed.sent, replay_of=replayed.sent.accepted))
    campaign.send("ingest an empty array", {"EM-INGEST-004"}, "POST", INGEST, body=b"[]",
                  content_type="application/json", headers=campaign.identity.idempotency_key("empty"))
    record = valid_record(0, campaign.identity, record_type="document")
    record["data"] = {"padding": "x" * OVERSIZE_BYTES}
    campaign.send("ingest a body over 5 MB", {"EM-INGEST-005"}, "POST", INGEST, body=json.dumps([record]).encode(),
                  content_type="application/json", headers=campaign.identity.idempotency_key("oversize"))


def probe_limits(campaign: Campaign) -> None:
    for limit in ("101", "0"):
        campaign.send(f"GET the list with limit {limit}", {"EM-LIST-006"}, "GET", BATCHES, params={"limit": limit})
