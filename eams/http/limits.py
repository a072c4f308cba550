"""Bounds of the HTTP API: request bodies, sign-in attempts and live streams.

- :class:`BodyLimit` (ASGI middleware): a body over ``EAMS_MAX_BODY_BYTES`` is answered
  413 with the limit, from its ``Content-Length`` before anything is read, or as soon as a
  streamed body passes the limit: no route ever holds more than the limit in memory.
- :class:`SignInThrottle`: failed sign-ins per client address and per name, counted
  *before* the password is hashed, so a flood never reaches Argon2. After a few failures
  each further attempt waits longer (1 s, 2 s, 4 s … at most 60 s; 429 with
  ``Retry-After``): a duty officer who mistypes is slowed, never locked out for minutes.
  Counters of quiet names and addresses are forgotten, and there are at most ``max_keys``.
- :data:`ARGON2`: the sign-in hashes run on this small executor of their own, never on the
  default pool that the projector's ClickHouse calls use (``projections.client.run``).
- :class:`StreamSlots`: open ``/api/stream`` connections per user and in total
  (``EAMS_SSE_PER_USER``, ``EAMS_SSE_TOTAL``); one more is answered 429.
"""

from __future__ import annotations

import math
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: One thread: Argon2 is meant to be costly, and two busy cores would starve the projector.
ARGON2 = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eams-argon2")


def too_large(limit: int) -> str:
    """The 413 message of a body over ``limit`` bytes."""
    return (
        f"request body over the limit of {limit} bytes (EAMS_MAX_BODY_BYTES); "
        "send fewer events per request"
    )


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes, never reading past it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await JSONResponse({"detail": too_large(self.limit)}, 413)(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, too_large(self.limit))
            return message

        await self.app(scope, bounded, send)


@dataclass
class _Count:
    failures: int = 0
    until: float = 0.0  # no attempt before this (monotonic seconds)
    last: float = 0.0
    pending: int = 0


class SignInThrottle:
    """Exponential backoff of sign-in attempts per name and per client address.

    ``admit`` is called before hashing: it returns 0 and counts the attempt as pending, or
    the seconds to wait. ``result`` records the outcome. ``free`` failures of a name (``free_ip``
    of an address) cost nothing; each one after doubles the wait, from ``base`` up to ``cap``.
    A success clears the name's failures. At most ``per_key_pending`` attempts of one name
    or address, and ``total_pending`` in all, wait for the hasher at once.
    """

    def __init__(
        self,
        *,
        free: int = 5,
        free_ip: int = 20,
        base: float = 1.0,
        cap: float = 60.0,
        idle: float = 900.0,
        per_key_pending: int = 4,
        total_pending: int = 8,
        max_keys: int = 100_000,
    ) -> None:
        self.free, self.free_ip, self.base, self.cap, self.idle = free, free_ip, base, cap, idle
        self.per_key_pending, self.total_pending, self.max_keys = (
            per_key_pending,
            total_pending,
            max_keys,
        )
        self._counts: OrderedDict[str, _Count] = OrderedDict()  # least recently touched first
        self.pending = 0

    def __len__(self) -> int:
        return len(self._counts)

    @staticmethod
    def keys(name: str, address: str) -> tuple[str, str]:
        """The counters an attempt touches."""
        return f"name:{name}", f"ip:{address}"

    def admit(self, name: str, address: str, now: float) -> float:
        """0 to go ahead (the attempt is now pending), else the seconds to wait first."""
        self.purge(now)
        wait = 0.0
        busy = self.pending >= self.total_pending
        for key in self.keys(name, address):
            found = self._counts.get(key)
            if found is not None:
                wait = max(wait, found.until - now)
                busy = busy or found.pending >= self.per_key_pending
        if wait > 0:
            return wait
        if busy:
            return 1.0
        for key in self.keys(name, address):
            count = self._counts.setdefault(key, _Count(last=now))
            self._counts.move_to_end(key)
            count.pending += 1
        self.pending += 1
        return 0.0

    def result(self, name: str, address: str, ok: bool, now: float) -> None:
        """Record the outcome of an admitted attempt."""
        self.pending = max(0, self.pending - 1)
        for key in self.keys(name, address):
            count = self._counts.get(key)
            if count is None:  # forgotten under pressure meanwhile
                continue
            count.pending = max(0, count.pending - 1)
            count.last = now
            self._counts.move_to_end(key)
            if ok:
                if key.startswith("name:"):
                    count.failures, count.until = 0, 0.0
                continue
            count.failures += 1
            free = self.free if key.startswith("name:") else self.free_ip
            if count.failures >= free:
                count.until = now + min(self.cap, self.base * 2 ** (count.failures - free))

    def purge(self, now: float) -> None:
        """Forget counters quiet for ``idle`` seconds, and the oldest beyond ``max_keys``."""
        while self._counts:
            key, count = next(iter(self._counts.items()))
            quiet = now - count.last >= self.idle and count.until <= now
            if not (quiet or len(self._counts) > self.max_keys) or count.pending:
                break
            del self._counts[key]

    @staticmethod
    def refused(wait: float, name: str) -> HTTPException:
        """The 429 of an attempt that must wait."""
        seconds = max(1, math.ceil(wait))
        return HTTPException(
            429,
            f"too many sign-in attempts for {name!r} or from this address; try again in "
            f"{seconds} s (each failure doubles the wait, at most 60 s)",
            headers={"Retry-After": str(seconds)},
        )


class Slot:
    """One open live stream; released once (by the stream's end, or when it is dropped)."""

    def __init__(self, slots: StreamSlots, who: str) -> None:
        self._slots: StreamSlots | None = slots
        self.who = who

    def release(self) -> None:
        """Give the slot back (idempotent)."""
        slots, self._slots = self._slots, None
        if slots is not None:
            slots._release(self.who)  # noqa: SLF001


class StreamSlots:
    """Open live streams per user and in total."""

    def __init__(self, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self.open: dict[str, int] = {}

    def acquire(self, who: str) -> Slot:
        """A slot for ``who``, or 429 naming the limit that was reached."""
        if sum(self.open.values()) >= self.total:
            raise HTTPException(
                429,
                f"{self.total} live streams are open, the most this worker serves "
                "(EAMS_SSE_TOTAL); try again later",
                headers={"Retry-After": "5"},
            )
        if self.open.get(who, 0) >= self.per_user:
            raise HTTPException(
                429,
                f"you have {self.per_user} live streams open, the most one user may "
                "(EAMS_SSE_PER_USER); close a console tab",
                headers={"Retry-After": "5"},
            )
        self.open[who] = self.open.get(who, 0) + 1
        return Slot(self, who)

    def hold(self, slot: Slot, stream: object) -> None:
        """Release ``slot`` when ``stream`` is dropped, even if it never started."""
        weakref.finalize(stream, slot.release)

    def _release(self, who: str) -> None:
        left = self.open.get(who, 0) - 1
        if left > 0:
            self.open[who] = left
        else:
            self.open.pop(who, None)
