"""Public-welfare posts over HTTP (乡村公益性岗位, issue 13): open a county's post, put a person
forward for it, record a month's attendance, let a holder go, and the counts per county.

Reading is ``read:cases`` and acting ``act:cases`` (case officers, in their regions). The
post is the guard of its slots (``welfare_post.open``; the reactor seats each assignment);
the person's case the guard of the rest (:mod:`subsidies.posts`): putting a person forward
is an application for the post's pay, checked at once (the failed conditions named:
the target group, the county, the tenure left); approving it is a second person's, on the
subsidy route (``POST /api/persons/{id}/subsidies/{application}/approve``), and the
approval is the assignment. Attendance entitles the month's pay, which the county's payment
batches pay.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from eams.attendance import AttendanceSheetError, read_sheet
from eams.auth import Principal
from eams.host import Host
from eams.http.auth import guard, scope_guard
from eams.http.case_commands import PersonId, answer
from eams.http.commands import derived_id, submit
from eams.http.errors import ConflictError, InvalidRequestError
from eams.http.scope import Scope
from eams.http.subsidies import payee_fields
from events.clock import SHANGHAI
from events.errors import CommandRejectedError
from events.payload_base import Ident, IsoDate, Reference, Text
from events.payload_base import PersonId as PersonIdField
from events.payloads_money import YearMonth
from events.pii_scan import scrub
from events.vocabulary import SubsidyKind
from projections import welfare_queries
from projections.client import run
from subsidies.posts import OpenPost

__all__ = ["router"]

PostId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostForm(OpenPost):
    """A county's new post (what the post's ``open`` takes) and its number."""

    post_id: Reference | None = None
    """Given by the county (its own number, never a person's), or made by EAMS."""


class CandidateForm(_Form):
    """A person put forward for the post."""

    person_id: PersonIdField
    on: IsoDate | None = None
    payee_account: Annotated[str, StringConstraints(max_length=40)] | None = None


class AttendanceRow(_Form):
    person_id: PersonIdField
    days_present: Annotated[int, Field(ge=0, le=31)]
    days_required: Annotated[int, Field(ge=1, le=31)] | None = None


class AttendanceForm(_Form):
    """A month's attendance of the post's holders."""

    month: YearMonth
    rows: Annotated[tuple[AttendanceRow, ...], Field(min_length=1, max_length=2000)]
    on: IsoDate | None = None


class VacateForm(_Form):
    """The holder leaves the post after ``last_month`` (default this month)."""

    post_id: Ident
    reason: Text
    last_month: YearMonth | None = None
    on: IsoDate | None = None


def router(host: Host) -> APIRouter:
    """The public-welfare post routes of one worker."""
    api = APIRouter(tags=["welfare posts 公益性岗位"])
    need = guard(host)
    scoped = scope_guard(host)

    def _named(row: dict[str, Any]) -> dict[str, Any]:
        region = host.reference.get(row.get("region") or "")
        city = host.reference.get(host.reference.city_of(row["region"]) or "") if region else None
        return row | {"region_name": region.name if region else row.get("region"),
                      "city_name": city.name if city else None}  # fmt: skip

    async def _post(scope: Scope, post_id: str) -> dict[str, Any]:
        found = await run(welfare_queries.post, host.store, post_id)
        return scope.found(found, f"no welfare post {post_id!r} (or not yet projected: retry)")

    def _pay_policy(region: str, day: dt.date) -> str:
        city = host.reference.city_of(region)
        resolved = host.money.catalogue.resolve(city, day) if city else None
        found = [p.id for p in resolved.policy_set.policies
                 if p.kind == SubsidyKind.WELFARE_POST_PAY] if resolved else []  # fmt: skip
        if not found:
            raise ConflictError(
                f"the catalogue of city {city} in force on {day} has no public-welfare post "
                "pay (kind welfare_post_pay); add it (deploy/policies)"
            )
        return found[0]

    @api.get("/api/welfare-posts", summary="Public-welfare posts (公益性岗位)")
    async def list_posts(
        region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
        scope: Scope = scoped("read:cases"),
    ) -> list[dict[str, Any]]:
        """The posts of the caller's regions (or of ``region``): slots, taken, vacant."""
        if region:
            scope.check(region)
        rows = await run(welfare_queries.posts, host.store, scope.regions_for(region))
        return [_named(r) for r in scope.rows(rows, city=None)]

    @api.get("/api/welfare-posts/summary", summary="Posts per county (公益性岗位统计)")
    async def summary(scope: Scope = scoped("read:cases")) -> dict[str, Any]:
        """Per county of the caller's regions: posts, slots, slots taken and vacant; with
        the totals."""
        counts = await run(welfare_queries.by_county, host.store, scope.regions_for(None))
        rows = [_named({"region": code, **c}) for code, c in scope.by_region(counts).items()]
        total = {k: sum(r[k] for r in rows) for k in ("posts", "slots", "seated", "vacant")}
        return {"counties": rows, "total": total}

    @api.post("/api/welfare-posts", status_code=201, summary="Open a post (开发岗位)")
    async def open_post(
        form: PostForm, request: Request, who: Principal = need("act:cases")
    ) -> dict[str, Any]:
        """Open a post in a county of the caller's regions (403 outside them)."""
        Scope(who, host.reference).check(form.region)
        if host.reference.get(form.region) is None:
            raise InvalidRequestError(f"region: {form.region} is not a county EAMS knows")
        made = derived_id(request, who, "welfare_post")  # a retry opens the same post
        post_id = form.post_id or f"wp-{form.region}-{made.hex[:10]}"
        payload, _ = scrub(form.model_dump(mode="json", exclude_none=True, exclude={"post_id"}))
        outcome = await submit(host, who, "welfare_post.open", post_id, payload,
                               actor=who.actor(None), request=request)  # fmt: skip
        return answer(outcome) | {"post_id": post_id}

    @api.get("/api/welfare-posts/{post_id}", summary="A post and its holders (岗位明细)")
    async def detail(post_id: PostId, scope: Scope = scoped("read:cases")) -> dict[str, Any]:
        """The post with everyone who holds or held it: months, attendance recorded, what
        was entitled and paid (names masked)."""
        post = await _post(scope, post_id)
        holders = await run(welfare_queries.holdings, host.store, post_id)
        return _named(post) | {"holders": holders}

    @api.post(
        "/api/welfare-posts/{post_id}/candidates",
        status_code=201,
        summary="Put a person forward for the post (岗位申请与资格审核)",
    )
    async def candidate(
        post_id: PostId,
        form: CandidateForm,
        request: Request,
        who: Principal = need("act:cases"),
    ) -> dict[str, Any]:
        """Apply for the post's pay for the person and check it at once: the answer says
        ``eligible`` and each ``failed`` condition (not in a target group the post takes,
        another county, no tenure left, a post held already). A second person approves it
        on the subsidy route; the approval is the assignment. 409 when every slot is taken."""
        post = await _post(Scope(who, host.reference), post_id)
        if post["vacant"] < 1:
            raise ConflictError(f"every one of the {post['slots']} slots of {post_id} is taken")
        day = form.on or dt.datetime.now(SHANGHAI).date()
        payload: dict[str, Any] = {
            "policy": _pay_policy(post["region"], day),
            "facts": {"employment_kind": "welfare_post", "post_id": post_id},
            "post_region": post["region"],
            "post_opened_on": post["opened_on"].isoformat() if post["opened_on"] else None,
            "on": form.on.isoformat() if form.on else None,
        }
        payload |= payee_fields(form.payee_account, host.secret)
        made = derived_id(request, who, "application")  # a retry names the same one
        app_id = f"sa-{made}"[:40]
        payload["application_id"] = app_id
        await submit(host, who, "person.apply_subsidy", form.person_id, payload,
                     actor=who.actor(None), request=request)  # fmt: skip
        check = {"application_id": app_id, "on": payload["on"]}
        checked = await submit(host, who, "person.check_subsidy", form.person_id, check,
                               actor=who.actor(None), request=None)  # fmt: skip
        decided = checked.payloads[0]
        shown = ("application_id", "policy", "version", "eligible", "failed", "amount",
                 "months", "first_month")  # fmt: skip
        return answer(checked) | {k: decided.get(k) for k in shown} | {"post_id": post_id}

    async def _record(
        who: Principal, post: dict[str, Any], month: str, rows: list[dict[str, Any]],
        on: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        holders = await run(welfare_queries.holdings, host.store, post["post_id"])
        known = {h["person_id"]: h for h in holders}
        errors = [
            f"row {r['row']}: the person does not hold post {post['post_id']}"
            + (f" ({r['person_id']})" if r["person_id"].startswith("p_") else "")
            for r in rows
            if r["person_id"] not in known
        ]
        errors += [
            f"row {r['row']}: {r['days_required']} days required is fewer than the "
            f"{post['days_required']} the post asks a month"
            for r in rows
            if r.get("days_required") and r["days_required"] < post["days_required"]
        ]
        first: dict[str, int] = {}
        for r in rows:
            if first.setdefault(r["person_id"], r["row"]) != r["row"]:
                errors.append(f"row {r['row']}: the same person is on row {first[r['person_id']]}")
        if errors:
            raise InvalidRequestError("the attendance was not taken: " + "; ".join(errors[:50]))
        results = []
        for r in rows:
            payload = {"post_id": post["post_id"], "month": month,
                       "days_present": r["days_present"],
                       "days_required": r.get("days_required") or post["days_required"],
                       "on": on}  # fmt: skip
            try:
                outcome = await submit(host, who, "person.record_attendance", r["person_id"],
                                       payload, actor=who.actor(None), request=None)  # fmt: skip
            except CommandRejectedError as exc:  # this row's: the others stand
                results.append({"row": r["row"], "person_id": r["person_id"],
                                "accepted": False, "reason": str(exc)})  # fmt: skip
                continue
            amount = next((p["amount"] for t, p in zip(outcome.event_types, outcome.payloads,
                                                        strict=True)
                           if t == "welfare_post.attendance_recorded"), None)  # fmt: skip
            results.append({"row": r["row"], "person_id": r["person_id"], "accepted": True,
                            "unchanged": not outcome.event_types, "amount": amount,
                            "event_types": list(outcome.event_types)})  # fmt: skip
        return {"post_id": post["post_id"], "month": month, "rows": results,
                "recorded": sum(1 for r in results if r["accepted"])}  # fmt: skip

    @api.post(
        "/api/welfare-posts/{post_id}/attendance",
        summary="A month's attendance (月度考勤) as JSON",
    )
    async def attendance(
        post_id: PostId,
        form: AttendanceForm,
        who: Principal = need("act:cases"),
    ) -> dict[str, Any]:
        """Record each holder's days present in ``month``: the month's pay is the post's
        allowance in proportion (every day required: all of it). A row for someone who does
        not hold the post refuses the whole sheet (400, naming the rows); a sheet sent again
        changes nothing; different figures correct the month (money paid beyond it is
        ordered back)."""
        post = await _post(Scope(who, host.reference), post_id)
        rows = [{"row": n, **r.model_dump()} for n, r in enumerate(form.rows, start=1)]
        return await _record(who, post, form.month,
                             rows, form.on.isoformat() if form.on else None)  # fmt: skip

    @api.post(
        "/api/welfare-posts/{post_id}/attendance/{month}/sheet",
        summary="A month's attendance sheet as the village sends it (考勤表 CSV/Excel)",
    )
    async def attendance_sheet(
        post_id: PostId,
        month: Annotated[str, Path(pattern=r"^(19|20)\d\d-(0[1-9]|1[0-2])$")],
        request: Request,
        filename: Annotated[str, Query(min_length=1, max_length=200)] = "attendance.csv",
        who: Principal = need("act:cases"),
    ) -> dict[str, Any]:
        """Send the sheet as the request body (CSV in any encoding, or .xlsx/.xls: say which
        by ``filename``) with columns 身份证号 (or person_id), 出勤天数 and optionally
        应出勤天数. Every error is named by row and column and nothing is recorded until the
        sheet reads whole; the citizen IDs are kept only as their pseudonyms."""
        post = await _post(Scope(who, host.reference), post_id)
        data = b"".join([chunk async for chunk in request.stream()])
        if not data:
            raise InvalidRequestError("the request body is empty: send the attendance sheet")
        try:  # a workbook's reading blocks: off the event loop
            rows = await asyncio.to_thread(read_sheet, data, filename, host.secret)
        except AttendanceSheetError as exc:
            raise InvalidRequestError(f"the attendance sheet was not taken: {exc}") from None
        return await _record(who, post, month, rows, None)

    @api.post(
        "/api/persons/{person_id}/welfare-post/vacate",
        summary="The holder leaves the post (岗位退出)",
    )
    async def vacate(
        person_id: PersonId,
        form: VacateForm,
        request: Request,
        who: Principal = need("act:cases"),
    ) -> dict[str, Any]:
        """The person leaves ``post_id`` after ``last_month`` (default this month): the
        slot is freed, months after it lose their pay (money paid for them is ordered back)."""
        payload, _ = scrub(form.model_dump(mode="json", exclude_none=True))
        outcome = await submit(host, who, "person.vacate_welfare_post", person_id,
                               payload | {"cause": "officer"},
                               actor=who.actor(None), request=request)  # fmt: skip
        return answer(outcome)

    return api
