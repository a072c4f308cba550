"""The seeded Shandong scenario: reproducible, valid, and shaped like the flood story."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from eams.tools.simulator import Scenario, ScenarioConfig
from events.clock import SHANGHAI
from events.envelope import parse_event
from events.regions import RegionReference, load_reference

START = dt.datetime(2026, 6, 1, 8, 0, tzinfo=SHANGHAI)
SPAN = dt.timedelta(days=1)
COUNT = 400


@pytest.fixture(scope="module")
def ref() -> RegionReference:
    """The Shandong reference."""
    return load_reference("shandong")


def run(ref: RegionReference, seed: int = 3, count: int = COUNT, **kw: Any) -> list[dict[str, Any]]:
    cfg = ScenarioConfig(seed=seed, count=count, start=START, span=SPAN, **kw)
    return list(Scenario(ref, cfg))


@pytest.fixture(scope="module")
def events(ref: RegionReference) -> list[dict[str, Any]]:
    """One run of the default scenario."""
    return run(ref)


def test_same_seed_same_events(ref: RegionReference, events: list[dict[str, Any]]) -> None:
    assert len(events) == COUNT
    assert run(ref) == events
    assert len({e["event_id"] for e in events}) == COUNT


def test_different_seed_different_events(
    ref: RegionReference, events: list[dict[str, Any]]
) -> None:
    other = run(ref, seed=4)
    assert len(other) == COUNT
    assert not {e["event_id"] for e in events} & {e["event_id"] for e in other}
    assert [e["event_type"] for e in other] != [e["event_type"] for e in events]


def test_every_event_parses(ref: RegionReference, events: list[dict[str, Any]]) -> None:
    for i, event in enumerate(events):
        envelope = parse_event(event, reference=ref, line=i + 1)
        assert str(envelope.event_id) == event["event_id"]


def test_one_flood_flag_at_flood_at(ref: RegionReference, events: list[dict[str, Any]]) -> None:
    flags = [i for i, e in enumerate(events) if e["event_type"] == "disaster_area.flagged"]
    assert flags == [int(COUNT * 0.4)]
    flag = events[flags[0]]
    assert flag["region"] == "371300"
    regions = flag["payload"]["regions"]
    assert len(regions) == 4 and regions == sorted(set(regions))
    linyi = {c.code for c in ref.children("371300") if not c.is_statistical_zone}
    assert set(regions) <= linyi
    assert flag["payload"]["disaster_id"] == "flood-371300-3"


def test_flood_at_and_city_are_configurable(ref: RegionReference) -> None:
    events = run(ref, count=100, flood_at=0.1, flood_city="370200", flood_counties=2)
    flags = [i for i, e in enumerate(events) if e["event_type"] == "disaster_area.flagged"]
    assert flags == [10]
    regions = events[10]["payload"]["regions"]
    assert len(regions) == 2
    assert {ref.city_of(r) for r in regions} == {"370200"}


def test_unknown_flood_city_is_refused(ref: RegionReference) -> None:
    with pytest.raises(ValueError, match="379900"):
        Scenario(ref, ScenarioConfig(flood_city="379900"))


def test_aftermath_in_flooded_counties(events: list[dict[str, Any]]) -> None:
    at = int(COUNT * 0.4)
    flag = events[at]
    flooded = set(flag["payload"]["regions"])
    after = events[at + 1 :]
    layoffs = [e for e in after if e["event_type"] == "layoff.reported" and e["region"] in flooded]
    assert layoffs
    assert any(e["payload"]["reason"] == "natural_disaster" for e in layoffs)
    assistance = [
        e["payload"]
        for e in after
        if e["event_type"] == "person.registered"
        and e["payload"].get("target_group") == "temporary_assistance"
        and e["payload"].get("cites_event")
    ]
    assert assistance
    for p in assistance:
        assert p["cites_event"] == flag["event_id"]
        assert p["disaster_id"] == flag["payload"]["disaster_id"]
        assert p["employment_status"] == "lost_work_due_to_disaster"
    before = events[:at]
    assert not any(e["payload"].get("cites_event") for e in before)


def test_occurred_at_spans_start_to_end(events: list[dict[str, Any]]) -> None:
    times = [dt.datetime.fromisoformat(e["occurred_at"]) for e in events]
    assert times == sorted(times)
    assert times[0] == START
    assert times[-1] == START + SPAN
    assert all(t.utcoffset() == dt.timedelta(hours=8) for t in times)
    assert len(set(times)) > COUNT // 2


def test_raw_events_carry_clear_identity(events: list[dict[str, Any]]) -> None:
    regs = [e for e in events if e["event_type"] == "person.registered"]
    assert regs
    for e in regs:
        nid = e["payload"]["national_id"]
        assert len(nid) == 18 and nid[:6] == e["region"]
        assert e["payload"]["name"] and e["payload"]["phone"].startswith("1")


def test_ordinary_leaves_baseline_slots_empty_and_keeps_the_flood(ref: RegionReference) -> None:
    full = list(
        Scenario(ref, ScenarioConfig(seed=3, count=COUNT, start=START, span=SPAN)).timeline()
    )
    assert None not in full
    assert full == run(ref)  # ordinary 1: every slot holds its event
    cfg = ScenarioConfig(seed=3, count=COUNT, start=START, span=SPAN, ordinary=0.1)
    slots = list(Scenario(ref, cfg).timeline())
    assert len(slots) == COUNT
    at = int(COUNT * 0.4)
    flag = slots[at]
    assert flag is not None and flag["event_type"] == "disaster_area.flagged"
    assert all(s is None or s["occurred_at"] == full[i]["occurred_at"] for i, s in enumerate(slots))
    kept = [s for s in slots if s is not None]
    cited = [e for e in kept if e["payload"].get("cites_event") == flag["event_id"]]
    ordinary = [e for e in kept if e is not flag and not e["payload"].get("cites_event")
                and e["payload"].get("reason") != "natural_disaster"]  # fmt: skip
    assert len(cited) > 30  # the aftermath is all there (about 0.6 x 0.3 x 400 x 3/4)
    assert 10 < len(ordinary) < 70  # a tenth of the ~330 baseline slots
