"""The facts about a person that rules read: recorded values folded from the log, and the
values derived from them on the day of a judgement (age, days unemployed …).

A fact recorded later replaces the earlier value; ``None`` is "not known", never "false":
a condition on an unknown fact fails and says the fact is not known, so an officer knows
what to record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from events.payloads_cases import FactValues

__all__ = ["DERIVED_FACTS", "FACT_NAMES", "derive", "merge"]

#: Every recorded fact (the fields of :class:`FactValues`).
FACT_NAMES: frozenset[str] = frozenset(FactValues.model_fields)

#: Facts computed on the day of a judgement, with what they mean.
DERIVED_FACTS: dict[str, str] = {
    "age": "full years of age on the day (from birth_date)",
    "working_age": "age from working_age_min up to the retirement age of the person's gender",
    "unemployed_days": "days of the registered unemployment running on the day (not employed)",
    "days_since_graduation": "days from graduated_on to the day",
    "disaster_linked": "the person is linked to a flagged disaster (disaster_id is known)",
    "household_in_need": "minimum living allowance, extreme poverty, low income or a "
    "zero-employment household",
}


def merge(current: Mapping[str, Any], facts: FactValues) -> dict[str, Any]:
    """The recorded facts after ``facts`` were observed (each given one replaces)."""
    out = dict(current)
    out.update(facts.given())
    return out


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def derive(recorded: Mapping[str, Any], on: date, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Every fact a condition may read on day ``on``: the recorded ones plus
    :data:`DERIVED_FACTS` (``None`` where what they need is not known)."""
    facts: dict[str, Any] = {name: recorded.get(name) for name in FACT_NAMES}
    born = _as_date(recorded.get("birth_date"))
    age = _age(born, on) if born is not None else None
    facts["age"] = age
    gender = recorded.get("gender")
    retire = parameters.get(f"retirement_age_{gender}") if gender else None
    if age is None or retire is None:
        facts["working_age"] = None
    else:
        facts["working_age"] = int(parameters.get("working_age_min", 16)) <= age < int(retire)
    since = _as_date(recorded.get("unemployed_since"))
    employed = recorded.get("employed")
    if employed:
        facts["unemployed_days"] = 0
    else:
        facts["unemployed_days"] = (on - since).days if since is not None else None
    graduated = _as_date(recorded.get("graduated_on"))
    facts["days_since_graduation"] = (on - graduated).days if graduated is not None else None
    facts["disaster_linked"] = recorded.get("disaster_id") is not None
    needs = [
        recorded.get(k)
        for k in ("minimum_living_allowance", "extreme_poverty", "low_income")
        + ("zero_employment_household",)
    ]
    facts["household_in_need"] = (
        True if any(needs) else (False if all(v is False for v in needs) else None)
    )
    return facts
