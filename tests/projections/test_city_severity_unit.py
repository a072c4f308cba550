"""The level of a city's disaster areas, and the ``disaster_area`` indicator, read on the
severity scale: a real embedded ClickHouse with every migration applied, no broker."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from events.clock import SHANGHAI
from events.envelope import Envelope, parse_event
from events.regions import load_reference
from projections.client import Store
from projections.indicators import SEVERITY_NUMBER, compute
from projections.migrations import migrate
from projections.queries import city_overview
from projections.rows import COLUMNS, to_row

REF = load_reference("shandong")
AT = dt.datetime(2026, 6, 1, 8, 0, tzinfo=SHANGHAI)
LINYI, LANSHAN, LUOZHUANG, HEDONG = "371300", "371302", "371311", "371312"
JINAN, LIXIA = "370100", "370102"


def flag(disaster_id: str, city: str, severity: str, *counties: str) -> Envelope:
    return parse_event(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "disaster_area.flagged",
            "schema_version": 1,
            "occurred_at": AT.isoformat(),
            "recorded_at": AT.isoformat(),
            "region": city,
            "source": "test",
            "actor": "tester",
            "payload": {
                "disaster_id": disaster_id,
                "kind": "natural_disaster",
                "severity": severity,
                "regions": list(counties),
                "title": "洪涝",
                "period_start": AT.date().isoformat(),
            },
        },
        reference=REF,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Linyi flagged III in two counties and II in a third; Jinan IV in one."""
    path: Path = tmp_path_factory.mktemp("city-severity-chdb")
    s = Store(f"chdb://{path}")
    try:
        migrate(s)
        events = [
            flag("flood-a", LINYI, "III", LANSHAN, LUOZHUANG),
            flag("flood-b", LINYI, "II", HEDONG),
            flag("storm", JINAN, "IV", LIXIA),
        ]
        rows: list[tuple[Any, ...]] = [
            to_row(orjson.loads(e.to_json()), 0, offset, REF) for offset, e in enumerate(events)
        ]
        s.insert_columns("events", list(zip(*rows, strict=True)), COLUMNS, {})
        yield s
    finally:
        s.close()


def test_a_city_shows_its_most_severe_disaster_level(store: Store) -> None:
    cities = {c["code"]: c for c in city_overview(store, REF, persons={})}
    assert (cities[LINYI]["disaster_areas"], cities[LINYI]["disaster_severity"]) == (3, "II")
    assert (cities[JINAN]["disaster_areas"], cities[JINAN]["disaster_severity"]) == (1, "IV")
    assert (cities["370200"]["disaster_areas"], cities["370200"]["disaster_severity"]) == (0, "")


def test_the_disaster_indicator_is_the_rank_of_the_most_severe_flag(store: Store) -> None:
    values = compute(store, REF, AT.date())["disaster_area"]
    assert values[LANSHAN] == SEVERITY_NUMBER["III"] == 2
    assert values[HEDONG] == SEVERITY_NUMBER["II"] == 3
    assert values[LINYI] == 3  # rolled up: the most severe county
    assert values[LIXIA] == values[JINAN] == 1
