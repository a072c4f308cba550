"""A payment batch decided command by command (pure: no broker): its lines checked when
it is created, its export held to its own count and total, the bank's return taken line
by line (a line answered once; the same answer again changes nothing), and each paid line
becoming a person's payment command with an id derived from the batch and the line."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from events.clock import SHANGHAI
from events.commands import Command, event_id_for
from events.envelope import Envelope, internal_event
from events.errors import CommandRejectedError
from events.regions import load_reference
from subsidies.batches import PaymentBatch, PaymentBatchAggregate, batch_id
from subsidies.reactions import MoneyReactions

NOW = dt.datetime(2026, 3, 25, 10, 0, tzinfo=SHANGHAI)
LANSHAN = "371302"
BATCH = batch_id(LANSHAN, "2026-03")
P1, P2 = "p_" + "1" * 32, "p_" + "2" * 32
SHA = "ab" * 32


def _line(
    n: int, person: str, app: str, month: str = "2026-03", amount: str = "1500.00"
) -> dict[str, Any]:
    return {
        "line": n,
        "person_id": person,
        "application_id": app,
        "subsidy": "job_search_one_time",
        "month": month,
        "amount": amount,
        "payee_account_masked": "****8901",
    }


class Batch:
    def __init__(self) -> None:
        self.aggregate = PaymentBatchAggregate(load_reference("shandong"))
        self.state: PaymentBatch = self.aggregate.initial(BATCH)
        self.events: list[Envelope] = []

    def send(self, verb: str, payload: dict[str, Any]) -> list[Envelope]:
        command = Command(
            command_id=uuid.uuid4(),
            command_type=f"payment_batch.{verb}",
            aggregate_id=BATCH,
            actor="qin",
            source="test",
            issued_at=NOW,
            payload=payload,
        )
        out = []
        for i, change in enumerate(self.aggregate.decide(self.state, command, NOW)):
            event = internal_event(
                change.event_type,
                region=change.region or "",
                aggregate_id=BATCH,
                actor="qin",
                source="test",
                payload=dict(change.payload),
                event_id=event_id_for(command.command_id, i),
                occurred_at=NOW,
            )
            self.state = self.aggregate.apply(self.state, event)
            out.append(event)
        self.events += out
        return out


@pytest.fixture
def batch() -> Batch:
    b = Batch()
    b.send(
        "create",
        {
            "region": LANSHAN,
            "month": "2026-03",
            "lines": [_line(1, P1, "sa-1"), _line(2, P2, "sa-2", amount="600.00")],
        },
    )
    return b


def test_a_batch_is_created_once_with_numbered_lines_each_month_of_an_application_once() -> None:
    b = Batch()
    with pytest.raises(CommandRejectedError, match=r"lines\[1\]\.line: 3, expected 2"):
        b.send(
            "create",
            {
                "region": LANSHAN,
                "month": "2026-03",
                "lines": [_line(1, P1, "sa-1"), _line(3, P2, "sa-2")],
            },
        )
    with pytest.raises(CommandRejectedError, match="sa-1 2026-03 is line 1 already"):
        b.send(
            "create",
            {
                "region": LANSHAN,
                "month": "2026-03",
                "lines": [_line(1, P1, "sa-1"), _line(2, P1, "sa-1")],
            },
        )
    with pytest.raises(CommandRejectedError, match="not a county") as city:
        b.send("create", {"region": "371300", "month": "2026-03", "lines": [_line(1, P1, "sa-1")]})
    assert city.value.code == "invalid"
    [created] = b.send(
        "create",
        {
            "region": LANSHAN,
            "month": "2026-03",
            "lines": [_line(1, P1, "sa-1"), _line(2, P2, "sa-2")],
        },
    )
    p = created.payload_dict()
    assert (created.region, p["count"], p["total"]) == (LANSHAN, 2, "3000.00")
    with pytest.raises(CommandRejectedError, match="exists") as twice:
        b.send("create", {"region": LANSHAN, "month": "2026-03", "lines": [_line(1, P1, "sa-1")]})
    assert twice.value.code == "conflict"


def test_an_export_must_match_the_batch_and_a_return_needs_an_export(batch: Batch) -> None:
    with pytest.raises(CommandRejectedError, match="never exported"):
        batch.send("reconcile", {"file_sha256": SHA, "results": [{"line": 1, "outcome": "paid"}]})
    with pytest.raises(CommandRejectedError, match="the batch has 2 totalling 2100.00") as stale:
        batch.send("export", {"file_sha256": SHA, "count": 1, "total": "1500.00"})
    assert stale.value.code == "conflict"
    [exported] = batch.send("export", {"file_sha256": SHA, "count": 2, "total": "2100.00"})
    assert exported.event_type == "payment_batch.exported" and batch.state.exports == 1


def test_the_return_is_taken_line_by_line_and_a_line_once(batch: Batch) -> None:
    batch.send("export", {"file_sha256": SHA, "count": 2, "total": "2100.00"})
    with pytest.raises(CommandRejectedError, match="line 3: the batch has lines 1-2"):
        batch.send("reconcile", {"file_sha256": SHA, "results": [{"line": 3, "outcome": "paid"}]})
    with pytest.raises(CommandRejectedError, match="the bank paid 1000.00, the line asks 1500.00"):
        batch.send(
            "reconcile",
            {"file_sha256": SHA, "results": [{"line": 1, "outcome": "paid", "amount": "1000.00"}]},
        )
    [first] = batch.send(
        "reconcile",
        {"file_sha256": SHA, "results": [{"line": 1, "outcome": "paid", "paid_on": "2026-03-24"}]},
    )
    p = first.payload_dict()
    assert (p["paid"], p["failed"], p["paid_total"], p["complete"]) == (1, 0, "1500.00", False)
    assert p["results"] == [
        {
            "line": 1,
            "outcome": "paid",
            "amount": "1500.00",
            "paid_on": "2026-03-24",
            "person_id": P1,
            "application_id": "sa-1",
            "subsidy": "job_search_one_time",
            "month": "2026-03",
        }
    ]
    # the whole file again, now with line 2 failed: line 1 is not answered twice
    [second] = batch.send(
        "reconcile",
        {
            "file_sha256": SHA,
            "results": [
                {"line": 1, "outcome": "paid"},
                {"line": 2, "outcome": "failed", "reason": "账户已销户"},
            ],
        },
    )
    p = second.payload_dict()
    assert [r["line"] for r in p["results"]] == [2] and p["complete"] is True
    assert p["results"][0]["reason"] == "账户已销户" and "amount" not in p["results"][0]
    assert (
        batch.send("reconcile", {"file_sha256": SHA, "results": [{"line": 2, "outcome": "failed"}]})
        == []
    )
    with pytest.raises(CommandRejectedError, match="reconciled as paid already") as changed:
        batch.send("reconcile", {"file_sha256": SHA, "results": [{"line": 1, "outcome": "failed"}]})
    assert changed.value.code == "conflict"
    assert batch.state.complete


def test_each_paid_line_becomes_the_persons_payment_once(batch: Batch) -> None:
    batch.send("export", {"file_sha256": SHA, "count": 2, "total": "2100.00"})
    [event] = batch.send(
        "reconcile",
        {
            "file_sha256": SHA,
            "results": [
                {"line": 1, "outcome": "paid", "paid_on": "2026-03-24"},
                {"line": 2, "outcome": "failed", "reason": "户名不符"},
            ],
        },
    )
    reactions = MoneyReactions()
    [paid] = reactions.react(event)
    assert (paid.command_type, paid.aggregate_id) == ("person.record_payment", P1)
    assert paid.payload == {
        "application_id": "sa-1",
        "month": "2026-03",
        "amount": "1500.00",
        "batch_id": BATCH,
        "paid_on": "2026-03-24",
    }
    # the same event read again after a restart: the same command id
    assert [r.command_id for r in reactions.react(event)] == [paid.command_id]
    assert reactions.react(batch.events[0]) == []  # created: nothing to do
