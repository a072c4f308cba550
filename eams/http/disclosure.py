"""Disclosure control at the edge of the API: every answer passes the caller's policy.

:class:`Disclosure` is an ASGI middleware in front of every route. For a caller whose
policy suppresses small cells (analysts: :class:`projections.disclosure.Policy`), it holds
each JSON answer under ``/api/``, renders it with the view registered for the route in
:data:`VIEWS` and sends that instead; it rewrites the ``data:`` of every server-sent event
the same way. Routes return their figures as they are and suppress nothing themselves, so
a new route cannot forget it: a route without a view gets
:func:`projections.disclosure.scrub` (every number under 5 withheld, free text dropped),
and a unit test makes every route of the app name its view.

Views of tables take their counts from one solved disclosure table per hierarchy
(:mod:`projections.cells`), kept by :class:`CellCache` for at most ``MIN_AGE`` seconds
while the projections change (``MAX_AGE`` when they do not).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import urllib.parse
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import authenticate
from eams.http.limits import ASGIApp, Message, Receive, Scope, Send
from events.clock import today
from events.regions import RegionReference, load_reference
from projections import cells as cell_table
from projections import disclosure_views as views
from projections.client import run
from projections.disclosure import Cells, DisclosureError, Policy
from projections.queries import persons_per_city
from projections.risk_index import DEFAULT_COMPONENTS

log = logging.getLogger("eams")


@dataclass(frozen=True)
class Registered:
    """A route's view, and whether it needs the disclosure table (of the primary hierarchy,
    or of the one its ``hierarchy`` query names)."""

    view: views.View
    table: bool = False
    window: bool = False  # the route takes ``days``: fixed windows only


#: Every route path of the app and how an analyst is shown its answers.
VIEWS: dict[str, Registered] = {
    "/api/overview/cities": Registered(views.overview, table=True, window=True),
    "/api/indicators": Registered(views.indicators, table=True),
    "/api/trends": Registered(views.trends, table=True),
    "/api/temporary-assistance": Registered(views.enrolment),
    "/api/alerts": Registered(views.alerts),
    "/api/alerts/{alert_id}": Registered(views.alert),
    "/api/alerts/{alert_id}/timeline": Registered(views.alert_timeline),
    "/api/rules/backtest": Registered(views.backtest),
    "/api/playbooks/{playbook_id}/simulate": Registered(views.simulation),
    "/api/playbook-runs": Registered(views.runs),
    "/api/playbook-runs/board": Registered(views.runs),
    "/api/playbook-runs/{run_id}": Registered(views.run),
    "/api/stream": Registered(views.stream),
    # reference data, public disaster declarations, the caller's own account
    "/api/me": Registered(views.reference),
    "/api/session": Registered(views.reference),
    "/api/geo/shandong": Registered(views.reference),
    "/api/vocabulary": Registered(views.reference),
    "/api/regions/{code}/children": Registered(views.reference),
    "/api/disaster-areas": Registered(views.reference),
    "/api/playbooks": Registered(views.reference),
    # operational or not an analyst's: the default scrub
    "/api/status": Registered(views.generic),
    "/api/silences": Registered(views.generic),
    "/api/projections/counts": Registered(views.generic),
    "/api/quarantine": Registered(views.generic),
    "/api/dlq": Registered(views.generic),
    "/api/playbook-runs/{run_id}/timeline": Registered(views.generic),
    # the case ledger: persons' cases, not an analyst's (refused, 403): the default scrub
    "/api/cases": Registered(views.generic),
    "/api/cases/visits-due": Registered(views.generic),
    "/api/cases/plan-reviews": Registered(views.generic),
    "/api/cases/silent": Registered(views.generic),
    "/api/cases/clearing": Registered(views.generic),
    "/api/cases/summary": Registered(views.generic),
    "/api/leads": Registered(views.generic),
    "/api/leads/funnel": Registered(views.generic),
    "/api/households/zero-employment": Registered(views.generic),
    "/api/persons/{person_id}": Registered(views.generic),
    "/api/persons/{person_id}/timeline": Registered(views.generic),
    "/api/persons/{person_id}/explain": Registered(views.generic),
    "/api/audit/person-reads": Registered(views.generic),
    # the money: payment officers', approvers' and auditors' (an analyst is refused, 403)
    "/api/payment-batches": Registered(views.generic),
    "/api/payment-batches/{batch_id}": Registered(views.generic),
    "/api/fraud-cases": Registered(views.generic),
    "/api/fraud-cases/summary": Registered(views.generic),
    "/api/evaluations": Registered(views.generic),
    "/api/evaluations/live": Registered(views.generic),
    "/api/evaluations/{evaluation_id}": Registered(views.generic),
    "/api/evaluations/{evaluation_id}/verify": Registered(views.generic),
    "/api/evaluations/{evaluation_id}/export": Registered(views.generic),
    # the public-welfare posts: case officers' (an analyst sees the counts as indicators)
    "/api/welfare-posts": Registered(views.generic),
    "/api/welfare-posts/summary": Registered(views.generic),
    "/api/welfare-posts/{post_id}": Registered(views.generic),
}
_DEFAULT = Registered(views.generic)
#: Rule kinds whose value is the indicator itself, or a difference of it (a count when the
#: indicator is one); ratios to a baseline and reporting gaps are not counts.
_COUNT_KINDS = ("absolute", "rise_over_low")


class CellCache:
    """The solved disclosure table of each hierarchy, recomputed at most every ``MIN_AGE``
    seconds while rows are projected, every ``MAX_AGE`` seconds otherwise, and at once on
    a new day."""

    MIN_AGE = 2.0
    MAX_AGE = 60.0

    def __init__(self, host: Host) -> None:
        self.host = host
        self._entries: dict[str, tuple[float, int, dt.date, Cells]] = {}
        self._lock = asyncio.Lock()

    def _fresh(self, key: str, now: float, rows: int, day: dt.date) -> Cells | None:
        entry = self._entries.get(key)
        if entry is None or entry[2] != day:
            return None
        age = now - entry[0]
        return entry[3] if age < self.MIN_AGE or (rows == entry[1] and age < self.MAX_AGE) else None

    async def get(self, reference: RegionReference) -> Cells:
        """The table of ``reference`` as of now (or of at most ``MIN_AGE`` seconds ago)."""
        loop = asyncio.get_running_loop()
        key = reference.root().code
        rows, day = self.host.projector.stats.rows, today()
        found = self._fresh(key, loop.time(), rows, day)
        if found is not None:
            return found
        async with self._lock:
            found = self._fresh(key, loop.time(), rows, day)
            if found is not None:
                return found
            primary = reference is self.host.primary
            if primary:
                persons = await self.host.persons_per_city()
            else:
                persons = await run(persons_per_city, self.host.store)
            solved: Cells = await run(
                cell_table.read, self.host.store, reference, day, persons, detail=primary
            )
            if solved.unresolved:
                log.warning("disclosure table: %d groups left unprotected", solved.unresolved)
            self._entries[key] = (loop.time(), rows, day, solved)
            return solved


class Disclosure:
    """ASGI middleware: the caller's policy over every answer of ``/api/``."""

    def __init__(self, app: ASGIApp, host: Host) -> None:
        self.app = app
        self.host = host
        self.cells = CellCache(host)

    def _principal(self, scope: Scope) -> Principal | None:
        found: Principal | None = (scope.get("state") or {}).get("principal")
        return found if found is not None else authenticate(self.host, Request(scope))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        mode = "pass"
        start: Message | None = None
        body: list[bytes] = []

        async def sending(message: Message) -> None:
            nonlocal mode, start
            if message["type"] == "http.response.start":
                mode = self._mode(scope, message)
                if mode == "hold":
                    start = message
                    return
                if mode == "stream":
                    message["headers"] = _without_length(message.get("headers", []))
                await send(message)
                return
            if message["type"] != "http.response.body" or mode == "pass":
                await send(message)
                return
            if mode == "stream":
                chunk = await self._stream_chunk(scope, message.get("body", b""))
                await send({**message, "body": chunk})
                return
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                assert start is not None
                status, rendered = await self._render(scope, b"".join(body))
                headers = _without_length(start.get("headers", []))
                headers.append((b"content-length", str(len(rendered)).encode()))
                await send({**start, "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": rendered})

        await self.app(scope, receive, sending)

    def _mode(self, scope: Scope, start: Message) -> str:
        """``pass`` (the caller sees counts, or an error), ``hold`` (JSON to render) or
        ``stream`` (server-sent events to rewrite one by one)."""
        if start.get("status", 200) >= 400:
            return "pass"
        who = self._principal(scope)
        if who is None or not Policy.for_role(who.role).suppress:
            return "pass"
        ctype = dict(start.get("headers", [])).get(b"content-type", b"").decode()
        if ctype.startswith("application/json"):
            return "hold"
        if ctype.startswith("text/event-stream"):
            return "stream"
        return "pass"

    def _route(self, scope: Scope) -> Registered:
        route = scope.get("route")
        return VIEWS.get(getattr(route, "path", ""), _DEFAULT)

    async def _context(self, scope: Scope, registered: Registered) -> views.Context:
        query = {
            k: v[0]
            for k, v in urllib.parse.parse_qs(scope.get("query_string", b"").decode()).items()
        }
        window = 0
        if registered.window:
            days = query.get("days")
            window = Policy(suppress=True).window(int(days) if days else None)
        cells = None
        if registered.table:
            hierarchy = query.get("hierarchy")
            reference = load_reference(hierarchy) if hierarchy else self.host.primary
            if hierarchy and reference.root().code == self.host.primary.root().code:
                reference = self.host.primary
            cells = await self.cells.get(reference)
        evaluator = self.host.evaluator
        count_rules: dict[str, bool] = {}
        components = tuple(c.indicator for c in DEFAULT_COMPONENTS)
        if evaluator is not None:
            count_rules = {
                r.id: r.indicator in views.COUNT_INDICATORS and r.kind in _COUNT_KINDS
                for r in evaluator.rules.rules
            }
            components = tuple(c.indicator for c in evaluator.components)
        return views.Context(
            cells=cells,
            window=window,
            query=query,
            path={k: str(v) for k, v in (scope.get("path_params") or {}).items()},
            count_rules=count_rules,
            components=components,
            today=today(),
        )

    async def _render(self, scope: Scope, raw: bytes) -> tuple[int, bytes]:
        """The answer for the caller, or an error that shows nothing of it."""
        registered = self._route(scope)
        try:
            ctx = await self._context(scope, registered)
            shown = registered.view(orjson.loads(raw) if raw else None, ctx)
            return 200, orjson.dumps(shown)
        except DisclosureError as exc:
            return 422, orjson.dumps({"detail": str(exc)})
        except Exception:  # fail closed: never the unrendered answer
            log.exception("disclosure control could not render %s", scope.get("path"))
            detail = "disclosure control could not render this answer; nothing of it is shown"
            return 500, orjson.dumps({"detail": detail})

    async def _stream_chunk(self, scope: Scope, chunk: bytes) -> bytes:
        """Server-sent events with each ``data:`` line rendered by the route's view."""
        registered = self._route(scope)
        lines = []
        for line in chunk.split(b"\n"):
            if line.startswith(b"data:"):
                try:
                    data = orjson.loads(line[5:].strip() or b"null")
                    shown = registered.view(data, views.Context(today=today()))
                except Exception:  # fail closed
                    shown = {}
                line = b"data: " + orjson.dumps(shown)
            lines.append(line)
        return b"\n".join(lines)


def _without_length(headers: Any) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() != b"content-length"]
