"""Notification channels of EAMS alerting: render an alert, deliver it, retry.

Modelled on Alertmanager's ``notify`` package::

    AlertMessage ──render──▶ Notifier.send(message, recipient) ──▶ Delivery(ok, recoverable)
                                        ▲                                   │
                                        └──────── deliver() retries ◀───────┘

Channels: :class:`SmtpNotifier` (e-mail), :class:`WebhookNotifier` (signed JSON),
:class:`WeComRobotNotifier`, :class:`DingTalkRobotNotifier` (group robots) and
:class:`SmsGatewayNotifier`. Messages carry aggregates only, never personal data.
"""

from alerting.notify.base import Delivery, Notifier
from alerting.notify.errors import NotifyConfigError, NotifyError
from alerting.notify.http import (
    SmsGatewayNotifier,
    WebhookNotifier,
    sign_webhook,
    verify_signature,
)
from alerting.notify.message import (
    AlertMessage,
    AlertMessageError,
    MessageKind,
    format_number,
    format_time,
    render,
    render_markdown,
    render_sms,
)
from alerting.notify.retry import Attempt, backoff_delay, deliver
from alerting.notify.robots import DingTalkRobotNotifier, WeComRobotNotifier, dingtalk_sign
from alerting.notify.smtp import SmtpNotifier

__all__ = [
    "AlertMessage",
    "AlertMessageError",
    "Attempt",
    "Delivery",
    "DingTalkRobotNotifier",
    "MessageKind",
    "Notifier",
    "NotifyConfigError",
    "NotifyError",
    "SmsGatewayNotifier",
    "SmtpNotifier",
    "WeComRobotNotifier",
    "WebhookNotifier",
    "backoff_delay",
    "deliver",
    "dingtalk_sign",
    "format_number",
    "format_time",
    "render",
    "render_markdown",
    "render_sms",
    "sign_webhook",
    "verify_signature",
]
