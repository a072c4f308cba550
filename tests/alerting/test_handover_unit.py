"""Shift handover: the officer coming on duty is briefed, once, on the open alerts of their
regions that fired before the shift; what the dispatcher queues is inspected directly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from alerting.dispatch import Dispatcher
from alerting.roster import load_roster
from eams.errors import ConfigError
from events.clock import SHANGHAI
from events.regions import load_reference
from streams.commands import CommandBus
from streams.kafka import KafkaAccess
from streams.topics import TopicNames

ROSTER = """officers:
  - {id: linyi-day, tier: city, regions: ["371300"], hours: "08:00-20:00",
     contacts: {email: day@example.gov.cn}}
  - {id: linyi-night, tier: city, regions: ["371300"], hours: "20:00-08:00",
     contacts: {email: night@example.gov.cn}}
  - {id: jinan-night, tier: city, regions: ["370100"], hours: "20:00-08:00",
     contacts: {email: jinan@example.gov.cn}}
policy: {handover_window: 30m}
"""


def _row(alert_id: str, region: str, status: str, since: dt.datetime) -> dict[str, Any]:
    return {"alert_id": alert_id, "region": region, "status": status, "level": "III",
            "rule": "r", "summary": "灾区", "indicator": "disaster_area", "value": 2.0,
            "threshold": 2.0, "firing_since": since}  # fmt: skip


@pytest.fixture
def dispatcher(tmp_path: Path) -> Dispatcher:
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER)
    return Dispatcher(store=None, reference=load_reference("shandong"),  # type: ignore[arg-type]
                      roster=load_roster(path), sender=None,  # type: ignore[arg-type]
                      topic_names=None, notifiers={},  # type: ignore[arg-type]
                      commands=CommandBus(KafkaAccess("127.0.0.1:9"),
                                          TopicNames.for_namespace("t"), source="t"))  # fmt: skip


def _queued(d: Dispatcher) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for (officer, _), group in d.groups.items():
        for item in group.items.values():
            out.setdefault(officer, []).append((item.alert_id, item.tag, item.message.kind))
    return out


def test_the_incoming_shift_is_briefed_on_open_alerts_from_before_it(
    dispatcher: Dispatcher,
) -> None:
    evening = dt.datetime(2026, 7, 1, 20, 10, tzinfo=SHANGHAI)
    rows = [
        _row("a-old", "371302", "firing", evening - dt.timedelta(hours=3)),
        _row("a-acked", "371311", "acknowledged", evening - dt.timedelta(hours=1)),
        _row("a-new", "371321", "firing", evening - dt.timedelta(minutes=5)),  # this shift
        _row("a-silenced", "371302", "silenced", evening - dt.timedelta(hours=2)),
        _row("a-jinan", "370102", "firing", evening - dt.timedelta(hours=2)),
    ]
    dispatcher.inhibited = set()
    dispatcher.handover(rows, evening)
    queued = _queued(dispatcher)
    start = dt.datetime(2026, 7, 1, 20, 0, tzinfo=SHANGHAI).isoformat()
    assert sorted(queued["linyi-night"]) == [
        ("a-acked", f"handover:{start}", "handover"),
        ("a-old", f"handover:{start}", "handover"),
    ]
    assert queued["jinan-night"] == [("a-jinan", f"handover:{start}", "handover")]
    assert "linyi-day" not in queued  # off duty


def test_no_brief_outside_the_handover_window_or_for_round_the_clock_officers(
    dispatcher: Dispatcher,
) -> None:
    late = dt.datetime(2026, 7, 1, 21, 0, tzinfo=SHANGHAI)  # an hour into the night shift
    rows = [_row("a-old", "371302", "firing", late - dt.timedelta(hours=5))]
    dispatcher.handover(rows, late)
    assert _queued(dispatcher) == {}
    morning = dt.datetime(2026, 7, 2, 8, 29, tzinfo=SHANGHAI)  # the day shift, 29 min in
    dispatcher.handover(rows, morning)
    assert [t for _, t, _ in _queued(dispatcher)["linyi-day"]] == [
        f"handover:{dt.datetime(2026, 7, 2, 8, 0, tzinfo=SHANGHAI).isoformat()}"
    ]


def test_overnight_shift_start_is_the_evening_before(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER)
    night = load_roster(path).officers[1]
    start = night.shift_start(dt.datetime(2026, 7, 2, 3, 0, tzinfo=SHANGHAI))
    assert start == dt.datetime(2026, 7, 1, 20, 0, tzinfo=SHANGHAI)
    assert night.shift_start(dt.datetime(2026, 7, 2, 12, 0, tzinfo=SHANGHAI)) is None


def test_group_by_must_be_a_region_level(tmp_path: Path) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER.replace("{handover_window: 30m}", "{group_by: town}"))
    with pytest.raises(ConfigError, match="group_by must be one of county, city, province"):
        load_roster(path)
