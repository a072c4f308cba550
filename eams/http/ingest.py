"""Ingest for source systems over HTTP: ``POST /api/ingest``, one event (JSON) or a batch
(NDJSON), checked here against the caller and again by the ingest stream."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard
from eams.http.errors import PayloadTooLargeError, UnsupportedMediaError
from streams.pipeline import Accepted, process_raw

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


def router(host: Host) -> APIRouter:
    """``POST /api/ingest``."""
    api = APIRouter(tags=["ingest 接入"])
    need = guard(host)

    @api.post("/api/ingest", summary="Submit one event (JSON) or a batch (NDJSON)")
    async def ingest(request: Request, who: Principal = need("ingest")) -> JSONResponse:
        """Validate each input and check it against the caller (their actor, source, regions
        and, for API keys, allowed types), answer per line, and send only the accepted ones
        to ``eams.ingest.raw``, signed for the caller: the stream checks them again. A
        rejected input is answered and goes nowhere. Bodies over ``EAMS_MAX_BODY_BYTES``
        and batches over ``EAMS_MAX_BATCH_LINES`` are refused whole (413)."""
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if ctype not in (*NDJSON_TYPES, "application/json"):
            raise UnsupportedMediaError(
                f"content-type {ctype!r} is not accepted: send application/json for one event "
                "or application/x-ndjson for one event per line"
            )
        # Read as a stream: BodyLimit stops it at EAMS_MAX_BODY_BYTES (413).
        body = b"".join([chunk async for chunk in request.stream()])
        if ctype in NDJSON_TYPES:
            lines: list[tuple[int | None, bytes]] = [
                (i, ln) for i, ln in enumerate(body.split(b"\n"), 1) if ln.strip()
            ]
            limit = host.settings.max_batch_lines
            if len(lines) > limit:
                raise PayloadTooLargeError(
                    f"{len(lines)} events in one request, over the limit of {limit} "
                    "(EAMS_MAX_BATCH_LINES); split the batch"
                )
        else:
            lines = [(None, body)]
        submitter = who.submitter()
        answers: list[dict[str, Any]] = []
        for line, raw in lines:
            result = process_raw(
                raw,
                reference=host.reference,
                secret=host.secret,
                line=line,
                principal=submitter,
                max_future_skew=host.settings.max_future_skew,
            )
            answer: dict[str, Any] = {"line": line}
            if isinstance(result, Accepted):  # only what is accepted is produced
                await host.producer.submit(raw, line=line, principal=submitter)
                answer.update(status="accepted", event_id=str(result.event_id))
            else:
                answer.update(status="rejected", field=result.field, reason=result.reason)
            answers.append(answer)
        await host.producer.flush()
        rejected = sum(1 for a in answers if a["status"] == "rejected")
        status = 200 if not rejected else (422 if len(answers) == 1 else 207)
        return JSONResponse(
            {"accepted": len(answers) - rejected, "rejected": rejected, "results": answers},
            status_code=status,
        )

    return api
