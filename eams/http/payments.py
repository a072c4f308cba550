"""Payment batches over HTTP (issue 13): a county's entitlements due for a month gathered
into batches, the bank's file exported, the bank's return file reconciled.

Creating, exporting and reconciling are a payment officer's (``pay:subsidies``); reading
batches is ``read:money`` (payment officers, approvers, auditors). Each route sends one
``payment_batch.<verb>`` command (:mod:`subsidies.batches`) with the caller's regions, so a
county's officer creates, exports and reconciles only their county's batches (403
otherwise). The paid lines become the persons' payments by the casework reactor.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from eams.auth import Principal
from eams.bankfiles import ReturnFileError, digest, export_csv, read_return
from eams.host import Host
from eams.http.auth import guard, scope_guard
from eams.http.case_commands import answer
from eams.http.commands import submit
from eams.http.errors import ConflictError, InvalidRequestError, NotFoundError
from eams.http.scope import Scope
from events.payloads_money import MAX_BATCH_LINES, YearMonth
from projections import money_queries
from projections.client import run
from subsidies.batches import batch_id as make_batch_id

__all__ = ["router"]

BatchId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^pb-\d{6}-\d{4}-\d{2}-\d{1,4}$")
]
County = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]


class BatchForm(BaseModel):
    """Which county's entitlements, due up to which month."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    county: County
    month: YearMonth


def _line(n: int, row: dict[str, Any]) -> dict[str, Any]:
    line = {
        "line": n,
        "person_id": row["person_id"],
        "application_id": row["application_id"],
        "subsidy": row["subsidy"],
        "month": row["month"],
        "amount": str(row["amount"]),
    }
    shown = (
        ("account_ref", "payee_account_ref"),
        ("account_masked", "payee_account_masked"),
        ("name_masked", "name_masked"),
    )
    for key, field in shown:
        if row.get(key):
            line[field] = row[key]
    return line


def router(host: Host) -> APIRouter:
    """The payment batch routes of one worker."""
    api = APIRouter(tags=["payments 资金发放"])
    need = guard(host)
    scoped = scope_guard(host)

    async def _batch(scope: Scope, batch: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        lines = await run(money_queries.batch_lines, host.store, batch)
        if not lines or not scope.sees(lines[0]["region"]):
            raise NotFoundError(f"no payment batch {batch!r} (or not yet projected: retry)")
        summary = {"batch_id": batch, "region": lines[0]["region"],
                   "month": lines[0]["batch_month"]}  # fmt: skip
        return summary, lines

    @api.get("/api/payment-batches", summary="Payment batches (发放批次)")
    async def list_batches(
        region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
        scope: Scope = scoped("read:money"),
    ) -> list[dict[str, Any]]:
        """Every batch of the caller's regions (or of ``region``), newest first: lines,
        total, paid, failed and unanswered lines, how often its file was exported."""
        if region:
            scope.check(region)
        rows = await run(money_queries.batches, host.store, scope.regions_for(region))
        return scope.rows(rows, city=None)

    @api.post("/api/payment-batches", status_code=201, summary="Create a county's batch (生成批次)")
    async def create(
        form: BatchForm, request: Request, who: Principal = need("pay:subsidies")
    ) -> dict[str, Any]:
        """Gather every entitlement of ``county`` due up to ``month`` and not yet paid or in
        a batch the bank has not answered into new batches (parts of at most 1,000 lines).
        409 when nothing is due."""
        due = await run(money_queries.due_lines, host.store, form.county, form.month)
        if not due:
            raise ConflictError(
                f"nothing is due in {form.county} up to {form.month} that is not in a batch "
                "already (approved entitlements appear a moment after their approval)"
            )
        existing = await run(money_queries.batches, host.store, [form.county])
        taken = {b["batch_id"] for b in existing}
        part = 1
        created = []
        for start in range(0, len(due), MAX_BATCH_LINES):
            while make_batch_id(form.county, form.month, part) in taken:
                part += 1
            batch = make_batch_id(form.county, form.month, part)
            rows = due[start : start + MAX_BATCH_LINES]
            payload = {"region": form.county, "month": form.month, "part": part,
                       "lines": [_line(n, r) for n, r in enumerate(rows, start=1)]}  # fmt: skip
            outcome = await submit(host, who, "payment_batch.create", batch, payload,
                                   actor=who.actor(None), request=None)  # fmt: skip
            [decided] = outcome.payloads
            created.append(answer(outcome) | {"batch_id": batch, "count": decided["count"],
                                              "total": decided["total"]})  # fmt: skip
            taken.add(batch)
        return {"batches": created}

    @api.get("/api/payment-batches/{batch_id}", summary="A batch and its lines (批次明细)")
    async def detail(batch_id: BatchId, scope: Scope = scoped("read:money")) -> dict[str, Any]:
        """The batch's lines with the bank's answer of each (``outcome`` empty: none yet)."""
        summary, lines = await _batch(scope, batch_id)
        return summary | {"lines": lines}

    @api.post(
        "/api/payment-batches/{batch_id}/export", summary="The file for the bank (导出代发文件)"
    )
    async def export(
        batch_id: BatchId,
        request: Request,
        lang: Annotated[str, Query(pattern="^(zh|en)$")] = "zh",
        who: Principal = need("pay:subsidies"),
    ) -> Response:
        """The batch's CSV for the bank's bulk payment (UTF-8 with BOM), recorded as
        ``payment_batch.exported`` with its digest."""
        summary, lines = await _batch(Scope(who, host.reference), batch_id)
        data = export_csv(summary, lines, lang)
        total = sum((line["amount"] for line in lines), start=lines[0]["amount"] * 0)
        payload = {"file_sha256": digest(data), "count": len(lines), "total": str(total)}
        await submit(host, who, "payment_batch.export", batch_id, payload,
                     actor=who.actor(None), request=request)  # fmt: skip
        return Response(
            data,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{batch_id}.csv"'},
        )

    @api.post(
        "/api/payment-batches/{batch_id}/return", summary="Reconcile the bank's return (回盘对账)"
    )
    async def reconcile(
        batch_id: BatchId,
        request: Request,
        filename: Annotated[str, Query(min_length=1, max_length=200)] = "return.csv",
        who: Principal = need("pay:subsidies"),
    ) -> dict[str, Any]:
        """Send the bank's return file as the request body (CSV in any encoding, or
        .xlsx/.xls: say which by ``filename``). Each row's line is matched to the batch:
        paid lines become the persons' payments, failed ones stay due for the next batch.
        Every error of the file is named (row, column, what was expected) and nothing is
        recorded until the file reads whole; a file read twice changes nothing."""
        summary, lines = await _batch(Scope(who, host.reference), batch_id)
        data = b"".join([chunk async for chunk in request.stream()])
        if not data:
            raise InvalidRequestError("the request body is empty: send the bank's return file")
        try:
            results = read_return(data, filename, batch_id, len(lines))
        except ReturnFileError as exc:
            raise InvalidRequestError(f"the return file was not taken: {exc}") from None
        payload = {"file_sha256": digest(data), "results": results}
        outcome = await submit(host, who, "payment_batch.reconcile", batch_id, payload,
                               actor=who.actor(None), request=request)  # fmt: skip
        decided = outcome.payloads[0] if outcome.payloads else {}
        return answer(outcome) | {
            "batch_id": batch_id,
            "paid": decided.get("paid", 0),
            "failed": decided.get("failed", 0),
            "paid_total": decided.get("paid_total", "0"),
            "complete": decided.get("complete"),
            "unchanged": not outcome.payloads,
        }

    return api
