"""From an event as stored in ``eams.events`` (JSON) to a row of the ``events`` table.

Pure: the projector feeds it decoded documents; the typed columns it extracts (person,
target group, people laid off, disaster regions …) are what the materialized views
aggregate, so the views never parse JSON.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import orjson

from events.errors import EventRejectedError
from events.payload_base import UINT16_MAX, UINT32_MAX
from events.regions import RegionReference

COLUMNS: tuple[str, ...] = (
    "event_id", "event_type", "schema_version", "occurred_at", "recorded_at", "region",
    "region_is_statistical_zone", "city", "aggregate_id", "source", "actor", "correlation_id",
    "causation_id", "person_id", "household_id", "target_group", "status", "enterprise", "laid_off",
    "headcount_before", "disaster_id", "disaster_kind", "severity", "disaster_regions",
    "disaster_cities", "amount", "payload", "kafka_partition", "kafka_offset",
)  # fmt: skip

#: Payload fields projected into a typed column of ``events`` (payload name -> column).
#: Every other payload field stays in the ``payload`` JSON column.
PAYLOAD_COLUMNS: dict[str, str] = {
    "laid_off": "laid_off",
    "headcount_before": "headcount_before",
    "amount": "amount",
}

#: The largest value of each integer column of ``events`` that ``to_row`` fills from an
#: event, as the shipped migrations declare it. The projector reads the live schema at start
#: (:func:`column_bounds`), so a migration that widens a column widens the check with it.
DEFAULT_BOUNDS: dict[str, int] = {
    "schema_version": UINT16_MAX,
    "laid_off": UINT32_MAX,
    "headcount_before": UINT32_MAX,
}

_UINT = re.compile(r"^UInt(8|16|32|64)$")


def uint_max(clickhouse_type: str) -> int | None:
    """The largest value of an unsigned ClickHouse integer type (None for other types)."""
    match = _UINT.match(clickhouse_type)
    return 2 ** int(match.group(1)) - 1 if match else None


def column_bounds(types: Mapping[str, str]) -> dict[str, int]:
    """The bounds of :data:`DEFAULT_BOUNDS`'s columns from a table's column types."""
    found = {name: uint_max(types.get(name, "")) for name in DEFAULT_BOUNDS}
    return {name: bound for name, bound in found.items() if bound is not None}


_REQUIRED = ("event_id", "event_type", "occurred_at", "recorded_at", "region", "payload")

#: Status a person has after an event of this type (payload status wins where given).
_STATUS_BY_TYPE = {
    "person.exited": "exited",
    "placement.recorded": "employed",
    "temporary_assistance.enrolled": "temporary_assistance",
}


def _ts(doc: dict[str, Any], name: str) -> dt.datetime:
    value = doc[name]
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise EventRejectedError(name, f"expected an ISO 8601 time, got {value!r}") from exc
    if parsed.tzinfo is None:
        raise EventRejectedError(name, "expected a time with a UTC offset")
    return parsed


def _int(payload: dict[str, Any], name: str, bounds: Mapping[str, int]) -> int:
    """A count for an unsigned column; one its column cannot hold is an error, not a wrap."""
    value = payload.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        return 0
    column = PAYLOAD_COLUMNS[name]
    limit = bounds.get(column, UINT32_MAX)
    if value > limit:
        raise EventRejectedError(
            f"payload.{name}",
            f"{value} is larger than the column {column} holds (at most {limit:,}); widen the "
            "column with a migration, then `eams quarantine retry`",
        )
    return int(value)


def _zone(reference: RegionReference, code: str) -> bool:
    region = reference.get(code)
    return bool(region and region.is_statistical_zone)


def _amount(value: Any) -> float:
    """Money arrives as a decimal string ("1500.00") or a number; not finite is an error."""
    try:
        amount = float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(amount):
        raise EventRejectedError("payload.amount", f"expected a finite amount, got {value!r}")
    return amount


def to_row(
    doc: dict[str, Any],
    partition: int,
    offset: int,
    reference: RegionReference,
    bounds: Mapping[str, int] = DEFAULT_BOUNDS,
) -> tuple[Any, ...]:
    """The ``events`` row for one decoded event; raises EventRejectedError if malformed.

    A ``disaster_area.cleared`` that names no regions keeps an empty ``disaster_regions``:
    it clears every region of its disaster, which the queries resolve (see
    ``projections.queries.ACTIVE_DISASTER_AREAS``) whatever order the events arrive in.
    """
    for name in _REQUIRED:
        if name not in doc:
            raise EventRejectedError(name, "missing in an event of eams.events")
    payload = doc["payload"]
    if not isinstance(payload, dict):
        raise EventRejectedError("payload", "expected an object")
    for pii in ("national_id", "phone", "name"):
        if payload.get(pii):
            raise EventRejectedError(
                f"payload.{pii}", "clear-text personal data must not appear after ingest"
            )
    event_type = str(doc["event_type"])
    region = str(doc["region"])
    city = reference.city_of(region) or ""
    raw_regions = payload.get("regions") or []
    if not isinstance(raw_regions, list):
        raise EventRejectedError("payload.regions", "expected a list of region codes")
    regions = [str(r) for r in raw_regions]
    disaster_id = str(payload.get("disaster_id") or "")
    status = payload.get("employment_status") or payload.get("status") or ""
    status = str(status) or _STATUS_BY_TYPE.get(event_type, "")
    enterprise = payload.get("enterprise_uscc") or payload.get("uscc") or ""
    enterprise = enterprise or payload.get("enterprise_name") or ""
    amount = payload.get("amount")
    try:
        event_id = UUID(str(doc["event_id"]))
    except ValueError as exc:
        raise EventRejectedError("event_id", f"expected a UUID, got {doc['event_id']!r}") from exc
    try:
        version = int(doc.get("schema_version") or 1)
    except (TypeError, ValueError) as exc:
        raise EventRejectedError("schema_version", "expected an integer") from exc
    if not 1 <= version <= bounds.get("schema_version", UINT16_MAX):
        raise EventRejectedError("schema_version", f"{version} is out of range")
    occurred_at, recorded_at = _ts(doc, "occurred_at"), _ts(doc, "recorded_at")
    return (
        event_id,
        event_type,
        version,
        occurred_at,
        recorded_at,
        region,
        1 if _zone(reference, region) else 0,
        city,
        str(doc.get("aggregate_id") or ""),
        str(doc.get("source") or ""),
        str(doc.get("actor") or ""),
        str(doc.get("correlation_id") or ""),
        str(doc.get("causation_id") or ""),
        str(payload.get("person_id") or ""),
        str(payload.get("household_id") or ""),
        str(payload.get("target_group") or ""),
        status,
        str(enterprise),
        _int(payload, "laid_off", bounds),
        _int(payload, "headcount_before", bounds),
        disaster_id,
        str(payload.get("kind") or ""),
        str(payload.get("severity") or ""),
        regions,
        [reference.city_of(r) or "" for r in regions],
        _amount(amount),
        orjson.dumps(payload).decode(),
        partition,
        offset,
    )
