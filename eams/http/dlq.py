"""The dead-letter topic over HTTP: list masked, reveal (administrators, audited), replay.

The worker holds the DLQ key, so the CLI (``eams dlq …``) reads the dead letters through
here, never from Kafka:

- ``GET /api/dlq`` (auditors, administrators): reason, field, source, time and the input
  with national IDs, names and mobile numbers masked;
- ``POST /api/dlq/reveal`` (administrators): the inputs in clear, after appending
  ``audit.dlq_revealed`` (who, which entries, why) to the event log: no event, no answer;
- ``POST /api/dlq/replay`` (administrators): originals by ref, or corrected events, checked
  like ``/api/ingest``; the accepted ones are resubmitted to the raw topic and the dead
  letters they replace are purged (tombstoned).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard
from eams.http.errors import ConflictError, InvalidRequestError, NotFoundError
from events.payload_base import MAX_ITEMS
from streams import dlq
from streams.pipeline import Accepted, process_raw
from streams.principal import Submitter

MAX_REFS = 10_000
Actor = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class RevealBody(BaseModel):
    """Why the clear inputs are needed, by whom, and which (default: all, up to ``limit``)."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
    actor: Actor | None = None
    refs: list[str] = Field(default_factory=list, max_length=MAX_REFS)
    limit: int | None = Field(default=None, ge=1, le=MAX_REFS)


class ReplayBody(BaseModel):
    """Dead letters to resend as they are (``refs``) and/or corrected events (``events``)."""

    actor: Actor | None = None
    refs: list[str] = Field(default_factory=list, max_length=MAX_REFS)
    events: list[str] = Field(default_factory=list, max_length=MAX_REFS)


def _event_id(raw: bytes) -> str | None:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    value = doc.get("event_id") if isinstance(doc, dict) else None
    return value.lower() if isinstance(value, str) else None


def router(host: Host) -> APIRouter:
    """The DLQ routes of one worker."""
    api = APIRouter(tags=["dead letters 死信"])
    need = guard(host)
    s = host.settings

    async def letters() -> list[dlq.DeadLetter]:
        return await dlq.read_dead_letters(s.kafka("stream"), s.topics.dlq, host.dlq_key)

    def select(found: list[dlq.DeadLetter], refs: list[str]) -> list[dlq.DeadLetter]:
        by_ref = {d.ref: d for d in found} | {d.entry_id: d for d in found}
        unknown = [r for r in refs if r not in by_ref]
        if unknown:
            raise NotFoundError(
                f"no dead letter {', '.join(unknown[:20])}; see GET /api/dlq for refs"
            )
        return [by_ref[r] for r in dict.fromkeys(refs)]

    @api.get("/api/dlq", summary="Dead letters, masked (reason, field, source, time)")
    async def list_dead_letters(
        limit: Annotated[int | None, Query(ge=1, le=MAX_REFS)] = None,
        who: Principal = need("read:audit"),
    ) -> dict[str, Any]:
        """Oldest first. ``raw_masked`` is the input with ID-shaped values, names and mobile
        numbers masked; ``problem`` says why an entry cannot be opened (another key)."""
        found = await letters()
        shown = found[:limit] if limit else found
        return {
            "total": len(found),
            "unreadable": sum(1 for d in found if d.raw is None),
            "key_id": host.dlq_key.key_id,
            "entries": [d.summary() for d in shown],
        }

    @api.post("/api/dlq/reveal", summary="Dead letters in clear (administrators; audited)")
    async def reveal(body: RevealBody, who: Principal = need("admin")) -> dict[str, Any]:
        """The inputs as they came. ``audit.dlq_revealed`` (actor, entry ids, count, reason)
        is appended to the event log before the answer is sent."""
        found = await letters()
        chosen = select(found, body.refs) if body.refs else found[: body.limit or None]
        actor = who.actor(body.actor)
        if chosen:
            await host.record_audit(
                "audit.dlq_revealed",
                host.primary.root().code,
                "audit:dlq",
                actor,
                {
                    "entries": [d.entry_id for d in chosen][:MAX_ITEMS],
                    "count": len(chosen),
                    "reason": body.reason,
                },
            )
        return {
            "revealed_by": actor,
            "entries": [
                d.summary() | {"raw": d.raw.decode("utf-8", "replace") if d.raw else None}
                for d in chosen
            ],
        }

    @api.post("/api/dlq/replay", summary="Resubmit dead letters; purge the replayed ones")
    async def replay(body: ReplayBody, who: Principal = need("admin")) -> dict[str, Any]:
        """Each input is checked like ``/api/ingest`` (as an importer: its source and actor
        are kept); accepted ones go to the raw topic, and the dead letters they replace
        (the ref given, or the entries with the same ``event_id``) are purged once the
        broker has them. Rejected ones are answered and their entries kept."""
        if not body.refs and not body.events:
            raise InvalidRequestError("nothing to replay: give refs and/or events")
        found = await letters()
        items: list[tuple[bytes, str, dlq.DeadLetter | None]] = []
        for d in select(found, body.refs):
            if d.raw is None:
                raise ConflictError(f"dead letter {d.ref} cannot be opened: {d.problem}")
            items.append((d.raw, d.ref, d))
        items += [(e.encode(), f"event {i}", None) for i, e in enumerate(body.events, 1)]
        replayer = Submitter("importer", f"dlq-replay:{who.actor(body.actor)}")
        results: list[dict[str, Any]] = []
        purged: list[str] = []
        accepted_ids: set[str] = set()
        for raw, ref, letter in items:
            result = process_raw(
                raw,
                reference=host.reference,
                secret=host.secret,
                principal=replayer,
                max_future_skew=s.max_future_skew,
            )
            if not isinstance(result, Accepted):
                results.append(
                    {
                        "ref": ref,
                        "status": "rejected",
                        "field": result.field,
                        "reason": result.reason,
                    }
                )
                continue
            # signed by the worker's raw producer, which acts for others (keeps the input's
            # own source and actor), as checked above
            await host.producer.submit(raw, source="dlq-replay")
            results.append({"ref": ref, "status": "accepted", "event_id": str(result.event_id)})
            accepted_ids.add(str(result.event_id))
            if letter is not None:
                purged.append(letter.entry_id)
        await host.producer.flush()  # on the broker before anything is purged
        purged += [
            d.entry_id
            for d in found
            if d.raw is not None and _event_id(d.raw) in accepted_ids and d.entry_id not in purged
        ]
        await dlq.purge(s.kafka("stream"), s.topics.dlq, purged)
        return {
            "submitted": sum(1 for r in results if r["status"] == "accepted"),
            "rejected": sum(1 for r in results if r["status"] == "rejected"),
            "purged": len(purged),
            "results": results,
        }

    return api
