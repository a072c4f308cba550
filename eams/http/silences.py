"""Silences by matchers over HTTP: list, add (rule, region and below, level), end.

A silence is an aggregate of its own (``silence.created`` / ``silence.expired``); a user
limited to some regions sees and ends only silences inside them, and silences only by a
region of theirs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from alerting.silences import Silence, from_rows
from eams.auth import Principal
from eams.host import Host
from eams.http.alerts import now
from eams.http.auth import guard, in_scope
from eams.http.errors import ForbiddenError, InvalidRequestError, NotFoundError
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

    def silence_in_scope(who: Principal, silence: Silence) -> bool:
        """A region-scoped user sees and ends only silences inside their regions."""
        if not who.regions:
            return True
        region = silence.region
        if not region:
            return False
        return in_scope(who, region, host.primary.city_of(region))

    @api.get("/api/silences", summary="Silences by matchers")
    async def silences(
        include_ended: bool = False, who: Principal = need("read:alerts")
    ) -> list[dict[str, Any]]:
        """Silences in force (or all, with ``include_ended``)."""
        found = from_rows(await run(alert_queries.silence_rows, host.store))
        at = now()
        return [
            asdict(s) | {"active": s.active(at)}
            for s in found
            if (include_ended or s.active(at) or s.starts_at > at) and silence_in_scope(who, s)
        ]

    @api.post("/api/silences", summary="Silence alerts by rule, region and level")
    async def add_silence(
        body: SilenceRuleBody, who: Principal = need("act:alerts")
    ) -> dict[str, Any]:
        """Alerts matching every given matcher are not notified for ``minutes``."""
        if not (body.rule or body.region or body.level):
            raise InvalidRequestError("give at least one matcher: rule, region or level")
        if body.region and host.reference.get(body.region) is None:
            raise InvalidRequestError(f"region: {body.region!r} is not a known region code")
        if who.regions and not (
            body.region and in_scope(who, body.region, host.primary.city_of(body.region))
        ):
            raise ForbiddenError("give a region inside your regions to silence")
        silence_id = f"s-{uuid.uuid4().hex[:12]}"
        start = now()
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
        found = {
            s.silence_id: s for s in from_rows(await run(alert_queries.silence_rows, host.store))
        }
        if silence_id not in found or not silence_in_scope(who, found[silence_id]):
            raise NotFoundError(f"no silence {silence_id!r}; see GET /api/silences")
        region = found[silence_id].region or host.primary.root().code
        await host.append_command(
            "silence.expired", region, silence_id, who.actor(actor), {"silence_id": silence_id}
        )
        return {"silence_id": silence_id, "ended": True}

    return api
