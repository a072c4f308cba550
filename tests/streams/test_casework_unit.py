"""What a source sends cannot stop casework: a reaction keyed by an id no aggregate can
have (a fuzzed household id) is counted as refused, never sent, and the batch goes on."""

from __future__ import annotations

import uuid
from pathlib import Path

from cases.policy import load_policy
from cases.reactions import CaseworkView, Reaction
from eams.settings import Settings
from events.regions import load_reference
from streams.casework import CaseworkReactor
from streams.commands import CommandBus
from streams.kafka import KafkaAccess

ROOT = Path(__file__).parents[2]


async def test_a_reaction_no_aggregate_can_take_is_refused_not_fatal(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    kafka = KafkaAccess(bootstrap="127.0.0.1:1")  # nothing is sent: no broker needed
    view = CaseworkView(load_policy(ROOT / "deploy/cases/policy.yaml"), load_reference("shandong"))
    bus = CommandBus(kafka, settings.topics, source="test")  # never started
    reactor = CaseworkReactor(kafka, settings.topics, view, bus)
    bad = Reaction("household.record_member", "\U0007996c\x94®", {}, uuid.uuid4())
    assert await reactor._send([bad]) is True  # decided as far as it can be: not retried
    assert reactor.stats.refused == 1
    assert reactor.stats.last_refusal is not None
    assert "aggregate_id" in reactor.stats.last_refusal
