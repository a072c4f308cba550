"""Read-model queries over the ``alerts`` projection (duty officers' inbox, evaluator restore)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from events.severity import rank
from projections.client import Store, aware

# Later events of an alert (acknowledged, level changed) carry no rule, indicator or summary:
# the empty strings they project must not win `any`.
_CURRENT = """
SELECT alert_id, anyIf(rule, rule != '') AS rule, anyIf(region, region != '') AS region,
       anyIf(city, city != '') AS city, anyIf(indicator, indicator != '') AS indicator,
       anyIf(summary, summary != '') AS summary,
       argMaxIfMerge(level) AS level, argMaxIfMerge(value) AS value,
       argMaxIfMerge(threshold) AS threshold, min(firing_since) AS firing_since,
       max(resolved_at) AS resolved_at, max(acknowledged_at) AS acknowledged_at,
       argMaxIfMerge(acknowledged_by) AS acknowledged_by, argMaxIfMerge(ack_note) AS ack_note,
       argMaxIfMerge(silence_end) AS silenced_until, max(inhibited_at) AS inhibited_at,
       max(inhibition_ended_at) AS inhibition_ended_at,
       sum(events) AS events
FROM alerts GROUP BY alert_id
"""

_EPOCH_YEAR = 1971


def _status(row: dict[str, Any], now: dt.datetime) -> str:
    resolved = row["resolved_at"]
    if resolved is not None and resolved.year >= _EPOCH_YEAR:
        return "resolved"
    silenced = row["silenced_until"]
    if silenced is not None and silenced.year >= _EPOCH_YEAR and aware(silenced) > now:
        return "silenced"
    acked = row["acknowledged_at"]
    if acked is not None and acked.year >= _EPOCH_YEAR:
        return "acknowledged"
    inhibited = row["inhibited_at"]
    ended = row.get("inhibition_ended_at")
    if (
        inhibited is not None
        and inhibited.year >= _EPOCH_YEAR
        and (ended is None or inhibited > ended)
    ):
        return "inhibited"
    return "firing"


def _clean(row: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    row["status"] = _status(row, now)
    for key in (
        "resolved_at",
        "acknowledged_at",
        "silenced_until",
        "inhibited_at",
        "inhibition_ended_at",
    ):
        if row[key] is not None and row[key].year < _EPOCH_YEAR:
            row[key] = None
    if row["status"] != "acknowledged" and row["acknowledged_at"] is None:
        row["acknowledged_by"] = None
        row["ack_note"] = None
    return row


def list_alerts(
    store: Store,
    now: dt.datetime,
    *,
    regions: set[str] | None = None,
    level: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Alerts, most severe and newest first; filter by regions (code or city), level, status
    (``open`` = firing, acknowledged, silenced or inhibited)."""
    rows = [_clean(r, now) for r in store.dicts(_CURRENT) if r["firing_since"] is not None]
    if regions:
        rows = [r for r in rows if r["region"] in regions or r["city"] in regions]
    if level:
        rows = [r for r in rows if r["level"] == level]
    if status == "open":
        rows = [r for r in rows if r["status"] != "resolved"]
    elif status:
        rows = [r for r in rows if r["status"] == status]
    rows.sort(
        key=lambda r: (
            r["status"] == "resolved",
            -rank(r["level"], default=0),  # a row without a level last
            -r["firing_since"].timestamp(),
        )
    )
    return rows


def get_alert(store: Store, alert_id: str, now: dt.datetime) -> dict[str, Any] | None:
    """One alert's current state."""
    rows = store.dicts(f"SELECT * FROM ({_CURRENT}) WHERE alert_id = {{a:String}}", {"a": alert_id})
    return _clean(rows[0], now) if rows and rows[0]["firing_since"] is not None else None


def timeline(store: Store, alert_id: str) -> list[dict[str, Any]]:
    """Every event of an alert and its notifications, in order."""
    return store.dicts(
        "SELECT event_type, occurred_at, actor, payload FROM events "
        "WHERE aggregate_id = {a:String} OR (event_type LIKE 'notification.%' "
        "AND JSONExtractString(payload, 'alert_id') = {a:String}) "
        "ORDER BY occurred_at, kafka_offset",
        {"a": alert_id},
    )


def silence_rows(store: Store) -> list[dict[str, Any]]:
    """Every silence: its creating payload, actor and whether it was expired by hand."""
    return store.dicts(
        "SELECT aggregate_id AS silence_id, "
        "anyIf(actor, event_type = 'silence.created') AS actor, "
        "anyIf(payload, event_type = 'silence.created') AS payload, "
        "countIf(event_type = 'silence.expired') > 0 AS expired "
        "FROM events WHERE event_type IN ('silence.created', 'silence.expired') "
        "GROUP BY aggregate_id"
    )


def delivered(store: Store) -> tuple[set[str], set[str]]:
    """Ids of the notifications already delivered (a restart must not send them again),
    and of the alerts at least one of them reached."""
    rows = store.rows(
        "SELECT DISTINCT JSONExtractString(payload, 'notification_id'), "
        "JSONExtractString(payload, 'alert_id') FROM events "
        "WHERE event_type = 'notification.sent'"
    )
    return {str(r[0]) for r in rows}, {str(r[1]) for r in rows}
