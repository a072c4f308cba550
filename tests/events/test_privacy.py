"""Pseudonymisation: no clear national ID, phone or name downstream of ingest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from events.envelope import Envelope, parse_event
from events.errors import EventRejectedError
from events.identity import national_id_check_char
from events.payload_base import PersonPayload
from events.privacy import assert_no_clear_pii, pseudonym, pseudonymise, pseudonymised_json
from events.regions import RegionReference

RawEvent = Callable[..., dict[str, Any]]
SECRET = b"test-secret-0123456789"
PHONE = "13812345678"
NAME = "欧阳娜娜"


@pytest.fixture
def registered(raw_event: RawEvent, shandong: RegionReference, national_id: str) -> Envelope:
    raw = raw_event("person.registered")
    raw["payload"].update(national_id=national_id.lower(), name=NAME, phone=PHONE)
    return parse_event(raw, reference=shandong)


def test_pseudonym_shape_and_stability(national_id: str) -> None:
    p = pseudonym(national_id, SECRET)
    assert p.startswith("p_") and len(p) == 34
    int(p[2:], 16)
    assert p == pseudonym(national_id, SECRET)
    assert p == pseudonym(f" {national_id.lower()} ", SECRET)
    assert p != pseudonym(national_id, b"another-secret")
    other = national_id[:14] + "999"
    assert p != pseudonym(other, SECRET)


def test_no_clear_pii_in_json(registered: Envelope, national_id: str) -> None:
    assert national_id.encode() in registered.to_json()  # clear before ingest
    out = pseudonymise(registered, SECRET)
    body = out.to_json()
    for clear in (national_id, national_id.lower(), national_id[6:14], PHONE, NAME):
        assert clear.encode() not in body, clear
    payload = out.payload
    assert isinstance(payload, PersonPayload)
    assert payload.national_id is None and payload.name is None and payload.phone is None
    assert payload.person_id == pseudonym(national_id, SECRET)
    assert payload.national_id_masked == national_id[:6] + "********" + national_id[-4:]
    assert payload.name_masked == "欧阳**"
    assert payload.phone_masked == "138****5678"
    assert out.aggregate_id == payload.person_id
    assert out.partition_key() == payload.person_id.encode()


def test_pseudonymise_is_idempotent(registered: Envelope) -> None:
    once = pseudonymise(registered, SECRET)
    twice = pseudonymise(once, SECRET)
    assert twice == once
    assert twice.to_json() == once.to_json()


def test_pseudonymised_event_parses_downstream(
    registered: Envelope, shandong: RegionReference
) -> None:
    out = pseudonymise(registered, SECRET)
    again = parse_event(out.to_json(), reference=shandong)
    assert again == out
    assert_no_clear_pii(again)


def test_guard_rejects_clear_pii(registered: Envelope) -> None:
    with pytest.raises(EventRejectedError) as info:
        assert_no_clear_pii(registered)
    assert info.value.field == "payload.national_id"
    assert info.value.reason == "clear-text national ID must not appear downstream of ingest"
    assert_no_clear_pii(pseudonymise(registered, SECRET))


def test_guard_rejects_clear_phone_on_pseudonymous_event(
    raw_event: RawEvent, shandong: RegionReference
) -> None:
    raw = raw_event("visit.recorded")
    raw["payload"]["phone"] = PHONE
    env = parse_event(raw, reference=shandong)
    with pytest.raises(EventRejectedError) as info:
        assert_no_clear_pii(env)
    assert info.value.field == "payload.phone"
    assert_no_clear_pii(pseudonymise(env, SECRET))


def test_clear_national_id_as_aggregate_id_is_replaced(
    raw_event: RawEvent, shandong: RegionReference, national_id: str
) -> None:
    raw = raw_event("person.registered", aggregate_id=national_id)
    env = parse_event(raw, reference=shandong)
    with pytest.raises(EventRejectedError) as info:
        assert_no_clear_pii(
            pseudonymise(env, SECRET).model_copy(update={"aggregate_id": national_id})
        )
    assert info.value.field == "aggregate_id"
    out = pseudonymise(env, SECRET)
    assert out.aggregate_id == pseudonym(national_id, SECRET)
    assert national_id.encode() not in out.to_json()


def test_explicit_person_aggregate_is_kept(raw_event: RawEvent, shandong: RegionReference) -> None:
    env = parse_event(raw_event("welfare_post.assigned", aggregate_id="wp1"), reference=shandong)
    assert pseudonymise(env, SECRET).aggregate_id == "wp1"


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("disaster_area.flagged", "d1"),
        ("alert.raised", "al1"),
        ("household.zero_employment_identified", "h1"),
        ("playbook.proposed", "run1"),
        ("fraud.suspected", "f1"),
        ("risk.level_changed", "risk:370102"),
        ("person.recognized", "p_" + "0" * 32),
    ],
)
def test_derived_aggregate_ids(
    event_type: str, expected: str, raw_event: RawEvent, shandong: RegionReference
) -> None:
    env = parse_event(raw_event(event_type), reference=shandong)
    assert pseudonymise(env, SECRET).aggregate_id == expected


def test_layoff_aggregate_is_enterprise(
    raw_event: RawEvent, shandong: RegionReference, uscc: str
) -> None:
    env = parse_event(raw_event(), reference=shandong)
    assert pseudonymise(env, SECRET).aggregate_id == uscc
    named = parse_event(
        raw_event(payload={"enterprise_name": "Acme", "laid_off": 3}), reference=shandong
    )
    assert pseudonymise(named, SECRET).aggregate_id == "Acme"
    given = parse_event(raw_event(aggregate_id="site-9"), reference=shandong)
    assert pseudonymise(given, SECRET).aggregate_id == "site-9"


def test_pseudonymised_json_is_byte_identical_to_the_model_path() -> None:
    """The ingest hot path must produce exactly what pseudonymise().to_json() produces."""
    import datetime as dt

    from eams.tools.simulator import Scenario, ScenarioConfig
    from events.clock import SHANGHAI
    from events.envelope import parse_event
    from events.privacy import pseudonymise, pseudonymised_json
    from events.regions import load_reference

    reference = load_reference("shandong")
    start = dt.datetime(2026, 5, 1, tzinfo=SHANGHAI)
    config = ScenarioConfig(seed=5, count=600, start=start, span=dt.timedelta(days=3))
    for raw in Scenario(reference, config):
        envelope = parse_event(raw, reference=reference)
        model = pseudonymise(envelope, b"k")
        key, value, _masked = pseudonymised_json(envelope, b"k")
        assert value == model.to_json()
        assert key == model.partition_key()
        assert b'national_id"' not in value and b'"name"' not in value


def test_ids_inside_a_payload_object_are_keyed_or_masked(
    raw_event: RawEvent, shandong: RegionReference, national_id: str
) -> None:
    """A civil-affairs lead whose facts name the householder by ID (a household key) and
    whose plan-like objects carry text: nothing clear survives, the key stays a key."""
    body17 = national_id[:14] + "001"
    householder = body17 + national_id_check_char(body17)
    raw = raw_event(
        "lead.discovered",
        payload={
            "national_id": national_id,
            "lead_id": "mz-1",
            "source": "civil_affairs",
            "facts": {"household_id": householder, "low_income": True},
        },
    )
    event = parse_event(raw, reference=shandong)
    out = pseudonymise(event, SECRET)
    facts = out.payload.facts  # type: ignore[attr-defined]
    assert facts.household_id == pseudonym(householder, SECRET)
    assert facts.low_income is True
    text = out.to_json().decode()
    assert householder not in text and national_id not in text
    key, body, masked = pseudonymised_json(event, SECRET)
    assert body == out.to_json() and masked == 1
