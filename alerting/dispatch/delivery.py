"""Stages 6 to 8, the delivery half: channels, dedupe, deliver with retry.

- **channels**: each notice of a group goes to every contact of its officer that has a
  configured notifier (one missing is logged);
- **dedupe**: every notice has a stable notification id (alert, tag, officer, channel); ids
  already delivered (in the log as ``notification.sent``, or sent by this process) are
  never sent again, so a restart repeats nothing that was delivered. An id is remembered
  before its message goes out: it cannot be unsent, so it is not sent twice while its
  ``notification.sent`` waits for the broker;
- **deliver**: one message per channel carries every notice (escalations and new alerts
  first, the most severe first), sent with retry and backoff by
  :func:`alerting.notify.retry.deliver`, which acts on the notifier's ``recoverable`` flag;
  every attempt becomes a ``notification.sent`` or ``notification.failed`` event per alert
  of the message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from typing import Any

from prometheus_client import Counter, Histogram

from alerting.dispatch.pipeline import Changes, Channel, Notice
from alerting.notify.base import Notifier
from alerting.notify.message import AlertMessage
from alerting.notify.retry import Attempt, deliver
from events.clock import now
from events.severity import rank
from streams.writer import EventWriter, Record

__all__ = ["Channels", "Dedupe", "Deliver", "build_notifiers", "notification_id"]

log = logging.getLogger("alerting.dispatch")

_KIND_ORDER = {"escalation": 0, "firing": 1, "handover": 2, "reminder": 3, "resolved": 4}


#: Delivery attempts by channel kind (email, sms, webhook …) and outcome (sent, failed).
NOTIFICATIONS = Counter(
    "eams_notifications_total", "Notification attempts, by channel and outcome",
    ["channel", "outcome"],
)  # fmt: skip
#: From an alert firing to its first notice delivered (each recipient's).
ALERT_NOTIFY_SECONDS = Histogram(
    "eams_alert_notify_seconds",
    "Seconds from an alert firing to its notice delivered",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)


class Channels:
    """The channels stage: one notice per channel of its officer."""

    name = "channels"

    def __init__(self, notifiers: dict[str, dict[str, Notifier]]) -> None:
        self.notifiers = notifiers

    def channel(self, kind: str, address: str, officer: str) -> Channel | None:
        """The notifier for ``address`` on ``kind`` (e-mail and SMS: the one configured)."""
        notifiers = self.notifiers.get(kind) or {}
        notifier = notifiers.get(address) or (
            next(iter(notifiers.values()), None) if kind in ("email", "sms") else None
        )
        if notifier is None:
            log.warning("no %s channel %r configured for %s", kind, address, officer)
            return None
        return Channel(kind, address, notifier)

    async def __call__(self, notices: list[Notice], ch: Changes | None) -> list[Notice]:
        """Every notice on every channel of its officer, channel by channel."""
        out: list[Notice] = []
        officers = {n.officer.id: n.officer for n in notices if n.officer is not None}
        for officer in officers.values():
            mine = [n for n in notices if n.officer is not None and n.officer.id == officer.id]
            for kind, address in officer.contacts.items():
                channel = self.channel(kind, address, officer.id)
                if channel is not None:
                    out.extend(dataclasses.replace(n, channel=channel) for n in mine)
        return out


def notification_id(notice: Notice) -> str:
    """The stable id of one notice to one officer on one channel."""
    assert notice.officer is not None and notice.channel is not None
    key = f"{notice.alert_id}|{notice.tag}|{notice.officer.id}|{notice.channel.kind}"
    return f"n-{hashlib.blake2b(key.encode(), digest_size=12).hexdigest()}"


class Dedupe:
    """The dedupe stage; ``sent`` holds the ids delivered (restored from the log)."""

    name = "dedupe"

    def __init__(self) -> None:
        self.sent: set[str] = set()

    async def __call__(self, notices: list[Notice], ch: Changes | None) -> list[Notice]:
        """The notices never sent, now remembered as sent."""
        out = [n for n in notices if notification_id(n) not in self.sent]
        self.sent.update(notification_id(n) for n in out)
        return out


class Deliver:
    """The deliver stage: one message per channel, with retry; every attempt recorded."""

    name = "deliver"

    def __init__(self, writer: EventWriter, retry_base_delay: float = 1.0) -> None:
        self.writer = writer
        self.retry_base_delay = retry_base_delay

    async def __call__(self, notices: list[Notice], ch: Changes | None) -> list[Notice]:
        """Send each channel's message; returns the notices it carried."""
        by_channel: dict[tuple[str, str, str], list[Notice]] = {}
        for n in notices:
            assert n.officer is not None and n.channel is not None
            by_channel.setdefault((n.officer.id, n.channel.kind, n.channel.address), []).append(n)
        for batch in by_channel.values():
            await self.send(sorted(batch, key=lambda n: _order(n.message)))
        return notices

    async def send(self, batch: list[Notice]) -> None:
        """One message leading with the first notice and carrying the others."""
        lead, officer, channel = batch[0], batch[0].officer, batch[0].channel
        assert officer is not None and channel is not None
        message = dataclasses.replace(lead.message, others=tuple(n.message for n in batch[1:]))

        async def record(attempt: Attempt) -> None:
            await self.record_attempts(batch, attempt)

        await deliver(
            channel.notifier,
            message,
            channel.address,
            on_attempt=record,
            base_delay=self.retry_base_delay,
        )

    async def record_attempts(self, batch: list[Notice], attempt: Attempt) -> None:
        """Every attempt is an event, one per alert the message carried. Never raises: when
        the broker does not acknowledge them, they are held and sent again by the ticks."""
        outcome = "sent" if attempt.delivery.ok else "failed"
        for notice in batch:
            kind = notice.channel.kind if notice.channel is not None else "none"
            NOTIFICATIONS.labels(kind, outcome).inc()
            if attempt.delivery.ok and notice.kind == "firing":
                fired = notice.message.fired_at
                ALERT_NOTIFY_SECONDS.observe(max(0.0, (now() - fired).total_seconds()))
        self.writer.stage([self.attempt_record(n, attempt) for n in batch])
        await self.writer.flush(force=True)

    def attempt_record(self, notice: Notice, attempt: Attempt) -> Record:
        """The ``notification.sent`` / ``notification.failed`` event of one attempt; its id
        is derived from the notification and the attempt, so sending it again counts once."""
        assert notice.officer is not None and notice.channel is not None
        nid = notification_id(notice)
        d = attempt.delivery
        payload: dict[str, Any] = {
            "notification_id": nid,
            "alert_id": notice.alert_id,
            "channel": notice.channel.kind,
            "recipient": notice.officer.id,
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
        return self.writer.encode(
            event_type,
            region=notice.message.region_code,
            key=nid[:64],
            payload=payload,
            name=f"{event_type}|{nid}|{attempt.number}",
        )


def _order(message: AlertMessage) -> tuple[int, int, str]:
    """Lead with escalations and new alerts, the most severe first."""
    return (_KIND_ORDER.get(message.kind, 9), -rank(message.level), message.region_code)


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
