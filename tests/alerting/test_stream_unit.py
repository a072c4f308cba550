"""The stream path's state (alerting.stream_indicators, alerting.stream) against the
projection path: the same events, fed once to the stream state and once, as the projector
writes them, to the real embedded ClickHouse (chDB), give the same indicator values and so
the same transitions; the alerts of the log are restored as the projection restores them.
No broker: records are handed to the evaluator as the consumer would hand them over."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from alerting.evaluator import Evaluator
from alerting.indicator_names import INDICATOR_NAMES
from alerting.rules import load_rules_text
from alerting.stream import AlertReplay, StreamEvaluator, split
from alerting.stream_indicators import StreamIndicators, relevant, streamed
from events.clock import SHANGHAI
from events.regions import load_reference
from projections.client import Store
from projections.indicators import compute
from projections.migrations import migrate
from projections.risk_index import DEFAULT_COMPONENTS
from projections.rows import COLUMNS, to_row

REFERENCE = load_reference("shandong")
NOW = dt.datetime(2026, 7, 20, 12, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()
LINYI, LANSHAN, LUOZHUANG, YINAN = "371300", "371302", "371311", "371321"
JINAN, LIXIA = "370100", "370102"
UNKNOWN = "379998"  # no such county: the projection's queries leave it out

RULES = """rules:
  - id: disaster-county
    title: 受灾地区 / Disaster area (county)
    indicator: disaster_area
    kind: absolute
    scope: {level: county}
    levels:
      IV: {enter: 1, exit: 1}
      III: {enter: 2, exit: 2}
      II: {enter: 3, exit: 3}
      I: {enter: 4, exit: 4}
  - id: disaster-city
    title: 受灾地区 / Disaster area (city)
    indicator: disaster_area
    kind: absolute
    scope: {level: city}
    levels:
      IV: {enter: 1, exit: 1}
      I: {enter: 4, exit: 4}
  - id: concentrated-city
    title: 集中裁员 / Concentrated layoffs
    indicator: concentrated_layoffs_7d
    kind: absolute
    scope: {level: city}
    levels:
      IV: {enter: 1, exit: 1}
      III: {enter: 2, exit: 2}
    keep_firing: 1d
  - id: laid-off-county
    title: 裁员人数 / People laid off
    indicator: people_laid_off_7d
    kind: absolute
    scope: {level: county}
    levels:
      IV: {enter: 300, exit: 250}
    pending: 1h
  - id: per-million
    title: 每百万人裁员 / People laid off per million
    indicator: people_laid_off_7d_per_million
    kind: absolute
    scope: {level: city}
    levels:
      IV: {enter: 100, exit: 80}
  - id: gap
    title: 缺报 / Headcount reports missing
    indicator: headcount_report_gap
    kind: data_gap
    source: enterprise.headcount_reported
    cadence: 35d
    scope: {level: city}
    levels:
      IV: {enter: 1, exit: 1}
"""
RULESET = load_rules_text(RULES, "t.yaml", indicators=INDICATOR_NAMES, reference=REFERENCE)


def _doc(
    event_type: str,
    region: str,
    payload: dict[str, Any],
    hours_ago: float = 0,
    event_id: str | None = None,
) -> dict[str, Any]:
    at = (NOW - dt.timedelta(hours=hours_ago)).isoformat()
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at,
        "recorded_at": NOW.isoformat(),
        "region": region,
        "source": "test",
        "actor": "tester",
        "payload": payload,
    }


def _flag(
    disaster: str, regions: list[str], severity: str, hours_ago: float, kind: str = "flagged"
) -> dict[str, Any]:
    payload: dict[str, Any] = {"disaster_id": disaster, "regions": regions}
    if kind != "cleared":
        payload.update(kind="natural_disaster", severity=severity, title="洪涝")
    return _doc(f"disaster_area.{kind}", LINYI, payload, hours_ago)


def _layoff(region: str, laid_off: int, hours_ago: float = 1) -> dict[str, Any]:
    payload = {"enterprise_name": "某企业", "headcount_before": 2000, "laid_off": laid_off}
    return _doc("layoff.reported", region, payload, hours_ago)


def history() -> list[dict[str, Any]]:
    """Flags, updates and clears in and out of order, a clear of a whole disaster with a
    flag reported late before it and one after it, layoffs inside, before and after the
    7-day window, a duplicate, an unknown region and one report of people the projector
    parks (clear-text personal data in it)."""
    concentrated = _layoff(LANSHAN, 250, hours_ago=30)
    return [
        _flag("flood", [LANSHAN, LUOZHUANG], "II", 10),
        _flag("flood", [LANSHAN], "I", 5, kind="updated"),
        _flag("flood", [LANSHAN], "III", 8, kind="updated"),  # older, arrives later: ignored
        _flag("flood", [LUOZHUANG], "", 4, kind="cleared"),
        _flag("storm", [YINAN], "IV", 6),
        _flag("storm", [], "", 3, kind="cleared"),  # clears every region of the storm …
        _flag("storm", [LIXIA], "III", 4),  # … including one flagged before it, reported late
        _flag("storm", [JINAN], "II", 2),  # but not one flagged after it
        _flag("quake", [UNKNOWN], "I", 2),
        _flag("drought", [LUOZHUANG], "", 1),  # no severity: counts as IV
        concentrated,
        concentrated,  # a duplicate of the log: counted once
        _layoff(LANSHAN, 120, hours_ago=20),
        _layoff(LUOZHUANG, 200, hours_ago=24 * 6.4),  # the edge of the window
        _layoff(YINAN, 400, hours_ago=24 * 8),  # before the window
        _layoff(LIXIA, 300, hours_ago=-30),  # tomorrow: not yet in today's window
        _layoff(UNKNOWN, 900),
        {**_layoff(LANSHAN, 500), "payload": {"laid_off": 500, "phone": "13800138000"}},
        _doc(
            "person.registered", LIXIA, {"person_id": "p1", "target_group": "rural_surplus_labour"}
        ),
    ]


def _record(doc: dict[str, Any], offset: int, partition: int = 0) -> ConsumerRecord[bytes, bytes]:
    value = orjson.dumps(doc)
    return ConsumerRecord(
        topic="t.events", partition=partition, offset=offset, timestamp=0, timestamp_type=0,
        key=None, value=value, checksum=None, serialized_key_size=0,
        serialized_value_size=len(value), headers=(),
    )  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The history as the projector writes it: duplicates dropped by id, parked documents
    left out, every row with its offset (one embedded engine per process: closed after)."""
    path: Path = tmp_path_factory.mktemp("stream-chdb")
    rows: list[tuple[Any, ...]] = []
    seen: set[str] = set()
    for offset, doc in enumerate(history()):
        if doc["event_id"] in seen:
            continue
        seen.add(doc["event_id"])
        try:
            rows.append(to_row(orjson.loads(orjson.dumps(doc)), 0, offset, REFERENCE))
        except Exception:  # noqa: BLE001 - parked by the projector, as the test intends
            continue
    store = Store(f"chdb://{path}")
    try:
        migrate(store)
        store.insert_columns("events", list(zip(*rows, strict=True)), COLUMNS)
        yield store
    finally:
        store.close()


def _stream_state() -> StreamIndicators:
    state = StreamIndicators(REFERENCE)
    for offset, doc in enumerate(history()):
        state.apply(orjson.loads(orjson.dumps(doc)), 0, offset)
    return state


def _nonzero(values: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in values.items() if v}


def test_the_stream_state_gives_the_projection_values(store: Store) -> None:
    projected = compute(store, REFERENCE, TODAY)
    streamed_values = _stream_state().values(TODAY)
    assert streamed_values["disaster_area"] == projected["disaster_area"]
    for name in ("people_laid_off_7d", "concentrated_layoffs_7d"):
        # a region with other events only has a 0 in the projection: both judge it 0
        assert _nonzero(streamed_values[name]) == _nonzero(projected[name]), name
    # and the cases the history was built for, so the comparison is not between two blanks
    disaster = streamed_values["disaster_area"]
    assert disaster[LANSHAN] == 4.0  # the latest update (I), not the late older one (III)
    assert disaster[LUOZHUANG] == 1.0  # the flood cleared there; the drought has no severity
    assert YINAN not in disaster and LIXIA not in disaster  # the storm's clear took both
    assert disaster[JINAN] == 3.0 and disaster["370000"] == 4.0
    assert UNKNOWN not in disaster
    assert streamed_values["concentrated_layoffs_7d"] == {LANSHAN: 1.0, LUOZHUANG: 1.0,
                                                          LINYI: 2.0, "370000": 2.0}  # fmt: skip
    assert streamed_values["people_laid_off_7d"][LANSHAN] == 370.0  # 250 once, + 120


def test_the_window_moves_on_with_the_days(store: Store) -> None:
    state = _stream_state()
    later = TODAY + dt.timedelta(days=2)
    projected = compute(store, REFERENCE, later)
    values = state.values(later)
    for name in ("people_laid_off_7d", "concentrated_layoffs_7d"):
        assert _nonzero(values[name]) == _nonzero(projected[name]), name
    assert LUOZHUANG not in values["concentrated_layoffs_7d"]  # its day left the window
    assert values["people_laid_off_7d"][LIXIA] == 300.0  # tomorrow's report is in now
    assert (LUOZHUANG, TODAY - dt.timedelta(days=7)) not in state.laid_off  # forgotten


def _evaluators(store: Store) -> tuple[Evaluator, StreamEvaluator]:
    on_stream, on_projection = split()
    projection = Evaluator(store=store, reference=REFERENCE, rules=RULESET,
                           components=DEFAULT_COMPONENTS, sender=None,  # type: ignore[arg-type]
                           topic_names=None, now=lambda: NOW,  # type: ignore[arg-type]
                           evaluates=on_projection)  # fmt: skip
    stream = StreamEvaluator(kafka=None, store=store, reference=REFERENCE,  # type: ignore[arg-type]
                             rules=RULESET, components=DEFAULT_COMPONENTS,
                             sender=None, topic_names=None,  # type: ignore[arg-type]
                             evaluates=on_stream, now=lambda: NOW)  # fmt: skip
    return projection, stream


def test_each_rule_is_judged_by_exactly_one_path() -> None:
    on_stream, on_projection = split()
    assert [r.id for r in RULESET if on_stream(r)] == [
        "disaster-county", "disaster-city", "concentrated-city", "laid-off-county"
    ]  # fmt: skip
    assert [r.id for r in RULESET if on_projection(r)] == ["per-million", "gap"]
    forced_stream, forced_projection = split(projection_rules=["disaster-city"])
    assert not forced_stream(RULESET.require("disaster-city"))
    assert forced_projection(RULESET.require("disaster-city"))
    off, everything = split(stream=False)
    assert not any(off(r) for r in RULESET) and all(everything(r) for r in RULESET)
    assert all(streamed(r) for r in RULESET if on_stream(r))


async def test_both_paths_decide_the_same_transitions(store: Store) -> None:
    """The disaster rule put on the projection path (forced) and on the stream path decide
    the same alerts at the same levels from the same events."""
    projection, stream = _evaluators(store)
    for offset, doc in enumerate(history()):
        stream.take(_record(doc, offset), None)
    stream_decision = stream.decide(await stream.indicator_values(NOW), NOW)
    projection.evaluates = lambda r: True  # every rule, as with EAMS_ALERT_STREAM=0
    projection_decision = projection.decide(await projection.indicator_values(NOW), NOW)
    on_stream = {r.id for r in stream.own_rules}

    def judged(decision: Any) -> list[tuple[str, str, str, str | None]]:
        return sorted(
            (f.rule.id, f.region, f.transition.kind, f.transition.level)
            for f in decision.fired
            if f.rule.id in on_stream
        )

    assert judged(stream_decision) == judged(projection_decision)
    assert ("disaster-county", LANSHAN, "raised", "I") in judged(stream_decision)
    assert ("concentrated-city", LINYI, "raised", "III") in judged(stream_decision)
    assert not [f for f in stream_decision.fired if f.rule.id not in on_stream]
    # the county rule's pending hour: pending on both, raised by neither yet
    assert not [t for t in judged(stream_decision) if t[0] == "laid-off-county"]


def _alert_event(
    event_type: str, alert_id: str, hours_ago: float, **payload: Any
) -> dict[str, Any]:
    return _doc(event_type, LANSHAN, {"alert_id": alert_id, **payload}, hours_ago)


def test_the_open_alerts_are_restored_from_the_log() -> None:
    on_stream, _ = split()
    replay = AlertReplay(RULESET, on_stream)
    old = "disaster-county:371302:20260719T120000"
    new = "disaster-county:371302:20260720T090000"
    # the newer alert's events are read first (another partition), then the older one's
    replay.apply(_alert_event("alert.raised", new, 3, rule="disaster-county", level="IV",
                              value=1.0, summary="s"))  # fmt: skip
    replay.apply(_alert_event("alert.level_changed", new, 2, rule="disaster-county", level="II"))
    replay.apply(_alert_event("alert.raised", old, 24, rule="disaster-county", level="I",
                              summary="s"))  # fmt: skip
    replay.apply(_alert_event("alert.resolved", old, 20, automatic=True))
    per_million = "per-million:371300:20260720T090000"  # a rule of the projection path
    replay.apply(_alert_event("alert.raised", per_million, 3, rule="per-million", level="IV",
                              summary="s"))  # fmt: skip
    states = replay.states()
    assert list(states) == [("disaster-county", LANSHAN)]
    alert_id, state = states[("disaster-county", LANSHAN)]
    assert alert_id == new and state.level == "II"
    assert state.firing_since == NOW - dt.timedelta(hours=3)


async def test_a_restored_alert_is_resolved_not_raised_again(store: Store) -> None:
    """After a restore, the flag still up is the same alert; its clear resolves it."""
    _, stream = _evaluators(store)
    flag = _flag("flood", [LANSHAN], "IV", 1)
    alert_id = "disaster-county:371302:20260720T110000"
    raised = _alert_event("alert.raised", alert_id, 1, rule="disaster-county", level="IV",
                          value=1.0, summary="s")  # fmt: skip
    replay = AlertReplay(RULESET, stream.evaluates or streamed)
    for offset, doc in enumerate([flag, raised]):
        stream.take(_record(doc, offset), replay)
    for key, (restored_id, state) in replay.states().items():
        stream.alert_ids[key], stream.states[key] = restored_id, state
    decision = stream.decide(await stream.indicator_values(NOW), NOW)
    # firing already: nothing raised twice (the city's alert, never raised, is raised)
    assert [f.rule.id for f in decision.fired] == ["disaster-city"]
    stream.states, stream.alert_ids = decision.states, decision.alert_ids
    stream.take(_record(_flag("flood", [LANSHAN], "", 0, kind="cleared"), 2), None)
    resolved = stream.decide(await stream.indicator_values(NOW), NOW).fired
    assert sorted((f.alert_id, f.transition.kind) for f in resolved) == [
        ("disaster-city:371300:20260720T120000", "resolved"),
        (alert_id, "resolved"),
    ]


def test_only_records_that_can_change_a_value_are_parsed() -> None:
    assert relevant(orjson.dumps(_flag("flood", [LANSHAN], "IV", 0)))
    assert relevant(orjson.dumps(_layoff(LANSHAN, 10)))
    assert not relevant(orjson.dumps(_doc("person.registered", LANSHAN, {"person_id": "p"})))
