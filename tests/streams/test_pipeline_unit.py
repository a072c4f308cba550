"""The pure ingest steps: ``process_raw`` (parse -> validate -> pseudonymise) and ``raw_key``."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any
from uuid import UUID

import orjson
import pytest

from events.identity import make_national_id, make_uscc
from events.privacy import pseudonym
from events.regions import RegionReference, load_reference
from streams.pipeline import Accepted, Rejected, process_raw, raw_key

SECRET = b"unit-test-secret"
NATIONAL_ID = make_national_id("370102", date(1988, 5, 17), 42)
USCC = make_uscc("91370100MA3C00001")
NAME = "张伟"
PHONE = "13812345678"
EVENT_ID = "0190a0b2-1c3d-7e4f-8a5b-6c7d8e9f0a1b"


@pytest.fixture(scope="module")
def shandong() -> RegionReference:
    """The Shandong reference, as the ingest stream uses it."""
    return load_reference("shandong")


def registration(**overrides: Any) -> dict[str, Any]:
    """A valid ``person.registered`` input carrying clear personal data."""
    event: dict[str, Any] = {
        "event_id": EVENT_ID,
        "event_type": "person.registered",
        "schema_version": 1,
        "occurred_at": "2024-03-01T09:00:00+08:00",
        "recorded_at": "2024-03-01T09:05:00+08:00",
        "region": "370102",
        "source": "unit",
        "actor": "officer-1",
        "payload": {
            "national_id": NATIONAL_ID,
            "name": NAME,
            "phone": PHONE,
            "target_group": "employment_difficulty",
            "employment_status": "unemployed",
        },
    }
    event.update(overrides)
    return event


def run(event: dict[str, Any] | bytes, shandong: RegionReference, **kw: Any) -> Any:
    raw = event if isinstance(event, bytes) else orjson.dumps(event)
    return process_raw(raw, reference=shandong, secret=SECRET, **kw)


def test_accepted_person_event_carries_no_clear_pii(shandong: RegionReference) -> None:
    result = run(registration(), shandong)
    assert isinstance(result, Accepted)
    assert result.event_id == UUID(EVENT_ID)
    assert result.event_type == "person.registered"
    for clear in (NATIONAL_ID, NAME, PHONE, NATIONAL_ID[6:14]):
        assert clear.encode() not in result.value, clear
    doc = orjson.loads(result.value)
    person_id = pseudonym(NATIONAL_ID, SECRET)
    assert doc["payload"]["person_id"] == person_id
    for field in ("national_id", "name", "phone"):
        assert field not in doc["payload"]
    assert doc["payload"]["phone_masked"] == "138****5678"
    assert result.key == person_id.encode()
    assert doc["aggregate_id"] == person_id


def test_layoff_is_keyed_by_enterprise(shandong: RegionReference) -> None:
    layoff = registration(
        event_type="layoff.reported",
        schema_version=2,
        payload={"enterprise_uscc": USCC, "headcount_before": 500, "laid_off": 220},
    )
    result = run(layoff, shandong)
    assert isinstance(result, Accepted)
    assert result.key == USCC.encode()


def test_old_version_is_upcast_on_accept(shandong: RegionReference) -> None:
    v1 = registration(
        event_type="layoff.reported",
        schema_version=1,
        payload={"company": "Jinan Steel", "count": 30},
    )
    result = run(v1, shandong)
    assert isinstance(result, Accepted)
    doc = orjson.loads(result.value)
    assert doc["schema_version"] == 2
    assert doc["payload"] == {"enterprise_name": "Jinan Steel", "laid_off": 30}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"not json at all", "(body)"),
        (b"", "(body)"),
        (b"[1, 2]", "(body)"),
        (b"\xff\xfe\x00", "(body)"),
        (registration(event_type="person.registerd"), "event_type"),
        (registration(event_type=None), "event_type"),
        (
            registration(
                payload={**registration()["payload"], "national_id": "370102198805170000"}
            ),
            "payload.national_id",
        ),
        (registration(region="379999"), "region"),
        (registration(payload={**registration()["payload"], "salary": 1}), "payload.salary"),
        (registration(schema_version=7), "schema_version"),
        (registration(occurred_at="2024-03-01T09:00:00"), "occurred_at"),
    ],
)
def test_rejections_name_the_field(
    raw: dict[str, Any] | bytes, field: str, shandong: RegionReference
) -> None:
    result = run(raw, shandong)
    assert isinstance(result, Rejected)
    assert result.field == field
    assert result.reason.startswith(f"{field}: ")


def test_unknown_payload_field_lists_allowed_fields(shandong: RegionReference) -> None:
    result = run(registration(payload={**registration()["payload"], "salary": 1}), shandong)
    assert isinstance(result, Rejected)
    assert "unknown field" in result.reason and "target_group" in result.reason


def test_line_is_part_of_the_reason(shandong: RegionReference) -> None:
    result = run(registration(region="379999"), shandong, line=17)
    assert isinstance(result, Rejected)
    assert result.field == "region"
    assert result.reason.startswith("line 17: region: ")
    body = run(b"{oops", shandong, line=3)
    assert isinstance(body, Rejected) and body.reason.startswith("line 3: (body): ")


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_out_of_range_time_is_rejected_not_raised(when: str, shandong: RegionReference) -> None:
    result = run(registration(occurred_at=when), shandong)
    assert isinstance(result, Rejected)
    assert result.field == "occurred_at"


def test_raw_key_is_the_lower_cased_event_id() -> None:
    raw = orjson.dumps({"event_id": EVENT_ID.upper(), "event_type": "whatever"})
    assert raw_key(raw) == EVENT_ID.encode()
    assert raw_key(orjson.dumps({"event_id": EVENT_ID})) == EVENT_ID.encode()


@pytest.mark.parametrize(
    "spelling",
    [
        EVENT_ID.upper(),
        EVENT_ID.replace("-", ""),
        EVENT_ID.replace("-", "").upper(),
        "{" + EVENT_ID + "}",
        "urn:uuid:" + EVENT_ID,
    ],
)
def test_every_spelling_of_one_event_id_gets_one_raw_key(
    spelling: str, shandong: RegionReference
) -> None:
    # The envelope reads each spelling as the same id, so a resubmission spelled another way
    # must land on the same raw partition: that partition's owner holds the id's mark.
    result = run(registration(event_id=spelling), shandong)
    assert isinstance(result, Accepted) and result.event_id == UUID(EVENT_ID)
    assert raw_key(orjson.dumps(registration(event_id=spelling))) == EVENT_ID.encode()


def test_an_event_id_the_envelope_refuses_is_only_lower_cased(shandong: RegionReference) -> None:
    for spelling in ("Not-A-UUID", "abcdefghijklmnop", "0190A0B2-1C3D-7E4F-8A5B-6C7D8E9F0A1"):
        assert isinstance(run(registration(event_id=spelling), shandong), Rejected)
        assert raw_key(orjson.dumps({"event_id": spelling})) == spelling.lower().encode()


@pytest.mark.parametrize(
    "raw", [b"not json", b"[]", b'{"event_id": ""}', b'{"event_id": 12}', b'{"x": 1}']
)
def test_raw_key_digests_what_has_no_event_id(raw: bytes) -> None:
    key = raw_key(raw)
    assert key == hashlib.blake2b(raw, digest_size=16).hexdigest().encode()
    assert len(key) == 32
    assert raw_key(raw) == key
    assert raw_key(raw + b" ") != key


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("alert.acknowledged", {"alert_id": "a1", "note": "forged"}),
        ("playbook.activated", {"run_id": "r1", "playbook_id": "natural_disaster"}),
        ("notification.sent", {"notification_id": "n1", "channel": "email", "recipient": "x"}),
        # a case's ownership and schedule, a household's members and escalation
        (
            "case.handed_over",
            {
                "person_id": "p_" + "0" * 32,
                "from_office": "370102",
                "from_officer": "a",
                "office": "370102",
                "officer": "me",
                "reason": "forged",
            },
        ),  # fmt: skip
        (
            "visit.scheduled",
            {
                "person_id": "p_" + "0" * 32,
                "due_on": "2030-01-01",
                "interval_days": 366,
                "basis": "forged",
            },
        ),  # fmt: skip
        (
            "household.clearing_overdue",
            {"household_id": "h1", "deadline": "2026-01-01", "escalated_to": "370102"},
        ),  # fmt: skip
    ],
)
def test_sources_cannot_append_what_eams_decides_itself(
    event_type: str, payload: dict[str, Any], shandong: RegionReference
) -> None:
    got = run(registration(event_type=event_type, payload=payload), shandong, line=3)
    assert isinstance(got, Rejected) and got.field == "event_type"
    assert "recorded by EAMS itself" in got.reason and got.reason.startswith("line 3: ")
