"""The case routes' own rules, before any store is read: whose worklist a request means,
what it refuses (a detail read without a purpose, a malformed pseudonym, a region outside
the caller's, a role without ``read:cases``), and the region names added for people. The
real app factory over a host with no worker behind it; no network."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from eams.auth import Principal
from eams.http.app import create_api
from eams.http.cases import _named, _selection
from eams.http.errors import ForbiddenError
from eams.http.scope import Scope
from eams.settings import Settings
from events.regions import load_reference
from projections.case_queries import Selection

SHANDONG = load_reference("shandong")
LINYI, LANSHAN, JINAN = "371300", "371302", "370100"
PERSON = "p_" + "0" * 32


def _scope(name: str, *regions: str) -> Scope:
    return Scope(Principal(name, "case_officer", regions), SHANDONG)


def test_a_worklist_is_the_callers_own_unless_it_names_whose() -> None:
    assert _selection(_scope("li", LINYI), None, None, None) == Selection(
        officer="li", regions=frozenset({LINYI})
    )
    assert _selection(_scope("li", LINYI), None, None, LANSHAN) == Selection(
        regions=frozenset({LANSHAN})
    )
    assert _selection(_scope("li", LINYI), "wang", None, None) == Selection(
        officer="wang", regions=frozenset({LINYI})
    )
    assert _selection(_scope("admin"), None, LANSHAN, None) == Selection(office=LANSHAN)
    with pytest.raises(ForbiddenError, match=f"^region {JINAN} is outside your regions$"):
        _selection(_scope("li", LINYI), None, None, JINAN)
    with pytest.raises(ForbiddenError):
        _selection(_scope("li", LINYI), None, "370102", None)


def test_the_selection_reads_one_worklist_range_and_checks_the_row() -> None:
    sel = Selection(officer="li", regions=frozenset({LINYI}))
    assert sel.index() == "dimension = 'officer' AND key = {officer:String}"
    assert sel.params() == {"officer": "li", "office": "", "regions": [LINYI]}
    check = sel.check()
    assert "officer = {officer:String}" in check and "city IN {regions:Array(String)}" in check
    assert "key IN {regions:Array(String)}" in str(Selection(regions=frozenset({LINYI})).index())
    assert Selection().index() is None  # every case: the ledger itself


def test_rows_are_given_region_names() -> None:
    rows = _named(SHANDONG, [{"region": LANSHAN, "city": LINYI}, {"region": None}])
    assert rows[0] | {} == {
        "region": LANSHAN, "city": LINYI, "region_name": "兰山区",
        "region_name_en": SHANDONG.get(LANSHAN).name_en,  # type: ignore[union-attr]
        "city_name": "临沂市", "city_name_en": SHANDONG.get(LINYI).name_en,  # type: ignore[union-attr]
    }  # fmt: skip
    assert rows[1]["region_name"] is None and rows[1]["city_name"] is None


def _get(tmp_path: Path, token: str, path: str, **params: Any) -> httpx.Response:
    """One GET as ``<role>`` or ``<role>-linyi`` over the real app and a host without a
    store: only what is refused before the store is reached can be asked."""

    def session(value: str) -> Principal | None:
        role, _, city = value.partition("-")
        return Principal(value, role, (LINYI,) if city else ())

    host: Any = SimpleNamespace(
        settings=Settings(state_dir=tmp_path),
        users=SimpleNamespace(session=session, api_key=lambda key: None),
        operator_token=None,
        evaluator=None,
        primary=SHANDONG,
    )

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_api(host))
        async with httpx.AsyncClient(transport=transport, base_url="http://eams") as client:
            return await client.get(
                path, params=params, headers={"Authorization": f"Bearer {token}"}
            )

    return asyncio.run(go())


def test_a_detail_read_without_a_purpose_is_refused_naming_it(tmp_path: Path) -> None:
    for path in (f"/api/persons/{PERSON}", f"/api/persons/{PERSON}/timeline"):
        answer = _get(tmp_path, "case_officer-linyi", path)
        assert answer.status_code == 422
        assert [e["loc"] for e in answer.json()["detail"]] == [["query", "purpose"]]
    bad = _get(tmp_path, "case_officer", "/api/persons/370102199001011234", purpose="核对")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["path", "person_id"]


def test_roles_and_regions_are_refused_before_the_store(tmp_path: Path) -> None:
    analyst = _get(tmp_path, "analyst", "/api/cases")
    assert analyst.status_code == 403
    assert analyst.json() == {"detail": "role 'analyst' may not read cases"}
    duty = _get(tmp_path, "duty_officer", f"/api/persons/{PERSON}", purpose="核对")
    assert duty.status_code == 403
    officer = _get(tmp_path, "case_officer", "/api/audit/person-reads")
    assert officer.json() == {"detail": "role 'case_officer' may not read audit"}
    for path in (
        "/api/cases",
        "/api/cases/visits-due",
        "/api/leads/funnel",
        "/api/cases/clearing",
        "/api/cases/summary",
    ):
        outside = _get(tmp_path, "case_officer-linyi", path, region=JINAN)
        assert outside.status_code == 403
        assert outside.json() == {"detail": f"region {JINAN} is outside your regions"}
