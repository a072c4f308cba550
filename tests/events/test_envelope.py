"""parse_event: valid events of every type, and each kind of rejection with its field."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from events.catalogue import LABELS, PAYLOADS, PERSON_EVENT_TYPES
from events.envelope import (
    Envelope,
    is_statistical_zone,
    new_event_id,
    parse_event,
    region_flags,
)
from events.errors import EventRejectedError
from events.identity import make_uscc
from events.payloads_market import DisasterAreaFlagged, LayoffReported
from events.payloads_response import AlertRaised
from events.regions import RegionReference
from events.vocabulary import DisasterKind, Severity

RawEvent = Callable[..., dict[str, Any]]


def _reject(raw: Any, ref: RegionReference, line: int | None = None) -> EventRejectedError:
    with pytest.raises(EventRejectedError) as info:
        parse_event(raw, reference=ref, line=line)
    return info.value


def test_minimal_payloads_cover_the_whole_catalogue(
    minimal_payloads: dict[str, dict[str, Any]],
) -> None:
    assert set(minimal_payloads) == set(PAYLOADS)
    assert len(PAYLOADS) == 88


@pytest.mark.parametrize("event_type", sorted(PAYLOADS))
def test_every_event_type_parses_and_round_trips(
    event_type: str, raw_event: RawEvent, shandong: RegionReference
) -> None:
    env = parse_event(orjson.dumps(raw_event(event_type)), reference=shandong)
    assert env.event_type == event_type
    assert isinstance(env.payload, PAYLOADS[event_type])
    assert env.payload_type is PAYLOADS[event_type]
    again = parse_event(env.to_json(), reference=shandong)
    assert again == env
    assert again.to_json() == env.to_json()


def test_catalogue_names_and_labels() -> None:
    for event_type in PAYLOADS:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", event_type), event_type
        assert set(LABELS[event_type]) == {"zh", "en"}
    assert LABELS["layoff.reported"] == {"zh": "企业裁员报告", "en": "Layoff reported"}
    assert {"person.registered", "subsidy.paid", "unemployment_claim.filed"} <= PERSON_EVENT_TYPES
    assert "layoff.reported" not in PERSON_EVENT_TYPES
    assert "alert.raised" not in PERSON_EVENT_TYPES


def test_layoff_parses_typed(raw_event: RawEvent, shandong: RegionReference, uscc: str) -> None:
    raw = raw_event(
        payload={
            "enterprise_uscc": uscc.lower(),
            "headcount_before": 500,
            "laid_off": 220,
            "industry": "C36",
            "notice_date": "2024-02-20",
        }
    )
    env = parse_event(orjson.dumps(raw), reference=shandong)
    assert isinstance(env.payload, LayoffReported)
    assert env.payload.enterprise_uscc == uscc
    assert env.payload.laid_off == 220
    assert env.schema_version == 2
    assert env.event_id == uuid.UUID(raw["event_id"])


def test_disaster_area_regions_and_enums(raw_event: RawEvent, shandong: RegionReference) -> None:
    env = parse_event(raw_event("disaster_area.flagged"), reference=shandong)
    assert isinstance(env.payload, DisasterAreaFlagged)
    assert env.payload.kind is DisasterKind.NATURAL_DISASTER
    assert env.payload.severity is Severity.II
    assert env.payload.regions == ("370102", "370300")


def test_us_warn_notice_by_enterprise_name(raw_event: RawEvent, us: RegionReference) -> None:
    raw = raw_event(
        region="48201",
        payload={"enterprise_name": "Acme Corp", "laid_off": 120, "effective_date": "2024-05-01"},
    )
    env = parse_event(raw, reference=us)
    assert isinstance(env.payload, LayoffReported)
    assert env.payload.enterprise_uscc is None


def test_datetimes_are_normalised_to_shanghai(
    raw_event: RawEvent, shandong: RegionReference
) -> None:
    raw = raw_event(occurred_at="2024-03-01T01:00:00Z")
    env = parse_event(raw, reference=shandong)
    assert env.occurred_at == datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    body = orjson.loads(env.to_json())
    assert body["occurred_at"] == "2024-03-01T09:00:00+08:00"
    assert list(body)[:3] == ["event_id", "event_type", "schema_version"]
    assert list(body)[-1] == "payload"


def test_recorded_at_defaults_to_now(raw_event: RawEvent, shandong: RegionReference) -> None:
    raw = raw_event()
    del raw["recorded_at"]
    before = datetime.now(UTC)
    env = parse_event(raw, reference=shandong)
    assert before <= env.recorded_at <= datetime.now(UTC)
    assert env.recorded_at.utcoffset() is not None


def test_to_json_drops_none_in_payload(raw_event: RawEvent, shandong: RegionReference) -> None:
    env = parse_event(raw_event("subsidy.paid"), reference=shandong)
    payload = orjson.loads(env.to_json())["payload"]
    assert "national_id" not in payload
    assert "paid_on" not in payload
    assert Decimal(payload["amount"]) == Decimal("1500")


def test_partition_key(raw_event: RawEvent, shandong: RegionReference) -> None:
    env = parse_event(raw_event(), reference=shandong)
    assert env.partition_key() == str(env.event_id).encode()
    keyed = parse_event(raw_event(aggregate_id="ent-7"), reference=shandong)
    assert keyed.partition_key() == b"ent-7"


def test_statistical_zone_is_accepted_but_flagged(
    raw_event: RawEvent, shandong: RegionReference
) -> None:
    env = parse_event(raw_event(region="370176"), reference=shandong)
    assert is_statistical_zone(env.region, shandong)
    assert region_flags(env, shandong) == {"region_is_statistical_zone": True}
    assert not is_statistical_zone("370102", shandong)
    assert not is_statistical_zone("nonsense", shandong)


def test_direct_construction_with_typed_payload() -> None:
    env = Envelope(
        event_id=new_event_id(),
        event_type="alert.raised",
        occurred_at=datetime(2024, 3, 1, tzinfo=UTC),
        region="370100",
        source="risk",
        actor="system",
        payload=AlertRaised(alert_id="a1", rule="r", level=Severity.III, summary="s"),
    )
    assert env.schema_version == 1
    assert env.aggregate_id is None
    with pytest.raises(EventRejectedError) as info:
        Envelope(
            event_id=new_event_id(),
            event_type="layoff.reported",
            occurred_at=datetime(2024, 3, 1, tzinfo=UTC),
            region="370100",
            source="s",
            actor="a",
            payload=AlertRaised(alert_id="a1", rule="r", level=Severity.I, summary="s"),
        )
    assert info.value.field == "payload"


def test_new_event_ids_are_uuid7_and_ordered() -> None:
    ids = [new_event_id() for _ in range(50)]
    assert all(isinstance(i, uuid.UUID) and i.version == 7 for i in ids)
    assert ids == sorted(ids)


# --- rejections ------------------------------------------------------------------------


def test_unknown_event_type_suggests_close_names(
    raw_event: RawEvent, shandong: RegionReference
) -> None:
    err = _reject({**raw_event(), "event_type": "layoff.report"}, shandong)
    assert err.field == "event_type"
    assert "unknown event type 'layoff.report'" in err.reason
    assert "layoff.reported" in err.reason


def test_missing_event_type(raw_event: RawEvent, shandong: RegionReference) -> None:
    raw = raw_event()
    del raw["event_type"]
    assert _reject(raw, shandong).field == "event_type"


def test_unknown_payload_field_lists_allowed(
    raw_event: RawEvent, shandong: RegionReference
) -> None:
    raw = raw_event(payload={"enterprise_name": "x", "laid_off": 1, "foo": 1})
    err = _reject(raw, shandong)
    assert err.field == "payload.foo"
    assert err.reason.startswith("unknown field; allowed: enterprise_uscc, enterprise_name")


def test_unknown_envelope_field(raw_event: RawEvent, shandong: RegionReference) -> None:
    err = _reject(raw_event(tenant="x"), shandong)
    assert err.field == "tenant"
    assert "unknown field" in err.reason


def test_naive_datetime_is_rejected(raw_event: RawEvent, shandong: RegionReference) -> None:
    err = _reject(raw_event(occurred_at="2024-03-01T09:00:00"), shandong)
    assert err.field == "occurred_at"
    assert "time zone" in err.reason
    assert _reject(raw_event(recorded_at="2024-03-01 09:00"), shandong).field == "recorded_at"


def test_bad_region(raw_event: RawEvent, shandong: RegionReference) -> None:
    err = _reject(raw_event(region="379999"), shandong, line=12)
    assert err.field == "region"
    assert err.line == 12
    assert str(err).startswith("line 12: region: '379999' is not a Shandong division code")


def test_bad_region_inside_disaster_payload(raw_event: RawEvent, shandong: RegionReference) -> None:
    raw = raw_event("disaster_area.flagged")
    raw["payload"]["regions"] = ["370102", "370300", "371200"]
    err = _reject(raw, shandong)
    assert err.field == "payload.regions[2]"


def test_bad_national_id_checksum(
    raw_event: RawEvent, shandong: RegionReference, national_id: str
) -> None:
    bad = national_id[:-1] + ("0" if national_id[-1] != "0" else "1")
    raw = raw_event("person.registered")
    raw["payload"]["national_id"] = bad
    err = _reject(raw, shandong)
    assert err.field == "payload.national_id"
    assert err.reason == f"checksum character is {bad[-1]!r}, expected {national_id[-1]!r}"


def test_person_without_identity(raw_event: RawEvent, shandong: RegionReference) -> None:
    raw = raw_event("person.registered")
    del raw["payload"]["national_id"]
    err = _reject(raw, shandong)
    assert err.field == "payload"
    assert "national_id" in err.reason and "person_id" in err.reason


def test_bad_uscc(raw_event: RawEvent, shandong: RegionReference) -> None:
    good = make_uscc("91370100MA3C00001")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    err = _reject(raw_event(payload={"enterprise_uscc": bad, "laid_off": 5}), shandong)
    assert err.field == "payload.enterprise_uscc"
    assert "checksum character" in err.reason


def test_laid_off_more_than_headcount(raw_event: RawEvent, shandong: RegionReference) -> None:
    raw = raw_event(payload={"enterprise_name": "x", "headcount_before": 200, "laid_off": 250})
    err = _reject(raw, shandong)
    assert err.field == "payload.laid_off"
    assert err.reason == "laid_off (250) exceeds headcount_before (200)"


def test_layoff_needs_an_enterprise(raw_event: RawEvent, shandong: RegionReference) -> None:
    err = _reject(raw_event(payload={"laid_off": 5}), shandong)
    assert err.field == "payload"
    assert "enterprise_uscc or enterprise_name" in err.reason


def test_type_errors_show_the_input(raw_event: RawEvent, shandong: RegionReference) -> None:
    err = _reject(raw_event(payload={"enterprise_name": "x", "laid_off": "many"}), shandong)
    assert err.field == "payload.laid_off"
    assert "valid integer" in err.reason and "'many'" in err.reason
    err = _reject(raw_event(payload={"enterprise_name": "x", "laid_off": -1}), shandong)
    assert "greater than or equal to 0" in err.reason


def test_bad_enum_value(raw_event: RawEvent, shandong: RegionReference) -> None:
    raw = raw_event("disaster_area.flagged")
    raw["payload"]["severity"] = "V"
    err = _reject(raw, shandong)
    assert err.field == "payload.severity"
    assert "'I', 'II', 'III' or 'IV'" in err.reason


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.pop("event_id"), "event_id"),
        (lambda r: r.update(event_id="not-a-uuid"), "event_id"),
        (lambda r: r.pop("schema_version"), "schema_version"),
        (lambda r: r.pop("payload"), "payload"),
        (lambda r: r.update(payload=[1, 2]), "payload"),
        (lambda r: r.update(actor=""), "actor"),
        (lambda r: r.pop("source"), "source"),
        (lambda r: r.update(correlation_id="x"), "correlation_id"),
    ],
)
def test_envelope_field_errors(
    mutate: Any, field: str, raw_event: RawEvent, shandong: RegionReference
) -> None:
    raw = raw_event()
    mutate(raw)
    assert _reject(raw, shandong).field == field


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[1, 2]", b'"a string"', "\u00ff{".encode("latin-1"), b"null"],
)
def test_unparsable_body(body: bytes, shandong: RegionReference) -> None:
    err = _reject(body, shandong, line=3)
    assert err.field == "(body)"
    assert err.line == 3


def test_internal_event_takes_the_current_version_and_drops_none_fields() -> None:
    import uuid

    from events.envelope import internal_event

    fixed = uuid.UUID(int=7)
    event = internal_event(
        "layoff.reported", region="371302", aggregate_id="x", actor="eams.api", source="eams.api",
        payload={"enterprise_name": "厂", "laid_off": 3, "industry": None}, event_id=fixed,
    )  # fmt: skip
    assert event.schema_version == 2 and event.event_id == fixed
    assert "industry" not in event.as_dict()["payload"]
    assert event.occurred_at.utcoffset() == event.recorded_at.utcoffset()
    assert internal_event("alert.acknowledged", region="371300", aggregate_id="a", actor="u",
                          source="s", payload={"alert_id": "a"}).event_id != fixed  # fmt: skip
