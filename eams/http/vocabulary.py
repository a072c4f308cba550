"""The system's vocabulary for clients (``GET /api/vocabulary``): the severity scale I–IV,
and the zh and en labels of event types and vocabulary values (target groups, visit
channels, services …).

The console paints and names levels, groups and services from this answer instead of
keeping a copy of its own; the scale itself is :mod:`events.severity`, the labels
:mod:`events.labels`. The answer is the same for every caller and
changes only with a release, so it is cacheable: an ``ETag`` (a matching ``If-None-Match``
gets 304) and ``Cache-Control: private`` (only signed-in callers may read it).
"""

from __future__ import annotations

import hashlib

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard
from events.labels import LABELS
from events.severity import document


def vocabulary_document() -> dict[str, object]:
    """The answer: the scale's document and the labels."""
    return {**document(), "labels": LABELS}


#: How long a client may reuse the answer without asking again.
MAX_AGE = 3600
ETAG = '"' + hashlib.sha256(orjson.dumps(vocabulary_document())).hexdigest()[:16] + '"'
CACHING = {"Cache-Control": f"private, max-age={MAX_AGE}", "ETag": ETAG}


class LevelOut(BaseModel):
    """One level of the scale (or ``normal``, no level)."""

    name: str
    rank: int
    colour: str
    hex: str
    ink: str
    colour_zh: str
    zh: str
    en: str


class VocabularyOut(BaseModel):
    """The severity scale: ``levels`` least to most severe (IV … I), and ``normal``; and
    ``labels``: an event type's or a value's names, ``{"zh": …, "en": …}``."""

    levels: list[LevelOut]
    normal: LevelOut
    labels: dict[str, dict[str, str]]


def router(host: Host) -> APIRouter:
    """The vocabulary route."""
    api = APIRouter(tags=["vocabulary 词汇"])
    need = guard(host)

    @api.get(
        "/api/vocabulary",
        summary="The severity scale (levels I–IV with rank, colours, names) and the labels",
        response_model=VocabularyOut,
    )
    async def vocabulary(
        request: Request, response: Response, who: Principal = need("read:overview")
    ) -> VocabularyOut | Response:
        """Each level with its rank (IV 1 … I 4; ``normal`` 0), colour (word, hex, the text
        colour that reads on it), and names in Chinese and English; the labels of event
        types and vocabulary values in both languages."""
        if request.headers.get("if-none-match") == ETAG:
            return Response(status_code=304, headers=CACHING)
        response.headers.update(CACHING)
        return VocabularyOut.model_validate(vocabulary_document())

    return api
