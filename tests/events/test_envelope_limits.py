"""Bounds of the envelope: a huge event type is neither echoed nor fuzzy-matched, and
"today" is the date in Asia/Shanghai whatever the host's zone."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import orjson
import pytest

from events.clock import today
from events.envelope import MAX_EVENT_TYPE, parse_event
from events.errors import EventRejectedError
from events.regions import load_reference


def test_a_huge_event_type_is_rejected_quickly_and_briefly() -> None:
    raw = orjson.dumps({"event_type": "x" * 5_000_000, "payload": {}})
    began = time.perf_counter()
    with pytest.raises(EventRejectedError) as got:
        parse_event(raw, reference=load_reference("shandong"))
    assert time.perf_counter() - began < 1.0
    assert got.value.field == "event_type" and len(str(got.value)) < 300
    assert f"at most {MAX_EVENT_TYPE}" in str(got.value)


def test_today_is_the_shanghai_date() -> None:
    late_utc = dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.UTC)  # 04:00 on the 2nd in Shanghai
    assert today(late_utc) == dt.date(2026, 12, 2)
    assert today(dt.datetime(2026, 12, 1, 15, 59, tzinfo=dt.UTC)) == dt.date(2026, 12, 1)


def test_routes_do_not_use_the_hosts_date() -> None:
    """The API's "today" comes from :func:`events.envelope.today` (a route using the host's
    local date would count the wrong day for 8 hours a day on a UTC host)."""
    eams = Path(__file__).resolve().parents[2] / "eams"
    for module in sorted(eams.glob("api*.py")):
        assert "date.today()" not in module.read_text(), module.name
