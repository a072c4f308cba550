"""The notification pipeline as data: its stages in order, the three mutes behind one
interface, and what the deciding half does with a notice (inspected in the decision, no
broker: nothing is committed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest

from alerting.dispatch import Dispatcher
from alerting.dispatch import dispatcher as dispatcher_module
from alerting.dispatch.mutes import Alert, MuteWindows, Reason, Silences
from alerting.dispatch.pipeline import Notice
from alerting.indicator_names import INDICATOR_NAMES
from alerting.roster import load_roster
from alerting.rules import load_rules_text
from alerting.silences import Silence
from events.clock import SHANGHAI
from events.regions import load_reference
from projections import alert_queries
from streams.commands import CommandBus
from streams.kafka import KafkaAccess
from streams.topics import TopicNames

ROSTER = """officers:
  - {id: linyi, tier: city, regions: ["371300"], contacts: {email: linyi@example.gov.cn}}
  - {id: province, tier: province, regions: ["370000"], contacts: {email: p@example.gov.cn}}
policy:
  repeat_interval: 30m
  mute_windows:
    - {days: [sat, sun], hours: '00:00-24:00', levels: [IV]}
"""
RULES = """rules:
  - id: layoffs
    title: 集中裁员
    indicator: people_laid_off_7d
    kind: absolute
    scope: {level: county}
    levels:
      IV: {enter: 100, exit: 50}
"""
WEDNESDAY = dt.datetime(2026, 7, 1, 11, 0, tzinfo=SHANGHAI)
SATURDAY = dt.datetime(2026, 7, 4, 11, 0, tzinfo=SHANGHAI)
COUNTY, CITY = "371302", "371300"


@pytest.fixture
def dispatcher(tmp_path: Path) -> Dispatcher:
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER)
    reference = load_reference("shandong")
    rules = load_rules_text(RULES, "r.yaml", indicators=INDICATOR_NAMES, reference=reference)
    return Dispatcher(
        store=None,  # type: ignore[arg-type]  # the deciding half reads no projection
        reference=reference,
        roster=load_roster(path),
        sender=None,  # type: ignore[arg-type]  # nothing is committed
        topic_names=TopicNames.for_namespace("t"),
        notifiers={},
        rules=rules,
        # decisions only build commands (CommandBus.command); nothing is sent
        commands=CommandBus(KafkaAccess("127.0.0.1:9"), TopicNames.for_namespace("t"), source="t"),
    )


def _notice(d: Dispatcher, alert_id: str, region: str, level: str, at: dt.datetime) -> Notice:
    alert = Alert(alert_id, "layoffs", "people_laid_off_7d", d.router.chain(region), level)
    message = d.messages.message(
        alert_id, "firing", level, "集中裁员", region, "people_laid_off_7d", 120.0, 100.0, at
    )
    return Notice(alert, "firing", f"raised:{level}", message, at)


def test_the_stages_run_in_alertmanagers_order(dispatcher: Dispatcher) -> None:
    assert dispatcher.pipeline.names == [
        "inhibit", "silence", "mute windows", "route", "group", "channels", "dedupe", "deliver",
    ]  # fmt: skip


def test_silences_mute_windows_and_inhibitions_answer_one_question(
    dispatcher: Dispatcher,
) -> None:
    alert = Alert("a", "layoffs", "people_laid_off_7d", dispatcher.router.chain(COUNTY), "IV")
    silence = Silence("s-1", None, CITY, None, WEDNESDAY, WEDNESDAY + dt.timedelta(hours=1),
                      "duty", None, False)  # fmt: skip
    assert Silences.of([silence]).mutes(alert, WEDNESDAY) == Reason("silence", "s-1")
    assert Silences.of([silence]).mutes(alert, SATURDAY) is None
    windows = MuteWindows(dispatcher.roster.policy)
    assert windows.mutes(alert, SATURDAY) == Reason("mute_window", "policy.mute_windows[0]")
    assert windows.mutes(alert, WEDNESDAY) is None
    rule = dispatcher.rules.by_id("layoffs")  # type: ignore[union-attr]
    assert rule is not None
    dispatcher.inhibitions.open_alerts = lambda: [("parent", rule, CITY, "III")]
    assert dispatcher.inhibitions.mutes(alert, WEDNESDAY) == Reason("alert", "parent")


async def test_a_covered_alert_is_recorded_as_inhibited_and_not_routed(
    dispatcher: Dispatcher,
) -> None:
    rule = dispatcher.rules.by_id("layoffs")  # type: ignore[union-attr]
    assert rule is not None
    dispatcher.inhibitions.open_alerts = lambda: [("parent", rule, CITY, "III")]
    ch = dispatcher.changes()
    assert not await dispatcher.decide(ch, _notice(dispatcher, "a", COUNTY, "IV", WEDNESDAY))
    [inhibit] = ch.commands  # to the alert's single writer
    assert (inhibit.command_type, inhibit.aggregate_id) == ("alert.inhibit", "a")
    assert inhibit.payload["by_alert_id"] == "parent" and "a" in ch.inhibited
    assert dispatcher.inhibited == set()  # applied only once the command has its outcome
    ch.apply()
    assert dispatcher.inhibited == {"a"}


async def test_silenced_and_muted_notices_stop_and_others_are_queued_per_officer(
    dispatcher: Dispatcher,
) -> None:
    silence = Silence("s-1", "layoffs", None, None, WEDNESDAY, WEDNESDAY + dt.timedelta(hours=1),
                      "duty", None, False)  # fmt: skip
    dispatcher.silences = Silences.of([silence])
    ch = dispatcher.changes()
    assert not await dispatcher.decide(ch, _notice(dispatcher, "s", COUNTY, "IV", WEDNESDAY))
    assert not await dispatcher.decide(ch, _notice(dispatcher, "m", COUNTY, "IV", SATURDAY))
    # the muted alert's first reminder is due as soon as the window ends
    assert ch.rounds["m"] == (0, SATURDAY - dt.timedelta(minutes=30))
    red = _notice(dispatcher, "r", COUNTY, "I", SATURDAY)
    assert await dispatcher.decide(ch, red)
    assert dispatcher.groups == {}  # queued once the decision is committed
    ch.apply()
    queued = {officer: list(g.items) for (officer, _), g in dispatcher.groups.items()}
    assert queued == {"linyi": [("r", "raised:I")], "province": [("r", "raised:I")]}
    assert ch.commands == []


async def test_a_playbook_announcement_enters_at_the_route_and_ignores_mutes(
    dispatcher: Dispatcher,
) -> None:
    silence = Silence("s-1", None, None, None, WEDNESDAY, WEDNESDAY + dt.timedelta(days=9),
                      "duty", None, False)  # fmt: skip
    dispatcher.silences = Silences.of([silence])
    assert dispatcher.audience(COUNTY) == ["linyi", "province"]
    told = await dispatcher.announce(COUNTY, "III", "启动预案", about="run-1", tag="notify:s1")
    assert told == ["linyi", "province"]
    [group, _] = dispatcher.groups.values()
    [notice] = group.items.values()
    assert notice.message.link.endswith("/playbooks/run-1") and notice.message.level == "III"
    for g in dispatcher.groups.values():  # the timers started by announce
        assert g.task is not None
        g.task.cancel()


async def test_a_silence_made_since_the_last_tick_holds_for_a_raise_handed_over_now(
    dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream path hands a raise over as soon as its event arrives, between two ticks:
    the silence made just before is heard from its command's outcome (the projections read
    at the last tick do not show it yet; CI once mailed a region silenced so), and ending it
    is heard the same way. What the projections show later needs hearing no longer."""
    import uuid

    from alerting.engine import Transition
    from alerting.evaluator import Fired
    from events.commands import Outcome

    committed: list[Any] = []

    async def commit(ch: Any) -> bool:
        committed.append(ch)
        ch.apply()
        return True

    monkeypatch.setattr(dispatcher, "commit", commit)
    rule = dispatcher.rules.by_id("layoffs")  # type: ignore[union-attr]
    assert rule is not None
    raised = Transition("raised", "IV", None, 120.0, 100.0, WEDNESDAY)
    payload = {"silence_id": "s-1", "region": CITY, "reason": "演练",
               "starts_at": WEDNESDAY.isoformat(),
               "ends_at": (WEDNESDAY + dt.timedelta(hours=1)).isoformat()}  # fmt: skip

    def outcome(event_type: str, body: dict[str, Any]) -> Outcome:
        return Outcome(command_id=uuid.uuid4(), aggregate_id="s-1", accepted=True, version=1,
                       event_types=(event_type,), payloads=(body,))  # fmt: skip

    async def hand_over(alert_id: str) -> set[str]:
        dispatcher._backlog = [Fired(alert_id, rule, COUNTY, raised)]
        await dispatcher._handle_backlog()
        return {item for g in dispatcher.groups.values() for item, _ in g.items}

    assert dispatcher.silences == Silences()  # as the last tick read them: none
    dispatcher.hear(outcome("silence.created", payload))
    assert await hand_over("a") == set()  # held by the silence: queued for nobody
    # the next tick reads projections that do not show it yet: it still holds
    rows = [{"silence_id": "s-1", "payload": orjson.dumps(payload), "actor": "duty",
             "expired": False}]  # fmt: skip
    answers: list[list[dict[str, Any]]] = [[], rows, rows]

    async def read(query: Any, store: Any, *args: Any) -> Any:
        return answers.pop(0) if query is alert_queries.silence_rows else []

    monkeypatch.setattr(dispatcher_module, "run", read)
    await dispatcher.refresh()
    assert await hand_over("b") == set() and "s-1" in dispatcher._heard
    await dispatcher.refresh()  # now they show it: heard no longer, still holding
    assert dispatcher._heard == {} and await hand_over("c") == set()
    dispatcher.hear(outcome("silence.expired", {"silence_id": "s-1", "reason": "done"}))
    assert await hand_over("d") == {"d"}  # the end is heard at once
    await dispatcher.refresh()  # the projections still show it open: the end stands
    assert await hand_over("e") == {"d", "e"}
    for g in dispatcher.groups.values():
        if g.task is not None:
            g.task.cancel()
