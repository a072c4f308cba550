"""Who is calling the API, and what they may do (see :mod:`eams.auth`).

``need(permission)`` is a FastAPI dependency: 401 without credentials (saying how to sign
in), 403 when the role does not allow it (naming the role and the permission). Region
scoping and small-cell suppression are applied by the routes with ``in_scope`` and
``suppressed``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from eams.auth import ALL_PERMISSIONS, ROLES, Principal, suppress

if TYPE_CHECKING:
    from eams.runtime import Host

COOKIE = "eams_session"
MAX_FAILURES = 5
LOCKOUT_SECONDS = 300.0


def authenticate(host: Host, request: Request) -> Principal | None:
    """The caller, from an API key, a bearer token (session or operator) or the cookie."""
    key = request.headers.get("x-api-key")
    if key:
        return host.users.api_key(key)
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    token = token or request.cookies.get(COOKIE)
    if not token:
        return None
    if host.operator_token and secrets.compare_digest(token, host.operator_token):
        return Principal("operator", "admin", kind="operator")
    found: Principal | None = host.users.session(token)
    return found


def guard(host: Host) -> Any:
    """``need(permission)``: the dependency factory of one worker."""

    def need(permission: str) -> Any:
        async def check(request: Request) -> Principal:
            who = authenticate(host, request)
            if who is None:
                raise HTTPException(
                    401,
                    "sign in first: POST /api/session with your user name and password "
                    "(source systems: header X-API-Key)",
                )
            if not who.may(permission):
                raise HTTPException(
                    403, f"role {who.role!r} may not {permission.replace(':', ' ')}"
                )
            return who

        return Depends(check)

    return need


def in_scope(who: Principal, *codes: str | None) -> bool:
    """Whether a user limited to some regions may see a row of ``codes`` (region, city)."""
    return not who.regions or any(c in who.regions for c in codes if c)


def suppressed(who: Principal, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Counts under 5 shown as "<5" for analysts (small-cell suppression)."""
    if not who.suppress_small_cells:
        return rows
    return [{k: suppress(v) for k, v in row.items()} for row in rows]


class SignIn(BaseModel):
    """A user name and password."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def session_router(host: Host) -> APIRouter:
    """Sign in and out, and who am I."""
    api = APIRouter(tags=["session 登录"])
    need = guard(host)
    failures: dict[str, list[float]] = {}  # name -> times of recent failed sign-ins

    @api.post("/api/session", summary="Sign in (sets the session cookie)")
    async def sign_in(body: SignIn, response: Response) -> dict[str, Any]:
        """A session token for 12 hours, also set as an HttpOnly cookie for the console.
        After 5 failed attempts for a name within 5 minutes, that name is refused (429)
        until the window has passed."""
        now = time.monotonic()
        recent = [t for t in failures.get(body.name, []) if now - t < LOCKOUT_SECONDS]
        failures[body.name] = recent
        if len(recent) >= MAX_FAILURES:
            wait = int(LOCKOUT_SECONDS - (now - recent[0])) + 1
            raise HTTPException(
                429, f"too many failed sign-ins for {body.name!r}; try again in {wait} s"
            )
        token = await asyncio.to_thread(host.users.sign_in, body.name, body.password)
        if token is None:
            recent.append(now)
            raise HTTPException(401, "wrong user name or password, or the user is disabled")
        failures.pop(body.name, None)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=12 * 3600)
        who = host.users.session(token)
        assert who is not None
        return {"token": token, **_me(who)}

    @api.delete("/api/session", summary="Sign out")
    async def sign_out(request: Request, response: Response) -> dict[str, Any]:
        """End the session of this cookie or bearer token."""
        token = request.cookies.get(COOKIE) or request.headers.get("authorization", "")[7:]
        if token:
            host.users.sign_out(token.strip())
        response.delete_cookie(COOKIE)
        return {"signed_out": True}

    @api.get("/api/me", summary="Who is signed in, and what they may do")
    async def me(who: Principal = need("read:overview")) -> dict[str, Any]:
        """Name, role, regions and permissions (the console hides what the role cannot do)."""
        return _me(who)

    return api


def _me(who: Principal) -> dict[str, Any]:
    return {
        "name": who.name,
        "role": who.role,
        "role_label": ROLES.get(who.role, who.role),
        "regions": list(who.regions),
        "permissions": [p for p in ALL_PERMISSIONS if who.may(p)],
        "small_cells_suppressed": who.suppress_small_cells,
    }
