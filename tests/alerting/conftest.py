"""Fixtures of the alerting tests: a robot endpoint on loopback (the SMTP server is shared,
in tests/fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fixtures import http_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@pytest.fixture
def robot() -> Iterator[tuple[list[dict[str, Any]], int]]:
    """A WeCom group-robot endpoint on loopback (answers like the real one)."""
    received: list[dict[str, Any]] = []

    async def send(request: Request) -> JSONResponse:
        body = orjson.loads(await request.body())
        if body.get("msgtype") != "markdown":
            return JSONResponse({"errcode": 40008, "errmsg": "invalid message type"})
        received.append(body)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    app = Starlette(routes=[Route("/cgi-bin/webhook/send", send, methods=["POST"])])
    with http_server(app) as port:
        yield received, port
