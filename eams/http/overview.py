"""Reads of the worker's state and the regional projections: pipeline status, the per-city
overview, disaster areas, exact projection counts and the current indicator values.

In embedded mode this process is the only one that may open the chDB data path, so every
other command (``eams status``, the demo's live table, tests) reads through here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter, Query

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard, scope_guard
from eams.http.errors import NotFoundError
from eams.http.scope import Scope
from events.clock import today
from events.regions import load_reference
from projections import quarantine, queries
from projections.client import run

#: The longest window ``?days=N`` of the overview takes (ten years).
MAX_DAYS = 3660


def without_password(dsn: str) -> str:
    """A DSN fit to show: ``http://user:secret@host`` -> ``http://user@host``."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1@", dsn)


def router(host: Host) -> APIRouter:
    """The status and overview routes of one worker."""
    api = APIRouter(tags=["overview 概览"])
    need = guard(host)
    scoped = scope_guard(host)

    @api.get("/api/status", summary="Pipeline state: ingest counters, projector positions")
    async def status(who: Principal = need("read:overview")) -> dict[str, Any]:
        """Counters of the ingest agent and the projector's positions and lag."""
        # the awaits first, then one snapshot with no await in it: the projector goes on
        # while a query runs, and positions read after its rows (or the live dicts, changed
        # before the response is serialized) would say it is past events it has not written
        quarantined = await run(quarantine.counts, host.store)
        p = host.projector.stats
        return {
            "ingest": host.ingest.stats(),
            "projector": {
                "rows": p.rows,
                "batches": p.batches,
                "duplicates": p.duplicates,
                "quarantined": p.quarantined,
                "bisected_batches": p.bisected_batches,
                "store_errors": p.store_errors,
                "last_store_error": p.last_store_error,
                "replayed_batches": p.replayed_batches,
                "positions": dict(p.positions),
                "highwater": dict(p.highwater),
                "lag": p.lag,
                "version": p.version,
            },
            "worklist": host.worklist.status(),
            "quarantine": quarantined,
            "alerting": host.alerting_status(),
            "rebuilding": host.rebuilding,
            "ingest_ready": host.ingest.ready,
            "clickhouse": without_password(host.settings.clickhouse_dsn),
            "kafka": host.settings.bootstrap,
        }

    @api.get("/api/overview/cities", summary="Per-city indicators (16 cities for Shandong)")
    async def cities(
        days: int | None = Query(default=None, ge=1, le=MAX_DAYS),
        hierarchy: str | None = None,
        scope: Scope = scoped("read:overview"),
    ) -> list[dict[str, Any]]:
        """One row per city (or US state); ``days`` limits the facts to the last N days."""
        since = today() - dt.timedelta(days=days - 1) if days else None
        reference = host.primary
        if hierarchy:
            if hierarchy not in host.settings.region_hierarchy.split(","):
                raise NotFoundError(
                    f"hierarchy {hierarchy!r} is not configured "
                    f"(EAMS_REGION_HIERARCHY={host.settings.region_hierarchy})"
                )
            reference = load_reference(hierarchy)
        persons = await host.persons_per_city() if reference is host.primary else None
        rows = await run(queries.city_overview, host.store, reference, since, persons)
        return scope.rows(rows, region="code", city=None)

    @api.get("/api/disaster-areas", summary="Regions currently flagged as disaster areas")
    async def disaster_areas(scope: Scope = scoped("read:overview")) -> list[dict[str, Any]]:
        """Active disaster-area flags per region."""
        return scope.rows(await run(queries.active_disaster_areas, host.store))

    @api.get("/api/projections/counts", summary="Exact counts of every projection")
    async def counts(who: Principal = need("read:audit")) -> dict[str, Any]:
        """Events by type, fact sums, persons, households and disaster areas."""
        return await run(queries.counts, host.store)

    @api.get("/api/indicators", summary="Current indicator values per region")
    async def indicators(
        region: str | None = None, scope: Scope = scoped("read:overview")
    ) -> dict[str, Any]:
        """The values the last evaluation used (indicator -> region -> value)."""
        values = host.evaluator.values if host.evaluator is not None else {}
        if region:
            scope.check(region)
            return {name: per.get(region) for name, per in values.items()}
        return {name: scope.by_region(per) for name, per in values.items()}

    return api
