"""The notification stage: who hears about an alert, on which channels, and when again.

For each transition the evaluator hands over, and on a periodic tick for reminders:

0. **inhibit**: an alert whose parent region has a firing alert of the same indicator at
   the same or a more severe level is recorded as ``alert.inhibited`` and not sent;
1. **route**: city-tier officers on duty for the alert's region or its city; levels in
   ``policy.notify_province_at`` (I and II by default) reach province duty at once;
2. **mute**: an acknowledged alert gets no reminders, a silenced one nothing until the
   silence ends (the ``alerts`` projection says which), and recurring mute windows of the
   policy hold back the levels they name until they end;
3. **dedup**: every notification has a stable id (alert, kind, round, officer, channel);
   ids already in the log as ``notification.sent`` are never sent again, so a restart
   repeats nothing that was delivered;
4. **send with retry** (:func:`alerting.notify.retry.deliver`): every attempt becomes a
   ``notification.sent`` or ``notification.failed`` event;
5. **escalate**: unacknowledged after ``policy.escalate_after`` -> province duty is told,
   and ``alert.escalated`` is appended; **remind** every ``policy.repeat_interval`` until
   acknowledged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from alerting.evaluator import Fired
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
from streams.producer import BatchSender
from streams.topics import TopicNames

log = logging.getLogger(__name__)
NAMESPACE = uuid.UUID("3c0c8f4e-1b7a-4d47-8a55-5b2f4d9e6a10")


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
        self.silences: list[Silence] = []
        self.sent: set[str] = set()
        self.last_round: dict[str, tuple[int, dt.datetime]] = {}  # alert -> (round, at)
        self.escalated: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    async def restore(self) -> None:
        """Remember what was already delivered (from the log, via the projection)."""
        self.sent = await run(alert_queries.sent_notifications, self.store)
        await self.refresh_silences()

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
        """Notify for each transition the evaluator appended."""
        for f in fired:
            t = f.transition
            kind: MessageKind = "resolved" if t.kind == "resolved" else "firing"
            level = t.level or t.previous_level or "IV"
            self.last_round[f.alert_id] = (0, t.at)
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
            tag = f"{t.kind}:{level}:{t.at.isoformat()}"
            if kind == "firing" and (by := self.inhibitor(f, level)) is not None:
                if f.alert_id not in self.inhibited:
                    self.inhibited.add(f.alert_id)
                    await self.append(
                        "alert.inhibited",
                        f.region,
                        f.alert_id,
                        {
                            "alert_id": f.alert_id,
                            "by_alert_id": by,
                            "reason": "上级地区同类预警已在处置 / parent region already alerted",
                        },
                    )
                continue
            chain = self.chain(f.region)
            if silenced(self.silences, f.rule.id, chain, level, t.at) is not None:
                continue  # a silence holds: nobody is told (the alert itself stands)
            if kind == "firing" and self.roster.policy.muted(level, t.at):
                self.last_round[f.alert_id] = (0, t.at - self.roster.policy.repeat_interval)
                continue  # a mute window: the first reminder after it carries the news
            for officer in self.recipients(f.region, level, t.at):
                self._spawn(self.notify_officer(f.alert_id, tag, officer, message))

    def inhibitor(self, f: Fired, level: str) -> str | None:
        """The id of a firing alert that covers ``f``: same indicator, on a parent region,
        at the same or a more severe level (Alertmanager-style inhibition along the tree)."""
        if self.open_alerts is None:
            return None
        parents = {r.code for r in self.reference.ancestors(f.region)}
        for alert_id, rule, region, other in self.open_alerts():
            if (
                region in parents
                and rule.indicator == f.rule.indicator
                and severity(other) >= severity(level)
            ):
                return alert_id
        return None

    async def refresh_silences(self) -> None:
        """Reload the silences from the log (they change rarely; read every tick)."""
        self.silences = from_rows(await run(alert_queries.silence_rows, self.store))

    async def tick(self) -> None:
        """Reminders and escalation for open, unacknowledged alerts."""
        await self.refresh_silences()
        now = self.now()
        policy = self.roster.policy
        rows = await run(alert_queries.list_alerts, self.store, now, status="firing")
        for row in rows:
            alert_id = row["alert_id"]
            since = aware(row["firing_since"])
            level = row["level"] or "IV"
            rnd, last = self.last_round.get(alert_id, (0, since))
            rule = self.rules.by_id(row["rule"]) if self.rules is not None else None
            message = self.message(
                alert_id,
                "reminder",
                level,
                rule.title if rule is not None else row["summary"],
                row["region"],
                row["indicator"],
                row["value"],
                row["threshold"],
                since,
            )
            if now - since >= policy.escalate_after and alert_id not in self.escalated:
                self.escalated.add(alert_id)
                await self.escalate(alert_id, row, message)
            held = silenced(self.silences, row["rule"], self.chain(row["region"]), level, now)
            if held is not None:
                continue
            if now - last >= policy.repeat_interval and not policy.muted(level, now):
                rnd += 1
                self.last_round[alert_id] = (rnd, now)
                for officer in self.recipients(row["region"], level, now):
                    self._spawn(self.notify_officer(alert_id, f"reminder:{rnd}", officer, message))

    async def escalate(self, alert_id: str, row: dict[str, Any], message: AlertMessage) -> None:
        """Nobody acknowledged in time: tell province duty and record the escalation."""
        chain = self.chain(row["region"])
        officers = self.roster.responsible(chain, "province", self.now())
        escalation = _replace(message, kind="escalation")
        for officer in officers:
            self._spawn(self.notify_officer(alert_id, "escalation", officer, escalation))
        await self.append(
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

    # -- delivery --------------------------------------------------------------------------
    async def notify_officer(
        self, alert_id: str, tag: str, officer: Officer, message: AlertMessage
    ) -> None:
        """Send one message to one officer on every channel they have."""
        for channel, address in officer.contacts.items():
            kind = "email" if channel == "email" else channel
            notifiers = self.notifiers.get(kind) or {}
            notifier = notifiers.get(address) or (
                next(iter(notifiers.values()), None) if kind in ("email", "sms") else None
            )
            if notifier is None:
                log.warning("no %s channel %r configured for %s", kind, address, officer.id)
                continue
            nid = _notification_id(alert_id, tag, officer.id, kind)
            if nid in self.sent:
                continue
            self.sent.add(nid)

            async def record(attempt: Attempt, nid: str = nid, kind: str = kind) -> None:
                await self.record_attempt(alert_id, nid, kind, officer.id, message, attempt)

            await deliver(
                notifier, message, address, on_attempt=record, base_delay=self.retry_base_delay
            )

    async def record_attempt(
        self,
        alert_id: str,
        nid: str,
        channel: str,
        officer: str,
        message: AlertMessage,
        attempt: Attempt,
    ) -> None:
        """Every attempt is an event."""
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
        await self.append(event_type, message.region_code, nid, payload, salt=f"{attempt.number}")

    async def append(
        self, event_type: str, region: str, key: str, payload: dict[str, Any], salt: str = ""
    ) -> None:
        """Append one event to the log (flushed before returning)."""
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
        async with self._lock:
            await self.sender.add(self.topics.events, envelope.to_json(), key[:64].encode())
            await self.sender.flush()

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

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for deliveries under way (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _notification_id(alert_id: str, tag: str, officer: str, channel: str) -> str:
    digest = hashlib.blake2b(f"{alert_id}|{tag}|{officer}|{channel}".encode(), digest_size=12)
    return f"n-{digest.hexdigest()}"


def _replace(message: AlertMessage, **changes: Any) -> AlertMessage:
    import dataclasses

    return dataclasses.replace(message, **changes)
