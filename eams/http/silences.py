"""Silences by matchers over HTTP: list, add (rule, region and below, level), end.

A silence is an aggregate of its own (``silence.created`` / ``silence.expired``); a user
limited to some regions sees and ends only silences inside them, and silences only by a
region of theirs.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from alerting.silences import from_rows
from eams.auth import Principal
from eams.host import Host
from eams.http.alerts import now
from eams.http.auth import guard, scope_guard
from eams.http.commands import submit
from eams.http.scope import Scope
from events.payload_base import Ident, Text
from projections import alert_queries
from projections.client import run


class SilenceRuleBody(BaseModel):
    """A silence by matchers: every given matcher must match."""

    actor: str | None = Field(default=None, min_length=1, max_length=64)
    rule: Ident | None = None
    region: Ident | None = None
    level: str | None = Field(default=None, pattern=r"^(I|II|III|IV)$")
    minutes: int = Field(gt=0, le=30 * 24 * 60, strict=True)  # not true/false, not "5"
    reason: Text | None = None


def router(host: Host) -> APIRouter:
    """The silence routes of one worker."""
    api = APIRouter(tags=["silences 静默"])
    need = guard(host)
    scoped = scope_guard(host)

    @api.get("/api/silences", summary="Silences by matchers")
    async def silences(
        include_ended: bool = False, scope: Scope = scoped("read:alerts")
    ) -> list[dict[str, Any]]:
        """Silences in force (or all, with ``include_ended``); a user limited to some
        regions sees those by a region inside them (not those without a region matcher)."""
        found = from_rows(await run(alert_queries.silence_rows, host.store))
        at = now()
        return [
            asdict(s) | {"active": s.active(at)}
            for s in found
            if (include_ended or s.active(at) or s.starts_at > at) and scope.sees(s.region)
        ]

    @api.post("/api/silences", summary="Silence alerts by rule, region and level")
    async def add_silence(
        body: SilenceRuleBody, request: Request, who: Principal = need("act:alerts")
    ) -> dict[str, Any]:
        """Alerts matching every given matcher are not notified for ``minutes``. A user
        limited to some regions silences only by a region inside them (403 otherwise)."""
        silence_id = f"s-{uuid.uuid4().hex[:12]}"
        payload = body.model_dump(exclude={"actor"})
        outcome = await submit(
            host,
            who,
            "silence.create",
            silence_id,
            payload,
            actor=who.actor(body.actor),
            request=request,
        )
        return outcome.payloads[0] if outcome.payloads else {"silence_id": silence_id}

    @api.delete("/api/silences/{silence_id}", summary="End a silence now")
    async def end_silence(
        silence_id: str,
        request: Request,
        actor: str | None = None,
        who: Principal = need("act:alerts"),
    ) -> dict[str, Any]:
        """Notifications for the alerts it matched resume (409 when it has ended)."""
        await submit(
            host, who, "silence.end", silence_id, {}, actor=who.actor(actor), request=request
        )
        return {"silence_id": silence_id, "ended": True}

    return api
