"""The recognition engine against the shipped default rules: who belongs to which group on
a day, by which rule, and what a refusal names."""

from __future__ import annotations

import datetime as dt

from case_harness import ROOT

from cases.recognition import _results, judge
from cases.rules import RuleBook, load_recognition
from events.vocabulary import TargetGroup

DAY = dt.date(2026, 6, 1)
BASE = {"gender": "female", "birth_date": "1982-03-04", "employed": False, "able_to_work": True}


def _by_group(
    rulebook: RuleBook, facts: dict[str, object], day: dt.date = DAY
) -> dict[str, object]:
    rules = rulebook.resolve("370100", day)
    assert rules is not None
    return {j.group.value: j for j in judge(rules, facts, day)}


def test_a_woman_of_44_out_of_work_is_recognised_by_the_older_woman_rule(
    rulebook: RuleBook,
) -> None:
    j = _by_group(rulebook, BASE)["employment_difficulty"]
    assert j.holds and j.rule_id == "ed.older_woman" and j.rule_set == "370100@1"
    read = {c.condition: c.value for c in j.conditions}
    assert read["age >= $older_woman_age"] == 44
    assert read["working_age"] is True
    assert j.valid_until == DAY + dt.timedelta(days=365)


def test_a_young_man_unemployed_200_days_is_refused_naming_each_failed_condition(
    rulebook: RuleBook,
) -> None:
    facts = {
        "gender": "male",
        "birth_date": "1996-01-01",
        "employed": False,
        "able_to_work": True,
        "unemployed_since": (DAY - dt.timedelta(days=200)).isoformat(),
    }
    j = _by_group(rulebook, facts)["employment_difficulty"]
    assert not j.holds and j.rule_id is None
    failed = {c.condition: c.value for c in j.failed}
    assert failed["unemployed_days >= $long_term_unemployed_days"] == 200
    assert failed["age >= $older_man_age"] == 30
    # a fact nobody recorded is "not known" (None), not false
    assert failed["disability"] is None
    assert "working_age" not in failed


def test_a_low_income_graduate_is_recognised_within_two_years_and_not_after(
    rulebook: RuleBook,
) -> None:
    facts = {**BASE, "birth_date": "2003-05-01", "graduated_on": "2025-07-01", "low_income": True}
    assert _by_group(rulebook, facts)["low_income_graduate"].rule_id == "lig.low_income"
    later = _by_group(rulebook, facts, dt.date(2027, 7, 2))["low_income_graduate"]
    assert not later.holds
    assert {c.condition: c.value for c in later.failed}[
        "days_since_graduation <= $graduate_job_seeking_days"
    ] == 731


def test_rural_surplus_labour_needs_a_rural_hukou_and_no_transfer(rulebook: RuleBook) -> None:
    facts = {**BASE, "hukou": "rural", "willing_to_work": True, "transferred": False}
    assert _by_group(rulebook, facts)["rural_surplus_labour"].holds
    moved = _by_group(rulebook, {**facts, "transferred": True})["rural_surplus_labour"]
    assert [c.condition for c in moved.failed] == ["not transferred"]


def test_temporary_assistance_needs_a_linked_disaster(rulebook: RuleBook) -> None:
    assert not _by_group(rulebook, BASE)["temporary_assistance"].holds
    hit = _by_group(rulebook, {**BASE, "disaster_id": "flood-2026-07"})["temporary_assistance"]
    assert hit.holds and hit.rule_id == "ta.disaster"


def test_no_rules_before_the_first_version(rulebook: RuleBook) -> None:
    assert rulebook.resolve("370100", dt.date(2023, 12, 31)) is None
    assert rulebook.resolve("379900", DAY) is None
    assert {j.group for j in judge(rulebook.resolve("371300", DAY), BASE, DAY)} == set(TargetGroup)  # type: ignore[arg-type]


def test_a_warm_memo_judges_as_a_fresh_rule_book(shandong: object) -> None:
    """The engine keeps each condition's result per value of its fact: persons judged after
    many others get the judgements a rule book that judged nobody gives (and a fact read as
    ``True`` is not taken for one read as ``1``)."""
    cities = {c.code: c.name for c in shandong.cities()}  # type: ignore[attr-defined]

    def book() -> RuleBook:
        return load_recognition(ROOT / "deploy" / "recognition", cities=cities)

    people = [
        BASE,
        {**BASE, "gender": "male", "birth_date": "1970-01-01"},
        {**BASE, "disability": True},
        {"gender": "male", "birth_date": "1999-05-05", "graduated_on": "2025-07-01",
         "low_income": True, "employed": False},
        {"hukou": "rural", "able_to_work": True, "willing_to_work": True, "transferred": False,
         "birth_date": "1980-01-01"},
        {**BASE, "unemployed_since": "2025-01-01", "minimum_living_allowance": True},
    ]  # fmt: skip
    warm = book()
    warm_rules = warm.resolve("370100", DAY)
    assert warm_rules is not None
    for facts in people * 3:
        judge(warm_rules, facts, DAY)
    assert warm_rules.memo  # results were kept
    for facts in people:
        fresh = book().resolve("370100", DAY)
        assert fresh is not None and not fresh.memo
        assert judge(warm_rules, facts, DAY) == judge(fresh, facts, DAY), facts
    # True and 1 hash alike; a result kept for one is never served for the other
    cond = next(t for t, c in warm_rules.conditions.items() if c.op == "truthy")
    fact = warm_rules.condition(cond).fact
    as_true = _results(warm_rules, "r", (cond,), {fact: True})[0]
    as_one = _results(warm_rules, "r", (cond,), {fact: 1})[0]
    assert as_true.value is True and type(as_one.value) is int
