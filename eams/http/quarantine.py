"""The quarantine over HTTP: what the projector parked, and retrying it after a fix.

Listing needs ``read:audit`` (auditors, administrators); a retry is an administrator's
command and records who asked (``updated_by`` of each entry). Entries hold event types,
regions, log positions and the reason: pseudonymised data only, never the record itself.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard
from eams.http.errors import ConflictError, InvalidRequestError
from projections import quarantine
from projections.client import run


class RetryBody(BaseModel):
    """Which entries to retry (``partition:offset``; empty = every parked entry)."""

    refs: list[str] = Field(default_factory=list, max_length=10_000)
    actor: str | None = Field(default=None, min_length=1, max_length=64)


def router(host: Host) -> APIRouter:
    """``GET /api/quarantine`` and ``POST /api/quarantine/retry``."""
    api = APIRouter(tags=["quarantine 隔离区"])
    need = guard(host)

    @api.get("/api/quarantine", summary="Events the projector parked, with the reason")
    async def listing(
        status: str | None = quarantine.PARKED,
        limit: int = 1000,
        who: Principal = need("read:audit"),
    ) -> dict[str, Any]:
        """Entries in log order (``status=parked`` by default; ``status=`` for all) and the
        count per status."""
        if status not in (None, "", quarantine.PARKED, quarantine.PROJECTED):
            raise InvalidRequestError(
                f"status: expected parked, projected or empty (all), got {status!r}"
            )
        if not 1 <= limit <= 10_000:
            raise InvalidRequestError(f"limit: expected 1 to 10000, got {limit}")
        found = await run(quarantine.entries, host.store, status=status or None, limit=limit)
        counts = await run(quarantine.counts, host.store)
        return {"counts": counts, "entries": [e.summary() for e in found]}

    @api.post("/api/quarantine/retry", summary="Project parked events again, after a fix")
    async def retry(body: RetryBody, who: Principal = need("admin")) -> dict[str, Any]:
        """Each entry is converted with today's code and schema and written once; what
        still fails stays parked with its new reason."""
        if host.rebuilding:
            raise ConflictError("a rebuild is under way; retry when it has finished")
        try:
            return await host.projector.retry_quarantined(body.refs, actor=who.actor(body.actor))
        except ValueError as exc:
            raise InvalidRequestError(f"refs: {exc}") from exc

    return api
