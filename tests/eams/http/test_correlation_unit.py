"""The correlation id of a request (:mod:`eams.http.correlation`): the caller's
``X-Correlation-ID`` when it is a UUID of safe characters, a new one otherwise; answered in
the header, bound while the route runs (the commands it sends and its log records carry
it), and unbound once the answer is sent."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, HTTPException

from eams.http.correlation import HEADER, Correlation, correlation_of
from streams.context import CORRELATION


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/seen")
    async def seen() -> dict[str, Any]:
        return {
            "var": str(CORRELATION.get()),
            "bound": structlog.contextvars.get_contextvars().get("correlation_id"),
        }

    @app.get("/refused")
    async def refused() -> None:
        raise HTTPException(404, "no such thing")

    app.add_middleware(Correlation)
    return app


async def _get(path: str, headers: dict[str, str | bytes] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, headers=headers)


def test_a_request_without_one_gets_a_new_id_named_in_the_answer() -> None:
    first, second = asyncio.run(_get("/seen")), asyncio.run(_get("/seen"))
    for answer in (first, second):
        named = answer.headers[HEADER]
        assert str(uuid.UUID(named)) == named  # a UUID in its canonical form
        assert answer.json() == {"var": named, "bound": named}
    assert first.headers[HEADER] != second.headers[HEADER]
    assert CORRELATION.get() is None  # nothing left bound outside a request
    assert structlog.contextvars.get_contextvars() == {}


def test_the_callers_uuid_is_taken() -> None:
    sent = uuid.uuid4()
    answer = asyncio.run(_get("/seen", {HEADER: str(sent)}))
    assert answer.headers[HEADER] == str(sent) == answer.json()["var"]
    upper = asyncio.run(_get("/seen", {HEADER: sent.hex.upper()}))  # 32 hex digits
    assert upper.headers[HEADER] == str(sent)
    refused = asyncio.run(_get("/refused", {HEADER: str(sent)}))  # an error answer too
    assert refused.status_code == 404 and refused.headers[HEADER] == str(sent)
    assert refused.headers.get_list(HEADER) == [str(sent)]


@pytest.mark.parametrize(
    "sent",
    [
        "not-a-uuid",
        "abc def",
        "{" + str(uuid.UUID(int=1)) + "}",
        "urn:uuid:" + str(uuid.UUID(int=1)),
        "0" * 65,
        str(uuid.UUID(int=1)) + "\u00a0",
        "",
    ],
)
def test_anything_else_is_replaced_by_a_new_id(sent: str) -> None:
    answer = asyncio.run(_get("/seen", {HEADER: sent.encode("latin-1")}))
    named = answer.headers[HEADER]
    assert named != sent and str(uuid.UUID(named)) == named
    assert answer.json()["var"] == named


def test_correlation_of_reads_the_raw_header() -> None:
    sent = uuid.uuid4()
    assert correlation_of(str(sent).encode()) == sent
    assert correlation_of(None) != correlation_of(None)
    assert correlation_of(b"x" * 64) not in (None, b"x" * 64)
