"""The case officers' worklist (migration 0010's ``case_worklist``), kept current.

Every case is held there with its current values, finalised, under every key it was ever
found by: ``('officer', who)``, ``('office', code)``, ``('region', code)``, ``('city', code)``.
An officer's or a county's list is then one key range (a few milliseconds at a million
persons), where the ledger, ordered by person, scatters it over hundreds of granules.

:class:`WorklistKeeper` keeps it. The projector tells it the persons each written batch
touched (:meth:`WorklistKeeper.touch`, before the batch counts as projected); it reads their
ledger rows and writes them again under each of their keys with a newer version, so the
newest row of a (key, person) wins (ReplacingMergeTree; readers take the newest row
themselves, cheaper than ``FINAL``). A case
handed over is written again under its former officer's key too, holding the new officer:
readers check the row's values against what they ask for.

What it does not see is rebuilt whole: at start (a crash may have lost the persons it had
been told of), after ``eams rebuild``, and when more persons wait than :attr:`FULL_AT` (a
backfill or an import: one pass over the ledger is cheaper than many lookups). Until the
first rebuild of a process is done, ``status()['rebuilt']`` is False; ``pending`` counts the
persons told of and not yet written. A store error is retried with backoff; nothing told is
dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from projections.case_queries import LEDGER, groups_query
from projections.client import Store, run
from projections.errors import ProjectionError

__all__ = ["COLUMNS", "WorklistKeeper", "rebuild", "refresh"]

log = logging.getLogger(__name__)

#: The case columns of a worklist row (after dimension, key, person_id, version).
COLUMNS = (
    "region", "city", "household_id", "applied_group", "national_id_masked", "name_masked",
    "phone_masked", "registered_on", "office", "officer", "owner_since", "visit_due",
    "visit_basis", "last_visit", "last_contact", "plan_active", "plan_id", "plan_version",
    "review_due", "unjustified_refusals", "placed_on", "exited_on", "exit_reason",
    "discovered_at", "last_event_at", "events", "groups",
)  # fmt: skip


def _insert(ledger: str, where: str) -> str:
    cols = ", ".join(COLUMNS)
    return (
        f"INSERT INTO case_worklist (dimension, key, person_id, version, {cols}) "
        f"SELECT entry.1, entry.2, person_id, {{version:UInt64}}, {cols} FROM ("
        f"SELECT * FROM ({ledger.format(where=where)}) AS l "
        f"LEFT JOIN ({groups_query(where)}) AS g USING (person_id)"
        ") ARRAY JOIN keys AS entry"
    )


def rebuild(store: Store, version: int) -> None:
    """Write every case again under each of its keys (one pass over the ledger)."""
    store.command(_insert(LEDGER, ""), parameters={"version": int(version)})


def refresh(store: Store, persons: Iterable[str], version: int) -> None:
    """Write the cases of ``persons`` again under each of their keys."""
    ids = sorted({p for p in persons if p})
    if ids:
        sql = _insert(LEDGER, "WHERE person_id IN {ids:Array(String)}")
        store.command(sql, parameters={"ids": ids, "version": int(version)})


class WorklistKeeper:
    """Keeps ``case_worklist`` current with what the projector writes (see the module)."""

    FULL_AT = 20_000  # more persons waiting than this: rebuild whole
    CHUNK = 2_000  # persons per refresh

    def __init__(
        self,
        store: Store,
        *,
        interval: float = 0.2,
        rest: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.interval = interval
        #: After a whole pass that took d seconds, the next waits until ``rest`` x d after
        #: it ended (at most a quarter of the time with 3): under a backfill or a rebuild
        #: more than FULL_AT persons wait all the time, and back-to-back passes over the
        #: whole ledger took the engine from the projector. What is told waits meanwhile.
        self.rest = rest
        self._clock = clock
        self._next_full = 0.0
        self.pending: set[str] = set()
        self.inflight = 0
        self.rebuilt = False
        self.rebuilds = 0
        self.refreshed = 0
        self.store_errors = 0
        self.last_error = ""
        self._version = 0
        self._wake = asyncio.Event()

    def touch(self, persons: Iterable[str]) -> None:
        """The projector wrote events of these persons."""
        before = len(self.pending)
        self.pending.update(p for p in persons if p)
        if len(self.pending) != before:
            self._wake.set()

    def reset(self) -> None:
        """The projections were dropped (``eams rebuild``): rebuild whole again."""
        self.rebuilt = False
        self._wake.set()

    def status(self) -> dict[str, Any]:
        """What ``/api/status`` shows (``pending``: told of, not yet written)."""
        return {
            "rebuilt": self.rebuilt,
            "pending": len(self.pending) + self.inflight,
            "rebuilds": self.rebuilds,
            "refreshed": self.refreshed,
            "store_errors": self.store_errors,
            "last_error": self.last_error,
        }

    def _next_version(self) -> int:
        self._version = max(self._version + 1, time.time_ns())
        return self._version

    async def step(self) -> bool:
        """Write what waits (a rebuild or one chunk); True when something was written."""
        if not self.rebuilt or len(self.pending) > self.FULL_AT:
            if self.rebuilt and self._clock() < self._next_full:
                return False  # resting after the last whole pass (see ``rest``)
            # persons told of from here on are written again after: the pass reads the
            # ledger as it is once it starts
            self.inflight, self.pending = len(self.pending), set()
            started = self._clock()
            try:
                await run(rebuild, self.store, self._next_version())
            except BaseException:
                self.inflight = 0
                self.rebuilt = False
                raise
            self.inflight = 0
            self.rebuilt = True
            self.rebuilds += 1
            ended = self._clock()
            self._next_full = ended + self.rest * (ended - started)
            log.info("worklist rebuilt in %.1f s", ended - started)
            return True
        if not self.pending:
            return False
        chunk: set[str] = set()
        while self.pending and len(chunk) < self.CHUNK:
            chunk.add(self.pending.pop())
        self.inflight = len(chunk)
        try:
            await run(refresh, self.store, chunk, self._next_version())
        except BaseException:
            self.pending |= chunk  # nothing told is dropped
            raise
        finally:
            self.inflight = 0
        self.refreshed += len(chunk)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Write what waits until ``stop``; store errors are retried with backoff."""
        delay = self.interval
        while not stop.is_set():
            try:
                wrote = await self.step()
                delay = self.interval
            except (ProjectionError, OSError) as exc:
                self.store_errors += 1
                self.last_error = str(exc)[:300]
                log.warning("worklist: %s (retrying in %.1f s)", exc, delay)
                wrote = False
                delay = min(delay * 2, 30.0)
            if wrote and self.pending:
                continue
            self._wake.clear()
            waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
