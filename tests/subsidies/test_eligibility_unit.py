"""The automatic eligibility check against the shipped catalogue: who is eligible for what,
the failed conditions named with the value read, amounts and months from the city's figures
of the year, retirement, a loan's term, and conflicts with what the person already holds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cases.facts import derive
from events.payloads_money import ApplicationFacts
from subsidies.catalogue import Catalogue, load_catalogue
from subsidies.eligibility import Check, Held, check, month_of, month_text, policy_facts

ROOT = Path(__file__).parents[2]
DAY = dt.date(2026, 3, 10)
AGES = {"working_age_min": 16, "retirement_age_male": 60, "retirement_age_female": 55}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(ROOT / "deploy" / "policies")


def _check(
    catalogue: Catalogue,
    policy: str,
    recorded: dict[str, Any],
    groups: list[str],
    day: dt.date = DAY,
    city: str = "370700",
    held: tuple[Held, ...] = (),
    **stated: Any,
) -> Check:
    resolved = catalogue.resolve(city, day)
    assert resolved is not None
    application = ApplicationFacts.model_validate(stated)
    person = derive(recorded, day, AGES)
    retire = AGES.get(f"retirement_age_{recorded.get('gender')}")
    facts = policy_facts(person, groups, application, day, retire)
    return check(resolved, policy, facts, application, day, held=held, application_id="a-new")


GRADUATE = {"birth_date": "2003-04-01", "gender": "female", "graduated_on": "2025-06-30",
            "low_income": True}  # fmt: skip
OLDER = {"birth_date": "1968-09-15", "gender": "male", "unemployed_since": "2024-05-01"}


def test_a_low_income_graduate_gets_the_one_time_job_search_subsidy(catalogue: Catalogue) -> None:
    got = _check(catalogue, "job_search_one_time", GRADUATE, ["low_income_graduate"])
    assert got.eligible and got.failed == ()
    assert (got.version, got.policy, got.amount, got.months, got.monthly) == (
        "370700@2", "job_search_one_time", Decimal("1500.00"), 1, False)  # fmt: skip
    assert month_text(got.first_month) == "2026-03"
    assert [(c.condition, c.value, c.ok) for c in got.conditions] == [
        ("in_low_income_graduate", True, True), ("household_in_need", True, True)]  # fmt: skip


def test_a_refusal_names_each_failed_condition_and_what_is_not_known(
    catalogue: Catalogue,
) -> None:
    got = _check(catalogue, "job_search_one_time", {**GRADUATE, "low_income": False,
                 "minimum_living_allowance": False, "extreme_poverty": False,
                 "zero_employment_household": False}, [])  # fmt: skip
    assert not got.eligible
    assert got.failed == ("in_low_income_graduate (is False)", "household_in_need (is False)")
    unknown = _check(catalogue, "post", OLDER, ["employment_difficulty"])
    assert unknown.failed == (
        "employment_kind == enterprise (not known)", "insured (not known)",
        "contract_months >= 12 (not known)")  # fmt: skip


def test_one_of_the_ways_in_must_hold_and_the_refusal_lists_them(catalogue: Catalogue) -> None:
    stated = {"employment_kind": "self_employment", "business_registered_on": "2024-11-01"}
    got = _check(catalogue, "start_up", OLDER, ["employment_difficulty"], **stated)
    assert got.eligible and got.amount == Decimal("10000.00")
    assert {c.rule for c in got.conditions} == {"requires", "su.difficulty", "su.graduate",
                                                 "su.rural"}  # fmt: skip
    young = _check(catalogue, "start_up", OLDER, [], **{**stated,
                   "business_registered_on": "2025-12-01"})  # fmt: skip
    assert young.failed[0] == "business_months >= 12 (is 3)"
    assert young.failed[1].startswith("no way in holds: su.difficulty (in_employment_difficulty")


def test_a_monthly_subsidy_runs_its_months_and_stops_at_retirement(catalogue: Catalogue) -> None:
    stated = {"employment_kind": "enterprise", "insured": True, "contract_months": 24,
              "contributions_monthly": "1234.56", "hired_on": "2026-02-01"}  # fmt: skip
    young = {**OLDER, "birth_date": "1980-01-01"}
    got = _check(catalogue, "social_insurance_enterprise", young, ["employment_difficulty"],
                 **stated)  # fmt: skip
    # contributions capped at the month's cap; three years
    assert (got.amount, got.months, got.total) == (Decimal("1100.00"), 36, Decimal("39600.00"))
    # 57 at the start: within five years of 60, so until retirement (Sept 2028): 30 months,
    # fewer than 36; a woman of 53 (retiring at 55) likewise
    older = _check(catalogue, "social_insurance_enterprise", OLDER, ["employment_difficulty"],
                   **stated)  # fmt: skip
    assert older.months == 30 and month_text(older.last_month) == "2028-08"
    # a flexible worker is repaid two thirds of the contributions
    flexible = _check(catalogue, "social_insurance_flexible", young, ["employment_difficulty"],
                      employment_kind="flexible", insured=True,
                      contributions_monthly="900")  # fmt: skip
    assert flexible.amount == Decimal("603.00")


def test_within_five_years_of_retirement_the_months_run_past_the_usual_three_years(
    catalogue: Catalogue,
) -> None:
    policy = catalogue.version("370700@2").policy("post")
    assert policy is not None and policy.period.until_retirement_within_years == 5
    woman = {"birth_date": "1975-01-20", "gender": "female", "unemployed_since": "2025-01-01"}
    stated = {"employment_kind": "enterprise", "insured": True, "contract_months": 60}
    got = _check(catalogue, "post", woman, ["employment_difficulty"], **stated)
    # 51 on 2026-03-10: retires at 55 on 2030-01-20, 46 months on: paid until then
    assert got.months == 46 and got.amount == Decimal("500.00")


def test_amounts_follow_the_citys_figures_of_the_year(catalogue: Catalogue) -> None:
    rural = {"birth_date": "1970-01-01", "gender": "male", "hukou": "rural"}
    y2025 = _check(catalogue, "welfare_post_pay", rural, ["rural_surplus_labour"],
                   day=dt.date(2025, 8, 1), employment_kind="welfare_post")  # fmt: skip
    y2026 = _check(catalogue, "welfare_post_pay", rural, ["rural_surplus_labour"],
                   employment_kind="welfare_post")  # fmt: skip
    assert (y2025.version, y2025.amount) == ("370700@1", Decimal("1050.00"))  # half of 2,100
    assert (y2026.version, y2026.amount) == ("370700@2", Decimal("1100.00"))  # half of 2,200


def test_a_loans_interest_subsidy_counts_the_capped_principal_over_the_loans_term(
    catalogue: Catalogue,
) -> None:
    stated = {"employment_kind": "self_employment", "business_registered_on": "2026-01-05",
              "loan_amount": "500000", "loan_months": 24}  # fmt: skip
    got = _check(catalogue, "start_up_loan_interest", GRADUATE, ["low_income_graduate"], **stated)
    assert got.eligible
    assert (got.amount, got.months) == (Decimal("750.00"), 24)  # 300,000 x 0.25 %
    no_term = _check(catalogue, "start_up_loan_interest", GRADUATE, ["low_income_graduate"],
                     **{**stated, "loan_months": None})  # fmt: skip
    assert "loan_months is not known" in no_term.failed[-1]
    no_principal = _check(catalogue, "venue_rent", GRADUATE, ["low_income_graduate"],
                          employment_kind="self_employment",
                          business_registered_on="2026-01-05")  # fmt: skip
    assert no_principal.failed == ("rent_monthly is not known (the amount is claimed from it)",)


def test_a_training_living_allowance_is_paid_by_the_day(catalogue: Catalogue) -> None:
    got = _check(catalogue, "training_living_allowance", OLDER, ["employment_difficulty"],
                 training_passed=True, training_days=18)  # fmt: skip
    assert got.eligible and got.amount == Decimal("900.00")


def test_conflicts_with_what_the_person_holds_are_named(catalogue: Catalogue) -> None:
    now = month_of(DAY)
    granted = Held("a-old", "job_search_one_time", "paid", now - 12, now - 12)
    again = _check(catalogue, "job_search_one_time", GRADUATE, ["low_income_graduate"],
                   held=(granted,))  # fmt: skip
    assert again.failed == ("job_search_one_time is granted once per person: a-old had it",)
    stated = {"employment_kind": "enterprise", "insured": True, "contract_months": 24,
              "contributions_monthly": "800"}  # fmt: skip
    # a welfare post held for these months excludes the enterprise social-insurance subsidy
    post = Held("a-post", "welfare_post_pay", "entitled", now - 2, now + 10)
    got = _check(catalogue, "social_insurance_enterprise", OLDER, ["employment_difficulty"],
                 held=(post,), **stated)  # fmt: skip
    assert got.failed == ("a-post holds welfare_post_pay, which excludes it, for 2026-01–2027-01",)
    # the same subsidy twice for one month is a conflict; a stopped one is not
    same = Held("a-same", "social_insurance_enterprise", "approved", now, now + 35)
    twice = _check(catalogue, "social_insurance_enterprise", OLDER, ["employment_difficulty"],
                   held=(same,), **stated)  # fmt: skip
    assert twice.failed[0].startswith("a-same holds the same policy")
    stopped = Held("a-same", "social_insurance_enterprise", "stopped", now, now + 35)
    assert _check(catalogue, "social_insurance_enterprise", OLDER, ["employment_difficulty"],
                  held=(stopped,), **stated).eligible  # fmt: skip
    # the application itself is not a conflict with itself
    mine = Held("a-new", "social_insurance_enterprise", "checked", now, now + 35)
    assert _check(catalogue, "social_insurance_enterprise", OLDER, ["employment_difficulty"],
                  held=(mine,), **stated).eligible  # fmt: skip


def test_an_unknown_policy_is_a_key_error(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError):
        _check(catalogue, "no_such_policy", GRADUATE, [])
