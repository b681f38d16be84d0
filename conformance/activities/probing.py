"""The probes of the campaign (conformance/activities/probes.py holds them as data): each is sent when the run
meets its needs, each knowing what the ones before it saw; the rules of the others are skipped with the reason."""

from __future__ import annotations

import dataclasses

from conformance.activities.batches import Batches, ids_listed
from conformance.activities.listwalk import LIST_USE
from conformance.activities.probes import WHY_NOT, Facts, Need, Probe
from conformance.activities.recorder import Recorder
from conformance.activities.scenarios import Identity
from conformance.activities.sender import Sender
from conformance.model.exchange import Exchange, KeyRole, SentBatch
from conformance.settings.options import RunSettings


class Probing:
    def __init__(self, settings: RunSettings, sender: Sender, recorder: Recorder, batches: Batches,
                 identity: Identity, probes: list[Probe]):
        self.settings = settings
        self.sender = sender
        self.recorder = recorder
        self.batches = batches
        self.identity = identity
        self.probes = probes

    def facts(self) -> Facts:
        listed = frozenset(str(batch_id) for o in self.recorder.observations
                           if o.exchange.context.valid_for == LIST_USE and o.exchange.key_role != KeyRole.OTHER
                           for batch_id in ids_listed(o.exchange.response.json))
        return Facts(self.identity, tuple(self.batches.own_batch_ids),
                     tuple((s.scenario, s.sent) for s in self.batches.seeded), listed, self.settings.ids_known)

    def meets(self, need: Need, facts: Facts) -> bool:
        return {
            Need.WRITES: not self.settings.read_only,
            Need.READ_KEY: self.sender.client.keys.read is not None,
            Need.OTHER_KEY: self.sender.client.keys.other is not None,
            Need.OWN_BATCH: bool(facts.own_batch_ids),
            Need.SEEDED_BATCH: bool(facts.seeded),
            Need.KNOWN_IDS: facts.ids_known,
        }[need]

    def requests_ahead(self) -> int:
        """The requests the probes the run can send will send."""
        facts = self.facts()
        return sum(len(probe.steps(facts)) for probe in self.probes
                   if all(self.meets(need, facts) for need in probe.needs))

    def run(self) -> None:
        for probe in self.probes:
            facts = self.facts()  # each probe knows what the ones before it saw
            missing = [need for need in probe.needs if not self.meets(need, facts)]
            if missing:
                self.recorder.skip(probe.rules, WHY_NOT[missing[0]])
                continue
            previous: Exchange | None = None
            for step in probe.steps(facts):
                sent, replay_of = step.sent, None
                if step.replays_previous:
                    answer = previous.response.json if previous is not None else None
                    if previous is None or not 200 <= previous.response.status < 300 \
                            or not isinstance(answer, dict) or "batchId" not in answer:
                        status = previous.response.status if previous is not None else "nothing"
                        self.recorder.skip(probe.rules, f"the batch to send again was not accepted: POST answered "
                                                        f"{status or 'nothing'}")
                        break
                    replay_of = answer
                    sent = dataclasses.replace(step.sent or SentBatch(records=()), accepted=answer,
                                               sent_at_ms=previous.request.sent_at_ms,
                                               answered_at_ms=previous.response.received_at_ms)
                previous = self.sender.send(step.activity, step.method, step.path, key=step.key, params=step.params,
                                            body=step.body, content_type=step.content_type, headers=step.headers,
                                            context=self.sender.context(intent=step.intent, sent=sent,
                                                                        replay_of=replay_of,
                                                                        resent_of=step.resent_of))
