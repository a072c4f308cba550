"""The notification stage: who hears about an alert, on which channels, and when again.

For each transition the evaluator hands over, and on a periodic tick for reminders:

0. **inhibit**: an alert whose parent region has a firing alert of the same indicator at
   the same or a more severe level, or whose area has an active playbook run at the same
   or a more severe variant, is recorded as ``alert.inhibited`` and not sent; when the
   inhibitor goes (parent resolved, run closed) ``alert.inhibition_ended`` is recorded and
   the alert is notified as firing;
1. **route**: city-tier officers on duty for the alert's region or its city; levels in
   ``policy.notify_province_at`` (I and II by default) reach province duty at once;
2. **mute**: an acknowledged alert gets no reminders, a silenced one nothing until the
   silence ends (the ``alerts`` projection says which), and recurring mute windows of the
   policy hold back the levels they name until they end;
3. **group**: notifications are queued per officer and region group (``policy.group_by``,
   the city by default); a new group is sent after ``group_wait``, alerts added to a group
   already notified wait until ``group_interval`` after its last message; one message
   carries every queued alert of the group;
4. **dedup**: every alert in a message has a stable notification id (alert, kind, round,
   officer, channel); ids already in the log as ``notification.sent`` are never sent
   again, so a restart repeats nothing that was delivered. After a restart, firing alerts
   that no notification ever reached (the worker died between the alert and its message)
   are notified;
5. **send with retry** (:func:`alerting.notify.retry.deliver`): every attempt becomes a
   ``notification.sent`` or ``notification.failed`` event per alert of the message;
6. **escalate**: unacknowledged after ``policy.escalate_after`` -> province duty is told,
   and ``alert.escalated`` is appended; **remind** every ``policy.repeat_interval`` until
   acknowledged;
7. **hand over**: an officer whose shift began within ``policy.handover_window`` gets one
   brief of the open alerts of their regions (once per shift, restarts included).

Nothing is lost when the broker is unavailable. Every decision (a batch of transitions, a
tick) is taken on a :class:`Changes` view of the state; its events go through the
dispatcher's :class:`~streams.outbox.Outbox` and its effects (inhibited set, reminder
rounds, escalations, queued notices) are applied only once the broker acknowledged them.
While events are held, no new decision is taken: transitions handed over meanwhile wait in
a backlog, and each tick first sends the held events again (with backoff). Delivery
attempts are recorded the same way; a message already sent is remembered at once (it
cannot be unsent), so it is not sent twice while its ``notification.sent`` waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from alerting.evaluator import Fired, rule_of
from alerting.notify.base import Delivery, Notifier
from alerting.notify.message import AlertMessage, MessageKind
from alerting.notify.retry import Attempt, deliver
from alerting.roster import Officer, Roster
from alerting.rules import Rule, RuleSet, severity
from alerting.silences import Silence, from_rows, silenced
from events.envelope import SHANGHAI, internal_event
from events.regions import RegionReference
from projections import alert_queries
from projections.client import Store, aware, run
from projections.playbook_queries import ActiveRun, active_runs
from streams.outbox import Outbox, Record
from streams.producer import BatchSender
from streams.topics import TopicNames

log = logging.getLogger(__name__)
NAMESPACE = uuid.UUID("3c0c8f4e-1b7a-4d47-8a55-5b2f4d9e6a10")


@dataclasses.dataclass(frozen=True)
class Item:
    """One alert waiting in a group: ``tag`` names the notice (raised, reminder round …)."""

    alert_id: str
    tag: str
    message: AlertMessage


@dataclasses.dataclass
class Group:
    """The queue of one officer and region group."""

    officer: Officer
    items: dict[tuple[str, str], Item] = dataclasses.field(default_factory=dict)
    last_sent: float | None = None  # loop time of its last message
    task: asyncio.Task[None] | None = None


@dataclasses.dataclass
class Changes:
    """One decision of the dispatcher: the events to append, the effects to apply once the
    broker has them, and the state as the decision sees it (its own changes included)."""

    inhibited: set[str]
    rounds: dict[str, tuple[int, dt.datetime]] = dataclasses.field(default_factory=dict)
    records: list[Record] = dataclasses.field(default_factory=list)
    effects: list[Callable[[], None]] = dataclasses.field(default_factory=list)

    def later(self, fn: Callable[..., None], *args: Any) -> None:
        """Apply ``fn(*args)`` once the decision's events are acknowledged."""
        self.effects.append(functools.partial(fn, *args))


_KIND_ORDER = {"escalation": 0, "firing": 1, "handover": 2, "reminder": 3, "resolved": 4}


def build_notifiers(channels: dict[str, Any]) -> dict[str, dict[str, Notifier]]:
    """channel kind -> name -> notifier, from the roster's ``channels`` section."""
    from alerting.notify.http import SmsGatewayNotifier, WebhookNotifier
    from alerting.notify.robots import DingTalkRobotNotifier, WeComRobotNotifier
    from alerting.notify.smtp import SmtpNotifier

    out: dict[str, dict[str, Notifier]] = {}
    smtp = channels.get("smtp")
    if smtp:
        out["email"] = {
            "smtp": SmtpNotifier(
                smtp["host"],
                int(smtp.get("port", 25)),
                smtp["sender"],
                username=smtp.get("username"),
                password=smtp.get("password"),
                starttls=bool(smtp.get("starttls", False)),
            )
        }
    out["wecom"] = {
        n: WeComRobotNotifier(c["url"]) for n, c in (channels.get("wecom") or {}).items()
    }
    out["dingtalk"] = {
        n: DingTalkRobotNotifier(c["url"], secret=c.get("secret") or None)
        for n, c in (channels.get("dingtalk") or {}).items()
    }
    out["webhook"] = {
        n: WebhookNotifier(c["url"], str(c.get("secret", "")).encode())
        for n, c in (channels.get("webhook") or {}).items()
    }
    sms = channels.get("sms")
    if sms:
        out["sms"] = {"sms": SmsGatewayNotifier(sms["url"], api_key=str(sms.get("api_key", "")))}
    return out


class Dispatcher:
    """Routes alert transitions and reminders to duty officers."""

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
    ) -> None:
        self.store = store
        self.reference = reference
        self.roster = roster
        self.sender = sender
        self.topics = topic_names
        self.notifiers = notifiers if notifiers is not None else build_notifiers(roster.channels)
        self.now = now
        self.retry_base_delay = retry_base_delay
        self.rules = rules
        self.open_alerts = open_alerts
        self.inhibited: set[str] = set()
        self.runs: list[ActiveRun] = []
        self.groups: dict[tuple[str, str], Group] = {}
        self._flush_now = asyncio.Event()
        self.silences: list[Silence] = []
        self.sent: set[str] = set()
        self.last_round: dict[str, tuple[int, dt.datetime]] = {}  # alert -> (round, at)
        self.escalated: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.outbox = Outbox(sender, "dispatcher")
        self._backlog: list[Fired] = []  # transitions not yet handled (events were held)

    def status(self) -> dict[str, Any]:
        """What ``/api/status`` shows: ticks, the health of the appends, and the notices
        queued or being delivered (a test waits for both to be 0 before it asserts that
        nothing more was sent)."""
        return self.outbox.status() | {
            "queued": sum(len(g.items) for g in self.groups.values()),
            "delivering": sum(1 for t in self._tasks if not t.done()),
            "backlog": len(self._backlog),
        }

    async def restore(self) -> None:
        """Remember what was already delivered and what is inhibited (from the log, via the
        projections); notify firing alerts that no message ever reached."""
        # merged, not replaced: the evaluator may already have handed over transitions
        sent, notified = await run(alert_queries.delivered, self.store)
        self.sent |= sent
        await self.refresh_silences()
        self.runs = await run(active_runs, self.store)
        now = self.now()
        rows = await self.open_rows(now)
        self.inhibited |= {r["alert_id"] for r in rows if r["status"] == "inhibited"}
        for row in rows:
            if row["status"] != "firing" or row["alert_id"] in notified:
                continue
            level = row["level"] or "IV"
            since = aware(row["firing_since"])
            if silenced(self.silences, row["rule"], self.chain(row["region"]), level, now):
                continue
            if self.roster.policy.muted(level, now):
                continue  # the first reminder after the window carries it
            message = self.row_message(row, "firing", since)
            for officer in self.recipients(row["region"], level, now):
                self.enqueue(officer, row["alert_id"], f"raised:{level}", message)
        self.schedule()

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

    # -- routing ---------------------------------------------------------------------------
    def chain(self, region: str) -> list[str]:
        """The region and its ancestors (an officer of the city covers its counties)."""
        return [region] + [r.code for r in self.reference.ancestors(region)]

    def recipients(self, region: str, level: str, at: dt.datetime) -> list[Officer]:
        """Officers to tell at once for an alert of ``level`` in ``region``."""
        chain = self.chain(region)
        found = self.roster.responsible(chain, "city", at)
        if level in self.roster.policy.notify_province_at or not found:
            found += self.roster.responsible(chain, "province", at)
        return found

    # -- entry points ----------------------------------------------------------------------
    async def on_fired(self, fired: Sequence[Fired]) -> None:
        """Notify for each transition the evaluator appended (held in a backlog while
        earlier events of the dispatcher wait for the broker)."""
        self._backlog.extend(fired)
        if await self.outbox.settled():
            await self._handle_backlog()

    def changes(self) -> Changes:
        """A new decision on the current state."""
        return Changes(inhibited=set(self.inhibited))

    def _round(self, ch: Changes, alert_id: str, default: tuple[int, dt.datetime]) -> Any:
        return ch.rounds.get(alert_id) or self.last_round.get(alert_id, default)

    def _set_round(self, ch: Changes, alert_id: str, value: tuple[int, dt.datetime]) -> None:
        ch.rounds[alert_id] = value
        ch.later(self.last_round.__setitem__, alert_id, value)

    async def commit(self, ch: Changes) -> bool:
        """Append a decision's events; apply its effects once they are acknowledged (at
        once when it has none). False when the broker has not acknowledged them yet: they
        are held and sent again by the next tick."""

        def apply() -> None:
            for effect in ch.effects:
                effect()
            self.schedule()

        self.outbox.stage(ch.records, then=apply)
        return await self.outbox.flush(force=True)

    async def _handle_backlog(self) -> None:
        fired, self._backlog = self._backlog, []
        if not fired:
            return
        ch = self.changes()
        for f in fired:
            t = f.transition
            kind: MessageKind = "resolved" if t.kind == "resolved" else "firing"
            level = t.level or t.previous_level or "IV"
            self._set_round(ch, f.alert_id, (0, t.at))
            message = self.message(
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
            tag = _tag(t.kind, level, t.at)
            if kind == "resolved" and f.alert_id in ch.inhibited:
                ch.inhibited.discard(f.alert_id)
                ch.later(self.inhibited.discard, f.alert_id)
            if kind == "firing":
                by = self.inhibitor(f.region, f.rule.indicator, level, exclude=f.alert_id)
                if by is not None:
                    if f.alert_id not in ch.inhibited:
                        self.inhibit(ch, f.alert_id, f.region, by, t.at)
                    continue
                if f.alert_id in ch.inhibited:  # a level change outgrew its inhibitor
                    self.end_inhibition(ch, f.alert_id, f.region, t.at)
            chain = self.chain(f.region)
            if silenced(self.silences, f.rule.id, chain, level, t.at) is not None:
                continue  # a silence holds: nobody is told (the alert itself stands)
            if kind == "firing" and self.roster.policy.muted(level, t.at):
                self._set_round(ch, f.alert_id, (0, t.at - self.roster.policy.repeat_interval))
                continue  # a mute window: the first reminder after it carries the news
            for officer in self.recipients(f.region, level, t.at):
                ch.later(self.enqueue, officer, f.alert_id, tag, message)
        await self.commit(ch)

    def inhibitor(
        self, region: str, indicator: str, level: str, exclude: str = ""
    ) -> tuple[str, str] | None:
        """What covers an alert of ``indicator`` at ``level`` in ``region``, as
        (``alert`` | ``playbook``, id): a firing alert of the same indicator on a parent
        region at the same or a more severe level (Alertmanager-style inhibition along the
        tree), or an active playbook run for the region or an ancestor at the same or a
        more severe variant."""
        parents = {r.code for r in self.reference.ancestors(region)}
        for alert_id, rule, other_region, other in self.open_alerts() if self.open_alerts else []:
            if (
                alert_id != exclude
                and other_region in parents
                and rule.indicator == indicator
                and severity(other) >= severity(level)
            ):
                return ("alert", alert_id)
        for r in self.runs:
            if (r.region == region or r.region in parents) and (
                r.level is None or severity(r.level) >= severity(level)
            ):
                return ("playbook", r.run_id)
        return None

    def inhibit(
        self, ch: Changes, alert_id: str, region: str, by: tuple[str, str], at: dt.datetime
    ) -> None:
        """Decide that ``by`` holds back the notifications of ``alert_id``."""
        ch.inhibited.add(alert_id)
        ch.later(self.inhibited.add, alert_id)
        kind, ident = by
        payload: dict[str, Any] = {"alert_id": alert_id}
        if kind == "alert":
            payload.update(
                by_alert_id=ident, reason="上级地区同类预警已在处置 / parent region already alerted"
            )
        else:
            payload.update(
                by_playbook_run=ident,
                reason="应急预案已启动，由处置组负责 / an active playbook covers the area",
            )
        ch.records.append(
            self.record("alert.inhibited", region, alert_id, payload, salt=at.isoformat())
        )

    def end_inhibition(self, ch: Changes, alert_id: str, region: str, at: dt.datetime) -> None:
        """Decide that nothing inhibits ``alert_id`` any more."""
        ch.inhibited.discard(alert_id)
        ch.later(self.inhibited.discard, alert_id)
        payload = {"alert_id": alert_id, "reason": "抑制条件已消失 / the inhibitor has gone"}
        ch.records.append(
            self.record("alert.inhibition_ended", region, alert_id, payload, salt=at.isoformat())
        )

    async def refresh_silences(self) -> None:
        """Reload the silences from the log (they change rarely; read every tick)."""
        self.silences = from_rows(await run(alert_queries.silence_rows, self.store))

    async def tick(self) -> None:
        """Inhibition changes, reminders, escalation and shift handovers. While events of
        earlier decisions wait for the broker, only they are sent again (with backoff);
        the tick counts (``ticks``) once its own events are acknowledged."""
        if not await self.outbox.settled():
            return
        await self._handle_backlog()
        if self.outbox.pending:
            return
        await self.refresh_silences()
        self.runs = await run(active_runs, self.store)
        now = self.now()
        policy = self.roster.policy
        rows = await self.open_rows(now)
        ch = self.changes()
        for row in rows:
            if row["status"] not in ("firing", "inhibited"):
                continue
            alert_id = row["alert_id"]
            level = row["level"] or "IV"
            by = self.inhibitor(row["region"], row["indicator"], level, exclude=alert_id)
            if by is not None and alert_id not in ch.inhibited:
                self.inhibit(ch, alert_id, row["region"], by, now)
            elif by is None and alert_id in ch.inhibited:
                self.end_inhibition(ch, alert_id, row["region"], now)
                if not silenced(self.silences, row["rule"], self.chain(row["region"]), level, now):
                    notice = self.row_message(row, "firing", now)
                    for officer in self.recipients(row["region"], level, now):
                        tag = f"uninhibited:{now.isoformat()}"
                        ch.later(self.enqueue, officer, alert_id, tag, notice)
                self._set_round(ch, alert_id, (0, now))
        for row in rows:
            alert_id = row["alert_id"]
            if row["status"] != "firing" or alert_id in ch.inhibited:
                continue
            since = aware(row["firing_since"])
            level = row["level"] or "IV"
            rnd, last = self._round(ch, alert_id, (0, since))
            message = self.row_message(row, "reminder", since)
            if now - since >= policy.escalate_after and alert_id not in self.escalated:
                ch.later(self.escalated.add, alert_id)
                self.escalate(ch, alert_id, row, message)
            held = silenced(self.silences, row["rule"], self.chain(row["region"]), level, now)
            if held is not None:
                continue
            if now - last >= policy.repeat_interval and not policy.muted(level, now):
                rnd += 1
                self._set_round(ch, alert_id, (rnd, now))
                for officer in self.recipients(row["region"], level, now):
                    ch.later(self.enqueue, officer, alert_id, f"reminder:{rnd}", message)
        ch.later(self.handover, rows, now)
        if await self.commit(ch):
            self.outbox.stats.ticks += 1

    def handover(self, rows: list[dict[str, Any]], now: dt.datetime) -> None:
        """Brief each officer whose shift began within the handover window on the open
        alerts of their regions that fired before the shift (acknowledged ones included:
        the work goes on)."""
        window = self.roster.policy.handover_window
        for officer in self.roster.officers:
            start = officer.shift_start(now)
            if start is None or now - start > window:
                continue
            tag = f"handover:{start.isoformat()}"
            for row in rows:
                level = row["level"] or "IV"
                if row["status"] not in ("firing", "acknowledged"):
                    continue
                if row["alert_id"] in self.inhibited or aware(row["firing_since"]) >= start:
                    continue  # inhibited, or fired during this shift: already told
                if not set(self.chain(row["region"])) & set(officer.regions):
                    continue
                if (
                    officer.tier == "province"
                    and level not in self.roster.policy.notify_province_at
                ):
                    continue
                message = self.row_message(row, "handover", aware(row["firing_since"]))
                self.enqueue(officer, row["alert_id"], tag, message)

    def row_message(self, row: dict[str, Any], kind: MessageKind, at: dt.datetime) -> AlertMessage:
        """The message about an alert of the projection."""
        rule = self.rules.by_id(row["rule"]) if self.rules is not None else None
        return self.message(
            row["alert_id"],
            kind,
            row["level"] or "IV",
            rule.title if rule is not None else row["summary"],
            row["region"],
            row["indicator"],
            row["value"],
            row["threshold"],
            at,
        )

    def escalate(
        self, ch: Changes, alert_id: str, row: dict[str, Any], message: AlertMessage
    ) -> None:
        """Nobody acknowledged in time: decide to tell province duty, recording the
        escalation."""
        chain = self.chain(row["region"])
        officers = self.roster.responsible(chain, "province", self.now())
        escalation = dataclasses.replace(message, kind="escalation")
        for officer in officers:
            ch.later(self.enqueue, officer, alert_id, "escalation", escalation)
        ch.records.append(
            self.record(
                "alert.escalated",
                row["region"],
                alert_id,
                {
                    "alert_id": alert_id,
                    "to_role": "province_duty",
                    "to_officer": officers[0].id if officers else None,
                    "reason": f"未在 {self.roster.policy.escalate_after} 内确认 / not acknowledged",
                },
            )
        )

    # -- grouping and delivery -------------------------------------------------------------
    def group_key(self, region: str) -> str:
        """The region group of an alert (``policy.group_by``)."""
        by = self.roster.policy.group_by
        if by == "province":
            return self.reference.root().code
        if by == "city":
            return self.reference.city_of(region) or region
        return region

    def enqueue(self, officer: Officer, alert_id: str, tag: str, message: AlertMessage) -> None:
        """Queue one notice for an officer; :meth:`schedule` sends the queues."""
        key = (officer.id, self.group_key(message.region_code))
        group = self.groups.setdefault(key, Group(officer))
        group.officer = officer
        group.items[(alert_id, tag)] = Item(alert_id, tag, message)

    def schedule(self) -> None:
        """Start the timer of every group with queued notices and none running."""
        loop = asyncio.get_running_loop()
        policy = self.roster.policy
        for key, group in self.groups.items():
            if not group.items or group.task is not None:
                continue
            if group.last_sent is None:
                delay = policy.group_wait.total_seconds()
            else:
                due = group.last_sent + policy.group_interval.total_seconds()
                delay = max(0.0, due - loop.time())
            group.task = asyncio.create_task(self._flush_after(key, delay))
            self._tasks.add(group.task)
            group.task.add_done_callback(self._tasks.discard)

    async def _flush_after(self, key: tuple[str, str], delay: float) -> None:
        if delay > 0 and not self._flush_now.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), timeout=delay)
        group = self.groups[key]
        items = list(group.items.values())
        group.items.clear()
        group.task = None
        group.last_sent = asyncio.get_running_loop().time()
        try:
            await self.notify_group(group.officer, items)
        finally:
            if group.items:  # queued while this message was being sent
                self.schedule()

    async def notify_group(self, officer: Officer, items: list[Item]) -> None:
        """Send one message with every queued alert to one officer, on each channel."""
        for channel, address in officer.contacts.items():
            kind = "email" if channel == "email" else channel
            notifiers = self.notifiers.get(kind) or {}
            notifier = notifiers.get(address) or (
                next(iter(notifiers.values()), None) if kind in ("email", "sms") else None
            )
            if notifier is None:
                log.warning("no %s channel %r configured for %s", kind, address, officer.id)
                continue
            pending = [
                (it, _notification_id(it.alert_id, it.tag, officer.id, kind)) for it in items
            ]
            pending = [(it, nid) for it, nid in pending if nid not in self.sent]
            if not pending:
                continue
            self.sent.update(nid for _, nid in pending)
            pending.sort(key=lambda p: _order(p[0].message))
            lead = pending[0][0].message
            message = dataclasses.replace(lead, others=tuple(it.message for it, _ in pending[1:]))

            async def record(attempt: Attempt, pending: Any = pending, kind: str = kind) -> None:
                await self.record_attempts(
                    [(it.alert_id, nid, it.message) for it, nid in pending],
                    kind,
                    officer.id,
                    attempt,
                )

            await deliver(
                notifier, message, address, on_attempt=record, base_delay=self.retry_base_delay
            )

    async def record_attempts(
        self,
        sent: list[tuple[str, str, AlertMessage]],
        channel: str,
        officer: str,
        attempt: Attempt,
    ) -> None:
        """Every attempt is an event, one per alert the message carried. Never raises: when
        the broker does not acknowledge them, they are held and sent again by the ticks."""
        records = [
            self.attempt_record(alert_id, nid, channel, officer, message, attempt)
            for alert_id, nid, message in sent
        ]
        self.outbox.stage(records)
        await self.outbox.flush(force=True)

    def attempt_record(
        self,
        alert_id: str,
        nid: str,
        channel: str,
        officer: str,
        message: AlertMessage,
        attempt: Attempt,
    ) -> Record:
        """The ``notification.sent`` / ``notification.failed`` event of one attempt."""
        d: Delivery = attempt.delivery
        payload: dict[str, Any] = {
            "notification_id": nid,
            "alert_id": alert_id,
            "channel": channel,
            "recipient": officer,
            "attempt": attempt.number,
        }
        if d.ok:
            event_type = "notification.sent"
        else:
            event_type = "notification.failed"
            payload.update(
                error=(d.error or "failed")[:500],
                retryable=d.recoverable,
                next_attempt_at=attempt.next_at,
            )
        return self.record(event_type, message.region_code, nid, payload, salt=f"{attempt.number}")

    def record(
        self, event_type: str, region: str, key: str, payload: dict[str, Any], salt: str = ""
    ) -> Record:
        """One event of the dispatcher, encoded for the log; its id is derived from the
        type, the key and ``salt``, so sending it again is counted once."""
        now = self.now()
        envelope = internal_event(
            event_type,
            region=region,
            aggregate_id=key[:64],
            actor="eams.alerting",
            source="eams.alerting",
            payload=payload,
            occurred_at=now,
            recorded_at=now,
            event_id=uuid.uuid5(NAMESPACE, f"{event_type}|{key}|{salt}"),
        )
        return Record(self.topics.events, envelope.to_json(), key[:64].encode())

    def message(
        self,
        alert_id: str,
        kind: MessageKind,
        level: str,
        title: str,
        region: str,
        indicator: str,
        value: float | None,
        threshold: float | None,
        at: dt.datetime,
    ) -> AlertMessage:
        """The message for one alert (Chinese, with the region's full name)."""
        names = [r.name for r in reversed(self.reference.ancestors(region))][1:]
        here = self.reference.get(region)
        deadline = self.roster.policy.report_deadline.get(level)
        return AlertMessage(
            alert_id=alert_id,
            kind=kind,
            level=level,
            rule_title=title,
            region_code=region,
            region_name=" ".join(names + [here.name if here else region]),
            indicator=indicator,
            indicator_label=title,
            value=value,
            threshold=threshold,
            fired_at=at,
            link=f"{self.roster.policy.link_base}{alert_id}",
            report_due=(at + deadline) if deadline and kind != "resolved" else None,
        )

    async def drain(self) -> None:
        """Send what is queued at once and wait for deliveries under way (at shutdown)."""
        self._flush_now.set()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.outbox.flush(force=True)  # a last try for events still held


def _tag(kind: str, level: str, at: dt.datetime) -> str:
    """The notice's name within its alert: the first notice is ``raised:<level>`` (so a
    restart can name it again); later changes carry their time, to the millisecond."""
    if kind == "raised":
        return f"raised:{level}"
    return f"{kind}:{level}:{at.astimezone(SHANGHAI).isoformat(timespec='milliseconds')}"


def _order(message: AlertMessage) -> tuple[int, int, str]:
    """Lead with escalations and new alerts, the most severe first."""
    return (_KIND_ORDER.get(message.kind, 9), -severity(message.level), message.region_code)


def _notification_id(alert_id: str, tag: str, officer: str, channel: str) -> str:
    digest = hashlib.blake2b(f"{alert_id}|{tag}|{officer}|{channel}".encode(), digest_size=12)
    return f"n-{digest.hexdigest()}"
