"""Fraud supervision, pure: the rules file checked line by line, a case raised once
(found again: nothing; dismissed: never again), decided once with its reason, and a
confirmed case's recoveries becoming the persons' recovery orders with ids derived from the
case and the application."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from events.clock import SHANGHAI
from events.commands import Command, event_id_for
from events.envelope import Envelope, internal_event
from events.errors import CommandRejectedError
from subsidies.fraud import FraudCase, FraudCaseAggregate
from subsidies.fraud_rules import lint_fraud_rules, load_fraud_rules
from subsidies.reactions import MoneyReactions

ROOT = Path(__file__).parents[2]
NOW = dt.datetime(2026, 4, 2, 10, tzinfo=SHANGHAI)
CASE = "fc-duplicate_payment-0123456789abcdef"
P1 = "p_" + "1" * 32
FOUND = {
    "region": "370702",
    "rule": "duplicate_payment",
    "kind": "duplicate_payment",
    "title": "同一人同一期间重复领取 / Paid twice for one period",
    "persons": [P1],
    "application_id": "sa-1",
    "amount": "1500.00",
    "detail": "paid twice",
    "evidence": [
        {"what": "县区发放台账 ledger 371302", "person_id": P1, "amount": "1500.00"},
        {"what": "EAMS 发放 370702", "person_id": P1, "application_id": "sa-1"},
    ],
    "recoveries": [{"person_id": P1, "application_id": "sa-1", "amount": "1500.00"}],
    "found_on": "2026-04-02",
}


class Case:
    def __init__(self) -> None:
        self.aggregate = FraudCaseAggregate()
        self.state: FraudCase = self.aggregate.initial(CASE)

    def send(
        self, verb: str, payload: dict[str, Any], actor: str = "auditor-sun"
    ) -> list[Envelope]:
        command = Command(
            command_id=uuid.uuid4(),
            command_type=f"fraud_case.{verb}",
            aggregate_id=CASE,
            actor=actor,
            source="test",
            issued_at=NOW,
            payload=payload,
        )
        out = []
        for i, change in enumerate(self.aggregate.decide(self.state, command, NOW)):
            event = internal_event(
                change.event_type,
                region=change.region or "",
                aggregate_id=CASE,
                actor=actor,
                source="test",
                payload=dict(change.payload),
                event_id=event_id_for(command.command_id, i),
                occurred_at=NOW,
            )
            self.state = self.aggregate.apply(self.state, event)
            out.append(event)
        return out


def test_the_shipped_rules_load_and_a_bad_file_is_told_line_by_line(tmp_path: Path) -> None:
    rules = load_fraud_rules(ROOT / "deploy" / "fraud" / "rules.yaml")
    assert len(rules.enabled()) == 7 and rules.get("shared_account").min_persons == 2  # type: ignore[union-attr]
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "version: 1\nrules:\n  - id: dup\n    kind: duplicate_paymnt\n    title: x\n"
        "    title_en: y\n  - id: sa\n    kind: shared_account\n    title: x\n"
        "    title_en: y\n    min_person: 3\n  - id: dup\n    kind: paid_after_death\n"
        "    title: x\n    title_en: y\n"
    )
    problems = lint_fraud_rules(bad)
    assert problems[0] == (
        f"{bad}:4: rules[0].kind: unknown kind 'duplicate_paymnt'; did you "
        "mean 'duplicate_payment'? (one of duplicate_payment, paid_after_death, "
        "paid_while_employed_elsewhere, shared_account, short_hire, "
        "graduate_not_low_income, officer_relative)"
    )
    assert problems[1] == (
        f"{bad}:11: rules[1].min_person: unknown key 'min_person' for a "
        "shared_account rule; did you mean 'min_persons'?"
    )
    bad.write_text(
        "version: 1\nrules:\n  - id: ab\n    kind: short_hire\n    title: x\n"
        "    title_en: y\n    min_months: 0\n"
    )
    assert lint_fraud_rules(bad) == [
        f"{bad}:3: rules[0]: missing key 'subsidies'",
        f"{bad}:7: rules[0].min_months: Input should be greater than or equal to 1",
    ]


def test_a_case_is_raised_once_and_decided_once_with_its_reason() -> None:
    case = Case()
    with pytest.raises(CommandRejectedError, match="there is no fraud case") as none:
        case.send("confirm", {"reason": "x"})
    assert none.value.code == "not_found"
    [raised] = case.send("suspect", FOUND, actor="eams.supervision")
    p = raised.payload_dict()
    assert (raised.region, p["person_id"], p["case_id"], p["amount"]) == (
        "370702",
        P1,
        CASE,
        "1500.00",
    )
    assert case.send("suspect", FOUND, actor="eams.supervision") == []  # found again
    [confirmed] = case.send("confirm", {"reason": "两县重复发放，台账核实"})
    c = confirmed.payload_dict()
    assert c["recoveries"] == FOUND["recoveries"] and c["amount_to_recover"] == "1500.00"
    assert c["reason"] == "两县重复发放，台账核实" and confirmed.actor == "auditor-sun"
    with pytest.raises(CommandRejectedError, match="was confirmed already") as twice:
        case.send("dismiss", {"reason": "x"})
    assert twice.value.code == "conflict"


def test_a_dismissed_case_is_not_raised_again_and_the_auditor_may_name_the_recoveries() -> None:
    case = Case()
    case.send("suspect", FOUND, actor="eams.supervision")
    [dismissed] = case.send("dismiss", {"reason": "同一笔发放，台账重复录入"})
    assert dismissed.payload_dict()["reason"] == "同一笔发放，台账重复录入"
    assert case.send("suspect", FOUND, actor="eams.supervision") == []
    other = Case()
    other.send("suspect", FOUND, actor="eams.supervision")
    stranger = [{"person_id": "p_" + "9" * 32, "application_id": "sa-9", "amount": "750.00"}]
    with pytest.raises(
        CommandRejectedError, match=r"recoveries\[0\]\.person_id: .* is not a person of"
    ) as other_person:
        other.send("confirm", {"reason": "借机追回他人", "recoveries": stranger})
    assert other_person.value.code == "forbidden"
    half = [{"person_id": P1, "application_id": "sa-1", "amount": "750.00"}]
    [confirmed] = other.send("confirm", {"reason": "部分重复", "recoveries": half})
    assert confirmed.payload_dict()["amount_to_recover"] == "750.00"


def test_a_confirmed_case_orders_each_recovery_back_on_the_persons_case() -> None:
    case = Case()
    case.send("suspect", FOUND, actor="eams.supervision")
    [confirmed] = case.send("confirm", {"reason": "两县重复发放"})
    reactions = MoneyReactions()
    [order] = reactions.react(confirmed)
    assert (order.command_type, order.aggregate_id) == ("person.order_recovery", P1)
    assert order.payload["fraud_case_id"] == CASE and order.payload["amount"] == "1500.00"
    assert "两县重复发放" in order.payload["reason"]
    assert [r.command_id for r in reactions.react(confirmed)] == [order.command_id]
