"""The automatic eligibility check of an application: a policy of the city's catalogue in
force on the day, judged against the person's facts, the groups they are recognised in and
what the application states; then the amount, the months, and the conflicts with what the
person already holds.

The check is pure: it reads its arguments only, so the case aggregate records its result
(every condition with the value it read, the failed ones named) and ``explain`` can make it
again from the log with the catalogue version it names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from events.payloads_cases import ConditionResult
from events.payloads_money import ApplicationFacts
from events.vocabulary import TargetGroup
from subsidies.catalogue import PolicySpec, Resolved

__all__ = ["Check", "Held", "check", "month_of", "month_text", "policy_facts"]

_CENT = Decimal("0.01")
_REQUIRES = "requires"


def month_of(day: dt.date) -> int:
    """A month as one number (``year * 12 + month - 1``), so months subtract."""
    return day.year * 12 + day.month - 1


def month_text(month: int) -> str:
    """``YYYY-MM`` of a month number."""
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _months_between(start: dt.date, end: dt.date) -> int:
    """Full months from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    months = month_of(end) - month_of(start)
    return months - 1 if end.day < start.day else months


@dataclass(frozen=True, slots=True)
class Held:
    """An application the person already has: its policy, state and months."""

    application_id: str
    policy: str
    status: str
    """``applied``, ``checked``, ``approved``, ``entitled``, ``paid``, ``rejected``,
    ``stopped``, ``recovered``."""
    first_month: int | None = None
    last_month: int | None = None

    @property
    def active(self) -> bool:
        """Whether it holds (or may come to hold) months: neither refused nor stopped."""
        return self.status in ("applied", "checked", "approved", "entitled", "paid")

    @property
    def granted(self) -> bool:
        """Whether it was approved once (a one-time subsidy cannot be granted again)."""
        return self.status in ("approved", "entitled", "paid", "stopped", "recovered")


@dataclass(frozen=True)
class Check:
    """The outcome of a check: eligible or not (with the failed conditions and the
    conflicts named), the amount of each entitlement, the months and the total."""

    version: str
    """The city's catalogue version applied (``370700@1``)."""
    policy: str
    eligible: bool
    conditions: tuple[ConditionResult, ...]
    failed: tuple[str, ...]
    """What failed, as a reader says it: the conditions (with ``None``: not known), a
    missing amount base, the conflicts."""
    amount: Decimal
    """Each entitlement: the one payment, or a month's."""
    first_month: int
    months: int
    monthly: bool

    @property
    def total(self) -> Decimal:
        """The whole sum the application is entitled to."""
        return self.amount * self.months

    @property
    def last_month(self) -> int:
        """The last month entitled."""
        return self.first_month + self.months - 1


def policy_facts(
    person: Mapping[str, Any],
    groups: Iterable[TargetGroup | str],
    application: ApplicationFacts,
    day: dt.date,
    retirement_age: int | None,
) -> dict[str, Any]:
    """Every fact a policy condition reads: the person's (as derived on the day), ``in_<group>``
    for each group, what the application states and what derives from it on the day."""
    held = {TargetGroup(g) for g in groups}
    facts = dict(person)
    facts.update({f"in_{g.value}": g in held for g in TargetGroup})
    stated = application.model_dump()
    facts.update(stated)
    hired, started = application.hired_on, application.business_registered_on
    facts["hired_months"] = _months_between(hired, day) if hired else None
    facts["business_months"] = _months_between(started, day) if started else None
    born = person.get("birth_date")
    if isinstance(born, str):
        born = dt.date.fromisoformat(born)
    if born is not None and retirement_age is not None:
        retire = _add_years(born, retirement_age)
        facts["months_to_retirement"] = max(0, _months_between(day, retire))
    else:
        facts["months_to_retirement"] = None
    return facts


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _conditions(
    policy: PolicySpec, resolved: Resolved, facts: Mapping[str, Any]
) -> tuple[list[ConditionResult], list[str]]:
    results: list[ConditionResult] = []
    failed: list[str] = []

    def judge(rule: str, texts: Iterable[str]) -> bool:
        all_ok = True
        for text in texts:
            ok, value = resolved.conditions[text].judge(facts, resolved.parameters)
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = float(value)
            elif value is not None and not isinstance(value, bool | int | float | str):
                value = str(value)
            results.append(ConditionResult(rule=rule, condition=text, value=value, ok=ok))
            all_ok = all_ok and ok
        return all_ok

    if not judge(_REQUIRES, policy.requires):
        failed += [_said(r) for r in results if r.rule == _REQUIRES and not r.ok]
    if policy.rules:
        passed = [judge(rule.id, rule.when) for rule in policy.rules]
        if not any(passed):
            ways = []
            for rule in policy.rules:
                missed = ", ".join(_said(r) for r in results if r.rule == rule.id and not r.ok)
                ways.append(f"{rule.id} ({missed})")
            failed.append("no way in holds: " + "; ".join(ways))
    return results, failed


def _said(result: ConditionResult) -> str:
    if result.value is None:
        return f"{result.condition} (not known)"
    return f"{result.condition} (is {result.value})"


def _amount(
    policy: PolicySpec, resolved: Resolved, application: ApplicationFacts
) -> tuple[Decimal, str | None]:
    spec = policy.amount
    if spec.fixed is not None:
        base = spec.fixed
    elif spec.parameter is not None:
        base = resolved.value(f"${spec.parameter}")
    else:
        claimed = getattr(application, str(spec.claimed))
        if claimed is None:
            return Decimal(0), f"{spec.claimed} is not known (the amount is claimed from it)"
        base = Decimal(str(claimed))
    if spec.base_cap is not None:
        base = min(base, resolved.value(spec.base_cap))
    amount = base * resolved.value(spec.share)
    if spec.cap is not None:
        amount = min(amount, resolved.value(spec.cap))
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP), None


def _months(policy: PolicySpec, facts: Mapping[str, Any], elapsed: int) -> tuple[int, str | None]:
    """The months entitled from the first month (``elapsed`` months before the day)."""
    period = policy.period
    if period.once or period.months is None:
        return 1, None
    months = period.months
    within = period.until_retirement_within_years
    left = facts.get("months_to_retirement")
    if left is not None:
        left = int(left) + elapsed  # counted from the first month, not the day
        # never past retirement; within ``within`` years of it, until it (past ``months``)
        close = within is not None and left <= within * 12
        months = int(left) if close else min(months, int(left))
    if period.at_most_loan_months:
        term = facts.get("loan_months")
        if term is None:
            return 0, "loan_months is not known (the months are at most the loan's term)"
        months = min(months, int(term))
    if months < 1:
        return 0, "no month is left to pay (the person retires this month)"
    return months, None


def _conflicts(
    policy: PolicySpec,
    resolved: Resolved,
    first: int,
    last: int,
    held: Iterable[Held],
    application_id: str | None,
) -> list[str]:
    out: list[str] = []
    for other in held:
        if other.application_id == application_id:
            continue
        if policy.once_per_person and other.policy == policy.id and other.granted:
            out.append(f"{policy.id} is granted once per person: {other.application_id} had it")
            continue
        if not other.active:
            continue
        spec = resolved.policy(other.policy)
        excludes = other.policy in policy.incompatible_with or (
            spec is not None and policy.id in spec.incompatible_with
        )
        same = other.policy == policy.id
        if not (excludes or same):
            continue
        o_first = other.first_month if other.first_month is not None else first
        o_last = other.last_month if other.last_month is not None else o_first
        if o_first <= last and first <= o_last:
            what = "the same policy" if same else f"{other.policy}, which excludes it,"
            out.append(
                f"{other.application_id} holds {what} for {month_text(o_first)}"
                f"–{month_text(o_last)}"
            )
    return out


def check(
    resolved: Resolved,
    policy_id: str,
    facts: Mapping[str, Any],
    application: ApplicationFacts,
    day: dt.date,
    *,
    held: Iterable[Held] = (),
    application_id: str | None = None,
    first_month: int | None = None,
) -> Check:
    """Judge an application for ``policy_id`` on ``day`` (``facts`` from
    :func:`policy_facts`); ``held`` are the person's other applications; ``first_month``
    (default: the day's) is the month the entitlement starts. Raises KeyError for a policy
    the version does not have (the caller names what is known)."""
    policy = resolved.policy(policy_id)
    if policy is None:
        raise KeyError(policy_id)
    results, failed = _conditions(policy, resolved, facts)
    amount, no_amount = _amount(policy, resolved, application)
    first = first_month if first_month is not None else month_of(day)
    months, no_months = _months(policy, facts, month_of(day) - first)
    failed += [m for m in (no_amount, no_months) if m is not None]
    failed += _conflicts(policy, resolved, first, first + max(months, 1) - 1, held, application_id)
    return Check(
        version=resolved.ref,
        policy=policy.id,
        eligible=not failed,
        conditions=tuple(results),
        failed=tuple(failed),
        amount=amount,
        first_month=first,
        months=months,
        monthly=not policy.period.once,
    )
