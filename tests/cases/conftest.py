"""Fixtures for the case-management tests: the shipped rules and policy, and a harness that
decides commands on a person's case and applies the events as the command handler would."""

from __future__ import annotations

import pytest
from case_harness import PERSON, ROOT, CaseHarness

from cases.person import PersonAggregate
from cases.policy import CasePolicy, load_policy
from cases.rules import RuleBook, load_recognition
from events.regions import RegionReference, load_reference


@pytest.fixture(scope="session")
def shandong() -> RegionReference:
    return load_reference("shandong")


@pytest.fixture(scope="session")
def rulebook(shandong: RegionReference) -> RuleBook:
    cities = {c.code: c.name for c in shandong.cities()}
    return load_recognition(ROOT / "deploy" / "recognition", cities=cities)


@pytest.fixture(scope="session")
def policy() -> CasePolicy:
    return load_policy(ROOT / "deploy" / "cases" / "policy.yaml")


@pytest.fixture
def case(rulebook: RuleBook, policy: CasePolicy, shandong: RegionReference) -> CaseHarness:
    aggregate = PersonAggregate(rulebook, policy, shandong)
    return CaseHarness(aggregate, aggregate.initial(PERSON))
