"""What each kind of fraud rule finds (``projections.fraud_queries``) against the real
embedded ClickHouse (chDB): a known history with one case of every kind and, beside each,
the look-alike a rule must not flag (a family sharing an account, a payment before the
death, a subsidy already ordered back, the employer's own contributions)."""

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
from events.identity import make_uscc
from events.regions import load_reference
from projections import fraud_queries as q
from projections.client import Store
from projections.migrations import migrate
from projections.rows import COLUMNS, to_row
from subsidies.fraud_rules import load_fraud_rules

ROOT = Path(__file__).parents[2]
LANSHAN, LIXIA = "371302", "370102"
P = [f"p_{n:032x}" for n in range(0, 14)]
E1, E2 = make_uscc("91370100MA3C8K5X1"), make_uscc("91371300MA3C8K5X1")


def _at(day: int) -> dt.datetime:
    return dt.datetime(2026, 3, 1, 9, tzinfo=SHANGHAI) + dt.timedelta(days=day)


def _e(
    kind: str, person: str, day: int, region: str = LANSHAN, actor: str = "wang", **payload: Any
) -> Envelope:
    return internal_event(
        kind,
        region=region,
        aggregate_id=person,
        actor=actor,
        source="test",
        payload={"person_id": person} | payload,
        occurred_at=_at(day),
    )


def _app(
    n: int,
    subsidy: str,
    paid: str | None,
    month: str = "2026-03",
    day: int = 10,
    region: str = LANSHAN,
    **applied: Any,
) -> list[Envelope]:
    app = {"application_id": f"sa-{n}", "subsidy": subsidy}
    approver = applied.pop("approver", "chen")
    out = [
        _e("subsidy.applied", P[n], day - 9, region, policy=subsidy, **app, **applied),
        _e(
            "subsidy.approved",
            P[n],
            day - 8,
            region,
            actor=approver,
            approved_on="2026-03-02",
            **app,
        ),
        _e("subsidy.entitled", P[n], day - 8, region, amount=paid or "0", month=month, **app),
    ]
    if paid:
        out.append(
            _e(
                "subsidy.paid",
                P[n],
                day,
                region,
                amount=paid,
                month=month,
                **app,
                actor="eams.casework",
                batch_id="pb-1",
            )
        )
    return out


def _household(n: int, household: str) -> Envelope:
    return _e(
        "person.registered",
        P[n],
        -30,
        target_group="employment_difficulty",
        employment_status="unemployed",
        household_id=household,
    )


def history() -> list[Envelope]:
    out = [_household(n, f"H{n}") for n in range(1, 14)]
    # 1: paid by EAMS in 兰山区 and by 历下区's ledger for the same month (the ledger first)
    out += _app(1, "job_search_one_time", "1500.00", day=12)
    out.append(
        _e(
            "subsidy.payment_reported",
            P[1],
            5,
            LIXIA,
            subsidy="job_search_one_time",
            month="2026-03",
            amount="1500.00",
            ledger="LX-0311",
            actor="ledger-import",
        )
    )
    # 2: died in February, paid for March (and January, before: not flagged)
    out.append(
        _e(
            "person.facts_recorded",
            P[2],
            2,
            facts={"deceased": True, "died_on": "2026-02-03"},
            observed_on="2026-03-03",
            source="civil_affairs",
        )
    )
    out += _app(2, "post", "600.00", facts={"employer_uscc": E1})
    out += [
        _e(
            "subsidy.paid",
            P[2],
            1,
            application_id="sa-2",
            subsidy="post",
            amount="600.00",
            month="2026-01",
        )
    ]
    # 3: a welfare post paid while another employer insured the person; 4: its own employer
    out += _app(3, "welfare_post_pay", "1100.00")
    out.append(
        _e(
            "social_insurance.contribution_reported",
            P[3],
            15,
            month="2026-03",
            employer_uscc=E2,
            employer_name="某某物流公司",
        )
    )
    out += _app(4, "post", "600.00", facts={"employer_uscc": E1, "contract_months": 24})
    out.append(
        _e("social_insurance.contribution_reported", P[4], 15, month="2026-03", employer_uscc=E1)
    )
    # 5 and 6 (two households) share an account; 7 and 8 (one household) share another
    shared, family = "a_" + "5" * 32, "a_" + "7" * 32
    out += _app(
        5, "start_up", "10000.00", payee_account_ref=shared, payee_account_masked="****5555"
    )
    out += _app(
        6, "start_up", "10000.00", payee_account_ref=shared, payee_account_masked="****5555"
    )
    out += [_household(7, "HF"), _household(8, "HF")]
    out += _app(7, "training", "800.00", payee_account_ref=family, payee_account_masked="****7777")
    out += _app(8, "training", "800.00", payee_account_ref=family, payee_account_masked="****7777")
    # 9: an enterprise's post subsidy for a 3-month contract
    out += _app(
        9,
        "post",
        "600.00",
        facts={"employer_uscc": E2, "contract_months": 3, "hired_on": "2026-02-01"},
    )
    # 10: the graduates' subsidy, the household found not low-income; 11: the same, but
    # already ordered back in full by the correction
    for n in (10, 11):
        out += _app(n, "job_search_one_time", "1500.00")
        out.append(
            _e(
                "person.facts_recorded",
                P[n],
                20,
                facts={"low_income": False, "minimum_living_allowance": False},
                observed_on="2026-03-21",
                source="correction",
            )
        )
    out.append(
        _e(
            "subsidy.recovery_ordered",
            P[11],
            21,
            application_id="sa-11",
            subsidy="job_search_one_time",
            amount="1500.00",
            order_id="ro-1",
            reason="更正",
            ordered_on="2026-03-22",
        )
    )
    # 12: approved by chen, whose own person (13) is of the same household
    out += [_household(12, "HC"), _household(13, "HC")]
    out += _app(12, "start_up", "10000.00", approver="chen")
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("fraud-chdb")
    reference = load_reference("shandong")
    rows = [to_row(orjson.loads(e.to_json()), 0, n, reference) for n, e in enumerate(history())]
    s = Store(f"chdb://{path}")
    try:
        migrate(s)
        s.insert_columns("events", list(zip(*rows, strict=True)), COLUMNS)
        yield s
    finally:
        s.close()


RULES = {r.id: r for r in load_fraud_rules(ROOT / "deploy" / "fraud" / "rules.yaml").rules}


def _found(store: Store, rule: str, staff: dict[str, str] | None = None) -> list[q.Finding]:
    return q.run_rule(store, RULES[rule], staff)


def test_the_same_month_paid_by_eams_and_another_countys_ledger(store: Store) -> None:
    [dup] = _found(store, "duplicate_payment")
    assert (dup.persons, dup.amount, dup.application_id) == ([P[1]], Decimal("1500.00"), "sa-1")
    assert dup.region == LANSHAN  # the county that paid second, and recovers
    assert dup.recoveries == [{"person_id": P[1], "application_id": "sa-1", "amount": "1500.00"}]
    assert [e["region"] for e in dup.evidence] == [LIXIA, LANSHAN]
    assert "ledger" in dup.evidence[0]["what"] and dup.evidence[0]["event_id"]
    assert q.case_id("duplicate_payment", dup.key) == q.case_id("duplicate_payment", dup.key)


def test_payments_for_months_after_a_death(store: Store) -> None:
    [dead] = _found(store, "paid_after_death")
    assert dead.persons == [P[2]] and dead.amount == Decimal("600.00")
    assert [e.get("month") for e in dead.evidence] == [None, "2026-03"]  # January: alive


def test_paid_while_another_employer_insured_the_person(store: Store) -> None:
    [found] = _found(store, "paid_while_employed_elsewhere")
    assert found.persons == [P[3]] and "某某物流公司" in found.detail


def test_one_account_of_unrelated_persons_not_a_familys(store: Store) -> None:
    [shared] = _found(store, "shared_account")
    assert shared.persons == [P[5], P[6]] and shared.amount == Decimal("20000.00")
    assert shared.recoveries == []  # the auditor decides what is owed


def test_an_enterprises_claim_for_a_short_hire(store: Store) -> None:
    [short] = _found(store, "short_hire")
    assert short.application_id == "sa-9" and "3 months" in short.detail


def test_the_graduates_subsidy_to_a_household_not_low_income(store: Store) -> None:
    [grad] = _found(store, "graduate_not_low_income")
    assert grad.application_id == "sa-10"  # sa-11 is ordered back already


def test_an_approval_for_the_approvers_household(store: Store) -> None:
    assert _found(store, "officer_relative") == []  # nobody linked
    [rel] = _found(store, "officer_relative", {"chen": P[13], "li": P[1]})
    assert rel.application_id == "sa-12" and "chen" in rel.detail
