"""The system's vocabulary for clients: the severity scale I–IV (``GET /api/vocabulary``).

The console paints and names levels from this answer instead of keeping a copy of its own;
the scale itself is :mod:`events.severity`. The answer is the same for every caller and
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
from events.severity import document

#: How long a client may reuse the answer without asking again.
MAX_AGE = 3600
ETAG = '"' + hashlib.sha256(orjson.dumps(document())).hexdigest()[:16] + '"'
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
    """The severity scale: ``levels`` least to most severe (IV … I), and ``normal``."""

    levels: list[LevelOut]
    normal: LevelOut


def router(host: Host) -> APIRouter:
    """The vocabulary route."""
    api = APIRouter(tags=["vocabulary 词汇"])
    need = guard(host)

    @api.get(
        "/api/vocabulary",
        summary="The severity scale: levels I–IV with rank, colours and names",
        response_model=VocabularyOut,
    )
    async def vocabulary(
        request: Request, response: Response, who: Principal = need("read:overview")
    ) -> VocabularyOut | Response:
        """Each level with its rank (IV 1 … I 4; ``normal`` 0), colour (word, hex, the text
        colour that reads on it), and names in Chinese and English."""
        if request.headers.get("if-none-match") == ETAG:
            return Response(status_code=304, headers=CACHING)
        response.headers.update(CACHING)
        return VocabularyOut.model_validate(document())

    return api
