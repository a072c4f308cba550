"""Upcasting of old payload versions on read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from events.catalogue import CURRENT_VERSION
from events.envelope import parse_event
from events.errors import EventRejectedError
from events.payloads_market import LayoffReported
from events.regions import RegionReference
from events.upcasting import registered_upcasters, upcast, upcaster

RawEvent = Callable[..., dict[str, Any]]

V1_PAYLOAD = {"company": "济南重工", "count": 230, "headcount_before": 900, "reason": "订单下降"}


def test_current_versions() -> None:
    assert CURRENT_VERSION["layoff.reported"] == 2
    assert {v for t, v in CURRENT_VERSION.items() if t != "layoff.reported"} == {1}


def test_every_upcast_chain_is_complete() -> None:
    steps = registered_upcasters()
    for event_type, current in CURRENT_VERSION.items():
        for version in range(1, current):
            assert (event_type, version) in steps, (event_type, version)


def test_v1_layoff_json_parses_into_v2_fields(
    raw_event: RawEvent, shandong: RegionReference, uscc: str
) -> None:
    raw = raw_event(schema_version=1, payload={**V1_PAYLOAD, "credit_code": uscc})
    env = parse_event(orjson.dumps(raw), reference=shandong)
    assert env.schema_version == 2
    assert isinstance(env.payload, LayoffReported)
    assert env.payload.laid_off == 230
    assert env.payload.enterprise_name == "济南重工"
    assert env.payload.enterprise_uscc == uscc
    assert env.payload.headcount_before == 900
    out = orjson.loads(env.to_json())
    assert out["schema_version"] == 2
    assert "count" not in out["payload"] and out["payload"]["laid_off"] == 230


def test_v1_checks_apply_after_upcasting(raw_event: RawEvent, shandong: RegionReference) -> None:
    raw = raw_event(schema_version=1, payload={**V1_PAYLOAD, "count": 1000})
    with pytest.raises(EventRejectedError) as info:
        parse_event(raw, reference=shandong)
    assert info.value.field == "payload.laid_off"
    bad = raw_event(schema_version=1, payload={**V1_PAYLOAD, "credit_code": "X" * 18})
    with pytest.raises(EventRejectedError) as info:
        parse_event(bad, reference=shandong)
    assert info.value.field == "payload.enterprise_uscc"


def test_v2_field_names_sent_as_v1_are_left_for_validation(
    raw_event: RawEvent, shandong: RegionReference
) -> None:
    # both the old and the new name: data is never silently dropped
    raw = raw_event(schema_version=1, payload={**V1_PAYLOAD, "laid_off": 3})
    with pytest.raises(EventRejectedError) as info:
        parse_event(raw, reference=shandong)
    assert info.value.field == "payload.count"
    assert info.value.reason.startswith("unknown field")


def test_v1_field_names_sent_as_v2_are_rejected(
    raw_event: RawEvent, shandong: RegionReference
) -> None:
    raw = raw_event(schema_version=2, payload=V1_PAYLOAD)
    with pytest.raises(EventRejectedError) as info:
        parse_event(raw, reference=shandong)
    assert info.value.field.startswith("payload.")


@pytest.mark.parametrize("version", [3, 99])
def test_newer_version_is_rejected(
    version: int, raw_event: RawEvent, shandong: RegionReference
) -> None:
    with pytest.raises(EventRejectedError) as info:
        parse_event(raw_event(schema_version=version), reference=shandong)
    assert info.value.field == "schema_version"
    assert "newest: 2" in info.value.reason


@pytest.mark.parametrize("version", [0, -1, "two", 1.5, True])
def test_invalid_versions(version: Any, raw_event: RawEvent, shandong: RegionReference) -> None:
    with pytest.raises(EventRejectedError) as info:
        parse_event(raw_event(schema_version=version), reference=shandong)
    assert info.value.field == "schema_version"


def test_upcast_does_not_mutate_input() -> None:
    payload = dict(V1_PAYLOAD)
    version, out = upcast("layoff.reported", 1, payload)
    assert version == 2
    assert payload == V1_PAYLOAD
    assert out == {
        "enterprise_name": "济南重工",
        "laid_off": 230,
        "headcount_before": 900,
        "reason": "订单下降",
    }


def test_upcast_current_version_is_identity() -> None:
    assert upcast("alert.acknowledged", 1, {"alert_id": "a"}) == (1, {"alert_id": "a"})


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        upcaster("layoff.reported", 1)(lambda p: p)
