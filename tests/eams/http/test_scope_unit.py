"""Region scope is applied once, by the scoped read layer (:mod:`eams.http.scope`): the rule
itself, the routes that read region data declaring it (every route of the app is held to a
table, so a new one must say whether it reads region data), and the answers of the routes a
stand-in host can serve without a store. No network."""

from __future__ import annotations

import ast
import asyncio
import typing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

import eams.http
from eams.auth import Principal
from eams.http.app import create_api
from eams.http.errors import ForbiddenError, NotFoundError
from eams.http.scope import Scope
from eams.settings import Settings
from events.regions import load_reference

SHANDONG = load_reference("shandong")
LINYI, LANSHAN, JINAN, LIXIA = "371300", "371302", "370100", "370102"

#: Operations that answer with region data: each reads it through the caller's Scope.
SCOPED = {
    "GET /api/overview/cities",
    "GET /api/disaster-areas",
    "GET /api/indicators",
    "GET /api/alerts",
    "GET /api/alerts/{alert_id}",
    "GET /api/alerts/{alert_id}/timeline",
    "GET /api/silences",
    "GET /api/rules/backtest",
    "GET /api/regions/{code}/children",
    "GET /api/trends",
    "GET /api/playbooks/{playbook_id}/simulate",
    "GET /api/playbook-runs",
    "GET /api/playbook-runs/board",
    "GET /api/playbook-runs/{run_id}",
    "GET /api/playbook-runs/{run_id}/timeline",
    "POST /api/playbook-runs/{run_id}/activate",
    "POST /api/playbook-runs/{run_id}/decline",
    "POST /api/playbook-runs/{run_id}/steps/{step_id}/assign",
    "POST /api/playbook-runs/{run_id}/steps/{step_id}/complete",
    "POST /api/playbook-runs/{run_id}/notes",
    "POST /api/playbook-runs/{run_id}/close",
    "GET /api/temporary-assistance",
    "GET /api/cases",
    "GET /api/cases/visits-due",
    "GET /api/cases/plan-reviews",
    "GET /api/cases/silent",
    "GET /api/cases/clearing",
    "GET /api/cases/summary",
    "GET /api/leads",
    "GET /api/leads/funnel",
    "GET /api/households/zero-employment",
    "GET /api/persons/{person_id}",
    "GET /api/persons/{person_id}/timeline",
    "GET /api/persons/{person_id}/explain",
    "GET /api/audit/person-reads",
    "GET /api/payment-batches",
    "GET /api/payment-batches/{batch_id}",
    "GET /api/fraud-cases",
    "GET /api/fraud-cases/summary",
    "GET /api/welfare-posts",
    "GET /api/welfare-posts/summary",
    "GET /api/welfare-posts/{post_id}",
}
COMMAND = "a command: decided against the sender's regions where it is decided (404/403)"
AUDIT = "the whole system's, for auditors and administrators"
#: Operations that answer with no region's data, and why.
UNSCOPED = {
    "POST /api/session": "the caller's own session",
    "DELETE /api/session": "the caller's own session",
    "GET /api/me": "the caller's own session",
    "GET /api/vocabulary": "the same for every caller",
    "GET /api/geo/shandong": "the reference map, the same for every caller",
    "GET /api/playbooks": "the playbook library, the same for every caller",
    "GET /api/stream": "says only that the projections changed (a row count)",
    "GET /api/status": "the pipeline's counters and positions",
    "POST /api/ingest": "a write: each record is checked against the sender's regions",
    "POST /api/alerts/{alert_id}/ack": COMMAND,
    "POST /api/alerts/{alert_id}/silence": COMMAND,
    "POST /api/alerts/{alert_id}/unsilence": COMMAND,
    "POST /api/silences": COMMAND,
    "DELETE /api/silences/{silence_id}": COMMAND,
    "GET /api/projections/counts": AUDIT,
    "GET /api/quarantine": AUDIT,
    "POST /api/quarantine/retry": AUDIT,
    "GET /api/dlq": AUDIT,
    "POST /api/dlq/reveal": AUDIT,
    "POST /api/dlq/replay": AUDIT,
    "POST /api/admin/rebuild": AUDIT,
    "POST /api/persons": "a write: the route checks the region against the sender's",
    "POST /api/leads": "a write: the route checks the region against the sender's",
    "POST /api/persons/{person_id}/leads": COMMAND,
    "POST /api/persons/{person_id}/facts": COMMAND,
    "POST /api/persons/{person_id}/evaluate": COMMAND,
    "POST /api/persons/{person_id}/assign": COMMAND,
    "POST /api/persons/{person_id}/handover": COMMAND,
    "POST /api/persons/{person_id}/plan": COMMAND,
    "POST /api/persons/{person_id}/plan/revise": COMMAND,
    "POST /api/persons/{person_id}/plan/end": COMMAND,
    "POST /api/persons/{person_id}/visits": COMMAND,
    "POST /api/persons/{person_id}/services": COMMAND,
    "POST /api/persons/{person_id}/refusals": COMMAND,
    "POST /api/persons/{person_id}/placements": COMMAND,
    "POST /api/persons/{person_id}/exit": COMMAND,
    "POST /api/persons/{person_id}/subsidies": COMMAND,
    "POST /api/persons/{person_id}/subsidies/{application_id}/check": COMMAND,
    "POST /api/persons/{person_id}/subsidies/{application_id}/approve": COMMAND,
    "POST /api/persons/{person_id}/subsidies/{application_id}/reject": COMMAND,
    "POST /api/persons/{person_id}/subsidies/{application_id}/recoveries": COMMAND,
    "POST /api/persons/{person_id}/facts/correct": COMMAND,
    "POST /api/payment-batches": COMMAND,
    "POST /api/payment-batches/{batch_id}/export": COMMAND,
    "POST /api/payment-batches/{batch_id}/return": COMMAND,
    "POST /api/fraud-cases/{case_id}/confirm": COMMAND,
    "POST /api/fraud-cases/{case_id}/dismiss": COMMAND,
    "POST /api/welfare-posts": COMMAND,
    "POST /api/welfare-posts/{post_id}/candidates": COMMAND,
    "POST /api/welfare-posts/{post_id}/attendance": COMMAND,
    "POST /api/welfare-posts/{post_id}/attendance/{month}/sheet": COMMAND,
    "POST /api/persons/{person_id}/welfare-post/vacate": COMMAND,
    "GET /api/evaluations": "the province's: every region ranked (read:evaluation)",
    "GET /api/evaluations/live": "the province's: every region ranked (read:evaluation)",
    "POST /api/evaluations": COMMAND,
    "GET /api/evaluations/{evaluation_id}": "the province's: every region ranked",
    "GET /api/evaluations/{evaluation_id}/verify": "the province's: every region ranked",
    "GET /api/evaluations/{evaluation_id}/export": "the province's: every region ranked",
    "POST /api/persons/{person_id}/leads/{lead_id}/assign": COMMAND,
    "POST /api/persons/{person_id}/leads/{lead_id}/contact": COMMAND,
    "POST /api/persons/{person_id}/leads/{lead_id}/decline": COMMAND,
}


def _scope(*regions: str) -> Scope:
    return Scope(Principal("someone", "duty_officer", regions), SHANDONG)


# -- the rule ---------------------------------------------------------------------------


def test_an_unlimited_caller_sees_every_row() -> None:
    rows: list[dict[str, Any]] = [{"region": LANSHAN, "city": LINYI}, {"region": None}, {}]
    assert _scope().rows(rows) == rows
    assert _scope().regions_for() is None
    _scope().check(JINAN)


def test_a_city_sees_its_counties_by_the_rows_city_or_the_reference() -> None:
    rows: list[dict[str, Any]] = [
        {"region": LANSHAN, "city": LINYI},
        {"region": LIXIA, "city": JINAN},
        {"region": LINYI, "city": LINYI},
        {"region": None, "city": None},  # no region: an unlimited caller's only
    ]
    linyi = _scope(LINYI)
    assert linyi.rows(rows) == rows[0:1] + rows[2:3]
    assert linyi.rows([{"code": LANSHAN}, {"code": LIXIA}], region="code", city=None) == [
        {"code": LANSHAN}
    ]
    assert linyi.sees(LANSHAN) and not linyi.sees(LIXIA) and not linyi.sees(None)
    assert linyi.by_region({LANSHAN: 1, LIXIA: 2, LINYI: 3}) == {LANSHAN: 1, LINYI: 3}


def test_a_county_does_not_see_its_city_as_a_whole() -> None:
    lanshan = _scope(LANSHAN)
    assert lanshan.sees(LANSHAN)
    assert not lanshan.sees(LINYI) and not lanshan.sees("371311")
    # a city asked of the store holds the other counties too: the rows filter keeps Lanshan
    assert lanshan.regions_for(LINYI) == {LINYI}
    assert lanshan.regions_for() == {LANSHAN}
    rows = [{"region": LANSHAN, "city": LINYI}, {"region": "371311", "city": LINYI}]
    assert lanshan.rows(rows) == rows[:1]


def test_one_region_outside_is_refused_and_one_row_outside_does_not_exist() -> None:
    linyi = _scope(LINYI)
    linyi.check(LANSHAN)
    with pytest.raises(ForbiddenError, match=f"^region {JINAN} is outside your regions$"):
        linyi.check(JINAN)
    row = {"region": LANSHAN, "city": LINYI}
    assert linyi.found(row, "no such row") is row
    for missing in (None, {"region": LIXIA, "city": JINAN}):
        with pytest.raises(NotFoundError, match="^no such row$"):
            linyi.found(missing, "no such row")


# -- every route is held to the table -----------------------------------------------------


def _operations(app: FastAPI) -> dict[str, APIRoute]:
    found: dict[str, APIRoute] = {}

    def walk(routes: list[Any]) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(inner.routes)
            elif isinstance(route, APIRoute) and route.include_in_schema:
                for method in route.methods or ():
                    found[f"{method} {route.path}"] = route

    walk(app.routes)
    return found


def _reads_a_scope(dependant: Dependant) -> bool:
    """Whether a dependency of the route (at any depth) gives it a :class:`Scope`."""
    for dep in dependant.dependencies:
        call = dep.call
        if call is not None and typing.get_type_hints(call).get("return") is Scope:
            return True
        if _reads_a_scope(dep):
            return True
    return False


def test_every_route_that_reads_region_data_reads_it_through_the_scope() -> None:
    app = create_api(SimpleNamespace(settings=Settings()))  # type: ignore[arg-type]
    operations = _operations(app)
    classified = SCOPED | set(UNSCOPED)
    assert not SCOPED & set(UNSCOPED)
    assert set(operations) - classified == set(), (
        "a new route: add it to SCOPED (it answers with region data: declare "
        "scope: Scope = scoped(permission)) or to UNSCOPED with the reason"
    )
    assert classified - set(operations) == set(), "a route is gone: drop it from the table"
    unscoped = sorted(op for op in SCOPED if not _reads_a_scope(operations[op].dependant))
    assert unscoped == [], "these routes answer with region data without the caller's scope"


def test_the_rule_is_applied_in_one_place() -> None:
    """No router spells the rule: only the scope calls ``in_scope``."""
    callers = set()
    for path in Path(eams.http.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "in_scope":
                callers.add(path.name)
    assert callers <= {"scope.py"}


# -- what a limited caller gets -----------------------------------------------------------


VALUES = {"registrations_7d": {LANSHAN: 3.0, LIXIA: 7.0, LINYI: 3.0}}


def _get(tmp_path: Path, role: str, path: str, **params: Any) -> httpx.Response:
    """One GET by ``<role>-linyi`` (limited to Linyi) or ``<role>`` (unlimited), over the
    real app and a host with no store behind it."""

    def session(token: str) -> Principal | None:
        role, _, city = token.partition("-")
        return Principal(token, role, (LINYI,) if city else ())

    host: Any = SimpleNamespace(
        settings=Settings(state_dir=tmp_path),
        users=SimpleNamespace(session=session, api_key=lambda key: None),
        operator_token=None,
        evaluator=SimpleNamespace(values=VALUES),
        primary=SHANDONG,
    )
    headers = {"Authorization": f"Bearer {role}"} if role else {}

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_api(host))
        async with httpx.AsyncClient(transport=transport, base_url="http://eams") as client:
            return await client.get(path, params=params, headers=headers)

    return asyncio.run(go())


def test_a_city_reads_only_its_regions_and_is_told_so(tmp_path: Path) -> None:
    linyi, province = "duty_officer-linyi", "duty_officer"
    children = _get(tmp_path, linyi, "/api/regions/370000/children")
    assert [r["code"] for r in children.json()] == [LINYI]
    assert len(_get(tmp_path, province, "/api/regions/370000/children").json()) == 16
    assert _get(tmp_path, linyi, f"/api/regions/{JINAN}/children").json() == []
    unknown = _get(tmp_path, linyi, "/api/regions/999999/children")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no region '999999'; see `eams regions list`"}

    refused = _get(tmp_path, linyi, "/api/trends", region=JINAN)
    assert refused.status_code == 403
    assert refused.json() == {"detail": f"region {JINAN} is outside your regions"}
    assert _get(tmp_path, linyi, "/api/trends", region="999999").json() == {
        "detail": "no region '999999'"
    }

    assert _get(tmp_path, linyi, "/api/indicators").json() == {
        "registrations_7d": {LANSHAN: 3.0, LINYI: 3.0}
    }
    assert _get(tmp_path, province, "/api/indicators").json() == VALUES
    assert _get(tmp_path, linyi, "/api/indicators", region=LANSHAN).json() == {
        "registrations_7d": 3.0
    }
    outside = _get(tmp_path, linyi, "/api/indicators", region=LIXIA)
    assert outside.status_code == 403
    assert outside.json() == {"detail": f"region {LIXIA} is outside your regions"}


def test_the_scope_admits_the_caller_like_need(tmp_path: Path) -> None:
    anonymous = _get(tmp_path, "", "/api/indicators")
    assert anonymous.status_code == 401 and "POST /api/session" in anonymous.json()["detail"]
    refused = _get(tmp_path, "case_officer", "/api/alerts")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "role 'case_officer' may not read alerts"}
