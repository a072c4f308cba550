"""The OpenAPI document says what the routes answer: a route's own 422 message too."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from eams.http.openapi import MESSAGE, document


class Body(BaseModel):
    level: str


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/level")
    async def level(body: Body) -> dict[str, str]:
        if body.level not in ("I", "II", "III", "IV"):
            raise HTTPException(422, "level must be I, II, III or IV")
        return {"level": body.level}

    document(app)
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


async def test_a_422_is_fastapis_list_or_one_message() -> None:
    app = _app()
    async with _client(app) as client:
        doc = (await client.get("/openapi.json")).json()
        again = (await client.get("/openapi.json")).json()
    detail = doc["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]
    listed, message = detail["anyOf"]
    assert listed["type"] == "array" and message == MESSAGE
    responses = doc["paths"]["/level"]["post"]["responses"]
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/HTTPValidationError"
    )
    # built once: the document served again is the same, not widened twice
    assert app.openapi() is app.openapi()
    assert again == doc


async def test_both_kinds_of_422_are_what_the_routes_send() -> None:
    async with _client(_app()) as client:
        own = await client.post("/level", json={"level": "V"})
        fastapis = await client.post("/level", json={})
    assert own.status_code == 422 and own.json() == {"detail": "level must be I, II, III or IV"}
    assert fastapis.status_code == 422 and isinstance(fastapis.json()["detail"], list)


def test_an_app_without_input_has_no_validation_error_to_widen() -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    document(app)
    assert "HTTPValidationError" not in str(app.openapi())
