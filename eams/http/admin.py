"""Administrators' commands to the worker itself: rebuild the projections."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard


def router(host: Host) -> APIRouter:
    """``POST /api/admin/rebuild``."""
    api = APIRouter(tags=["admin 管理"])
    need = guard(host)

    @api.post("/api/admin/rebuild", summary="Drop the projections and replay from offset 0")
    async def rebuild(who: Principal = need("admin")) -> dict[str, Any]:
        """Start a rebuild; poll ``/api/status`` for progress (lag falls to 0)."""
        await host.rebuild()
        return {"started": True}

    return api
