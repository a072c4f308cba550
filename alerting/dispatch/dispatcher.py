"""The dispatcher: runs the notification pipeline for each of its entry points.

- :meth:`Dispatcher.on_fired`: the transitions the evaluator appended (raised, level
  changed, resolved);
- :meth:`Dispatcher.tick`: inhibitions that began or ended (an alert whose inhibitor went
  is told as firing), escalations, reminders, shift handovers;
- :meth:`Dispatcher.restore`: after a restart, firing alerts no notification ever reached;
- :meth:`Dispatcher.announce`: a playbook run's message to the officers of its area.

Each builds :class:`~alerting.dispatch.pipeline.Notice` s and passes them through the one
:class:`~alerting.dispatch.pipeline.Pipeline` inside a
:class:`~alerting.dispatch.pipeline.Changes` decision, then commits the decision (see the
package docstring for the order of the stages and why nothing is lost).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from alerting.dispatch.delivery import Channels, Dedupe, Deliver, build_notifiers
from alerting.dispatch.group import Group, Grouped
from alerting.dispatch.holds import MuteWindowed, Silenced
from alerting.dispatch.inhibit import Inhibit, Inhibitions
from alerting.dispatch.messages import Messages, transition_tag
from alerting.dispatch.mutes import Alert, MuteWindows, Silences
from alerting.dispatch.pipeline import Changes, Notice, Pipeline
from alerting.dispatch.route import Route, Router
from alerting.evaluator import Fired, rule_of
from alerting.notify.base import Notifier
from alerting.notify.message import AlertMessage, MessageKind
from alerting.roster import Roster
from alerting.rules import Rule, RuleSet
from alerting.silences import Silence, from_payload, from_rows
from events.clock import SHANGHAI
from events.commands import Outcome
from events.regions import RegionReference
from events.severity import LEVEL_NAMES
from projections import alert_queries
from projections.client import Store, aware, run
from projections.playbook_queries import active_runs
from streams.commands import CommandBus
from streams.producer import BatchSender
from streams.topics import TopicNames
from streams.writer import EventWriter

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)
#: The least and the most severe level (an alert read without one is taken as the least).
LEAST, MOST = LEVEL_NAMES[0], LEVEL_NAMES[-1]
NAMESPACE = uuid.UUID("3c0c8f4e-1b7a-4d47-8a55-5b2f4d9e6a10")


class Dispatcher:
    """Routes alert transitions, reminders and playbook messages to duty officers."""

    def __init__(
        self,
        *,
        store: Store,
        reference: RegionReference,
        roster: Roster,
        sender: BatchSender,
        topic_names: TopicNames,
        notifiers: dict[str, dict[str, Notifier]] | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(SHANGHAI),
        retry_base_delay: float = 1.0,
        rules: RuleSet | None = None,
        open_alerts: Callable[[], list[tuple[str, Rule, str, str]]] | None = None,
        commands: CommandBus,
    ) -> None:
        self.store = store
        self.commands = commands  # lifecycle changes go to the alert's single writer
        self._held: Changes | None = None  # a decision whose commands got no outcome yet
        self.reference = reference
        self.roster = roster
        self.rules = rules
        self.notifiers = notifiers if notifiers is not None else build_notifiers(roster.channels)
        self.now = now
        self.writer = EventWriter(
            sender,
            "dispatcher",
            topics=topic_names,
            namespace=NAMESPACE,
            actor="eams.alerting",
            now=lambda: self.now(),
        )
        # the dispatcher's state, changed only by the effects of committed decisions
        self.inhibited: set[str] = set()
        self.last_round: dict[str, tuple[int, dt.datetime]] = {}  # alert -> (round, at)
        self.escalated: set[str] = set()
        self.silences = Silences()  # what the silence stage reads: the two below, merged
        self._read_silences: list[Silence] = []  # from the projections, at the last tick
        # from the command outcomes since (made or ended anywhere, not yet projected)
        self._heard: dict[str, Silence] = {}
        self._heard_ended: set[str] = set()
        self.router = Router(reference, roster)
        self.messages = Messages(reference, roster, rules)
        self.inhibitions = Inhibitions(open_alerts)
        self.inhibit = Inhibit(self.inhibitions)
        self.grouped = Grouped(reference, roster, send=self._deliver)
        self.dedupe = Dedupe()
        self.pipeline = Pipeline(
            [
                self.inhibit,
                Silenced(lambda: self.silences),
                MuteWindowed(
                    lambda: MuteWindows(self.roster.policy),
                    lambda: self.roster.policy.repeat_interval,
                ),
                Route(self.router),
                self.grouped,
                Channels(self.notifiers),
                self.dedupe,
                Deliver(self.writer, retry_base_delay),
            ]
        )
        self._backlog: list[Fired] = []  # transitions not yet handled (events were held)

    @property
    def outbox(self) -> EventWriter:
        """The writer, by the name the host sets its dead-letter hook through."""
        return self.writer

    @property
    def groups(self) -> dict[tuple[str, str], Group]:
        """The queues of the group stage, by (officer, region group)."""
        return self.grouped.groups

    def status(self) -> dict[str, Any]:
        """What ``/api/status`` shows: ticks, the health of the appends, and the notices
        queued or being delivered (a test waits for both to be 0 before it asserts that
        nothing more was sent)."""
        return self.writer.status() | {
            "queued": self.grouped.queued,
            "delivering": self.grouped.delivering,
            "backlog": len(self._backlog),
            "held_commands": len(self._held.commands) if self._held is not None else 0,
        }

    # -- decisions -------------------------------------------------------------------------
    def changes(self) -> Changes:
        """A new decision on the current state."""
        return Changes(self.commands, self.inhibited, self.last_round)

    async def commit(self, ch: Changes) -> bool:
        """Send a decision's commands; apply its effects once each has its outcome (and the
        writer's earlier held events are in the log). False when they are not yet: the
        decision is held and its commands sent again by the next tick."""

        def apply() -> None:
            ch.apply()
            self.grouped.schedule()

        if ch.commands and not await self._decided(ch):
            self._held = ch  # sent again (same command ids) before anything new is decided
            return False
        self.writer.stage([], then=apply)  # after the events held before it, if any
        return await self.writer.flush(force=True)

    async def _decided(self, ch: Changes) -> bool:
        """Send the decision's lifecycle commands through the writer; True once each has
        its outcome."""
        if (
            not self.writer.due()
            or await self.writer.send_commands(self.commands, ch.commands) is None
        ):
            return False
        ch.commands = []
        return True

    async def settled(self) -> bool:
        """True when no decision waits: a held one is committed first (its commands sent
        again), then the writer's held events."""
        held, self._held = self._held, None
        if held is not None and not await self.commit(held):
            return False
        return await self.writer.settled()

    async def decide(self, ch: Changes, notice: Notice, *, start: str | None = None) -> bool:
        """Pass one notice through the deciding half of the pipeline (from ``start``);
        True when it was queued for at least one officer."""
        return bool(await self.pipeline.run([notice], ch, start=start, through="group"))

    async def _deliver(self, notices: list[Notice]) -> None:
        """The delivery half, for the notices of one group whose time has come."""
        await self.pipeline.run(notices, None, start="channels")

    # -- reading the projections -----------------------------------------------------------
    async def refresh(self) -> None:
        """Reload the silences and the active playbook runs (they change rarely; read every
        tick)."""
        read = from_rows(await run(alert_queries.silence_rows, self.store))
        self._read_silences = read
        # what the projections show now needs hearing no longer
        shown = {s.silence_id: s.expired for s in read}
        self._heard = {k: s for k, s in self._heard.items() if k not in shown}
        self._heard_ended = {k for k in self._heard_ended if not shown.get(k, False)}
        self._merge_silences()
        self.inhibitions.runs = await run(active_runs, self.store)

    def hear(self, outcome: Outcome) -> None:
        """A command's outcome (``CommandBus.listeners``): a silence made or ended holds, or
        stops holding, at once, though the projections read at the next tick do not show it
        yet. The stream path raises an alert as soon as its event arrives, between two
        ticks: a silence made just before must hold for it."""
        if not outcome.accepted or outcome.duplicate:
            return
        for event_type, payload in zip(outcome.event_types, outcome.payloads, strict=False):
            if event_type == "silence.created":
                silence_id = str(payload.get("silence_id") or outcome.aggregate_id)
                try:
                    self._heard[silence_id] = from_payload(silence_id, payload, actor="")
                except (KeyError, TypeError, ValueError):
                    log.warning("silence %s: an outcome without its times", silence_id)
            elif event_type == "silence.expired":
                self._heard_ended.add(str(payload.get("silence_id") or outcome.aggregate_id))
            else:
                continue
            self._merge_silences()

    def _merge_silences(self) -> None:
        by_id = {s.silence_id: s for s in self._read_silences}
        by_id.update(self._heard)
        for silence_id in self._heard_ended:
            if silence_id in by_id:
                by_id[silence_id] = dataclasses.replace(by_id[silence_id], expired=True)
        self.silences = Silences.of(by_id.values())

    async def open_rows(self, now: dt.datetime) -> list[dict[str, Any]]:
        """The open alerts of the projection, each with its rule and indicator: the
        projection can read them empty for an alert whose later events (level changes,
        acknowledgements) carry none, and an inhibition must not end for that (see
        :func:`~alerting.evaluator.rule_of`)."""
        rows = await run(alert_queries.list_alerts, self.store, now, status="open")
        out: list[dict[str, Any]] = []
        for row in rows:
            rule_id = rule_of(row)
            rule = self.rules.by_id(rule_id) if self.rules is not None else None
            indicator = row["indicator"] or (rule.indicator if rule is not None else "")
            out.append(row | {"rule": rule_id, "indicator": indicator})
        return out

    def alert_of(self, row: dict[str, Any]) -> Alert:
        """What a notice about an alert of the projection is about."""
        chain = self.router.chain(row["region"])
        return Alert(row["alert_id"], row["rule"], row["indicator"], chain, row["level"] or LEAST)

    # -- entry points ----------------------------------------------------------------------
    async def restore(self) -> None:
        """Remember what was already delivered and what is inhibited (from the log, via the
        projections); notify firing alerts that no message ever reached."""
        # merged, not replaced: the evaluator may already have handed over transitions
        sent, notified = await run(alert_queries.delivered, self.store)
        self.dedupe.sent |= sent
        await self.refresh()
        now = self.now()
        rows = await self.open_rows(now)
        self.inhibited |= {r["alert_id"] for r in rows if r["status"] == "inhibited"}
        ch = self.changes()
        for row in rows:
            if row["status"] != "firing" or row["alert_id"] in notified:
                continue
            alert = self.alert_of(row)
            message = self.messages.of_row(row, "firing", aware(row["firing_since"]))
            await self.decide(ch, Notice(alert, "firing", f"raised:{alert.level}", message, now))
        await self.commit(ch)

    async def on_fired(self, fired: Sequence[Fired]) -> None:
        """Notify for each transition the evaluator appended (held in a backlog while
        earlier events of the dispatcher wait for the broker)."""
        self._backlog.extend(fired)
        if await self.settled():
            await self._handle_backlog()

    async def _handle_backlog(self) -> None:
        fired, self._backlog = self._backlog, []
        if not fired:
            return
        ch = self.changes()
        for f in fired:
            t = f.transition
            kind: MessageKind = "resolved" if t.kind == "resolved" else "firing"
            level = t.level or t.previous_level or LEAST
            ch.set_round(f.alert_id, (0, t.at))
            message = self.messages.message(
                f.alert_id,
                kind,
                level,
                f.rule.title,
                f.region,
                f.rule.indicator,
                t.value,
                t.threshold,
                t.at,
            )
            alert = Alert(
                f.alert_id, f.rule.id, f.rule.indicator, self.router.chain(f.region), level
            )
            await self.decide(
                ch, Notice(alert, kind, transition_tag(t.kind, level, t.at), message, t.at)
            )
        await self.commit(ch)

    async def tick(self) -> None:
        """Inhibition changes, reminders, escalation and shift handovers. While events of
        earlier decisions wait for the broker, only they are sent again (with backoff);
        the tick counts (``ticks``) once its own events are acknowledged."""
        if not await self.settled():
            return
        await self._handle_backlog()
        if self.writer.pending:
            return
        await self.refresh()
        now = self.now()
        policy = self.roster.policy
        rows = await self.open_rows(now)
        ch = self.changes()
        for row in rows:
            if row["status"] not in ("firing", "inhibited"):
                continue
            alert = self.alert_of(row)
            if not self.inhibit.changed(alert, ch, now):
                continue
            if alert.alert_id in ch.inhibited:  # its inhibitor has gone: told as firing
                ch.set_round(alert.alert_id, (0, now))
            message = self.messages.of_row(row, "firing", now)
            await self.decide(
                ch, Notice(alert, "firing", f"uninhibited:{now.isoformat()}", message, now)
            )
        for row in rows:
            alert_id = row["alert_id"]
            if row["status"] != "firing" or alert_id in ch.inhibited:
                continue
            alert = self.alert_of(row)
            since = aware(row["firing_since"])
            rnd, last = ch.round(alert_id, (0, since))
            message = self.messages.of_row(row, "reminder", since)
            if now - since >= policy.escalate_after and alert_id not in self.escalated:
                ch.later(self.escalated.add, alert_id)
                await self.escalate(ch, alert, message, now)
            if now - last < policy.repeat_interval:
                continue
            reminder = Notice(alert, "reminder", f"reminder:{rnd + 1}", message, now)
            # the round counts once no inhibition, silence or window holds it, on duty or not
            if await self.pipeline.run([reminder], ch, through="mute windows"):
                ch.set_round(alert_id, (rnd + 1, now))
                await self.decide(ch, reminder, start="route")
        ch.later(self.handover, rows, now)
        if await self.commit(ch):
            self.writer.stats.ticks += 1

    async def escalate(
        self, ch: Changes, alert: Alert, message: AlertMessage, now: dt.datetime
    ) -> None:
        """Nobody acknowledged in time: decide to tell province duty, recording the
        escalation. Silences and mute windows do not hold it back."""
        officers = self.router.province(alert.region, now)
        escalation = dataclasses.replace(message, kind="escalation")
        await self.decide(
            ch, Notice(alert, "escalation", "escalation", escalation, now), start="route"
        )
        payload = {
            "alert_id": alert.alert_id,
            "to_role": "province_duty",
            "to_officer": officers[0].id if officers else None,
            "reason": f"未在 {self.roster.policy.escalate_after} 内确认 / not acknowledged",
        }
        ch.change_alert("alert.escalated", alert.alert_id, payload, "")

    def handover(self, rows: list[dict[str, Any]], now: dt.datetime) -> None:
        """Brief each officer whose shift began within the handover window on the open
        alerts of their regions that fired before the shift (acknowledged ones included:
        the work goes on). The brief's audience is the incoming shift, not the route: its
        notices are queued straight into the group stage."""
        policy = self.roster.policy
        for officer in self.roster.officers:
            start = officer.shift_start(now)
            if start is None or now - start > policy.handover_window:
                continue
            for row in rows:
                level = row["level"] or LEAST
                if row["status"] not in ("firing", "acknowledged"):
                    continue
                since = aware(row["firing_since"])
                if row["alert_id"] in self.inhibited or since >= start:
                    continue  # inhibited, or fired during this shift: already told
                alert = self.alert_of(row)
                if not set(alert.chain) & set(officer.regions):
                    continue
                if officer.tier == "province" and level not in policy.notify_province_at:
                    continue
                message = self.messages.of_row(row, "handover", since)
                brief = f"handover:{start.isoformat()}"
                self.grouped.enqueue(Notice(alert, "handover", brief, message, now, officer))

    async def announce(
        self,
        area: str,
        level: str,
        text: str,
        *,
        about: str,
        tag: str,
        section: str = "playbooks",
    ) -> list[str]:
        """Tell the officers of ``area`` (province duty included) ``text`` at ``level``, as
        the notice ``tag`` of ``about`` (a playbook run …), linked to its console page in
        ``section``; returns the ids of the officers told. Not an alert: no inhibition,
        silence or mute window holds it; it enters the pipeline at the route stage."""
        notice = self._announcement(area, level, text, about=about, tag=tag, section=section)
        routed = await self.pipeline.run([notice], None, start="route", through="group")
        self.grouped.schedule()
        return [n.officer.id for n in routed if n.officer is not None]

    def audience(self, area: str, level: str = MOST) -> list[str]:
        """The ids of the officers :meth:`announce` would tell about ``area`` now (a dry
        run's answer); nothing is queued."""
        notice = self._announcement(area, level, "", about="", tag="", section="")
        return [o.id for o in self.router.audience(notice)]

    def _announcement(
        self, area: str, level: str, text: str, *, about: str, tag: str, section: str
    ) -> Notice:
        now = self.now()
        link = self.messages.console_link(section, about)
        message = self.messages.message(
            about, "playbook", level, text, area, "playbook", None, None, now, link=link
        )
        alert = Alert(about, "", "playbook", self.router.chain(area), level)
        return Notice(alert, "playbook", tag, message, now)

    async def drain(self) -> None:
        """Send what is queued at once and wait for deliveries under way (at shutdown)."""
        await self.grouped.drain()
        await self.writer.flush(force=True)  # a last try for events still held
