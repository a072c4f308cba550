"""The web console (``/console/``) and the reads only it needs: the map, daily trends,
region children, and the live stream of changes (server-sent events).

The page itself is static (``console/index.html``, ``app.js``, the case officers'
workspace ``cases.js``, ``style.css``); ECharts comes from npm (``console/node_modules``,
installed by ``scripts/setup``), never copied in by hand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard, scope_guard
from eams.http.errors import NotFoundError, UnavailableError
from eams.http.limits import StreamSlots
from eams.http.scope import Scope
from eams.settings import PROJECT_ROOT
from events.clock import today
from projections import queries
from projections.client import run

CONSOLE = PROJECT_ROOT / "console"
ECHARTS = CONSOLE / "node_modules" / "echarts" / "dist" / "echarts.min.js"
GEOJSON = PROJECT_ROOT / "events" / "reference"
ASSETS = {
    "app.js": "text/javascript",
    "cases.js": "text/javascript",
    "money.js": "text/javascript",
    "style.css": "text/css",
    "index.html": "text/html",
}
#: The change stream looks for new projected rows this often; a change reaches the page
#: within this interval plus the page's own refetch.
STREAM_TICK = 0.25
HEARTBEAT = 15.0
#: Rules' indicators over 7 days whose thresholds a trend of daily facts can show.
TREND_INDICATORS = {
    "people_laid_off": "people_laid_off_7d",
    "reg_temporary_assistance": "registrations_temporary_assistance_7d",
}


@cache
def shandong_map() -> dict[str, Any]:
    """The cities of Shandong as GeoJSON, with the pre-2019 Laiwu polygon (371200, merged
    into Jinan in 2019) drawn as part of Jinan."""
    doc: dict[str, Any] = json.loads((GEOJSON / "shandong_prefectures.geojson").read_text())
    features = {f["properties"]["adcode"]: f for f in doc["features"]}
    laiwu = features.pop("371200")
    jinan = features["370100"]
    polygons = []
    for feature in (jinan, laiwu):
        geometry = feature["geometry"]
        if geometry["type"] == "Polygon":
            polygons.append(geometry["coordinates"])
        else:
            polygons.extend(geometry["coordinates"])
    jinan["geometry"] = {"type": "MultiPolygon", "coordinates": polygons}
    for code, feature in features.items():
        feature["properties"]["code"] = code
    return {"type": "FeatureCollection", "features": list(features.values())}


def router(host: Host) -> APIRouter:
    """The console's routes."""
    api = APIRouter(tags=["console 控制台"])
    need = guard(host)
    scoped = scope_guard(host)
    slots = StreamSlots(host.settings.sse_per_user, host.settings.sse_total)

    @api.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    @api.get("/console/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(CONSOLE / "index.html", media_type="text/html")

    @api.get("/console/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name == "echarts.min.js":
            if not ECHARTS.exists():
                raise UnavailableError(
                    "ECharts is not installed: run scripts/setup (npm ci in console/)"
                )
            return FileResponse(ECHARTS, media_type="text/javascript")
        if name not in ASSETS:
            raise NotFoundError(f"no console file {name!r}")
        return FileResponse(CONSOLE / name, media_type=ASSETS[name])

    @api.get("/api/geo/shandong", summary="Map of Shandong's cities (GeoJSON)")
    async def geo(who: Principal = need("read:overview")) -> dict[str, Any]:
        """The 16 cities; the old Laiwu polygon is part of Jinan."""
        return shandong_map()

    @api.get("/api/regions/{code}/children", summary="Regions under a region")
    async def children(code: str, scope: Scope = scoped("read:overview")) -> list[dict[str, Any]]:
        """Counties of a city (or cities of the province), with names in both languages."""
        if scope.reference.get(code) is None:
            raise NotFoundError(f"no region {code!r}; see `eams regions list`")
        regions = [
            {"code": r.code, "name": r.name, "name_en": r.name_en, "level": r.level}
            for r in scope.reference.children(code)
        ]
        return scope.rows(regions, region="code", city=None)

    @api.get("/api/trends", summary="Daily facts of a region, with the rules' thresholds")
    async def trends(
        region: str, days: int = 60, scope: Scope = scoped("read:overview")
    ) -> dict[str, Any]:
        """Per day: people laid off, registrations (all and temporary assistance), claims;
        with the enter thresholds of the rules that judge their 7-day sums at this region's
        level, to draw as lines."""
        found = scope.reference.get(region)
        if found is None:
            raise NotFoundError(f"no region {region!r}")
        scope.check(region)
        days = max(7, min(days, 400))
        since = today() - dt.timedelta(days=days - 1)
        rows = await run(queries.region_trend, host.store, region, found.level, since)
        thresholds: dict[str, list[dict[str, Any]]] = {}
        rules = host.evaluator.rules.rules if host.evaluator is not None else ()
        for column, indicator in TREND_INDICATORS.items():
            for rule in rules:
                if (
                    rule.indicator == indicator
                    and rule.kind == "absolute"
                    and (rule.scope.covers(region, host.primary))
                ):
                    thresholds[column] = [
                        {"level": level, "enter": t.enter, "rule": rule.id}
                        for level, t in rule.levels.items()
                    ]
        series = [
            {"day": str(r["day"]), **{c: int(r[c]) for c in queries.TREND_COLUMNS}} for r in rows
        ]
        return {
            "region": region,
            "name": found.name,
            "name_en": found.name_en,
            "since": since.isoformat(),
            "days": series,
            "thresholds": thresholds,
        }

    @api.get("/api/stream", summary="Live changes (server-sent events)")
    async def stream(request: Request, who: Principal = need("read:overview")) -> Response:
        """``event: change`` whenever the projections changed (new rows projected: events,
        alerts, playbook steps …), at most every 0.25 s; a comment every 15 s keeps the
        connection open. The page refetches what it shows. At most ``EAMS_SSE_PER_USER``
        streams per user and ``EAMS_SSE_TOTAL`` in all are open at once (429 beyond)."""
        slot = slots.acquire(f"{who.kind}:{who.name}")

        async def changes() -> AsyncIterator[bytes]:
            try:
                last = -1
                quiet = 0.0
                yield b"retry: 1000\n\n"
                while not host.stopping.is_set() and not await request.is_disconnected():
                    rows = host.projector.stats.rows
                    if rows != last:
                        last = rows
                        quiet = 0.0
                        yield f"event: change\ndata: {json.dumps({'rows': rows})}\n\n".encode()
                    elif quiet >= HEARTBEAT:
                        quiet = 0.0
                        yield b": keep-alive\n\n"
                    await asyncio.sleep(STREAM_TICK)
                    quiet += STREAM_TICK
            finally:
                slot.release()

        stream = changes()
        slots.hold(slot, stream)  # released even if the stream never starts
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return api
