"""Subsidy applications over HTTP (issue 13): apply, check, approve, reject.

Every route sends one ``person.<verb>`` command to the person's case (the applications are
decided there: :mod:`subsidies.applications`), keyed by the pseudonym; the actor and the
regions come from the session. Applying and checking are a case officer's (``act:cases``);
approving and refusing are a subsidy approver's (``approve:subsidies``), and the case
itself refuses an approval by the applicant, the case's officer or the checker (403), so
no one person moves money alone.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard
from eams.http.case_commands import PersonId, answer
from eams.http.commands import submit
from eams.http.errors import InvalidRequestError
from eams.http.scope import Scope
from events.identity import mask_account
from events.payload_base import Ident, IsoDate, Money, Reference, Text
from events.payloads_cases import FactValues
from events.payloads_money import ApplicationFacts
from events.pii_scan import scrub
from events.privacy import account_pseudonym
from projections import welfare_queries
from projections.client import run

__all__ = ["payee_fields", "post_fields", "router"]

ApplicationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApplyForm(_Form):
    """An application as the officer enters it: the policy and what the person states."""

    policy: Ident
    facts: ApplicationFacts = ApplicationFacts()
    application_id: Reference | None = None
    on: IsoDate | None = None
    payee_account: Annotated[str, StringConstraints(max_length=40)] | None = None
    """The bank account (a social-security card's) the money goes to, in clear: the route
    keeps only its keyed pseudonym and last four digits."""


class DayForm(_Form):
    """The day of a check or an approval (default today)."""

    on: IsoDate | None = None


class CorrectionForm(_Form):
    """Facts found wrong, what held all along from ``since``, and the document showing it."""

    facts: FactValues
    since: IsoDate
    document: Text
    on: IsoDate | None = None


class RecoveryForm(_Form):
    """Money ordered back came in."""

    order_id: Ident
    amount: Money
    on: IsoDate | None = None


class RejectForm(_Form):
    """Why an application is refused."""

    reason: Text
    on: IsoDate | None = None


#: What an answer shows of the decision: its figures, not the person's facts.
_SHOWN = ("application_id", "policy", "version", "eligible", "failed", "amount", "months",
          "first_month", "total")  # fmt: skip
_DECISIONS = ("subsidy.applied", "subsidy.checked", "subsidy.approved", "subsidy.rejected",
              "subsidy.recovered")  # fmt: skip


def _body(form: BaseModel) -> dict[str, Any]:
    return form.model_dump(mode="json", exclude_none=True)


def payee_fields(account: str | None, secret: bytes) -> dict[str, str]:
    """What an application keeps of the payee's bank account typed in clear: its keyed
    pseudonym and its last four digits (nothing when none was given; 400 for a number that
    is not an account's)."""
    if account is None:
        return {}
    try:
        return {"payee_account_ref": account_pseudonym(account, secret),
                "payee_account_masked": mask_account(account)}  # fmt: skip
    except ValueError as exc:
        raise InvalidRequestError(f"payee_account: {exc}") from None


async def post_fields(host: Host, who: Principal, post_id: str) -> dict[str, Any]:
    """What an application for a public-welfare post's pay reads from the post: its county
    and the day it opened (404 for a post the caller cannot see: its existence is not told)."""
    post = Scope(who, host.reference).found(
        await run(welfare_queries.post, host.store, post_id),
        f"facts.post_id: no welfare post {post_id!r} (open it first, or not yet projected: retry)",
    )
    opened = post.get("opened_on")
    return {"post_region": post["region"],
            "post_opened_on": opened.isoformat() if opened else None}  # fmt: skip


def router(host: Host) -> APIRouter:
    """The subsidy application routes of one worker."""
    api = APIRouter(tags=["subsidies 政策补贴"])
    need = guard(host)

    async def send(
        who: Principal, verb: str, person_id: str, payload: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        clean, _ = scrub(payload)  # a reason typed by a person: IDs and mobiles masked
        outcome = await submit(
            host, who, f"person.{verb}", person_id, clean, actor=who.actor(None), request=request
        )
        shown: dict[str, Any] = {}
        for event_type, decided in zip(outcome.event_types, outcome.payloads, strict=True):
            if event_type in _DECISIONS:
                shown |= {k: v for k, v in decided.items() if k in _SHOWN}
        return answer(outcome) | shown

    @api.post(
        "/api/persons/{person_id}/subsidies",
        status_code=201,
        summary="Apply for a subsidy, loan or allowance (申请)",
    )
    async def apply(
        person_id: PersonId, form: ApplyForm, request: Request, who: Principal = need("act:cases")
    ) -> dict[str, Any]:
        """Apply for ``policy`` of the catalogue of the person's city in force on ``on``,
        with what the application states (the hire, the business, the loan …). The answer
        names the ``application_id``; a second open application of the same policy is 409."""
        payload = _body(form)
        if form.facts.post_id is not None:  # a public-welfare post's pay: as the post says
            payload |= await post_fields(host, who, form.facts.post_id)
        payload |= payee_fields(payload.pop("payee_account", None), host.secret)
        return await send(who, "apply_subsidy", person_id, payload, request)

    @api.post(
        "/api/persons/{person_id}/subsidies/{application_id}/check",
        summary="Run the automatic eligibility check (资格审核)",
    )
    async def check(
        person_id: PersonId,
        application_id: ApplicationId,
        form: DayForm,
        request: Request,
        who: Principal = need("act:cases"),
    ) -> dict[str, Any]:
        """Judge the application with the catalogue version in force on ``on``: the answer
        says ``eligible``, each ``failed`` condition (with the value read, or "not known")
        and conflict, the ``amount`` of each entitlement, the ``months`` and the ``total``."""
        payload = {"application_id": application_id, **_body(form)}
        return await send(who, "check_subsidy", person_id, payload, request)

    @api.post(
        "/api/persons/{person_id}/subsidies/{application_id}/approve",
        summary="Approve a checked application (审批; a second person)",
    )
    async def approve(
        person_id: PersonId,
        application_id: ApplicationId,
        form: DayForm,
        request: Request,
        who: Principal = need("approve:subsidies"),
    ) -> dict[str, Any]:
        """Approve a checked, eligible application: refused (403) to the applicant, the
        case's officer and the checker; refused (409) when the check no longer holds on the
        day (check it again). The months already begun are entitled at once."""
        payload = {"application_id": application_id, **_body(form)}
        return await send(who, "approve_subsidy", person_id, payload, request)

    @api.post(
        "/api/persons/{person_id}/subsidies/{application_id}/reject",
        summary="Refuse an application not yet approved (不予通过)",
    )
    async def reject(
        person_id: PersonId,
        application_id: ApplicationId,
        form: RejectForm,
        request: Request,
        who: Principal = need("approve:subsidies"),
    ) -> dict[str, Any]:
        """Refuse the application with ``reason`` (the failed conditions of its last check
        are recorded with it)."""
        payload = {"application_id": application_id, **_body(form)}
        return await send(who, "reject_subsidy", person_id, payload, request)

    @api.post(
        "/api/persons/{person_id}/facts/correct",
        summary="Correct facts found wrong; subsidies decided since are recalculated (更正)",
    )
    async def correct(
        person_id: PersonId,
        form: CorrectionForm,
        request: Request,
        who: Principal = need("act:cases"),
    ) -> dict[str, Any]:
        """Record ``facts`` as having held all along from ``since`` (``document``: what shows
        it). The person is judged again, and every application approved since is checked
        again as of its approval day: each month's entitlement is made again, and what was
        paid beyond it is ordered back (``subsidy.recovery_ordered``; ``recovery_orders``
        in the answer); an earlier order that now asks back more than was overpaid is cut
        by what it no longer owes, as far as it is unsettled (``recovery_orders_cut``)."""
        clean, _ = scrub(_body(form))
        outcome = await submit(host, who, "person.correct_facts", person_id, clean,
                               actor=who.actor(None), request=request)  # fmt: skip

        def picked(kind: str) -> list[dict[str, Any]]:
            return [
                {k: p[k] for k in ("application_id", "order_id", "amount", "reason")}
                for t, p in zip(outcome.event_types, outcome.payloads, strict=True)
                if t == kind
            ]

        return answer(outcome) | {
            "recovery_orders": picked("subsidy.recovery_ordered"),
            "recovery_orders_cut": picked("subsidy.recovery_cancelled"),
        }

    @api.post(
        "/api/persons/{person_id}/subsidies/{application_id}/recoveries",
        summary="Money ordered back came in (追回到账)",
    )
    async def recovered(
        person_id: PersonId,
        application_id: ApplicationId,
        form: RecoveryForm,
        request: Request,
        who: Principal = need("approve:subsidies"),
    ) -> dict[str, Any]:
        """Settle a recovery order (all of it, or part): never more than it still asks."""
        payload = {"application_id": application_id, **_body(form)}
        return await send(who, "settle_recovery", person_id, payload, request)

    return api
