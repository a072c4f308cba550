"""The case ledger over HTTP (issue 12): case officers' worklists, leads, zero-employment
households, one person's case and timeline, and the auditors' list of who read whom.

Reads come from the case projections (:mod:`projections.case_queries`), through the
caller's :class:`~eams.http.scope.Scope`: a list holds the caller's regions' rows only, and
a person outside them is answered as if they did not exist (404). A worklist is an
officer's (``officer``; the caller by default), an office's (``office``) or a community's
(``region``: a county or city code).

Every read of a person's detail (``/api/persons/{id}`` and its timeline) names its
``purpose`` and is appended to the log as ``audit.person_read`` (who, whom, why, which view)
before the answer is sent: a read that left no event did not happen. Identity is masked in
every answer: ingest removed the rest.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from eams.auth import Principal
from eams.host import Host
from eams.http.auth import scope_guard
from eams.http.scope import Scope
from events.clock import today
from events.payload_base import IsoDate
from events.regions import RegionReference
from projections import case_queries
from projections.case_queries import Selection
from projections.client import run

PERSON_ID = r"^p_[0-9a-f]{32}$"
Who = Annotated[str | None, Query(min_length=1, max_length=64)]
Code = Annotated[str | None, Query(min_length=2, max_length=12, pattern=r"^[0-9A-Za-z]+$")]
Day = Annotated[IsoDate | None, Query(description="the day judged by (default: today)")]
Within = Annotated[int, Query(ge=0, le=366)]
PersonId = Annotated[str, Path(pattern=PERSON_ID, description="the person's pseudonym")]
Purpose = Annotated[
    str,
    Query(
        min_length=2,
        max_length=500,
        description="why the person's detail is read (recorded with the read: 走访准备 …)",
    ),
]


def _selection(
    scope: Scope, officer: str | None, office: str | None, region: str | None
) -> Selection:
    """Whose cases: the officer's, the office's, the region's (in the caller's regions);
    none given: the caller's own caseload."""
    if region:
        scope.check(region)
    if office:
        scope.check(office)
    if not (officer or office or region):
        officer = scope.who.name
    regions = scope.regions_for(region)
    return Selection(
        officer=officer, office=office, regions=frozenset(regions) if regions else None
    )


def _regions(scope: Scope, region: str | None) -> frozenset[str] | None:
    if region:
        scope.check(region)
    regions = scope.regions_for(region)
    return frozenset(regions) if regions else None


def _named(reference: RegionReference, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the names (zh, en) of each row's region and city: people read names, not codes."""
    for row in rows:
        for key in ("region", "city"):
            found = reference.get(row.get(key) or "")
            row[f"{key}_name"] = found.name if found else None
            row[f"{key}_name_en"] = found.name_en if found else None
    return rows


def router(host: Host) -> APIRouter:
    """The case ledger's read routes of one worker."""
    api = APIRouter(tags=["cases 援助台账"])
    scoped = scope_guard(host)

    def named(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _named(host.primary, rows)

    @api.get("/api/cases", summary="Caseload: an officer's, an office's or a region's cases")
    async def cases(
        officer: Who = None,
        office: Code = None,
        region: Code = None,
        include_exited: bool = False,
        limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        scope: Scope = scoped("read:cases"),
    ) -> list[dict[str, Any]]:
        """Open cases (``include_exited``: exited ones too) with masked identity, groups
        recognised now, the office and officer in charge and since when, the next visit,
        the last contact, the active plan and unjustified refusals; by person, ``limit``
        of them from ``offset`` (default: all; a county's list runs to thousands)."""
        sel = _selection(scope, officer, office, region)
        page = case_queries.Page(limit, offset)
        rows = await run(
            case_queries.caseload, host.store, sel, include_exited=include_exited, page=page
        )
        return named(scope.rows(rows))

    @api.get("/api/cases/visits-due", summary="Regular visits due on a day, and overdue ones")
    async def visits_due(
        day: Day = None,
        within_days: Within = 0,
        officer: Who = None,
        office: Code = None,
        region: Code = None,
        scope: Scope = scoped("read:cases"),
    ) -> list[dict[str, Any]]:
        """Open cases whose next visit falls due by ``day`` (+ ``within_days``), per officer
        (default: the caller) or community (``region``); overdue ones first."""
        sel = _selection(scope, officer, office, region)
        rows = await run(case_queries.visits_due, host.store, sel, day or today(), within_days)
        return named(scope.rows(rows))

    @api.get("/api/cases/plan-reviews", summary="Plan reviews due and overdue (work items)")
    async def plan_reviews(
        day: Day = None,
        within_days: Within = 7,
        officer: Who = None,
        office: Code = None,
        region: Code = None,
        scope: Scope = scoped("read:cases"),
    ) -> list[dict[str, Any]]:
        """Active assistance agreements whose review is due by ``day`` + ``within_days``."""
        sel = _selection(scope, officer, office, region)
        found = await run(case_queries.plan_reviews, host.store, sel, day or today(), within_days)
        return named(scope.rows(found))

    @api.get("/api/cases/silent", summary="Silent persons: no contact in N days (不声不响)")
    async def silent(
        days: Annotated[int, Query(ge=1, le=3660)] = 60,
        day: Day = None,
        officer: Who = None,
        office: Code = None,
        region: Code = None,
        scope: Scope = scoped("read:cases"),
    ) -> list[dict[str, Any]]:
        """Open cases with no contact (a visit that reached them, a service, a plan, a
        placement, a referral, a training, a lead contacted) in the ``days`` before ``day``;
        one never contacted counts from its registration. The longest silent first."""
        sel = _selection(scope, officer, office, region)
        rows = await run(case_queries.silent_persons, host.store, sel, day or today(), days)
        return named(scope.rows(rows))

    @api.get("/api/leads", summary="Leads to contact: assigned, not yet contacted")
    async def leads(
        officer: Who = None, region: Code = None, scope: Scope = scoped("read:cases")
    ) -> list[dict[str, Any]]:
        """Discovered leads assigned to ``officer`` (default: the caller, unless a
        ``region`` is asked for) and not yet contacted, the oldest assignment first."""
        regions = _regions(scope, region)
        who = officer or (None if region else scope.who.name)
        rows = await run(case_queries.leads_to_contact, host.store, officer=who, regions=regions)
        return named(scope.rows(rows))

    @api.get("/api/leads/funnel", summary="Active discovery per county: the leads' funnel")
    async def funnel(
        region: Code = None, scope: Scope = scoped("read:cases")
    ) -> list[dict[str, Any]]:
        """Per county: discovered, assigned, contacted, converted, declined, open."""
        regions = _regions(scope, region)  # refused before anything is read
        rows = await run(case_queries.leads_funnel, host.store, regions)
        return named(scope.rows(rows))

    @api.get("/api/households/zero-employment", summary="Zero-employment households per county")
    async def households(
        day: Day = None,
        near_days: Within = 7,
        region: Code = None,
        scope: Scope = scoped("read:cases"),
    ) -> dict[str, Any]:
        """Per county: identified, cleared, cleared on time, open, overdue, escalated; and
        the open households whose deadline falls by ``day`` + ``near_days`` (overdue ones
        too, ``days_left`` below zero)."""
        regions = _regions(scope, region)
        got = await run(
            case_queries.zero_employment, host.store, day or today(), regions, near_days
        )
        return {
            "counties": named(scope.rows(got["counties"])),
            "near_deadline": named(scope.rows(got["near_deadline"])),
        }

    @api.get("/api/cases/clearing", summary="Zero-employment clearing progress per city")
    async def clearing(
        day: Day = None, region: Code = None, scope: Scope = scoped("read:cases")
    ) -> list[dict[str, Any]]:
        """动态清零 per city: identified, cleared (on time), open, overdue, share cleared."""
        regions = _regions(scope, region)
        rows = await run(case_queries.clearing_progress, host.store, day or today(), regions)
        return named(scope.rows(rows))

    @api.get("/api/cases/summary", summary="Cases per city: open, recognised, visits overdue")
    async def summary(
        day: Day = None, region: Code = None, scope: Scope = scoped("read:cases")
    ) -> list[dict[str, Any]]:
        """Per city, every case in the caller's regions: open, recognised in a group now,
        visits overdue on ``day``, active plans, exited. It reads the whole ledger of those
        regions (seconds at a million persons): for a city's overview, not a worklist."""
        regions = _regions(scope, region)
        rows = await run(case_queries.case_summary, host.store, day or today(), regions)
        return named(scope.rows(rows))

    async def read_person(person_id: str, purpose: str, view: str, scope: Scope) -> dict[str, Any]:
        """The person's case, once the read is in the log (404 outside the caller's
        regions, and then nothing is recorded: nothing was read)."""
        found = await run(case_queries.person_case, host.store, person_id)
        case = scope.found(found, f"no person {person_id!r}; see GET /api/cases")
        await host.record_audit(
            "audit.person_read",
            case["region"] or host.primary.root().code,
            "audit:person_read",
            _actor(scope.who),
            {"subject": person_id, "purpose": purpose, "view": view},
        )
        return case

    @api.get("/api/persons/{person_id}", summary="A person's case (audited: give a purpose)")
    async def person(
        person_id: PersonId, purpose: Purpose, scope: Scope = scoped("read:cases")
    ) -> dict[str, Any]:
        """Masked identity, status, groups with the rule behind each, the office and officer
        in charge and who owned the case when, the schedule, the plan, refusals, exit and
        leads. ``audit.person_read`` is appended before the answer."""
        case = await read_person(person_id, purpose, "case", scope)
        return named([case])[0]

    @api.get("/api/persons/{person_id}/timeline", summary="A person's timeline (audited)")
    async def person_timeline(
        person_id: PersonId, purpose: Purpose, scope: Scope = scoped("read:cases")
    ) -> list[dict[str, Any]]:
        """Every event of the person in log order, labelled in zh and en. Audited like the
        case (``view`` = timeline)."""
        await read_person(person_id, purpose, "timeline", scope)
        return await run(case_queries.person_timeline, host.store, person_id)

    @api.get("/api/audit/person-reads", summary="Who read whose detail, when and why")
    async def person_reads(
        actor: Who = None,
        person_id: Annotated[str | None, Query(pattern=PERSON_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
        scope: Scope = scoped("read:audit"),
    ) -> list[dict[str, Any]]:
        """The ``audit.person_read`` events, the newest first; filter by reader or person."""
        regions = scope.regions_for()
        rows = await run(
            case_queries.person_reads,
            host.store,
            actor=actor,
            person_id=person_id,
            regions=frozenset(regions) if regions else None,
            limit=limit,
        )
        return named(scope.rows(rows))

    return api


def _actor(who: Principal) -> str:
    """Who read: the signed-in user (the operator token reads as ``operator``)."""
    return who.actor(None)
