"""The API's OpenAPI document (``/openapi.json``), as the routes really answer.

FastAPI documents every 422 as its own validation error: ``detail`` is a list of errors,
one per field. The routes also refuse input they check themselves (a level that is not
I-IV, an end before the start, a matcherless silence) with 422 and one message that names
the field and what was expected: ``{"detail": "level must be I, II, III or IV"}``. The
document says both, so a client generated from it (or schemathesis, which holds every
answer to it: tests/fuzz/test_openapi_integration.py) reads either.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

#: What the routes' own 422 messages are, in the document.
MESSAGE = {
    "type": "string",
    "description": "A route's own check: the field and what was expected",
}


def document(app: FastAPI) -> None:
    """Make ``app`` serve the document with the routes' own 422 messages in it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            with_messages(build())  # FastAPI keeps what it built in app.openapi_schema
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def with_messages(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with ``HTTPValidationError.detail`` either FastAPI's list or one message."""
    error = doc.get("components", {}).get("schemas", {}).get("HTTPValidationError")
    if error is None:  # no route takes input
        return doc
    listed = {k: v for k, v in error["properties"]["detail"].items() if k != "title"}
    error["properties"]["detail"] = {"title": "Detail", "anyOf": [listed, MESSAGE]}
    error["description"] = (
        "Input refused: FastAPI's validation errors (a list, one per field), or a route's "
        "own check (one message naming the field and what was expected)."
    )
    return doc
