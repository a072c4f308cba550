"""Checking 100,000 subsidy applications: the pure check (:func:`subsidies.eligibility.check`
after :func:`subsidies.eligibility.policy_facts`, what ``person.check_subsidy`` runs) over a
registry's applications, against the same loop doing only what any check starts with
(:func:`cases.facts.derive` of the person's facts and the application's validation),
measured in the same run.

    .venv/bin/python benchmarks/eligibility.py [--applications 100000] [--profile 20000]

What it does, in one run:

1. **applications**: ``--applications`` persons' recorded facts (as the recognition
   benchmark makes them, spread over the 16 cities) each with an application of one of the
   catalogue's policies, stating what its policy reads (the hire and contract, the
   business, the loan, the rent, the course, the contributions), and each person's groups
   as their city's rules recognise them that day; a third of the persons hold an earlier
   application of another policy (so incompatibilities and overlaps are weighed).
2. **baseline**: derive the person's facts and validate the application's facts.
3. **check**: the same, then the policy facts and the check under the city's catalogue
   version in force (conditions, amount, months, conflicts).
4. **profile**: cProfile of the check over ``--profile`` applications, the top functions.

Prints each pass's seconds and applications/s, the ratio to the baseline, and how many
were eligible per policy. Target (issue 13): checks of 100,000 applications, measured.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from recognition import fact_sets  # noqa: E402

from cases.facts import derive  # noqa: E402
from cases.recognition import judge  # noqa: E402
from cases.rules import load_recognition  # noqa: E402
from events.payloads_money import ApplicationFacts  # noqa: E402
from events.regions import load_reference  # noqa: E402
from subsidies.catalogue import load_catalogue  # noqa: E402
from subsidies.eligibility import Held, check, month_of, policy_facts  # noqa: E402

DAY = dt.date(2026, 3, 16)
USCC = "91370100MA3C8K5X13"


def _stated(policy: str, rng: random.Random) -> dict[str, Any]:
    """What an application of ``policy`` states (the facts its conditions read)."""
    hired = (DAY - dt.timedelta(days=rng.randint(10, 400))).isoformat()
    started = (DAY - dt.timedelta(days=rng.randint(10, 900))).isoformat()
    return {
        "social_insurance_enterprise": {
            "employment_kind": "enterprise",
            "employer_uscc": USCC,
            "hired_on": hired,
            "insured": True,
            "contributions_monthly": str(rng.randint(600, 1400)),
        },
        "social_insurance_flexible": {
            "employment_kind": "flexible",
            "insured": True,
            "contributions_monthly": str(rng.randint(600, 1400)),
        },
        "post": {
            "employment_kind": "enterprise",
            "employer_uscc": USCC,
            "hired_on": hired,
            "insured": True,
            "contract_months": rng.choice([6, 12, 24, 36]),
        },
        "start_up": {"employment_kind": "self_employment", "business_registered_on": started},
        "start_up_loan_interest": {
            "business_registered_on": started,
            "loan_amount": str(rng.choice([50000, 200000, 300000])),
            "loan_months": rng.choice([12, 24, 36]),
        },
        "venue_rent": {
            "business_registered_on": started,
            "rent_monthly": str(rng.randint(500, 3000)),
        },
        "training": {"course_id": "c-1", "training_passed": rng.random() < 0.8},
        "training_living_allowance": {
            "course_id": "c-1",
            "training_passed": True,
            "training_days": rng.randint(5, 60),
        },
        "job_referral": {"employer_uscc": USCC, "hired_on": hired, "contract_months": 12},
    }.get(policy, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument("--profile", type=int, default=20_000)
    args = parser.parse_args()
    n = args.applications
    reference = load_reference("shandong")
    cities = {c.code: c.name for c in reference.cities()}
    rules = load_recognition(ROOT / "deploy" / "recognition", cities=cities)
    catalogue = load_catalogue(ROOT / "deploy" / "policies", cities=cities)
    rng = random.Random(13)
    began = time.perf_counter()
    facts, where = fact_sets(n, sorted(cities))
    resolved = {c: catalogue.resolve(c, DAY) for c in cities}
    versions = {c: rules.resolve(c, DAY) for c in cities}
    policies = [p.id for p in next(iter(resolved.values())).policy_set.policies]
    apps: list[tuple[str, dict[str, Any], list[str], list[Held]]] = []
    for i in range(n):
        policy = policies[i % len(policies)]
        derived = derive(facts[i], DAY, versions[where[i]].parameters)
        groups = sorted(j.group.value for j in judge(versions[where[i]], facts[i], DAY) if j.holds)
        _ = derived
        held = []
        if i % 3 == 0:
            other = policies[(i + 5) % len(policies)]
            start = month_of(DAY) - rng.randint(0, 20)
            held.append(Held(f"earlier-{i}", other, "entitled", start, start + 11))
        apps.append((policy, _stated(policy, rng), groups, held))
    print(
        f"{n:,} applications made in {time.perf_counter() - began:.1f} s "
        f"({len(policies)} policies, {len(cities)} cities)"
    )

    def baseline(lo: int, hi: int) -> int:
        known = 0
        for i in range(lo, hi):
            derived = derive(facts[i], DAY, versions[where[i]].parameters)
            ApplicationFacts.model_validate(apps[i][1])
            known += derived["age"] is not None
        return known

    def checks(lo: int, hi: int) -> Counter[str]:
        eligible: Counter[str] = Counter()
        for i in range(lo, hi):
            policy, stated, groups, held = apps[i]
            city = where[i]
            derived = derive(facts[i], DAY, versions[city].parameters)
            application = ApplicationFacts.model_validate(stated)
            gender = facts[i].get("gender")
            retire = versions[city].parameters.get(f"retirement_age_{gender}") if gender else None
            pf = policy_facts(derived, groups, application, DAY, int(retire) if retire else None)
            done = check(
                resolved[city], policy, pf, application, DAY, held=held, application_id=f"a-{i}"
            )
            eligible[f"{policy} {'eligible' if done.eligible else 'not eligible'}"] += 1
        return eligible

    t0 = time.perf_counter()
    baseline(0, n)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    outcome = checks(0, n)
    took = time.perf_counter() - t0
    print(f"baseline (derive + validate): {base:7.2f} s  {n / base:>10,.0f} applications/s")
    print(
        f"check                       : {took:7.2f} s  {n / took:>10,.0f} applications/s  "
        f"ratio to baseline {took / base:.2f}"
    )
    print(f"projected to 100,000: {took * 100_000 / n:.1f} s")
    for key, count in sorted(outcome.items()):
        print(f"  {key:<48} {count:>8,}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        checks(0, min(args.profile, n))
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(14)
        print(out.getvalue())


if __name__ == "__main__":
    main()
