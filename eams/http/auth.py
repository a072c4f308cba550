"""Who is calling the API, and what they may do (see :mod:`eams.auth`).

``need(permission)`` is a FastAPI dependency: 401 without credentials (saying how to sign
in), 403 when the role does not allow it (naming the role and the permission); it leaves
the caller in ``request.state.principal``. ``scoped(permission)`` admits the caller the
same way and gives the route the caller's :class:`~eams.http.scope.Scope`, the one place
region scoping is applied: every route that reads region data declares it. Small-cell
suppression is :mod:`eams.http.disclosure`'s, for every route. The session routes (sign in,
sign out, who am I) are here too.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from eams.auth import ALL_PERMISSIONS, ROLES, Principal
from eams.host import Host
from eams.http.errors import ForbiddenError, NotSignedInError
from eams.http.limits import ARGON2, SignInThrottle
from eams.http.scope import Scope

COOKIE = "eams_session"


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


def admit(host: Host, request: Request, permission: str) -> Principal:
    """The caller, if signed in and allowed ``permission``; left in ``request.state``."""
    who = authenticate(host, request)
    if who is None:
        raise NotSignedInError(
            "sign in first: POST /api/session with your user name and password "
            "(source systems: header X-API-Key)",
        )
    if not who.may(permission):
        raise ForbiddenError(f"role {who.role!r} may not {permission.replace(':', ' ')}")
    request.state.principal = who  # the disclosure policy's caller
    return who


def guard(host: Host) -> Any:
    """``need(permission)``: the dependency factory of one worker."""

    def need(permission: str) -> Any:
        async def check(request: Request) -> Principal:
            return admit(host, request, permission)

        return Depends(check)

    return need


def scope_guard(host: Host) -> Any:
    """``scoped(permission)``: like ``need(permission)``, and the route gets the caller's
    :class:`Scope` (``scope.who`` is the caller) to read region data through."""

    def scoped(permission: str) -> Any:
        async def scope(request: Request) -> Scope:
            return Scope(admit(host, request, permission), host.primary)

        return Depends(scope)

    return scoped


class SignIn(BaseModel):
    """A user name and password."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def session_router(host: Host) -> APIRouter:
    """Sign in and out, and who am I."""
    api = APIRouter(tags=["session 登录"])
    need = guard(host)
    throttle = SignInThrottle()

    @api.post("/api/session", summary="Sign in (sets the session cookie)")
    async def sign_in(body: SignIn, request: Request, response: Response) -> dict[str, Any]:
        """A session token for 12 hours, also set as an HttpOnly cookie for the console.
        After 5 failed attempts for a name (20 from one address), each further attempt
        must wait: 1 s, then twice as long after every failure, at most 60 s (429 with
        Retry-After). Attempts are counted before the password is hashed."""
        address = request.client.host if request.client else "unknown"
        wait = throttle.admit(body.name, address, time.monotonic())
        if wait > 0:
            raise throttle.refused(wait, body.name)
        token: str | None = None
        try:
            loop = asyncio.get_running_loop()
            token = await loop.run_in_executor(ARGON2, host.users.sign_in, body.name, body.password)
        finally:
            throttle.result(body.name, address, token is not None, time.monotonic())
        if token is None:
            raise NotSignedInError("wrong user name or password, or the user is disabled")
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
