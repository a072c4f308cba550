"""The retry stage: repeat a notifier's attempts with exponential backoff.

Like Alertmanager's ``RetryStage``, it trusts the notifier's verdict: a success or a
non-recoverable failure ends the delivery at once; a recoverable failure is tried again
after ``min(max_delay, base_delay * 2**(n-1)) * (0.5 + jitter()/2)`` seconds, until
``attempts`` are used up. Every attempt is handed to ``on_attempt`` before any sleeping,
so the caller can record it as a ``notification.sent`` / ``notification.failed`` event.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerting.notify.base import Delivery, Notifier
from alerting.notify.errors import NotifyConfigError
from alerting.notify.message import AlertMessage

__all__ = ["Attempt", "backoff_delay", "deliver"]


@dataclass(frozen=True)
class Attempt:
    """One attempt: its 1-based ``number``, the outcome, when the outcome was known
    (``at``) and when the next attempt is due (``next_at``; None when this was the last)."""

    number: int
    delivery: Delivery
    at: datetime
    next_at: datetime | None


def backoff_delay(number: int, base_delay: float, max_delay: float, jitter: float) -> float:
    """Seconds to wait after failed attempt ``number`` (1-based), ``jitter`` in [0, 1]:
    ``min(max_delay, base_delay * 2**(number-1)) * (0.5 + jitter/2)``."""
    return min(max_delay, base_delay * 2.0 ** (number - 1)) * (0.5 + jitter / 2)


def _now_utc() -> datetime:
    return datetime.now(UTC)


async def deliver(
    notifier: Notifier,
    message: AlertMessage,
    recipient: str,
    *,
    attempts: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    on_attempt: Callable[[Attempt], Awaitable[None] | None] | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    now: Callable[[], datetime] = _now_utc,
    jitter: Callable[[], float] = random.random,
) -> Delivery:
    """Deliver ``message`` to ``recipient`` through ``notifier``, retrying with backoff.

    Steps, per attempt ``n`` = 1..``attempts``:

    1. ``notifier.send`` (a notifier that raises anyway breaks its contract; that is
       recorded as a non-recoverable failure rather than crashing the pipeline);
    2. if it failed recoverably and attempts remain, the delay is computed;
    3. ``on_attempt(Attempt(n, delivery, now(), next_at))`` is called (and awaited when
       it returns an awaitable); an exception from it propagates and stops delivery;
    4. success or a non-recoverable failure returns; otherwise ``sleep(delay)``.

    Returns the last attempt's Delivery. ``sleep``, ``now`` and ``jitter`` are injectable
    so tests run without waiting. Cancellation propagates.
    """
    if attempts < 1:
        raise NotifyConfigError("attempts", f"must be at least 1, got {attempts}")
    if base_delay < 0 or max_delay < base_delay:
        raise NotifyConfigError("base_delay/max_delay", "need 0 <= base_delay <= max_delay")
    delivery = Delivery.fail("no attempt made")
    for number in range(1, attempts + 1):
        try:
            delivery = await notifier.send(message, recipient)
        except Exception as exc:  # noqa: BLE001 - contract breach, recorded not raised
            delivery = Delivery.fail(f"{notifier.channel} notifier raised {type(exc).__name__}")
        at = now()
        delay: float | None = None
        if not delivery.ok and delivery.recoverable and number < attempts:
            delay = backoff_delay(number, base_delay, max_delay, jitter())
        next_at = None if delay is None else at + timedelta(seconds=delay)
        if on_attempt is not None:
            pending = on_attempt(Attempt(number, delivery, at, next_at))
            if inspect.isawaitable(pending):
                await pending
        if delay is None:
            return delivery
        await sleep(delay)
    return delivery
