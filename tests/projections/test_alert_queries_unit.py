"""The order of the duty officers' alert list (``list_alerts``), against the real embedded
ClickHouse (chDB): open alerts before resolved ones, the most severe level first on the
scale of ``events.severity``, the newest first within a level."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from events.clock import SHANGHAI
from events.envelope import Envelope, internal_event
from events.regions import load_reference
from projections.alert_queries import list_alerts
from projections.client import Store
from projections.migrations import migrate
from projections.rows import COLUMNS, to_row

T0 = dt.datetime(2026, 7, 1, 9, 0, tzinfo=SHANGHAI)
NOW = T0 + dt.timedelta(hours=6)


def _alert(event_type: str, alert_id: str, hours: float, **payload: Any) -> Envelope:
    return internal_event(
        event_type,
        region="371302",
        aggregate_id=alert_id,
        actor="eams.alerting",
        source="eams.alerting",
        payload={"alert_id": alert_id, **payload},
        occurred_at=T0 + dt.timedelta(hours=hours),
    )


def _raised(alert_id: str, level: str, hours: float) -> Envelope:
    return _alert(
        "alert.raised", alert_id, hours, rule="job_loss", level=level, summary=f"{level} alert"
    )


def history() -> list[Envelope]:
    """Alerts raised at every level, in no order of level, one of them resolved and one
    raised at IV and changed to I."""
    return [
        _raised("a_iii_old", "III", 0),
        _raised("a_i_resolved", "I", 1),
        _raised("a_iv", "IV", 2),
        _raised("a_iii_new", "III", 3),
        _raised("a_ii", "II", 4),
        _raised("a_iv_to_i", "IV", 0.5),
        _alert(
            "alert.level_changed", "a_iv_to_i", 5, rule="job_loss", previous_level="IV", level="I"
        ),
        _alert("alert.resolved", "a_i_resolved", 5, automatic=True),
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A migrated chDB store holding the history (closed at the end of the module: one
    embedded engine per process at a time)."""
    path: Path = tmp_path_factory.mktemp("alerts-chdb")
    reference = load_reference("shandong")
    rows = [
        to_row(orjson.loads(e.to_json()), 0, offset, reference)
        for offset, e in enumerate(history())
    ]
    store = Store(f"chdb://{path}")
    try:
        migrate(store)
        store.insert_columns("events", list(zip(*rows, strict=True)), COLUMNS)
        yield store
    finally:
        store.close()


def test_alerts_are_listed_open_first_most_severe_first_then_newest(store: Store) -> None:
    rows = list_alerts(store, NOW, status="")
    assert [(r["alert_id"], r["level"], r["status"]) for r in rows] == [
        ("a_iv_to_i", "I", "firing"),
        ("a_ii", "II", "firing"),
        ("a_iii_new", "III", "firing"),
        ("a_iii_old", "III", "firing"),
        ("a_iv", "IV", "firing"),
        ("a_i_resolved", "I", "resolved"),
    ]


def test_open_alerts_keep_that_order(store: Store) -> None:
    rows = list_alerts(store, NOW, status="open")
    assert [r["alert_id"] for r in rows] == ["a_iv_to_i", "a_ii", "a_iii_new", "a_iii_old", "a_iv"]
