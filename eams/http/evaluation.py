"""The performance evaluation over HTTP (绩效评价, issue 13).

``read:evaluation`` (auditors, administrators) reads a period computed now
(``/api/evaluations/live``), the frozen ones, a frozen one computed again as of its
instant (``…/verify``: ``reproduced`` or what differs) and its files (``…/export``: Excel
or PDF). ``freeze:evaluation`` freezes a period that has ended (``POST /api/evaluations``):
the figures as of now go into ``evaluation.frozen`` and are never changed; only a caller
of the whole province freezes (403 for one limited to regions).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from eams.auth import Principal
from eams.evaluations import compute, to_pdf, to_xlsx
from eams.host import Host
from eams.http.auth import guard
from eams.http.case_commands import answer
from eams.http.commands import submit
from eams.http.errors import ForbiddenError, InvalidRequestError, NotFoundError
from events.clock import now
from projections.client import aware, run
from subsidies.evaluation import differences, evaluation_id, parse_period

__all__ = ["router"]

EvaluationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^ev-[a-z0-9_-]+$")]
PeriodText = Annotated[
    str, Query(min_length=4, max_length=7, description="2026, 2026-H1, 2026-Q3 or 2026-03")
]


class FreezeForm(BaseModel):
    """The period to freeze."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: str


def _complete(region: dict[str, Any]) -> dict[str, Any]:
    """A frozen region as computed (the log leaves out what is none)."""
    for held in region["indicators"].values():
        held.setdefault("value", None)
        held.setdefault("score", None)
    return {"total": None, "rank": None} | region


def router(host: Host) -> APIRouter:
    """The evaluation routes of one worker."""
    api = APIRouter(tags=["evaluation 绩效评价"])
    need = guard(host)

    def _period(text: str) -> Any:
        try:
            return parse_period(text)
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None

    def _names() -> dict[str, str]:
        return {r.code: r.name for r in host.primary}

    def _named(regions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = _names()
        return [r | {"name": names.get(r["region"], r["region"])} for r in regions]

    def _frozen_rows() -> list[dict[str, Any]]:
        return host.store.dicts(
            "SELECT aggregate_id, payload, recorded_at, actor FROM events "
            "WHERE event_type = 'evaluation.frozen' ORDER BY occurred_at DESC"
        )

    async def _frozen(ev: str) -> dict[str, Any]:
        rows = await run(_frozen_rows)
        for r in rows:
            if r["aggregate_id"] == ev:
                doc: dict[str, Any] = orjson.loads(r["payload"])
                doc["regions"] = [_complete(r) for r in doc.pop("scores")]
                return doc | {"frozen_by": r["actor"], "frozen_at": aware(r["recorded_at"])}
        raise NotFoundError(f"no frozen evaluation {ev!r} (GET /api/evaluations lists them)")

    @api.get("/api/evaluations/live", summary="A period computed now (绩效评价 实时)")
    async def live(period: PeriodText, who: Principal = need("read:evaluation")) -> dict[str, Any]:
        """Every region's evaluation of ``period`` as the log is known now (not frozen):
        counts, values, scores, total and rank among its level."""
        span = _period(period)
        table = host.evaluation
        at = now()
        regions = await run(compute, host.store, host.primary, table, span, at)
        return {
            "evaluation_id": evaluation_id(table, span),
            "table": table.ref,
            "title": table.title,
            "period": span.name,
            "start": span.start,
            "end": span.end,
            "as_of": at,
            "frozen": False,
            "indicators": [i.model_dump(mode="json") for i in table.indicators],
            "regions": _named(regions),
        }

    @api.get("/api/evaluations", summary="Frozen evaluations (已定稿)")
    async def frozen_list(who: Principal = need("read:evaluation")) -> list[dict[str, Any]]:
        """Every frozen evaluation, newest first: id, period, as of, by whom."""
        rows = await run(_frozen_rows)
        out = []
        for r in rows:
            doc = orjson.loads(r["payload"])
            out.append(
                {k: doc[k] for k in ("evaluation_id", "table", "title", "period", "as_of")}
                | {"frozen_by": r["actor"], "frozen_at": aware(r["recorded_at"])}
            )
        return out

    @api.post("/api/evaluations", status_code=201, summary="Freeze a period (定稿)")
    async def freeze(
        form: FreezeForm, request: Request, who: Principal = need("freeze:evaluation")
    ) -> dict[str, Any]:
        """Freeze ``period`` (ended) with the figures as of now; 409 when frozen already or
        not yet ended."""
        if who.regions:
            raise ForbiddenError(
                "an evaluation ranks every region: freeze it as a user of the whole province"
            )
        span = _period(form.period)
        table = host.evaluation
        at = now()
        if at < span.end_at:
            raise InvalidRequestError(f"period {span.name} ends {span.end}; freeze it after that")
        projected = dict(host.projector.stats.positions)
        positions = [projected.get(p, 0) for p in range(max(projected, default=-1) + 1)]
        regions = await run(compute, host.store, host.primary, table, span, at, positions)
        payload = {
            "table": table.ref,
            "title": table.title,
            "period": span.name,
            "as_of": at.isoformat(),
            "positions": positions,
            "scores": regions,
        }
        ev = evaluation_id(table, span)
        outcome = await submit(
            host, who, "evaluation.freeze", ev, payload, actor=who.actor(None), request=request
        )
        return answer(outcome) | {"evaluation_id": ev, "as_of": at}

    @api.get("/api/evaluations/{evaluation_id}", summary="A frozen evaluation (定稿结果)")
    async def frozen(
        evaluation_id: EvaluationId, who: Principal = need("read:evaluation")
    ) -> dict[str, Any]:
        """The frozen figures, with region names and the indicator table applied."""
        doc = await _frozen(evaluation_id)
        return doc | {
            "frozen": True,
            "regions": _named(doc["regions"]),
            "indicators": [i.model_dump(mode="json") for i in host.evaluation.indicators]
            if doc["table"] == host.evaluation.ref
            else [],
        }

    @api.get(
        "/api/evaluations/{evaluation_id}/verify",
        summary="Compute it again as of its instant (复核)",
    )
    async def verify(
        evaluation_id: EvaluationId, who: Principal = need("read:evaluation")
    ) -> dict[str, Any]:
        """The frozen evaluation computed again from the log as of its ``as_of``:
        ``reproduced`` true, or the differences (a table changed since: say so)."""
        doc = await _frozen(evaluation_id)
        if doc["table"] != host.evaluation.ref:
            return {
                "evaluation_id": evaluation_id,
                "reproduced": False,
                "differences": [
                    f"frozen with {doc['table']}, the table now is {host.evaluation.ref}"
                ],
            }
        span = _period(doc["period"])
        again = await run(
            compute,
            host.store,
            host.primary,
            host.evaluation,
            span,
            dt.datetime.fromisoformat(doc["as_of"]),
            doc.get("positions") or None,
        )
        diff = differences(doc["regions"], again)
        return {"evaluation_id": evaluation_id, "reproduced": not diff, "differences": diff[:100]}

    @api.get(
        "/api/evaluations/{evaluation_id}/export",
        summary="Excel or PDF of a frozen evaluation (导出)",
    )
    async def export(
        evaluation_id: EvaluationId,
        format: Annotated[str, Query(pattern="^(xlsx|pdf)$")] = "xlsx",
        lang: Annotated[str, Query(pattern="^(zh|en)$")] = "zh",
        who: Principal = need("read:evaluation"),
    ) -> Response:
        """The frozen evaluation as an Excel workbook or a PDF report (with a chart of the
        cities' totals), in Chinese or English: the same figures as GET …/{id}."""
        doc = await _frozen(evaluation_id)
        if doc["table"] != host.evaluation.ref:
            raise InvalidRequestError(
                f"{evaluation_id} was frozen with {doc['table']}; the table now is "
                f"{host.evaluation.ref}: its definitions would not match the figures"
            )
        names = _names()
        if format == "xlsx":
            data = await run(to_xlsx, doc, names, host.evaluation, lang)
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            data = await run(to_pdf, doc, names, host.evaluation, lang)
            media = "application/pdf"
        return Response(
            data,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{evaluation_id}.{format}"'},
        )

    return api
