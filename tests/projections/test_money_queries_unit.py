"""The money's read models and queries (migration 0011, ``projections.money_queries``)
against the real embedded ClickHouse (chDB): what a county's next batch takes (a month's
latest entitlement less what was paid; nothing in a batch the bank has not answered or
paid; a failed line again; nothing stopped, later or elsewhere), the batches with what the
bank answered, and a person's applications with their months and what they were ordered
to pay back (orders less their cuts, migration 0013)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from events.clock import SHANGHAI
from events.envelope import Envelope, internal_event
from events.regions import load_reference
from projections import money_queries as q
from projections.client import Store
from projections.migrations import migrate
from projections.rows import COLUMNS, to_row

LANSHAN, LIXIA = "371302", "370102"
P1, P2, P3, P4, P5 = (f"p_{n:032x}" for n in range(1, 6))
B1, B2 = "pb-371302-2026-02-1", "pb-371302-2026-03-1"
REF = "a_" + "c" * 32


def _at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 3, 1, hour, tzinfo=SHANGHAI) + dt.timedelta(days=day)


def _e(kind: str, region: str, key: str, day: int, **payload: Any) -> Envelope:
    person = {"person_id": key} if key.startswith("p_") else {}
    return internal_event(
        kind,
        region=region,
        aggregate_id=key,
        actor=payload.pop("actor", "chen"),
        source="eams.cases",
        payload=person | payload,
        occurred_at=_at(day),
    )


def _money(kind: str, person: str, app: str, day: int, region: str = LANSHAN, **p: Any) -> Envelope:
    return _e(f"subsidy.{kind}", region, person, day, application_id=app, subsidy="post", **p)


def _line(n: int, person: str, app: str, month: str, amount: str) -> dict[str, Any]:
    return {
        "line": n,
        "person_id": person,
        "application_id": app,
        "subsidy": "post",
        "month": month,
        "amount": amount,
        "name_masked": "张*",
    }


def history() -> list[Envelope]:
    return [
        _e(
            "person.registered",
            LANSHAN,
            P1,
            -40,
            target_group="employment_difficulty",
            employment_status="unemployed",
            name_masked="张*",
            registered_on="2026-01-20",
        ),
        _money(
            "applied",
            P1,
            "sa-1",
            -30,
            policy="post",
            payee_account_ref=REF,
            payee_account_masked="****8901",
            actor="wang",
        ),
        _money("approved", P1, "sa-1", -29, approved_on="2026-01-31", version="371300@2"),
        _money("entitled", P1, "sa-1", -29, amount="1500.00", month="2026-02"),
        _money("paid", P1, "sa-1", -10, amount="1500.00", month="2026-02", batch_id=B1),
        _money("entitled", P1, "sa-1", 1, amount="1500.00", month="2026-03"),
        _money("entitled", P1, "sa-1", 5, amount="1000.00", month="2026-03", reason="更正"),
        _money("entitled", P1, "sa-1", 31, amount="1500.00", month="2026-04"),  # later
        _money(
            "recovery_ordered",
            P1,
            "sa-1",
            6,
            order_id="ro-1",
            amount="500.00",
            reason="更正",
            ordered_on="2026-03-07",
        ),  # fmt: skip
        # the correction undone: the order cut (the latest event: not the status)
        _money(
            "recovery_cancelled",
            P1,
            "sa-1",
            32,
            order_id="ro-1",
            amount="200.00",
            reason="复议",
            cancelled_on="2026-04-02",
        ),  # fmt: skip
        _money("entitled", P2, "sa-2", 1, amount="600.00", month="2026-03"),  # in B2, unanswered
        _money("entitled", P3, "sa-3", -29, amount="800.00", month="2026-02"),  # B1 failed
        _money("entitled", P4, "sa-4", 1, amount="700.00", month="2026-03", region=LIXIA),
        _money("entitled", P5, "sa-5", 1, amount="900.00", month="2026-03"),
        _money("stopped", P5, "sa-5", 2, reason="更正", from_month="2026-03"),
        _e(
            "payment_batch.created",
            LANSHAN,
            B1,
            -12,
            batch_id=B1,
            month="2026-02",
            count=2,
            total="2300.00",
            lines=[
                _line(1, P1, "sa-1", "2026-02", "1500.00"),
                _line(2, P3, "sa-3", "2026-02", "800.00"),
            ],
        ),
        _e(
            "payment_batch.reconciled",
            LANSHAN,
            B1,
            -10,
            batch_id=B1,
            file_sha256="0" * 64,
            paid=1,
            failed=1,
            paid_total="1500.00",
            complete=True,
            results=[
                {
                    "line": 1,
                    "outcome": "paid",
                    "amount": "1500.00",
                    "paid_on": "2026-02-19",
                    "person_id": P1,
                    "application_id": "sa-1",
                    "subsidy": "post",
                    "month": "2026-02",
                },
                {
                    "line": 2,
                    "outcome": "failed",
                    "reason": "账户已销户",
                    "person_id": P3,
                    "application_id": "sa-3",
                    "subsidy": "post",
                    "month": "2026-02",
                },
            ],
        ),
        _e(
            "payment_batch.created",
            LANSHAN,
            B2,
            3,
            batch_id=B2,
            month="2026-03",
            count=1,
            total="600.00",
            lines=[_line(1, P2, "sa-2", "2026-03", "600.00")],
        ),
        _e(
            "payment_batch.exported",
            LANSHAN,
            B2,
            3,
            batch_id=B2,
            file_sha256="1" * 64,
            count=1,
            total="600.00",
        ),
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A migrated chDB store holding the history, written in two blocks out of order."""
    path: Path = tmp_path_factory.mktemp("money-chdb")
    reference = load_reference("shandong")
    events = history()
    rows = [to_row(orjson.loads(e.to_json()), 0, n, reference) for n, e in enumerate(events)]
    s = Store(f"chdb://{path}")
    try:
        migrate(s)
        for block in (rows[1::2], rows[::2]):
            s.insert_columns("events", list(zip(*block, strict=True)), COLUMNS)
        yield s
    finally:
        s.close()


def test_a_countys_next_batch_takes_what_is_due_and_not_held(store: Store) -> None:
    due = q.due_lines(store, LANSHAN, "2026-03")
    assert [(r["application_id"], r["month"], r["amount"]) for r in due] == [
        ("sa-3", "2026-02", Decimal("800.00")),  # the bank failed it: due again
        ("sa-1", "2026-03", Decimal("1000.00")),  # the corrected entitlement
    ]
    assert due[1]["account_ref"] == REF and due[1]["account_masked"] == "****8901"
    assert due[1]["name_masked"] == "张*" and due[1]["person_id"] == P1
    assert [r["application_id"] for r in q.due_lines(store, LANSHAN, "2026-02")] == ["sa-3"]
    assert [r["application_id"] for r in q.due_lines(store, LIXIA, "2026-03")] == ["sa-4"]


def test_batches_say_what_the_bank_paid_failed_and_has_not_answered(store: Store) -> None:
    got = {b["batch_id"]: b for b in q.batches(store, [LANSHAN])}
    assert set(got) == {B1, B2}
    b1, b2 = got[B1], got[B2]
    assert (b1["lines"], b1["total"], b1["paid"], b1["paid_total"], b1["failed"]) == (
        2,
        Decimal("2300.00"),
        1,
        Decimal("1500.00"),
        1,
    )
    assert (b1["unanswered"], b1["exports"], b1["month"]) == (0, 0, "2026-02")
    assert (b2["lines"], b2["unanswered"], b2["exports"]) == (1, 1, 1)
    assert [b["batch_id"] for b in q.batches(store, ["371300"])] == [
        B2,
        B1,
    ]  # the city: newest first
    assert q.batches(store, ["370100"]) == []
    lines = q.batch_lines(store, B1)
    assert [(r["line"], r["outcome"], r["reason"], r["paid_on"]) for r in lines] == [
        (1, "paid", "", dt.date(2026, 2, 19)),
        (2, "failed", "账户已销户", None),
    ]


def test_a_persons_applications_with_their_months(store: Store) -> None:
    [app] = q.applications_of(store, P1)
    assert (app["application_id"], app["status"], app["applicant"], app["policy"]) == (
        "sa-1",
        "entitled",
        "wang",
        "post",
    )
    assert app["paid"] == Decimal("1500.00") and app["approved_on"] == dt.date(2026, 1, 31)
    assert app["ordered"] == Decimal("300.00")  # 500 ordered back, 200 of it cut
    assert [(m["month"], m["entitled"], m["paid"]) for m in app["months"]] == [
        ("2026-02", Decimal("1500.00"), Decimal("1500.00")),
        ("2026-03", Decimal("1000.00"), Decimal("0.00")),
        ("2026-04", Decimal("1500.00"), Decimal("0.00")),
    ]
    assert q.applications_of(store, "p_" + "f" * 32) == []
