"""Playing the history and the scenario: into a file here (the broker is the integration
tests'), slots left empty after a history, and how much ordinary activity follows one."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path

import orjson
import pytest

from eams.settings import Settings
from eams.tools.history import History, HistoryConfig
from eams.tools.player import history, history_end, ordinary_share, play, scenario, simulate
from events.clock import SHANGHAI
from events.envelope import parse_event
from events.regions import load_reference


@pytest.fixture(scope="module")
def settings() -> Settings:
    """Default settings (nothing here reaches a broker)."""
    return Settings()


def test_the_history_ends_the_day_the_live_part_starts() -> None:
    start = dt.datetime(2026, 6, 1, 0, 30, tzinfo=SHANGHAI)
    assert history_end(start) == dt.date(2026, 6, 1)
    assert history_end(start.astimezone(dt.UTC)) == dt.date(2026, 6, 1)  # 31 May in UTC
    assert history_end(None) == dt.datetime.now(SHANGHAI).date()


def test_after_a_history_the_scenario_keeps_a_day_of_ordinary_activity(
    settings: Settings,
) -> None:
    past = History(load_reference("shandong"), HistoryConfig(days=14, end=dt.date(2026, 6, 1)))
    per_day = len(past) / 14
    share = ordinary_share(past, count=20_000, flood_at=0.4, days=0)
    assert share == pytest.approx(per_day / (20_000 * (0.4 + 0.6 * 0.7)))
    assert ordinary_share(past, count=20_000, flood_at=0.4, days=3) == pytest.approx(3 * share)
    assert ordinary_share(past, count=100, flood_at=0.4, days=0) == 1.0  # fewer slots than a day
    none = History(load_reference("shandong"), HistoryConfig(days=0))
    assert ordinary_share(none, count=20_000, flood_at=0.4, days=0) == 1.0
    flood = scenario(settings, count=20_000, seed=5, after=past)
    assert flood.cfg.ordinary == share
    assert scenario(settings, count=20_000, seed=5).cfg.ordinary == 1.0


def test_simulate_writes_the_history_then_the_scenario(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "demo.ndjson"
    sent = asyncio.run(
        simulate(settings, count=3_000, seed=5, history_days=3, out=out, progress=False)
    )
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(lines) == sent
    past = list(history(settings, days=3, seed=5, end=history_end(None)))
    assert lines[: len(past)] == past
    live = lines[len(past) :]
    today = dt.datetime.now(SHANGHAI).date().isoformat()
    assert live and all(e["occurred_at"][:10] == today for e in live)
    assert [e["event_type"] for e in live].count("disaster_area.flagged") == 1
    reference = load_reference("shandong")
    for i, event in enumerate(lines[:: max(1, len(lines) // 200)]):
        parse_event(event, reference=reference, line=i + 1)


def test_an_empty_slot_sends_nothing(settings: Settings) -> None:
    buffer = io.BytesIO()
    seen: list[int] = []
    one = {"event_id": "x"}
    n = asyncio.run(
        play(settings, [None, one, None], out=buffer, on_sent=lambda k, _e: seen.append(k))
    )
    assert n == 1 and seen == [1]
    assert buffer.getvalue() == b'{"event_id":"x"}\n'
