"""Read-model queries about contingency-playbook runs that other stages need.

``active_runs`` feeds the notification stage: while a run is active (activated, not yet
closed or declined, not a drill), alerts in its area at or below its severity variant are
inhibited — the incident team is already on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.client import Store


@dataclass(frozen=True)
class ActiveRun:
    """A playbook run under way: its area and severity variant (None: every level)."""

    run_id: str
    playbook_id: str
    region: str
    level: str | None


def active_runs(store: Store) -> list[ActiveRun]:
    """Runs activated and not closed or declined, drills excluded."""
    rows = store.rows(
        "SELECT aggregate_id, "
        "anyIf(JSONExtractString(payload, 'playbook_id'), event_type = 'playbook.activated'), "
        "anyIf(toString(region), event_type = 'playbook.activated'), "
        "argMaxIf(JSONExtractString(payload, 'level'), occurred_at, "
        "         event_type IN ('playbook.proposed', 'playbook.activated') "
        "         AND JSONExtractString(payload, 'level') != '') "
        "FROM events WHERE event_type IN "
        "('playbook.proposed', 'playbook.activated', 'playbook.closed', 'playbook.declined') "
        "GROUP BY aggregate_id "
        "HAVING countIf(event_type = 'playbook.activated') > 0 "
        "AND countIf(event_type IN ('playbook.closed', 'playbook.declined')) = 0 "
        "AND maxIf(JSONExtractBool(payload, 'drill'), event_type = 'playbook.activated') = 0"
    )
    return [ActiveRun(str(r[0]), str(r[1]), str(r[2]), str(r[3]) or None) for r in rows]
