"""``process_raw`` with a principal: source and actor from who submitted, region scope, API-key
allow-lists, and the bound on ``occurred_at`` (the one check the API answers with and the
ingest stream enforces)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from events.clock import SHANGHAI
from events.identity import make_national_id
from events.regions import RegionReference, load_reference
from streams.pipeline import Accepted, Rejected, process_raw
from streams.principal import Submitter

SECRET = b"unit-test-secret"
NOW = dt.datetime(2026, 12, 1, 20, 0, tzinfo=SHANGHAI)
CASE = Submitter("user", "case-linyi", "case_officer", ("371300",))
KEY = Submitter("apikey", "civil-affairs", "source", ("371300",), ("person.registered",))


@pytest.fixture(scope="module")
def shandong() -> RegionReference:
    """The Shandong reference, as the ingest stream uses it."""
    return load_reference("shandong")


def registration(region: str = "371302", **overrides: Any) -> dict[str, Any]:
    """A valid registration in Linyi (371302 is a county of 371300) without source/actor."""
    at = (NOW - dt.timedelta(hours=1)).isoformat()
    event: dict[str, Any] = {
        "event_id": "0190a0b2-1c3d-7e4f-8a5b-6c7d8e9f0a1b", "event_type": "person.registered",
        "schema_version": 1, "occurred_at": at, "recorded_at": at, "region": region,
        "payload": {"national_id": make_national_id(region, dt.date(1990, 1, 1), 3),
                    "target_group": "employment_difficulty", "employment_status": "unemployed"},
    }  # fmt: skip
    event.update(overrides)
    return event


def flag(city: str, *counties: str, **overrides: Any) -> dict[str, Any]:
    """A disaster-area flag of ``counties`` with the envelope region ``city``."""
    return registration(
        city, event_type="disaster_area.flagged", payload={"disaster_id": "d1",
        "kind": "natural_disaster", "severity": "I", "regions": list(counties), "title": "洪涝",
        "period_start": "2026-12-01"}, **overrides)  # fmt: skip


def run(event: dict[str, Any], shandong: RegionReference, who: Submitter | None, **kw: Any) -> Any:
    return process_raw(orjson.dumps(event), reference=shandong, secret=SECRET, principal=who,
                       now=kw.pop("now", NOW), **kw)  # fmt: skip


def test_a_users_source_and_actor_are_filled_in(shandong: RegionReference) -> None:
    got = run(registration(), shandong, CASE)
    assert isinstance(got, Accepted)
    doc = orjson.loads(got.value)
    assert (doc["actor"], doc["source"]) == ("case-linyi", "user:case-linyi")


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({"actor": "someone-else"}, "actor", "must be you ('case-linyi')"),
        ({"source": "civil-affairs"}, "source", "recorded with source 'user:case-linyi'"),
        ({"region": "370102"}, "region", "370102 is outside your regions (371300)"),
    ],
)
def test_a_user_cannot_speak_for_others_or_elsewhere(
    overrides: dict[str, Any], field: str, says: str, shandong: RegionReference
) -> None:
    event = registration(**overrides)
    if "region" in overrides:  # a valid ID of that region, so only the scope is wrong
        event["payload"]["national_id"] = make_national_id("370102", dt.date(1990, 1, 1), 3)
    got = run(event, shandong, CASE, line=4)
    assert isinstance(got, Rejected) and got.field == field
    assert got.reason.startswith(f"line 4: {field}: ") and says in got.reason


def test_the_finding_a_jinan_flag_with_another_actor_is_refused(shandong: RegionReference) -> None:
    forged = run(flag("370100", "370102", actor="jinan-duty"), shandong, CASE)
    assert isinstance(forged, Rejected) and forged.field == "actor"
    own_city_other_county = run(flag("371300", "371302", "370102"), shandong, CASE)
    assert isinstance(own_city_other_county, Rejected)
    assert own_city_other_county.field == "payload.regions[1]"
    assert "370102 is outside your regions" in own_city_other_county.reason
    assert isinstance(run(flag("371300", "371302", "371311"), shandong, CASE), Accepted)


def test_clearing_every_region_needs_an_unscoped_principal(shandong: RegionReference) -> None:
    clear = registration("371300", event_type="disaster_area.cleared",
                         payload={"disaster_id": "d1", "period_end": "2026-12-01"})  # fmt: skip
    got = run(clear, shandong, CASE)
    assert isinstance(got, Rejected) and got.field == "payload.regions"
    assert isinstance(run(clear, shandong, Submitter("user", "province", "admin")), Accepted)


def test_an_api_key_submits_for_its_source_its_types_and_regions(shandong: RegionReference) -> None:
    ok = run(registration(actor="clerk-7"), shandong, KEY)
    assert isinstance(ok, Accepted)
    doc = orjson.loads(ok.value)
    assert (doc["source"], doc["actor"]) == ("civil-affairs", "clerk-7")
    filled = orjson.loads(run(registration(), shandong, KEY).value)
    assert filled["actor"] == "civil-affairs"
    posing = run(registration(source="tax-bureau"), shandong, KEY)
    assert isinstance(posing, Rejected) and posing.field == "source"
    assert "submits for 'civil-affairs' only" in posing.reason
    layoff = registration(event_type="layoff.reported", schema_version=2, payload={
        "enterprise_name": "临沂某厂", "headcount_before": 100, "laid_off": 10})  # fmt: skip
    wrong_type = run(layoff, shandong, KEY)
    assert isinstance(wrong_type, Rejected) and wrong_type.field == "event_type"
    assert "may submit person.registered only" in wrong_type.reason
    everywhere = Submitter("apikey", "civil-affairs", "source")  # no allow-lists: all types
    assert isinstance(run(layoff, shandong, everywhere), Accepted)


def test_importers_and_the_operator_keep_the_bodys_source_and_actor(
    shandong: RegionReference,
) -> None:
    body = registration("370102", source="civil-affairs", actor="clerk-1")
    body["payload"]["national_id"] = make_national_id("370102", dt.date(1990, 1, 1), 3)
    for who in (Submitter("importer", "import:a.ndjson"), Submitter("operator", "operator")):
        got = run(body, shandong, who)
        assert isinstance(got, Accepted)
        assert orjson.loads(got.value)["source"] == "civil-affairs"
    bare = orjson.loads(run(registration(), shandong, Submitter("importer", "import:b")).value)
    assert (bare["source"], bare["actor"]) == ("import:b", "import:b")


def test_system_types_stay_refused_with_a_principal(shandong: RegionReference) -> None:
    forged = registration(event_type="alert.acknowledged", payload={"alert_id": "a1"})
    got = run(forged, shandong, Submitter("operator", "operator"))
    assert isinstance(got, Rejected) and got.field == "event_type"


@pytest.mark.parametrize("who", [None, CASE])
def test_occurred_at_may_not_lie_beyond_the_skew(
    who: Submitter | None, shandong: RegionReference
) -> None:
    def at(delta: dt.timedelta) -> dict[str, Any]:
        when = (NOW + delta).isoformat()
        return registration(occurred_at=when, recorded_at=when, actor="case-linyi",
                            source="user:case-linyi")  # fmt: skip

    assert isinstance(run(at(dt.timedelta(minutes=9)), shandong, who), Accepted)
    late = run(at(dt.timedelta(minutes=11)), shandong, who, line=2)
    assert isinstance(late, Rejected) and late.field == "occurred_at"
    assert late.reason.startswith("line 2: occurred_at: ")
    assert "EAMS_MAX_FUTURE_SKEW" in late.reason and "10 min" in late.reason
    wide = run(at(dt.timedelta(hours=5)), shandong, who, max_future_skew=dt.timedelta(hours=6))
    assert isinstance(wide, Accepted)
    assert isinstance(run(at(-dt.timedelta(days=900)), shandong, who), Accepted)  # the past is fine


def test_no_json_is_still_named_as_the_body(shandong: RegionReference) -> None:
    got = process_raw(b"{oops", reference=shandong, secret=SECRET, principal=CASE, line=9)
    assert isinstance(got, Rejected) and got.reason.startswith("line 9: (body): ")
