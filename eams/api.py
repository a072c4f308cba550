"""The HTTP API of ``eams run``: ingest for source systems, and reads of the projections.

In embedded mode this process is the only one that may open the chDB data path, so every
other command (``eams status``, ``eams rebuild``, the demo's live table, tests) reads
through here.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from eams.api_auth import guard, in_scope, session_router
from eams.api_disclosure import Disclosure
from eams.api_limits import BodyLimit
from eams.api_openapi import document
from eams.auth import Principal
from events.envelope import SHANGHAI, today
from events.payload_base import Ident, Text
from events.regions import load_reference
from projections import alert_queries, quarantine, queries
from projections.client import run
from streams.pipeline import Accepted, process_raw

if TYPE_CHECKING:
    from eams.runtime import Host


class AckBody(BaseModel):
    """Who acknowledges (signed-in users: themselves), and an optional note."""

    actor: str | None = Field(default=None, min_length=1, max_length=64)
    note: Text | None = None


class ActorBody(BaseModel):
    """Who does it (signed-in users: themselves)."""

    actor: str | None = Field(default=None, min_length=1, max_length=64)


class SilenceRuleBody(BaseModel):
    """A silence by matchers: every given matcher must match."""

    actor: str | None = Field(default=None, min_length=1, max_length=64)
    rule: Ident | None = None
    region: Ident | None = None
    level: str | None = Field(default=None, pattern=r"^(I|II|III|IV)$")
    minutes: int = Field(gt=0, le=30 * 24 * 60, strict=True)  # not true/false, not "5"
    reason: Text | None = None


class SilenceBody(BaseModel):
    """Who silences, for how long, and why."""

    actor: str | None = Field(default=None, min_length=1, max_length=64)
    minutes: int = Field(gt=0, le=7 * 24 * 60, strict=True)
    reason: Text | None = None


def _deadline(host: Host, row: dict[str, Any]) -> dict[str, Any]:
    """Add the emergency plans' report deadline (2 h for I-II, 12 h for III by default) and
    whether it has passed without an acknowledgement."""
    from alerting.roster import Policy

    policy = host.dispatcher.roster.policy if host.dispatcher is not None else Policy()
    limit = policy.report_deadline.get(row.get("level") or "")
    since = row.get("firing_since")
    if limit is None or since is None:
        row["report_due"] = None
        row["report_overdue"] = False
        return row
    due = since + limit
    row["report_due"] = due
    row["report_overdue"] = row["status"] == "firing" and _now() > due
    return row


def _without_password(dsn: str) -> str:
    """A DSN fit to show: ``http://user:secret@host`` -> ``http://user@host``."""
    import re

    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1@", dsn)


def _now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


#: The longest window ``?days=N`` of the overview takes (ten years).
MAX_DAYS = 3660
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


def create_api(host: Host) -> FastAPI:
    """Build the FastAPI app over a running :class:`eams.runtime.Host`."""
    api = FastAPI(
        title="EAMS API",
        description="Employment-assistance monitoring: event ingest and regional read models. "
        "就业援助监测系统：事件接入与区域读模型。",
        version="0.1.0",
    )
    need = guard(host)
    # every answer passes the caller's disclosure policy (small cells): no route applies it
    api.add_middleware(Disclosure, host=host)
    api.add_middleware(BodyLimit, limit=host.settings.max_body_bytes)
    api.include_router(session_router(host))
    document(api)  # /openapi.json also names the routes' own 422 messages

    @api.post("/api/ingest", summary="Submit one event (JSON) or a batch (NDJSON)")
    async def ingest(request: Request, who: Principal = need("ingest")) -> JSONResponse:
        """Validate each input and check it against the caller (their actor, source, regions
        and, for API keys, allowed types), answer per line, and send only the accepted ones
        to ``eams.ingest.raw``, signed for the caller: the stream checks them again. A
        rejected input is answered and goes nowhere. Bodies over ``EAMS_MAX_BODY_BYTES``
        and batches over ``EAMS_MAX_BATCH_LINES`` are refused whole (413)."""
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if ctype not in (*NDJSON_TYPES, "application/json"):
            raise HTTPException(
                415,
                f"content-type {ctype!r} is not accepted: send application/json for one event "
                "or application/x-ndjson for one event per line",
            )
        # Read as a stream: BodyLimit stops it at EAMS_MAX_BODY_BYTES (413).
        body = b"".join([chunk async for chunk in request.stream()])
        if ctype in NDJSON_TYPES:
            lines: list[tuple[int | None, bytes]] = [
                (i, ln) for i, ln in enumerate(body.split(b"\n"), 1) if ln.strip()
            ]
            limit = host.settings.max_batch_lines
            if len(lines) > limit:
                raise HTTPException(
                    413,
                    f"{len(lines)} events in one request, over the limit of {limit} "
                    "(EAMS_MAX_BATCH_LINES); split the batch",
                )
        else:
            lines = [(None, body)]
        submitter = who.submitter()
        answers: list[dict[str, Any]] = []
        for line, raw in lines:
            result = process_raw(
                raw,
                reference=host.reference,
                secret=host.secret,
                line=line,
                principal=submitter,
                max_future_skew=host.settings.max_future_skew,
            )
            answer: dict[str, Any] = {"line": line}
            if isinstance(result, Accepted):  # only what is accepted is produced
                await host.producer.submit(raw, line=line, principal=submitter)
                answer.update(status="accepted", event_id=str(result.event_id))
            else:
                answer.update(status="rejected", field=result.field, reason=result.reason)
            answers.append(answer)
        await host.producer.flush()
        rejected = sum(1 for a in answers if a["status"] == "rejected")
        status = 200 if not rejected else (422 if len(answers) == 1 else 207)
        return JSONResponse(
            {"accepted": len(answers) - rejected, "rejected": rejected, "results": answers},
            status_code=status,
        )

    @api.get("/api/status", summary="Pipeline state: ingest counters, projector positions")
    async def status(who: Principal = need("read:overview")) -> dict[str, Any]:
        """Counters of the ingest agent and the projector's positions and lag."""
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
                "positions": p.positions,
                "highwater": p.highwater,
                "lag": p.lag,
                "version": p.version,
            },
            "quarantine": await run(quarantine.counts, host.store),
            "alerting": host.alerting_status(),
            "rebuilding": host.rebuilding,
            "ingest_ready": host.ingest.ready,
            "clickhouse": _without_password(host.settings.clickhouse_dsn),
            "kafka": host.settings.bootstrap,
        }

    @api.get("/api/overview/cities", summary="Per-city indicators (16 cities for Shandong)")
    async def cities(
        days: int | None = Query(default=None, ge=1, le=MAX_DAYS),
        hierarchy: str | None = None,
        who: Principal = need("read:overview"),
    ) -> list[dict[str, Any]]:
        """One row per city (or US state); ``days`` limits the facts to the last N days."""
        since = today() - dt.timedelta(days=days - 1) if days else None
        reference = host.primary
        if hierarchy:
            if hierarchy not in host.settings.region_hierarchy.split(","):
                raise HTTPException(
                    404,
                    f"hierarchy {hierarchy!r} is not configured "
                    f"(EAMS_REGION_HIERARCHY={host.settings.region_hierarchy})",
                )
            reference = load_reference(hierarchy)
        persons = await host.persons_per_city() if reference is host.primary else None
        rows = await run(queries.city_overview, host.store, reference, since, persons)
        return [r for r in rows if in_scope(who, r["code"])]

    @api.get("/api/disaster-areas", summary="Regions currently flagged as disaster areas")
    async def disaster_areas(who: Principal = need("read:overview")) -> list[dict[str, Any]]:
        """Active disaster-area flags per region."""
        rows = await run(queries.active_disaster_areas, host.store)
        return [r for r in rows if in_scope(who, r.get("region"), r.get("city"))]

    @api.get("/api/projections/counts", summary="Exact counts of every projection")
    async def counts(who: Principal = need("read:audit")) -> dict[str, Any]:
        """Events by type, fact sums, persons, households and disaster areas."""
        return await run(queries.counts, host.store)

    @api.get("/api/indicators", summary="Current indicator values per region")
    async def indicators(
        region: str | None = None, who: Principal = need("read:overview")
    ) -> dict[str, Any]:
        """The values the last evaluation used (indicator -> region -> value)."""
        values = host.evaluator.values if host.evaluator is not None else {}
        if region:
            if not in_scope(who, region, host.primary.city_of(region)):
                raise HTTPException(403, f"region {region} is outside your regions")
            return {name: per.get(region) for name, per in values.items()}
        return {
            name: {r: v for r, v in per.items() if in_scope(who, r, host.primary.city_of(r))}
            for name, per in values.items()
        }

    @api.get("/api/alerts", summary="Alerts (filter by region, level, status)")
    async def alerts(
        region: str | None = None,
        level: str | None = None,
        status: str | None = "open",
        who: Principal = need("read:alerts"),
    ) -> list[dict[str, Any]]:
        """Most severe and newest first. ``status``: open (default), firing, acknowledged,
        silenced, resolved, or empty for all."""
        regions = {region} if region else None
        rows = await run(
            alert_queries.list_alerts,
            host.store,
            _now(),
            regions=regions,
            level=level,
            status=status or None,
        )
        return [_deadline(host, row) for row in rows if in_scope(who, row["region"], row["city"])]

    @api.get("/api/alerts/{alert_id}", summary="One alert")
    async def alert(alert_id: str, who: Principal = need("read:alerts")) -> dict[str, Any]:
        """The alert's current state, with its report deadline and whether it is overdue."""
        return _deadline(host, await existing_alert(alert_id, who))

    @api.get("/api/alerts/{alert_id}/timeline", summary="An alert's events and notifications")
    async def alert_timeline(
        alert_id: str, who: Principal = need("read:alerts")
    ) -> list[dict[str, Any]]:
        """Every lifecycle event and notification attempt of the alert, in order."""
        await existing_alert(alert_id, who)
        return await run(alert_queries.timeline, host.store, alert_id)

    def silence_in_scope(who: Principal, silence: Any) -> bool:
        """A region-scoped user sees and ends only silences inside their regions."""
        if not who.regions:
            return True
        region = silence.region
        return bool(region) and in_scope(who, region, host.primary.city_of(region))

    async def existing_alert(alert_id: str, who: Principal) -> dict[str, Any]:
        """The alert a command is about, or 404 saying where to look (also when it lies
        outside the caller's regions)."""
        found = await run(alert_queries.get_alert, host.store, alert_id, _now())
        if found is None or not in_scope(who, found["region"], found["city"]):
            raise HTTPException(404, f"no alert {alert_id!r}; see GET /api/alerts")
        return found

    @api.post("/api/alerts/{alert_id}/ack", summary="Acknowledge an alert")
    async def ack(
        alert_id: str, body: AckBody, who: Principal = need("act:alerts")
    ) -> dict[str, Any]:
        """Record who acknowledged it (stops reminders and escalation)."""
        found = await existing_alert(alert_id, who)
        actor = who.actor(body.actor)
        if found["status"] == "resolved":
            raise HTTPException(409, f"alert {alert_id} is already resolved")
        await host.append_command(
            "alert.acknowledged",
            found["region"],
            alert_id,
            actor,
            {"alert_id": alert_id, "note": body.note},
        )
        return {"alert_id": alert_id, "acknowledged_by": actor}

    @api.post("/api/alerts/{alert_id}/silence", summary="Silence an alert for a while")
    async def silence(
        alert_id: str, body: SilenceBody, who: Principal = need("act:alerts")
    ) -> dict[str, Any]:
        """No notifications until ``minutes`` from now."""
        found = await existing_alert(alert_id, who)
        until = _now() + dt.timedelta(minutes=body.minutes)
        await host.append_command(
            "alert.silenced",
            found["region"],
            alert_id,
            who.actor(body.actor),
            {"alert_id": alert_id, "until": until.isoformat(), "reason": body.reason},
        )
        return {"alert_id": alert_id, "silenced_until": until.isoformat()}

    @api.post("/api/alerts/{alert_id}/unsilence", summary="End an alert's silence now")
    async def unsilence(
        alert_id: str, body: ActorBody, who: Principal = need("act:alerts")
    ) -> dict[str, Any]:
        """Notifications resume from now on."""
        found = await existing_alert(alert_id, who)
        await host.append_command(
            "alert.silenced",
            found["region"],
            alert_id,
            who.actor(body.actor),
            {"alert_id": alert_id, "until": _now().isoformat(), "reason": "unsilenced 取消静默"},
        )
        return {"alert_id": alert_id, "silenced_until": None}

    @api.get("/api/silences", summary="Silences by matchers")
    async def silences(
        include_ended: bool = False, who: Principal = need("read:alerts")
    ) -> list[dict[str, Any]]:
        """Silences in force (or all, with ``include_ended``)."""
        from dataclasses import asdict

        from alerting.silences import from_rows

        found = from_rows(await run(alert_queries.silence_rows, host.store))
        now = _now()
        return [
            asdict(s) | {"active": s.active(now)}
            for s in found
            if (include_ended or s.active(now) or s.starts_at > now) and silence_in_scope(who, s)
        ]

    @api.post("/api/silences", summary="Silence alerts by rule, region and level")
    async def add_silence(
        body: SilenceRuleBody, who: Principal = need("act:alerts")
    ) -> dict[str, Any]:
        """Alerts matching every given matcher are not notified for ``minutes``."""
        import uuid

        if not (body.rule or body.region or body.level):
            raise HTTPException(422, "give at least one matcher: rule, region or level")
        if body.region and host.reference.get(body.region) is None:
            raise HTTPException(422, f"region: {body.region!r} is not a known region code")
        if who.regions and not (
            body.region and in_scope(who, body.region, host.primary.city_of(body.region))
        ):
            raise HTTPException(403, "give a region inside your regions to silence")
        silence_id = f"s-{uuid.uuid4().hex[:12]}"
        start = _now()
        payload = {
            "silence_id": silence_id,
            "rule": body.rule,
            "region": body.region,
            "level": body.level,
            "starts_at": start.isoformat(),
            "ends_at": (start + dt.timedelta(minutes=body.minutes)).isoformat(),
            "reason": body.reason,
        }
        region = body.region or host.primary.root().code
        await host.append_command(
            "silence.created", region, silence_id, who.actor(body.actor), payload
        )
        return payload

    @api.delete("/api/silences/{silence_id}", summary="End a silence now")
    async def end_silence(
        silence_id: str, actor: str | None = None, who: Principal = need("act:alerts")
    ) -> dict[str, Any]:
        """Notifications for the alerts it matched resume."""
        from alerting.silences import from_rows

        found = {
            s.silence_id: s for s in from_rows(await run(alert_queries.silence_rows, host.store))
        }
        if silence_id not in found or not silence_in_scope(who, found[silence_id]):
            raise HTTPException(404, f"no silence {silence_id!r}; see GET /api/silences")
        region = found[silence_id].region or host.primary.root().code
        await host.append_command(
            "silence.expired", region, silence_id, who.actor(actor), {"silence_id": silence_id}
        )
        return {"silence_id": silence_id, "ended": True}

    @api.get("/api/rules/backtest", summary="Replay history through the rules")
    async def rules_backtest(
        start: dt.date,
        end: dt.date,
        rule: str | None = None,
        who: Principal = need("read:alerts"),
    ) -> list[dict[str, Any]]:
        """Transitions the rules would have produced, day by day, from ``start`` to ``end``."""
        from alerting.backtest import run_backtest

        if host.evaluator is None:
            raise HTTPException(503, "the evaluator is not running")
        try:
            rows: list[dict[str, Any]] = await run(
                run_backtest,
                host.store,
                host.primary,
                host.evaluator.rules,
                host.evaluator.components,
                start,
                end,
                rule,
            )
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return [r for r in rows if in_scope(who, r["region"], host.primary.city_of(r["region"]))]

    from eams.api_playbooks import router as playbook_router
    from eams.api_quarantine import router as quarantine_router

    api.include_router(playbook_router(host))
    api.include_router(quarantine_router(host))

    from eams.api_console import router as console_router

    api.include_router(console_router(host))

    from eams.api_dlq import router as dlq_router

    api.include_router(dlq_router(host))

    @api.post("/api/admin/rebuild", summary="Drop the projections and replay from offset 0")
    async def rebuild(who: Principal = need("admin")) -> dict[str, Any]:
        """Start a rebuild; poll ``/api/status`` for progress (lag falls to 0)."""
        await host.rebuild()
        return {"started": True}

    return api
