"""What each kind of fraud rule finds in the read models (``subsidies.fraud_rules`` says
which rules run, with which thresholds), and the fraud cases and their figures.

A :class:`Finding` is one case a rule would raise: a key (the same facts give the same
key, so a finding seen again is the same case), the county, the persons, what is at risk,
the evidence (each fact with the event it is in) and the recoveries it proposes. Money
already ordered back in full (a corrected fact's recovery) is not found again.

Payments are EAMS's own (``subsidy.paid``) and those the counties' ledgers report
(``subsidy.payment_reported``); deaths come from ``person.facts_recorded`` with ``died_on``;
employment from ``social_insurance.contribution_reported``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from events.labels import label
from projections.client import Store, aware
from projections.money_queries import APPLICATIONS

__all__ = ["Finding", "case_id", "fraud_cases", "fraud_summary", "run_rule"]

_ZERO = Decimal(0)
_AMOUNT = "toDecimal128OrZero(trim(BOTH '\"' FROM JSONExtractRaw(payload, 'amount')), 2)"

#: Every payment, EAMS's and the ledgers', with whether its application is ordered back in full.
PAYMENTS = """
SELECT toString(p.event_id) AS event_id, p.person_id AS person_id, toString(p.region) AS region,
       JSONExtractString(p.payload, 'subsidy') AS subsidy,
       if(JSONExtractString(p.payload, 'month') != '', JSONExtractString(p.payload, 'month'),
          formatDateTime(p.occurred_at, '%Y-%m')) AS month,
       toDecimal128OrZero(trim(BOTH '"' FROM JSONExtractRaw(p.payload, 'amount')), 2) AS amount,
       JSONExtractString(p.payload, 'application_id') AS application_id,
       p.event_type = 'subsidy.payment_reported' AS reported,
       p.occurred_at AS occurred_at, p.kafka_offset AS kafka_offset
FROM events AS p
WHERE p.event_type IN ('subsidy.paid', 'subsidy.payment_reported') AND p.person_id != ''
"""
#: Applications paid and ordered back in full already.
SETTLED = """
SELECT application_id FROM money_applications GROUP BY application_id
HAVING sum(ordered) >= sum(paid) AND sum(paid) > 0
"""


def case_id(rule: str, key: str) -> str:
    """The case of ``rule`` for ``key``: the same finding, the same case."""
    return f"fc-{rule}-" + hashlib.sha256(f"{rule}|{key}".encode()).hexdigest()[:16]


@dataclass
class Finding:
    """One case a rule found."""

    key: str
    region: str
    persons: list[str]
    amount: Decimal
    detail: str
    evidence: list[dict[str, Any]]
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    application_id: str | None = None


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _item(what: str, row: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    out = {"what": what[:500]}
    for key in ("person_id", "application_id", "region", "month", "event_id"):
        if row.get(key):
            out[key] = str(row[key])
    if row.get("amount") is not None:
        out["amount"] = str(_money(row["amount"]))
    return out | more


def _recover(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The EAMS payments of ``rows`` as recoveries, summed per application."""
    by_app: dict[tuple[str, str], Decimal] = {}
    for r in rows:
        if not r["reported"] and r["application_id"]:
            key = (str(r["person_id"]), str(r["application_id"]))
            by_app[key] = by_app.get(key, _ZERO) + _money(r["amount"])
    return [
        {"person_id": p, "application_id": a, "amount": str(v)}
        for (p, a), v in sorted(by_app.items())
    ]


def _payments(
    store: Store, where: str = "1 = 1", params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM ({PAYMENTS}) WHERE application_id NOT IN ({SETTLED}) AND {where}"
    return store.dicts(sql + " ORDER BY occurred_at, kafka_offset", dict(params or {}))


def _duplicate_payment(store: Store, rule: Any) -> list[Finding]:
    rows = _payments(store)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["person_id"], r["subsidy"], r["month"]), []).append(r)
    out = []
    for (person, subsidy, month), paid in sorted(groups.items()):
        if len(paid) < 2:
            continue
        first, later = paid[0], paid[1:]
        counties = sorted({r["region"] for r in paid})
        evidence = [
            _item("县区发放台账 ledger" if r["reported"] else "EAMS 发放 paid", r) for r in paid
        ]
        out.append(
            Finding(
                key=f"{person}|{subsidy}|{month}",
                # the county that paid after the first (it orders back), else the first's
                region=next((r["region"] for r in later if not r["reported"]), first["region"]),
                persons=[person],
                amount=sum((_money(r["amount"]) for r in later), _ZERO),
                detail=f"{label(subsidy)} {month} 发放 {len(paid)} 次（{len(counties)} 个县区） / "
                f"{label(subsidy, 'en')} {month}: paid {len(paid)} times, {len(counties)} counties",
                evidence=evidence,
                recoveries=_recover(later),
                application_id=next(
                    (r["application_id"] for r in later if not r["reported"]), None
                ),
            )
        )
    return out


def _paid_after_death(store: Store, rule: Any) -> list[Finding]:
    deaths = store.dicts(
        """
        SELECT person_id, toString(argMax(event_id, (occurred_at, kafka_offset))) AS event_id,
               argMax(JSONExtractString(payload, 'facts', 'died_on'), (occurred_at,
                   kafka_offset)) AS died_on,
               argMax(toString(region), (occurred_at, kafka_offset)) AS region
        FROM events
        WHERE event_type = 'person.facts_recorded' AND person_id != ''
          AND JSONExtractString(payload, 'facts', 'died_on') != ''
        GROUP BY person_id
        """
    )
    if not deaths:
        return []
    died = {d["person_id"]: d for d in deaths}
    rows = _payments(store, "person_id IN {persons:Array(String)}", {"persons": sorted(died)})
    out = []
    for person, death in sorted(died.items()):
        after = [r for r in rows if r["person_id"] == person and r["month"] > death["died_on"][:7]]
        if not after:
            continue
        evidence = [_item(f"死亡记录 died {death['died_on']}", death)]
        evidence += [_item(f"死亡后发放 paid for {r['month']}", r) for r in after]
        out.append(
            Finding(
                key=person,
                region=after[0]["region"],
                persons=[person],
                amount=sum((_money(r["amount"]) for r in after), _ZERO),
                detail=f"died {death['died_on']}; {len(after)} payments for later months",
                evidence=evidence[:64],
                recoveries=_recover(after),
            )
        )
    return out


def _contributions(store: Store, persons: list[str]) -> list[dict[str, Any]]:
    if not persons:
        return []
    return store.dicts(
        """
        SELECT toString(event_id) AS event_id, person_id, toString(region) AS region,
               JSONExtractString(payload, 'month') AS month,
               JSONExtractString(payload, 'employer_uscc') AS employer_uscc,
               JSONExtractString(payload, 'employer_name') AS employer_name
        FROM events
        WHERE event_type = 'social_insurance.contribution_reported'
          AND person_id IN {persons:Array(String)}
        ORDER BY month
        """,
        {"persons": persons},
    )


def _applications(store: Store, where: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    sql = APPLICATIONS.format(prewhere="", where=where)
    return store.dicts(sql + " ORDER BY application_id", dict(params))


def _paid_while_employed_elsewhere(store: Store, rule: Any) -> list[Finding]:
    kinds = [str(getattr(s, "value", s)) for s in rule.subsidies]
    rows = _payments(store, "subsidy IN {kinds:Array(String)} AND NOT reported", {"kinds": kinds})
    if not rows:
        return []
    apps = {
        a["application_id"]: a
        for a in _applications(
            store,
            "application_id IN {ids:Array(String)}",
            {"ids": sorted({r["application_id"] for r in rows})},
        )
    }
    work = _contributions(store, sorted({r["person_id"] for r in rows}))
    out = []
    for r in rows:
        own = (apps.get(r["application_id"]) or {}).get("employer_uscc") or ""
        elsewhere = [
            c
            for c in work
            if c["person_id"] == r["person_id"]
            and c["month"] == r["month"]
            and c["employer_uscc"]
            and c["employer_uscc"] != own
        ]
        if not elsewhere:
            continue
        c = elsewhere[0]
        employer = c["employer_name"] or c["employer_uscc"]
        out.append(
            Finding(
                key=f"{r['application_id']}|{r['month']}",
                region=r["region"],
                persons=[r["person_id"]],
                amount=_money(r["amount"]),
                detail=f"{r['subsidy']} {r['month']} paid while insured by {employer}",
                evidence=[
                    _item(f"发放 paid {r['subsidy']}", r),
                    _item(f"社保缴费 insured by {employer}", c),
                ],
                recoveries=_recover([r]),
                application_id=r["application_id"],
            )
        )
    return out


def _households(store: Store, persons: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(persons))
    if not wanted:
        return {}
    rows = store.rows(
        "SELECT person_id, argMaxMerge(household_id) FROM case_ledger "
        "WHERE person_id IN {persons:Array(String)} GROUP BY person_id",
        {"persons": wanted},
    )
    return {str(p): str(h) for p, h in rows}


def _shared_account(store: Store, rule: Any) -> list[Finding]:
    apps = _applications(store, "account_ref != ''", {})
    by_account: dict[str, list[dict[str, Any]]] = {}
    for a in apps:
        by_account.setdefault(a["account_ref"], []).append(a)
    shared = {
        k: v for k, v in by_account.items() if len({a["person_id"] for a in v}) >= rule.min_persons
    }
    homes = _households(store, (a["person_id"] for v in shared.values() for a in v))
    out = []
    for account, held in sorted(shared.items()):
        persons = sorted({a["person_id"] for a in held})
        households = {homes.get(p, "") for p in persons}
        if len(households) == 1 and "" not in households:
            continue  # one household's members: a family account
        out.append(
            Finding(
                key=account,
                region=held[0]["region"],
                persons=persons,
                amount=sum((_money(a["paid"]) for a in held), _ZERO),
                detail=f"account {held[0]['account_masked']} on the applications of {len(persons)} "
                "persons of different households",
                evidence=[
                    _item(
                        f"收款账户 {a['account_masked']} {a['subsidy']}", a | {"amount": a["paid"]}
                    )
                    for a in held
                ][:64],
            )
        )
    return out


def _short_hire(store: Store, rule: Any) -> list[Finding]:
    kinds = [str(getattr(s, "value", s)) for s in rule.subsidies]
    apps = _applications(
        store,
        "subsidy IN {kinds:Array(String)} AND employer_uscc != '' AND paid > ordered",
        {"kinds": kinds},
    )
    if not apps:
        return []
    facts = {
        str(a): (c, h)
        for a, c, h in store.rows(
            "SELECT JSONExtractString(payload, 'application_id'), "
            "JSONExtractInt(payload, 'facts', 'contract_months'), "
            "JSONExtractString(payload, 'facts', 'hired_on') FROM events "
            "WHERE event_type = 'subsidy.applied' AND JSONExtractString(payload, 'application_id') "
            "IN {ids:Array(String)}",
            {"ids": [a["application_id"] for a in apps]},
        )
    }
    work = _contributions(store, sorted({a["person_id"] for a in apps}))
    out = []
    for a in apps:
        contract, hired = facts.get(a["application_id"], (0, ""))
        why = []
        if 0 < int(contract or 0) < rule.min_months:
            why.append(f"劳动合同 {contract} 个月 a contract of {contract} months")
        if hired:
            start = hired[:7]
            year, month = int(start[:4]), int(start[5:7]) + rule.min_months
            end = f"{year + (month - 1) // 12}-{(month - 1) % 12 + 1:02d}"
            gone = [
                c
                for c in work
                if c["person_id"] == a["person_id"]
                and start <= c["month"] < end
                and c["employer_uscc"] != a["employer_uscc"]
            ]
            if gone:
                why.append(f"{gone[0]['month']} 社保显示已离职 insured elsewhere or on their own")
        if not why:
            continue
        out.append(
            Finding(
                key=a["application_id"],
                region=a["region"],
                persons=[a["person_id"]],
                amount=_money(a["paid"]) - _money(a["ordered"]),
                detail=f"{a['subsidy']} for a hire by {a['employer_uscc']}: " + "; ".join(why),
                evidence=[
                    _item(f"企业申领 claimed by {a['employer_uscc']}", a | {"amount": a["paid"]})
                ]
                + [_item(w, {"person_id": a["person_id"]}) for w in why],
                recoveries=[
                    {
                        "person_id": a["person_id"],
                        "application_id": a["application_id"],
                        "amount": str(_money(a["paid"]) - _money(a["ordered"])),
                    }
                ],
                application_id=a["application_id"],
            )
        )
    return out


def _graduate_not_low_income(store: Store, rule: Any) -> list[Finding]:
    apps = _applications(store, "subsidy = 'job_search_one_time' AND paid > ordered", {})
    if not apps:
        return []
    latest = {
        str(p): (li, mla, ep, str(e))
        for p, li, mla, ep, e in store.rows(
            """
            SELECT person_id,
                   argMaxIf(JSONExtractRaw(payload, 'facts', 'low_income'), (occurred_at,
                       kafka_offset),
                            JSONHas(payload, 'facts', 'low_income')),
                   argMaxIf(JSONExtractRaw(payload, 'facts', 'minimum_living_allowance'),
                            (occurred_at, kafka_offset), JSONHas(payload, 'facts',
                                'minimum_living_allowance')),
                   argMaxIf(JSONExtractRaw(payload, 'facts', 'extreme_poverty'), (occurred_at,
                       kafka_offset),
                            JSONHas(payload, 'facts', 'extreme_poverty')),
                   argMaxIf(event_id, (occurred_at, kafka_offset), JSONHas(payload, 'facts',
                       'low_income'))
            FROM events
            WHERE event_type IN ('person.registered', 'person.facts_recorded')
              AND person_id IN {persons:Array(String)}
            GROUP BY person_id
            """,
            {"persons": sorted({a["person_id"] for a in apps})},
        )
    }
    out = []
    for a in apps:
        li, mla, ep, event = latest.get(a["person_id"], ("", "", "", ""))
        if li != "false" or mla == "true" or ep == "true":
            continue
        owed = _money(a["paid"]) - _money(a["ordered"])
        out.append(
            Finding(
                key=a["application_id"],
                region=a["region"],
                persons=[a["person_id"]],
                amount=owed,
                detail="job-search subsidy paid; the household's latest facts: not low-income",
                evidence=[
                    _item("求职创业补贴 paid", a | {"amount": a["paid"]}),
                    _item(
                        "家庭经济状况 not low-income",
                        {"person_id": a["person_id"], "event_id": event},
                    ),
                ],
                recoveries=[
                    {
                        "person_id": a["person_id"],
                        "application_id": a["application_id"],
                        "amount": str(owed),
                    }
                ],
                application_id=a["application_id"],
            )
        )
    return out


def _officer_relative(store: Store, rule: Any, staff: Mapping[str, str]) -> list[Finding]:
    if not staff:
        return []
    apps = _applications(store, "approver IN {names:Array(String)}", {"names": sorted(staff)})
    homes = _households(store, [a["person_id"] for a in apps] + list(staff.values()))
    out = []
    for a in apps:
        mine = homes.get(staff[a["approver"]], "")
        if not mine or homes.get(a["person_id"]) != mine:
            continue
        out.append(
            Finding(
                key=a["application_id"],
                region=a["region"],
                persons=[a["person_id"]],
                amount=_money(a["paid"]),
                detail=f"approved by {a['approver']}, a member of the person's household",
                evidence=[
                    _item(f"审批人 approved by {a['approver']}", a | {"amount": a["paid"]}),
                    _item("同户 the same household", {"person_id": staff[a["approver"]]}),
                ],
                application_id=a["application_id"],
            )
        )
    return out


_KINDS = {
    "duplicate_payment": _duplicate_payment,
    "paid_after_death": _paid_after_death,
    "paid_while_employed_elsewhere": _paid_while_employed_elsewhere,
    "shared_account": _shared_account,
    "short_hire": _short_hire,
    "graduate_not_low_income": _graduate_not_low_income,
}


def run_rule(store: Store, rule: Any, staff: Mapping[str, str] | None = None) -> list[Finding]:
    """What ``rule`` (a :mod:`subsidies.fraud_rules` rule) finds now. ``staff``: user name
    -> the user's own person pseudonym (for ``officer_relative``)."""
    if rule.kind == "officer_relative":
        return _officer_relative(store, rule, staff or {})
    return _KINDS[rule.kind](store, rule)


def fraud_cases(
    store: Store, regions: Iterable[str] | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Every fraud case of ``regions`` (counties or cities; None: all), newest first: the
    rule, the persons, the amount, the evidence, the status and who decided it why."""
    rows = store.dicts(
        """
        SELECT JSONExtractString(payload, 'case_id') AS case_id,
               argMaxIf(toString(region), (occurred_at, kafka_offset),
                   event_type = 'fraud.suspected') AS region,
               argMaxIf(payload, (occurred_at, kafka_offset),
                   event_type = 'fraud.suspected') AS suspected,
               minIf(occurred_at, event_type = 'fraud.suspected') AS suspected_at,
               argMax(replaceOne(toString(event_type), 'fraud.', ''), (occurred_at,
                   kafka_offset)) AS status,
               argMaxIf(payload, (occurred_at, kafka_offset),
                   event_type != 'fraud.suspected') AS decision,
               argMaxIf(actor, (occurred_at, kafka_offset),
                   event_type != 'fraud.suspected') AS decided_by,
               maxIf(occurred_at, event_type != 'fraud.suspected') AS decided_at
        FROM events WHERE event_type IN ('fraud.suspected', 'fraud.confirmed', 'fraud.dismissed')
        GROUP BY case_id
        ORDER BY suspected_at DESC, case_id
        """
    )
    wanted = set(regions) if regions is not None else None
    out = []
    for r in rows:
        if not r["suspected"]:
            continue
        if (
            wanted is not None
            and r["region"] not in wanted
            and f"{r['region'][:4]}00" not in wanted
        ):
            continue
        if status and r["status"] != status:
            continue
        s = orjson.loads(r["suspected"])
        d = orjson.loads(r["decision"]) if r["decision"] else {}
        out.append(
            {
                "case_id": r["case_id"],
                "region": r["region"],
                "status": r["status"],
                "rule": s.get("rule"),
                "kind": s.get("kind"),
                "title": s.get("title"),
                "persons": s.get("persons") or [s.get("person_id")],
                "amount": s.get("amount"),
                "detail": s.get("detail"),
                "evidence": s.get("evidence", []),
                "recoveries": d.get("recoveries", s.get("recoveries", [])),
                "suspected_at": aware(r["suspected_at"]),
                "decided_by": r["decided_by"] or None,
                "reason": d.get("reason"),
                "decided_at": aware(r["decided_at"]) if r["decided_at"].year > 1971 else None,
            }
        )
    return out


def fraud_summary(store: Store, regions: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Per county: cases suspected, open, confirmed, dismissed, the amount ordered back
    and recovered by confirmed cases."""
    cases = fraud_cases(store, regions)
    money = store.dicts(
        f"""
        SELECT toString(region) AS region,
               sumIf({_AMOUNT}, event_type = 'subsidy.recovery_ordered') AS ordered,
               sumIf({_AMOUNT}, event_type = 'subsidy.recovered') AS recovered
        FROM events
        WHERE event_type IN ('subsidy.recovery_ordered', 'subsidy.recovered')
          AND JSONExtractString(payload, 'fraud_case_id') != ''
        GROUP BY region
        """
    )
    by_region: dict[str, dict[str, Any]] = {}
    for c in cases:
        row = by_region.setdefault(
            c["region"],
            {
                "region": c["region"],
                "suspected": 0,
                "open": 0,
                "confirmed": 0,
                "dismissed": 0,
                "ordered": _ZERO,
                "recovered": _ZERO,
            },
        )
        row["suspected"] += 1
        row["open" if c["status"] == "suspected" else c["status"]] += 1
    for m in money:
        if m["region"] in by_region:
            by_region[m["region"]]["ordered"] = _money(m["ordered"])
            by_region[m["region"]]["recovered"] = _money(m["recovered"])
    return [by_region[k] for k in sorted(by_region)]
