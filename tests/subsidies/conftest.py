"""Fixtures for the subsidy tests: the shipped catalogue, rules and policy, and a person's
case that decides the subsidy verbs as the command handler would."""

from __future__ import annotations

import pytest
from case_harness import PERSON, ROOT, CaseHarness

from cases.person import PersonAggregate
from cases.policy import load_policy
from cases.rules import load_recognition
from events.regions import RegionReference, load_reference
from subsidies.applications import SubsidyDecisions
from subsidies.catalogue import Catalogue, load_catalogue


@pytest.fixture(scope="session")
def shandong() -> RegionReference:
    return load_reference("shandong")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(ROOT / "deploy" / "policies")


@pytest.fixture
def case(catalogue: Catalogue, shandong: RegionReference) -> CaseHarness:
    cities = {c.code: c.name for c in shandong.cities()}
    rules = load_recognition(ROOT / "deploy" / "recognition", cities=cities)
    policy = load_policy(ROOT / "deploy" / "cases" / "policy.yaml")
    money = SubsidyDecisions(catalogue, rules, policy, shandong)
    aggregate = PersonAggregate(rules, policy, shandong, extensions=[money])
    return CaseHarness(aggregate, aggregate.initial(PERSON))
