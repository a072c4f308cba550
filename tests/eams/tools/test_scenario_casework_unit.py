"""The seeded scenario's case management (issue 12, item 9): deterministic by seed, the four
target groups with the facts their rules read (judged here by the shipped rules), households
whose members share an id, civil-affairs leads of registered and unregistered persons, and
officers' visits; the flood scenario's own events do not move."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from cases.recognition import judge
from cases.rules import load_recognition
from eams.tools.simulator import Scenario, ScenarioConfig
from events.clock import SHANGHAI
from events.envelope import parse_event
from events.regions import RegionReference, load_reference

START = dt.datetime(2026, 6, 1, 8, 0, tzinfo=SHANGHAI)
SPAN = dt.timedelta(days=1)
COUNT = 1200
RULES = Path(__file__).resolve().parents[3] / "deploy" / "recognition"
CASE_TYPES = {"person.facts_recorded", "lead.discovered", "visit.recorded"}


@pytest.fixture(scope="module")
def ref() -> RegionReference:
    """The Shandong reference."""
    return load_reference("shandong")


def run(ref: RegionReference, seed: int = 5, **kw: Any) -> Scenario:
    cfg = ScenarioConfig(seed=seed, count=COUNT, start=START, span=SPAN, casework=True, **kw)
    return Scenario(ref, cfg)


@pytest.fixture(scope="module")
def scenario(ref: RegionReference) -> Scenario:
    """A casework run, played (its leads and groups are known once iterated)."""
    s = run(ref)
    s.events = list(s)  # type: ignore[attr-defined]
    return s


def _events(s: Scenario) -> list[dict[str, Any]]:
    return s.events  # type: ignore[attr-defined,no-any-return]


def test_same_seed_same_casework_and_every_event_parses(
    ref: RegionReference, scenario: Scenario
) -> None:
    events = _events(scenario)
    assert list(run(ref)) == events
    assert len({e["event_id"] for e in events}) == len(events)
    other = list(run(ref, seed=6))
    assert not {e["event_id"] for e in other} & {e["event_id"] for e in events}
    for n, event in enumerate(events, 1):
        parse_event(event, reference=ref, line=n)


def test_the_flood_scenario_is_the_same_with_casework(
    ref: RegionReference, scenario: Scenario
) -> None:
    """Casework draws from its own generator: the slots' events keep their types, regions,
    times, groups and amounts, so the figures the alerts and playbooks read do not move."""
    plain = list(Scenario(ref, ScenarioConfig(seed=5, count=COUNT, start=START, span=SPAN)))
    with_cases = [e for e in _events(scenario) if e["event_type"] not in CASE_TYPES]

    def figure(e: dict[str, Any]) -> tuple[Any, ...]:
        p = e["payload"]
        return (e["event_type"], e["region"], e["occurred_at"], p.get("target_group"),
                p.get("laid_off"), p.get("openings"), p.get("cites_event") is not None)  # fmt: skip

    assert [figure(e) for e in with_cases] == [figure(e) for e in plain]


def test_four_groups_with_the_facts_their_rules_read(scenario: Scenario) -> None:
    """Every registration is followed by its facts in the same slot; judged by the shipped
    rules on that day, each of the four groups has persons recognised (and some refused)."""
    events = _events(scenario)
    book = load_recognition(RULES)
    regs = {
        e["payload"]["national_id"]: e for e in events if e["event_type"] == "person.registered"
    }
    facts = [e for e in events if e["event_type"] == "person.facts_recorded"]
    assert {f["payload"]["national_id"] for f in facts} == set(regs)
    for k, e in enumerate(events):
        if e["event_type"] == "person.registered":
            nxt = events[k + 1]
            assert nxt["event_type"] == "person.facts_recorded"
            assert nxt["payload"]["national_id"] == e["payload"]["national_id"]
            assert nxt["occurred_at"] == e["occurred_at"]
    recognised: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for f in facts:
        reg = regs[f["payload"]["national_id"]]
        group = reg["payload"]["target_group"]
        got = f["payload"]["facts"]
        assert got["household_id"] == reg["payload"]["household_id"]
        assert got["birth_date"][:4] == reg["payload"]["national_id"][6:10]
        assert {"gender", "birth_date", "employed", "able_to_work"} <= set(got)
        needs = {
            "rural_surplus_labour": {"hukou", "willing_to_work", "transferred"},
            "low_income_graduate": {"graduated_on"},
            "employment_difficulty": {"unemployed_since"},
        }.get(group, set())
        assert needs <= set(got), (group, got)
        if group == "low_income_graduate":
            assert got.get("minimum_living_allowance") or got.get("low_income")
        if group == "temporary_assistance" and reg["payload"].get("cites_event"):
            assert got["disaster_id"] == reg["payload"]["disaster_id"] == scenario.disaster_id
        day = dt.date.fromisoformat(f["payload"]["observed_on"])
        rules = book.resolve(reg["region"][:4] + "00", day)
        assert rules is not None
        (j,) = judge(rules, got, day, groups=(group,))  # type: ignore[arg-type]
        (recognised if j.holds else refused)[group] += 1
    groups = ("employment_difficulty", "rural_surplus_labour", "low_income_graduate",
              "temporary_assistance")  # fmt: skip
    assert all(recognised[g] > 0 for g in groups), recognised
    assert sum(refused.values()) > 0  # transferred labourers, graduates past two years …
    assert recognised["temporary_assistance"] >= 0.8 * sum(
        1 for r in regs.values() if r["payload"].get("cites_event")
    )


def test_households_share_ids_and_some_have_several_members(scenario: Scenario) -> None:
    events = _events(scenario)
    members: dict[str, set[str]] = defaultdict(set)
    for e in events:
        p = e["payload"]
        if e["event_type"] in ("person.facts_recorded", "lead.discovered"):
            hh = p["facts"].get("household_id")
            assert hh and hh.startswith(f"hh-{e['region']}-")  # a household of the county
            members[hh].add(p["national_id"])
    several = [h for h, m in members.items() if len(m) > 1]
    assert len(several) >= 20
    assert all(len(m) <= 5 for m in members.values())
    leads = [e["payload"]["facts"] for e in events if e["event_type"] == "lead.discovered"]
    employed = {f["household_id"] for f in leads if f.get("employed")}
    assert employed  # households the roster says have someone in work: not zero-employment
    assert len(members) - len(employed) > len(employed)  # most have nobody in work


def test_leads_name_registered_and_unregistered_persons(scenario: Scenario) -> None:
    events = _events(scenario)
    registered = {e["payload"]["national_id"] for e in events
                  if e["event_type"] == "person.registered"}  # fmt: skip
    leads = [e for e in events if e["event_type"] == "lead.discovered"]
    assert all(e["payload"]["source"] == "civil_affairs" for e in leads)
    assert all(e["payload"]["lead_id"] == f"mz:{e['payload']['national_id']}" for e in leads)
    matched = [e for e in leads if e["payload"]["national_id"] in registered]
    new = [e for e in leads if e["payload"]["national_id"] not in registered]
    assert len(matched) >= 10 and len(new) >= 30
    unregistered = {u.national_id: u for u in scenario.leads}
    named = {e["payload"]["national_id"] for e in new if e["payload"].get("name")}
    assert named == set(unregistered)  # the demo's officers register these by their ID
    for e in new:
        u = unregistered.get(e["payload"]["national_id"])
        if u is not None:
            assert (u.county, u.household_id) == (
                e["region"],
                e["payload"]["facts"]["household_id"],
            )
            assert u.group == e["payload"]["suggested_target_group"]


def test_officers_visits_are_of_registered_persons(scenario: Scenario) -> None:
    events = _events(scenario)
    seen: set[str] = set()
    visits = 0
    for e in events:
        if e["event_type"] == "person.registered":
            seen.add(e["payload"]["national_id"])
        elif e["event_type"] == "visit.recorded":
            visits += 1
            assert e["payload"]["national_id"] in seen
            assert e["payload"]["visited_on"] == e["occurred_at"][:10]
    assert visits >= 20


def test_casework_off_is_the_scenario_before_issue_12(ref: RegionReference) -> None:
    cfg = ScenarioConfig(seed=5, count=300, start=START, span=SPAN)
    events = list(Scenario(ref, cfg))
    assert len(events) == 300
    assert not {e["event_type"] for e in events} & CASE_TYPES
