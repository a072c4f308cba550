"""Exceptions of the notification channels.

Delivery problems (a refused connection, an SMTP 550, an HTTP 503, a robot's rate limit)
are never raised: a notifier reports them as a :class:`~alerting.notify.base.Delivery`.
What is raised is a mistake the operator must fix before anything can be sent::

    EamsError                   root of every project exception (events.errors)
    └── NotifyError             root of the notification channels' exceptions
        └── NotifyConfigError   a notifier or the retry stage was configured wrongly
"""

from __future__ import annotations

from events.errors import EamsError

__all__ = ["NotifyConfigError", "NotifyError"]


class NotifyError(EamsError):
    """Root of the exceptions raised by ``alerting.notify``."""


class NotifyConfigError(NotifyError):
    """A notifier (or ``deliver``) was given an unusable setting.

    ``setting`` names the constructor argument, ``reason`` says what is wrong with it and
    what is expected instead. The value itself is never echoed: it may be a secret.
    """

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"{setting}: {reason}")
