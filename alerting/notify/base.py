"""The notifier contract: what one delivery attempt reports and who makes it.

Modelled on Alertmanager's ``notify`` package: a notifier makes exactly one attempt and
answers whether it worked and, if not, whether trying again could help. The retry stage
(:func:`alerting.notify.retry.deliver`) acts on that flag; notifiers never retry or
sleep themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from alerting.notify.message import AlertMessage

__all__ = ["Delivery", "Notifier"]


@dataclass(frozen=True)
class Delivery:
    """The outcome of one delivery attempt.

    ``ok`` says the channel accepted the message. When it did not, ``recoverable`` says a
    later attempt may succeed (timeouts, refused connections, SMTP 4xx, HTTP 429/5xx, a
    robot's rate limit); a non-recoverable failure (SMTP 5xx, HTTP 4xx, a robot's "invalid
    key") will fail the same way until someone fixes the configuration. ``error`` is a
    short human-readable reason; it never contains secrets, tokens or the recipient.
    A success may carry an ``error`` note about a secondary step (see the WeCom mentions).
    """

    ok: bool
    recoverable: bool
    error: str | None = None

    @classmethod
    def success(cls) -> Delivery:
        """The channel accepted the message."""
        return cls(ok=True, recoverable=False)

    @classmethod
    def retry(cls, error: str) -> Delivery:
        """A failure that a later attempt may overcome."""
        return cls(ok=False, recoverable=True, error=error)

    @classmethod
    def fail(cls, error: str) -> Delivery:
        """A failure that will repeat until the configuration is fixed."""
        return cls(ok=False, recoverable=False, error=error)


class Notifier(Protocol):
    """One notification channel (SMTP, signed webhook, WeCom, DingTalk, SMS gateway).

    ``channel`` is the short channel name recorded in notification events (``"smtp"``,
    ``"webhook"``, ``"wecom"``, ``"dingtalk"``, ``"sms"``).
    """

    channel: str

    async def send(self, message: AlertMessage, recipient: str) -> Delivery:
        """Make one attempt to deliver ``message`` to ``recipient``.

        Never raises for delivery problems: network errors, timeouts and protocol-level
        refusals come back as a failed :class:`Delivery`. Bad configuration is reported
        when the notifier is constructed, as ``NotifyConfigError``.
        """
        ...
