"""Stage 5, group: notices are queued per officer and region group, and sent together.

The region group is ``policy.group_by`` (the city by default). A new group is sent after
``group_wait``; notices added to a group already notified wait until ``group_interval``
after its last message; one message carries every queued notice of the group. When a
group's timer fires, its notices go on through the delivery half of the pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable

from alerting.dispatch.pipeline import Changes, Notice
from alerting.roster import Officer, Roster
from events.regions import RegionReference

__all__ = ["Group", "Grouped"]


@dataclasses.dataclass
class Group:
    """The queue of one officer and region group, by (alert, tag)."""

    officer: Officer
    items: dict[tuple[str, str], Notice] = dataclasses.field(default_factory=dict)
    last_sent: float | None = None  # loop time of its last message
    task: asyncio.Task[None] | None = None


class Grouped:
    """The group stage: queues, and the timers that send them (to ``send``)."""

    name = "group"

    def __init__(
        self,
        reference: RegionReference,
        roster: Roster,
        send: Callable[[list[Notice]], Awaitable[object]],
    ) -> None:
        self.reference = reference
        self.roster = roster
        self.send = send
        self.groups: dict[tuple[str, str], Group] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._flush_now = asyncio.Event()

    async def __call__(self, notices: list[Notice], ch: Changes | None) -> list[Notice]:
        """Queue each routed notice once its decision is in the log (at once outside one)."""
        for n in notices:
            if ch is None:
                self.enqueue(n)
            else:
                ch.later(self.enqueue, n)
        return notices

    def group_key(self, region: str) -> str:
        """The region group of an alert (``policy.group_by``)."""
        by = self.roster.policy.group_by
        if by == "province":
            return self.reference.root().code
        if by == "city":
            return self.reference.city_of(region) or region
        return region

    def enqueue(self, notice: Notice) -> None:
        """Queue one routed notice; :meth:`schedule` sends the queues."""
        assert notice.officer is not None, "a notice is routed before it is queued"
        key = (notice.officer.id, self.group_key(notice.message.region_code))
        group = self.groups.setdefault(key, Group(notice.officer))
        group.officer = notice.officer
        group.items[(notice.alert_id, notice.tag)] = notice

    @property
    def queued(self) -> int:
        """Notices waiting in the queues."""
        return sum(len(g.items) for g in self.groups.values())

    @property
    def delivering(self) -> int:
        """Groups being waited for or sent."""
        return sum(1 for t in self.tasks if not t.done())

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
            self.tasks.add(group.task)
            group.task.add_done_callback(self.tasks.discard)

    async def _flush_after(self, key: tuple[str, str], delay: float) -> None:
        if delay > 0 and not self._flush_now.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), timeout=delay)
        group = self.groups[key]
        items = [dataclasses.replace(n, officer=group.officer) for n in group.items.values()]
        group.items.clear()
        group.task = None
        group.last_sent = asyncio.get_running_loop().time()
        try:
            await self.send(items)
        finally:
            if group.items:  # queued while this message was being sent
                self.schedule()

    async def drain(self) -> None:
        """Send what is queued at once and wait for the groups under way (at shutdown)."""
        self._flush_now.set()
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
