"""``projections.rows.to_row`` on pseudonymised events as stored, and ``RecentIds``."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest

from events.envelope import new_event_id, parse_event
from events.errors import EventRejectedError
from events.identity import make_national_id, make_uscc
from events.privacy import pseudonym, pseudonymise
from events.regions import RegionReference, load_reference
from projections.projector import RecentIds
from projections.rows import COLUMNS, to_row

SECRET = b"rows-secret"
NATIONAL_ID = make_national_id("370102", date(1990, 1, 2), 123)
PERSON_ID = pseudonym(NATIONAL_ID, SECRET)
USCC = make_uscc("91370100MA3C00001")
EVENTS_SQL = Path(__file__).parents[2] / "projections" / "migrations" / "0001_events.sql"


@pytest.fixture(scope="module")
def ref() -> RegionReference:
    """The Shandong reference."""
    return load_reference("shandong")


def stored(ref: RegionReference, event_type: str, payload: dict[str, Any], **kw: Any) -> Any:
    """The decoded JSON of an event as it sits in ``eams.events`` (after ingest)."""
    version = 2 if event_type == "layoff.reported" else 1
    raw = dict(event_id=str(new_event_id()), event_type=event_type, schema_version=version)
    raw |= dict(occurred_at="2024-07-01T09:00:00+08:00", recorded_at="2024-07-01T09:30+08:00")
    raw |= dict(region="370102", source="unit", actor="officer", payload=payload) | kw
    envelope = pseudonymise(parse_event(raw, reference=ref), SECRET)
    return orjson.loads(envelope.to_json())


def row_of(doc: dict[str, Any], ref: RegionReference, **kw: Any) -> dict[str, Any]:
    row = to_row(doc, 2, 41, ref, **kw)
    assert len(row) == len(COLUMNS)
    return dict(zip(COLUMNS, row, strict=True))


def test_columns_match_the_events_table() -> None:
    body = EVENTS_SQL.read_text().split("CREATE TABLE IF NOT EXISTS events", 1)[1].split(")\n")[0]
    declared = re.findall(r"^\s{4}(\w+)\s", body, flags=re.M)
    assert tuple(c for c in declared if c != "projected_at") == COLUMNS


def test_person_registration_row(ref: RegionReference) -> None:
    payload = {"national_id": NATIONAL_ID, "target_group": "rural_surplus_labour"}
    doc = stored(ref, "person.registered", payload | {"employment_status": "unemployed"})
    row = row_of(doc, ref)
    assert row["event_id"] == UUID(doc["event_id"]) and row["schema_version"] == 1
    assert row["region"] == "370102" and row["city"] == "370100"
    assert row["person_id"] == PERSON_ID == row["aggregate_id"]
    assert (row["target_group"], row["status"]) == ("rural_surplus_labour", "unemployed")
    assert row["occurred_at"].utcoffset().total_seconds() == 8 * 3600
    assert (row["kafka_partition"], row["kafka_offset"]) == (2, 41)
    assert NATIONAL_ID not in row["payload"]
    assert orjson.loads(row["payload"]) == doc["payload"]


def test_layoff_row(ref: RegionReference) -> None:
    payload = {"enterprise_uscc": USCC, "headcount_before": 500, "laid_off": 220}
    doc = stored(ref, "layoff.reported", payload, region="371302")
    row = row_of(doc, ref)
    assert (row["laid_off"], row["headcount_before"]) == (220, 500)
    assert (row["enterprise"], row["city"], row["schema_version"]) == (USCC, "371300", 2)
    assert row["person_id"] == row["target_group"] == row["status"] == ""


START = {"started_on": "2024-07-02"}


@pytest.mark.parametrize(
    ("event_type", "payload", "status"),
    [
        ("person.exited", {"reason": "employed"}, "exited"),
        ("placement.recorded", {"placement": "welfare_post"} | START, "employed"),
        ("temporary_assistance.enrolled", {"disaster_id": "d1"}, "temporary_assistance"),
        ("service.delivered", {"service": "career_guidance"}, ""),
    ],
)
def test_status_by_type(ref: RegionReference, event_type: str, payload: Any, status: str) -> None:
    doc = stored(ref, event_type, {"person_id": PERSON_ID} | payload)
    assert row_of(doc, ref)["status"] == status


def test_amount_from_a_decimal_string(ref: RegionReference) -> None:
    payload = {"person_id": PERSON_ID, "application_id": "a1", "subsidy": "post"}
    doc = stored(ref, "subsidy.paid", payload | {"amount": "1500.00"})
    assert doc["payload"]["amount"] == "1500.00"
    assert row_of(doc, ref)["amount"] == 1500.0


def flag(ref: RegionReference, event_type: str = "disaster_area.flagged", **payload: Any) -> Any:
    base = {"disaster_id": "d1", "kind": "natural_disaster", "severity": "II", "title": "flood"}
    return stored(ref, event_type, base | {"period_start": "2024-07-01"} | payload)


def test_disaster_regions_and_cities(ref: RegionReference) -> None:
    row = row_of(flag(ref, regions=["370102", "371302"]), ref)
    assert (row["disaster_id"], row["disaster_kind"]) == ("d1", "natural_disaster")
    assert row["severity"] == "II"
    assert row["disaster_regions"] == ["370102", "371302"]
    assert row["disaster_cities"] == ["370100", "371300"]


def test_clear_without_regions_stays_a_whole_disaster_clear(ref: RegionReference) -> None:
    """The row keeps what the event says; the queries apply a region-less clear to every
    region of the disaster, whatever order flag and clear arrive in."""
    clear = stored(ref, "disaster_area.cleared", {"disaster_id": "d1", "period_end": "2024-08-01"})
    assert row_of(clear, ref)["disaster_regions"] == []
    partial = clear["payload"] | {"regions": ["371302"]}
    row = row_of(clear | {"payload": partial}, ref)
    assert row["disaster_regions"] == ["371302"] and row["disaster_cities"] == ["371300"]


@pytest.mark.parametrize("pii", ["national_id", "phone", "name"])
def test_clear_pii_is_rejected(ref: RegionReference, pii: str) -> None:
    doc = stored(ref, "service.delivered", {"person_id": PERSON_ID, "service": "ledger"})
    doc["payload"][pii] = NATIONAL_ID if pii == "national_id" else "x"
    with pytest.raises(EventRejectedError) as info:
        to_row(doc, 0, 0, ref)
    assert info.value.field == f"payload.{pii}"


MISSING = object()


@pytest.mark.parametrize(
    ("key", "value"),
    [(k, MISSING) for k in ("event_id", "event_type", "occurred_at", "recorded_at", "region")]
    + [("payload", MISSING), ("payload", [1]), ("event_id", "nope"), ("recorded_at", 5)]
    + [("occurred_at", "2024-07-01T09:00:00"), ("occurred_at", "yesterday")],
)
def test_bad_keys_name_the_field(ref: RegionReference, key: str, value: Any) -> None:
    doc = stored(ref, "unemployment_claim.filed", {"person_id": PERSON_ID})
    if value is MISSING:
        del doc[key]
    else:
        doc[key] = value
    with pytest.raises(EventRejectedError) as info:
        to_row(doc, 0, 0, ref)
    assert info.value.field == key


def test_bad_schema_version_is_rejected(ref: RegionReference) -> None:
    doc = stored(ref, "unemployment_claim.filed", {"person_id": PERSON_ID})
    doc["schema_version"] = "x"
    with pytest.raises(EventRejectedError):
        to_row(doc, 0, 0, ref)


def test_recent_ids_reports_duplicates_and_evicts_oldest() -> None:
    ids = RecentIds(capacity=2)
    assert ids.add(b"a") is True
    assert ids.add(b"a") is False
    assert ids.add(b"b") is True
    assert ids.add(b"c") is True and len(ids) == 2
    assert ids.add(b"b") is False  # still inside the window
    assert ids.add(b"a") is True  # evicted, so new again
    assert ids.add(b"b") is True  # evicted by a
