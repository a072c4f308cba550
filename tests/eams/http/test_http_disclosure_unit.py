"""Disclosure control at the edge of the API: every route names its view, and the
middleware renders what analysts get (and nothing else's), fails closed, and rewrites the
live stream. A small app over the real middleware; no worker, no network."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse

from eams.auth import Principal
from eams.http.app import create_api
from eams.http.disclosure import VIEWS, Disclosure
from eams.settings import Settings
from events.regions import load_reference
from projections.disclosure import SMALL


def test_every_route_of_the_app_names_its_view(tmp_path: Path) -> None:
    app = create_api(SimpleNamespace(settings=Settings(state_dir=tmp_path)))  # type: ignore[arg-type]
    paths = {p for p, ops in app.openapi()["paths"].items() if "get" in ops}
    missing = sorted(paths - set(VIEWS))
    assert not missing, f"say in eams.http.disclosure.VIEWS how analysts see: {missing}"
    stale = sorted(set(VIEWS) - set(app.openapi()["paths"]))
    assert not stale, f"VIEWS names routes the app does not have: {stale}"


def _caller(request: Request) -> Principal:
    """The role the test asks for (header ``x-role``), left where ``need`` leaves it."""
    role = request.headers["x-role"]
    who = Principal(f"{role}-a", role)
    request.state.principal = who
    return who


Caller = Annotated[Principal, Depends(_caller)]


def _app() -> FastAPI:
    host = SimpleNamespace(evaluator=None, primary=load_reference("shandong"))
    app = FastAPI()
    app.add_middleware(Disclosure, host=host)

    @app.get("/api/made-up")
    async def made_up(who: Caller) -> dict[str, Any]:
        return {"county": {"laid_off": 3, "claims": 40, "note": "3 人"}}

    @app.get("/api/alerts")
    async def broken(who: Caller) -> list[int]:
        return [1, 2]  # not what the alert view expects: it must fail closed

    @app.get("/api/overview/cities")
    async def cities(who: Caller, days: int | None = None) -> list[Any]:
        return []

    @app.get("/api/stream")
    async def stream(who: Caller) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            yield f"event: change\ndata: {json.dumps({'rows': 3})}\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def _get(role: str, path: str, **params: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://eams") as client:
            return await client.get(path, params=params, headers={"x-role": role})

    return asyncio.run(go())


def test_an_analyst_gets_a_route_without_a_view_scrubbed() -> None:
    got = _get("analyst", "/api/made-up")
    assert got.status_code == 200
    assert got.json() == {"county": {"laid_off": SMALL, "claims": 40, "note": None}}
    assert int(got.headers["content-length"]) == len(got.content)


def test_other_roles_get_the_answer_as_the_route_made_it() -> None:
    got = _get("auditor", "/api/made-up")
    assert got.json() == {"county": {"laid_off": 3, "claims": 40, "note": "3 人"}}
    assert _get("auditor", "/api/overview/cities", days=8).status_code == 200


def test_a_view_that_fails_shows_nothing_of_the_answer() -> None:
    got = _get("analyst", "/api/alerts")
    assert got.status_code == 500 and "nothing of it is shown" in got.json()["detail"]


def test_analysts_get_fixed_windows_only() -> None:
    got = _get("analyst", "/api/overview/cities", days=8)
    assert got.status_code == 422 and "7, 14, 28, 90, 365" in got.json()["detail"]


def test_the_live_stream_tells_analysts_that_something_changed_not_how_much() -> None:
    lines = _get("analyst", "/api/stream").text.splitlines()
    assert "data: {}" in lines and "event: change" in lines
    assert 'data: {"rows": 3}' in _get("auditor", "/api/stream").text.splitlines()
