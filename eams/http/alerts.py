"""Duty officers' alerts over HTTP: list, one alert, its timeline; ack, silence, unsilence.

Reads come from the alerts projection (:mod:`projections.alert_queries`); a command names
its actor (signed-in users: themselves) and is sent as a command, decided by the alert
aggregate (:mod:`alerting.lifecycle`) behind the command handler (:mod:`eams.http.commands`).
An alert outside the caller's regions is answered as if it did not exist (404).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from alerting.roster import Policy
from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard, scope_guard
from eams.http.commands import submit
from eams.http.scope import Scope
from events.clock import SHANGHAI
from events.payload_base import Text
from projections import alert_queries
from projections.client import run


class AckBody(BaseModel):
    """Who acknowledges (signed-in users: themselves), and an optional note."""

    actor: str | None = Field(default=None, min_length=1, max_length=64)
    note: Text | None = None


class ActorBody(BaseModel):
    """Who does it (signed-in users: themselves)."""

    actor: str | None = Field(default=None, min_length=1, max_length=64)


class SilenceBody(BaseModel):
    """Who silences, for how long, and why."""

    actor: str | None = Field(default=None, min_length=1, max_length=64)
    minutes: int = Field(gt=0, le=7 * 24 * 60, strict=True)
    reason: Text | None = None


def now() -> dt.datetime:
    """The time the alert routes judge by (Asia/Shanghai)."""
    return dt.datetime.now(SHANGHAI)


def with_deadline(host: Host, row: dict[str, Any]) -> dict[str, Any]:
    """Add the emergency plans' report deadline (2 h for I-II, 12 h for III by default) and
    whether it has passed without an acknowledgement."""
    policy = host.dispatcher.roster.policy if host.dispatcher is not None else Policy()
    limit = policy.report_deadline.get(row.get("level") or "")
    since = row.get("firing_since")
    if limit is None or since is None:
        row["report_due"] = None
        row["report_overdue"] = False
        return row
    due = since + limit
    row["report_due"] = due
    row["report_overdue"] = row["status"] == "firing" and now() > due
    return row


def router(host: Host) -> APIRouter:
    """The alert routes of one worker."""
    api = APIRouter(tags=["alerts 预警"])
    need = guard(host)
    scoped = scope_guard(host)

    async def existing_alert(alert_id: str, scope: Scope) -> dict[str, Any]:
        """The alert, or 404 saying where to look (also when it lies outside the caller's
        regions)."""
        found = await run(alert_queries.get_alert, host.store, alert_id, now())
        return scope.found(found, f"no alert {alert_id!r}; see GET /api/alerts")

    @api.get("/api/alerts", summary="Alerts (filter by region, level, status)")
    async def alerts(
        region: str | None = None,
        level: str | None = None,
        status: str | None = "open",
        scope: Scope = scoped("read:alerts"),
    ) -> list[dict[str, Any]]:
        """Most severe and newest first. ``status``: open (default), firing, acknowledged,
        silenced, resolved, or empty for all."""
        rows = await run(
            alert_queries.list_alerts,
            host.store,
            now(),
            regions=scope.regions_for(region),
            level=level,
            status=status or None,
        )
        return [with_deadline(host, row) for row in scope.rows(rows)]

    @api.get("/api/alerts/{alert_id}", summary="One alert")
    async def alert(alert_id: str, scope: Scope = scoped("read:alerts")) -> dict[str, Any]:
        """The alert's current state, with its report deadline and whether it is overdue."""
        return with_deadline(host, await existing_alert(alert_id, scope))

    @api.get("/api/alerts/{alert_id}/timeline", summary="An alert's events and notifications")
    async def alert_timeline(
        alert_id: str, scope: Scope = scoped("read:alerts")
    ) -> list[dict[str, Any]]:
        """Every lifecycle event and notification attempt of the alert, in order."""
        await existing_alert(alert_id, scope)
        return await run(alert_queries.timeline, host.store, alert_id)

    @api.post("/api/alerts/{alert_id}/ack", summary="Acknowledge an alert")
    async def ack(
        alert_id: str, body: AckBody, request: Request, who: Principal = need("act:alerts")
    ) -> dict[str, Any]:
        """Record who acknowledged it (stops reminders and escalation). An alert is
        acknowledged once: a second acknowledgement is refused (409) naming the first."""
        actor = who.actor(body.actor)
        payload = {"note": body.note}
        await submit(
            host, who, "alert.acknowledge", alert_id, payload, actor=actor, request=request
        )
        return {"alert_id": alert_id, "acknowledged_by": actor}

    @api.post("/api/alerts/{alert_id}/silence", summary="Silence an alert for a while")
    async def silence(
        alert_id: str, body: SilenceBody, request: Request, who: Principal = need("act:alerts")
    ) -> dict[str, Any]:
        """No notifications until ``minutes`` from now."""
        outcome = await submit(
            host,
            who,
            "alert.silence",
            alert_id,
            {"minutes": body.minutes, "reason": body.reason},
            actor=who.actor(body.actor),
            request=request,
        )
        until = outcome.payloads[0]["until"] if outcome.payloads else None
        return {"alert_id": alert_id, "silenced_until": until}

    @api.post("/api/alerts/{alert_id}/unsilence", summary="End an alert's silence now")
    async def unsilence(
        alert_id: str, body: ActorBody, request: Request, who: Principal = need("act:alerts")
    ) -> dict[str, Any]:
        """Notifications resume from now on (409 when the alert is not silenced)."""
        actor = who.actor(body.actor)
        payload = {"reason": "取消静默 unsilenced"}
        await submit(host, who, "alert.unsilence", alert_id, payload, actor=actor, request=request)
        return {"alert_id": alert_id, "silenced_until": None}

    return api
