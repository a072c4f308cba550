"""Fraud supervision over HTTP (风险内控, issue 13): the cases the fraud rules raised, their
handling and the figures per region.

Reading is ``read:fraud`` and deciding ``act:fraud`` (auditors, administrators). Confirming
sends ``fraud_case.confirm`` with the reason (and, if given, the recoveries instead of the
proposed ones): the casework reactor then orders each back on the person's case;
dismissing sends ``fraud_case.dismiss`` with the reason. An auditor limited to regions sees
and decides only their regions' cases (404 otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard, scope_guard
from eams.http.case_commands import answer
from eams.http.commands import submit
from eams.http.scope import Scope
from events.payload_base import MAX_ITEMS, Text
from events.payloads_money import Recovery
from events.pii_scan import scrub
from projections import fraud_queries
from projections.client import run

__all__ = ["router"]

CaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^fc-[a-z0-9_]+-[0-9a-f]{16}$")]


class ConfirmForm(BaseModel):
    """Why the case is confirmed; ``recoveries`` replace the rule's proposal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Text
    recoveries: Annotated[list[Recovery], Field(max_length=MAX_ITEMS)] | None = None


class DismissForm(BaseModel):
    """Why the case is dismissed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Text


def router(host: Host) -> APIRouter:
    """The fraud supervision routes of one worker."""
    api = APIRouter(tags=["fraud 风险内控"])
    need = guard(host)
    scoped = scope_guard(host)

    def _name(code: str | None) -> str | None:
        region = host.reference.get(code or "")
        return region.name if region else code

    def _named(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for r in rows:
            r["region_name"] = _name(r["region"])
            for item in r.get("evidence") or ():
                if item.get("region"):
                    item["region_name"] = _name(item["region"])
        return rows

    @api.get("/api/fraud-cases", summary="Fraud cases (疑似骗补案件)")
    async def cases(
        status: Annotated[str | None, Query(pattern="^(suspected|confirmed|dismissed)$")] = None,
        region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
        scope: Scope = scoped("read:fraud"),
    ) -> list[dict[str, Any]]:
        """Every case of the caller's regions (or ``region``), newest first: the rule, the
        persons (pseudonyms), what is at risk, the evidence with the events it is in, the
        proposed or decided recoveries, the status, who decided it and why."""
        if region:
            scope.check(region)
        rows = await run(fraud_queries.fraud_cases, host.store, scope.regions_for(region), status)
        return _named(scope.rows(rows, city=None))

    @api.get("/api/fraud-cases/summary", summary="Fraud figures per county (风险内控统计)")
    async def summary(scope: Scope = scoped("read:fraud")) -> list[dict[str, Any]]:
        """Per county: cases suspected, open, confirmed, dismissed; the amount confirmed
        cases ordered back and what was recovered."""
        rows = await run(fraud_queries.fraud_summary, host.store, scope.regions_for(None))
        return _named(scope.rows(rows, city=None))

    async def _decide(
        who: Principal, verb: str, case: str, body: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        clean, _ = scrub(body)
        outcome = await submit(host, who, f"fraud_case.{verb}", case, clean,
                               actor=who.actor(None), request=request)  # fmt: skip
        return answer(outcome) | {"case_id": case}

    @api.post("/api/fraud-cases/{case_id}/confirm", summary="Confirm a case (确认骗补)")
    async def confirm(
        case_id: CaseId, form: ConfirmForm, request: Request, who: Principal = need("act:fraud")
    ) -> dict[str, Any]:
        """Confirm with ``reason``: each recovery (the rule's proposal unless given) is
        ordered back on the person's case a moment later (``subsidy.recovery_ordered``);
        a periodic subsidy stops from the next month. 409 when decided already."""
        body = form.model_dump(mode="json", exclude_none=True)
        return await _decide(who, "confirm", case_id, body, request)

    @api.post("/api/fraud-cases/{case_id}/dismiss", summary="Dismiss a case (排除)")
    async def dismiss(
        case_id: CaseId, form: DismissForm, request: Request, who: Principal = need("act:fraud")
    ) -> dict[str, Any]:
        """Dismiss with ``reason``; the rule does not raise the same finding again."""
        return await _decide(who, "dismiss", case_id, form.model_dump(mode="json"), request)

    return api
