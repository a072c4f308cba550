"""Small cells stay small, on a real worker: an analyst reads every GET route of the app
(enumerated from its OpenAPI document, path parameters filled with real ids) and no answer
shows a count from 1 to 4 or lets one be worked out by subtraction.

The data hold known small counts in one county, 兰山区 371302 (3 people laid off today and 2
ten days ago, 2 registrations, 1 claim, 2 enrolled by a playbook run, 2 subsidies paid),
beside larger counts in its sibling counties and in Jinan; an auditor reading the same
routes sees the small counts themselves, so the test is not vacuous.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from fixtures import wait_ticks
from helpers import encode, event, produce, signed_in

from eams.auth import UserStore
from events.clock import SHANGHAI, today
from events.identity import make_national_id
from projections.disclosure import ANALYST_WINDOWS, SMALL, WITHHELD

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
SMALL_COUNTY, LINYI, JINAN_COUNTY = "371302", "371300", "370102"
RULES = """rules:
  - id: disaster-city
    title: 灾区 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {level: city}
    levels:
      IV: {enter: 1, exit: 1}
  - id: layoffs-county
    title: 裁员 / People laid off
    indicator: people_laid_off_7d
    kind: absolute
    scope: {level: county}
    levels:
      IV: {enter: 1, exit: 1}
"""
#: Numbers under 5 that are not counts of people or events: severities, public disaster
#: flags, workflow of a run (steps, notes, the run's own events), seconds, the GeoJSON
#: map, rules' thresholds (configuration), a notification's attempt, ratios and the risk
#: index (withheld when a count behind them is: asserted below). Anything else is a leak.
NOT_COUNTS = {
    "disaster_area", "disaster_areas", "disaster_flags", "disaster_clears", "attempt",
    "steps_total", "steps_completed", "steps_on_time", "steps_late", "steps_open",
    "open_steps", "overdue_steps", "assignments", "notes", "own_events", "deadline_seconds",
    "late_by_seconds", "took_seconds", "features", "thresholds", "claims_vs_prior_years",
    "applicant_to_vacancy_ratio", "job_loss_rate", "risk_index",
    "rank",  # a level's place on the severity scale (GET /api/vocabulary), 1 to 4 by definition
    # a rate, not a count: withheld with its count when that is small (see the test below)
    "people_laid_off_7d_per_million",
}  # fmt: skip
FREE = (("note",), ("evidence",), ("ack_note",), ("reason",), ("decline_reason",))
COUNTS = ("people_laid_off", "registrations", "reg_temporary_assistance", "claims")


def _at(days_ago: int) -> dt.datetime:
    return dt.datetime.now(SHANGHAI) - dt.timedelta(days=days_ago, minutes=1)


def _layoff(region: str, n: int, days_ago: int = 0) -> dict[str, Any]:
    return event("layoff.reported", region, {"enterprise_name": f"厂{region}{n}",
                 "laid_off": n}, at=_at(days_ago))  # fmt: skip


def _person(region: str, seq: int, group: str, status: str) -> dict[str, Any]:
    nid = make_national_id(region, dt.date(1980, 1, 1), seq)
    return event("person.registered", region, {"national_id": nid, "target_group": group,
                 "employment_status": status}, at=_at(0))  # fmt: skip


def _claim(region: str, seq: int) -> dict[str, Any]:
    nid = make_national_id(region, dt.date(1980, 1, 1), seq)
    return event("unemployment_claim.filed", region, {"national_id": nid}, at=_at(1))


def _flag(disaster_id: str, city: str, county: str) -> dict[str, Any]:
    return event("disaster_area.flagged", city, {
        "disaster_id": disaster_id, "kind": "natural_disaster", "severity": "IV",
        "regions": [county], "title": "洪涝", "period_start": today().isoformat()})  # fmt: skip


def _data() -> list[dict[str, Any]]:
    """Small counts in 371302; its siblings 371311 (large) and 371312 (7 laid off: the
    next smallest, so the complement); Jinan large."""
    out = [_layoff(SMALL_COUNTY, 3), _layoff(SMALL_COUNTY, 2, days_ago=10),
           _layoff("371311", 40), _layoff("371312", 7), _layoff(JINAN_COUNTY, 250)]  # fmt: skip
    out += [_person(SMALL_COUNTY, i, "temporary_assistance", "unemployed") for i in (1, 2)]
    out += [_person("371311", 10 + i, "employment_difficulty", "employed") for i in range(8)]
    out += [_person("371312", 20 + i, "employment_difficulty", "employed") for i in range(6)]
    out += [_person(JINAN_COUNTY, 30 + i, "temporary_assistance", "unemployed") for i in range(7)]
    out += [_claim(SMALL_COUNTY, 1)] + [_claim("371311", 10 + i) for i in range(9)]
    out += [_claim("371312", 20 + i) for i in range(6)] + [_claim(JINAN_COUNTY, 30 + i)
                                                         for i in range(7)]  # fmt: skip
    return out


def _wait(what: str, check: Any, worker: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {got}\n{worker.tail()}")


Request = tuple[str, dict[str, Any]]


def _run_playbook(worker: Any, run_id: str, *, close: bool) -> None:
    """Activate as the operator, assess, approve, review and (``close``) close the run, with a
    note that counts people (free text an analyst must not get)."""
    api = worker.api

    def post(path: str, body: dict[str, Any]) -> None:
        answer = api.post(f"/api/playbook-runs/{run_id}{path}", json={"actor": "ops"} | body)
        assert answer.status_code == 200, answer.text

    def completed(step: str) -> bool:
        run = api.get(f"/api/playbook-runs/{run_id}").json()
        return any(s["step_id"] == step and s["status"] == "completed" for s in run["steps"])

    post("/activate", {})
    post("/steps/assess/complete", {"note": "3 人失业 / 3 people out of work"})
    post("/notes", {"note": "兰山区 2 人已登记 / 2 people registered"})
    if not close:
        return
    _wait("the enrolment", lambda: completed("enrol"), worker)
    # the batch pays whom the projections hold as enrolled: wait for both
    _wait("enrolments projected", lambda: api.get(f"/api/playbook-runs/{run_id}").json()[
        "outcomes"]["still_enrolled"] == 2, worker)  # fmt: skip
    post("/steps/approve_subsidy/complete", {"note": "2 人"})
    _wait("the payments", lambda: completed("pay_subsidy") and completed("job_fair"), worker)
    _wait("payments projected", lambda: api.get(f"/api/playbook-runs/{run_id}").json()[
        "outcomes"]["subsidies_paid"] == 2, worker)  # fmt: skip
    post("/steps/review/complete", {"evidence": "2 份材料"})
    post("/close", {})


def _requests(
    schema: dict[str, Any], ids: dict[str, list[str]]
) -> list[tuple[str, dict[str, Any]]]:
    """Every GET route with real path parameters and each query the test knows it needs;
    a new route with a required parameter the test does not know fails here."""
    day = today()
    queries: dict[str, list[dict[str, Any]]] = {
        "/api/overview/cities": [{}] + [{"days": d} for d in ANALYST_WINDOWS],
        "/api/indicators": [{}, {"region": SMALL_COUNTY}, {"region": LINYI}],
        "/api/trends": [{"region": r, "days": 60} for r in (SMALL_COUNTY, LINYI, "370000")],
        "/api/rules/backtest": [{"start": str(day - dt.timedelta(days=12)), "end": str(day)}],
        "/api/alerts": [{}, {"status": ""}],
        "/api/playbooks/{playbook_id}/simulate": [{"region": SMALL_COUNTY, "level": "IV"}],
        # persons' detail: analysts may not read it (403), whoever the person is
        "/api/persons/{person_id}": [{"purpose": "disclosure check"}],
        "/api/persons/{person_id}/timeline": [{"purpose": "disclosure check"}],
        "/api/persons/{person_id}/explain": [{"purpose": "disclosure check"}],
        "/api/evaluations/live": [{"period": "2026-Q1"}],
    }
    out: list[Request] = []
    for path, ops in schema["paths"].items():
        if "get" not in ops or path == "/api/stream":
            continue
        params = [p for p in ops["get"].get("parameters", []) if p["in"] == "query"]
        known = queries.get(path, [{}])
        for p in params:
            if p.get("required"):
                assert all(p["name"] in q for q in known), f"{path}: give the test a {p['name']}"
        names = [p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "path"]
        paths = [path]
        for name in names:
            paths = [p.replace("{" + name + "}", v) for p in paths for v in ids[name]]
        out += [(p, q) for p in paths for q in known]
    return out


def _leaves(doc: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(doc, dict):
        if doc.get("indicator") == "disaster_area" or doc.get("rule") == "disaster-city":
            path = (*path, "disaster_area")  # an alert on a severity: not a count
        own = "run_id" in doc or "alert_id" in doc  # its "events": those of the run or alert
        for k, v in doc.items():
            yield from _leaves(v, (*path, "own_events" if own and k == "events" else str(k)))
    elif isinstance(doc, list):
        for v in doc:
            yield from _leaves(v, path)
    elif isinstance(doc, str) and doc.startswith("{") and path[-1:] in (("payload",), ("report",)):
        yield from _leaves(orjson.loads(doc), path)
    else:
        yield path, doc


def _small(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 5


def _no_small_number(where: str, doc: Any) -> None:
    leaks = [(p, v) for p, v in _leaves(doc) if _small(v) and not NOT_COUNTS & set(p)]
    assert not leaks, f"{where}: counts under 5 shown to an analyst: {leaks[:10]}"


def _no_free_text(where: str, doc: Any) -> None:
    texts = [(p, v) for p, v in _leaves(doc) if p[-1:] in FREE and v]
    assert not texts, f"{where}: free text shown to an analyst: {texts}"


def _withheld(value: Any) -> bool:
    return value in (SMALL, WITHHELD)


def _no_lone_withheld(where: str, parent: Any, children: list[Any]) -> None:
    """A shown total with exactly one withheld part gives that part away."""
    if isinstance(parent, int | float) and sum(map(_withheld, children)) == 1:
        raise AssertionError(f"{where}: total {parent} minus the shown parts reveals {children}")


def test_an_analyst_reads_every_route_and_sees_no_small_count(
    worker_factory: Any, tmp_path: Any, clients: list[httpx.Client]
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    worker = worker_factory(EAMS_RULES=str(tmp_path / "rules.yaml"), EAMS_RISK_INTERVAL="0.3")
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("analyst-a", "analyst", PASSWORD, [])
    users.add_user("auditor-a", "auditor", PASSWORD, [])
    topic = worker.settings.topics.ingest_raw
    produce(worker.kafka("raw"), topic, encode(_data()))
    worker.wait_settled()
    flags = [_flag("f-ly", LINYI, SMALL_COUNTY), _flag("f-jn", "370100", JINAN_COUNTY)]
    produce(worker.kafka("raw"), topic, encode(flags))

    def proposed() -> list[dict[str, Any]]:
        runs = worker.api.get("/api/playbook-runs").json()
        return [r for r in runs if r["status"] == "proposed"]

    found = _wait("two proposed runs", lambda: len(p := proposed()) == 2 and p, worker)
    runs = {r["area"]: r["run_id"] for r in found}
    _run_playbook(worker, runs[LINYI], close=True)  # 2 enrolled, 2 paid: small
    _run_playbook(worker, runs["370100"], close=False)  # stays active: on the board
    wait_ticks(worker, "evaluator", 3)
    wait_ticks(worker, "playbooks", 3)
    worker.wait_settled()

    analyst = signed_in(clients, worker, "analyst-a", PASSWORD)
    auditor = signed_in(clients, worker, "auditor-a", PASSWORD)

    # The worker holds the small counts (the auditor sees them), so the test is not vacuous.
    seen = auditor.get("/api/indicators", params={"region": SMALL_COUNTY}).json()
    assert seen["people_laid_off_7d"] == 3 and seen["registrations_7d"] == 2
    cities = {c["code"]: c for c in auditor.get("/api/overview/cities").json()}
    assert cities[LINYI]["people_laid_off"] == 3 + 2 + 40 + 7
    run = auditor.get(f"/api/playbook-runs/{runs[LINYI]}").json()
    assert run["outcomes"]["people_enrolled"] == 2 and run["outcomes"]["subsidies_paid"] == 2

    # The analyst's table is at most a moment old: wait until it shows today's data.
    _wait("the analyst's overview", lambda: {c["code"]: c for c in analyst.get(
        "/api/overview/cities", params={"days": 7}).json()}[LINYI]["people_laid_off"] == 50,
        worker)  # fmt: skip

    schema = analyst.get("/openapi.json").json()
    alerts = auditor.get("/api/alerts", params={"status": ""}).json()
    ids = {
        "alert_id": [a["alert_id"] for a in alerts],
        "run_id": list(runs.values()),
        "playbook_id": [p["id"] for p in auditor.get("/api/playbooks").json()],
        "code": [LINYI, "370000"],
        "person_id": ["p_" + "0" * 32],
        # the money and the evaluation: not these roles' (403), whichever the id
        "batch_id": ["pb-371302-2026-03-1"],
        "evaluation_id": ["ev-shandong-assistance-2026-Q1"],
        "post_id": ["wp-371302-none"],  # a post: 404 to an officer, 403 to the others
    }
    assert any(a["region"] == SMALL_COUNTY for a in alerts)
    answers: dict[tuple[str, str], Any] = {}
    for path, query in _requests(schema, ids):
        got = analyst.get(path, params=query)
        where = f"GET {path} {query}"
        assert got.status_code < 500, f"{where}: {got.status_code} {got.text[:300]}"
        if got.status_code != 200:
            assert got.status_code == 403, f"{where}: {got.status_code} {got.text[:300]}"
            continue
        doc = got.json()
        _no_small_number(where, doc)
        _no_free_text(where, doc)
        answers[(path, orjson.dumps(query, option=orjson.OPT_SORT_KEYS).decode())] = doc
    assert analyst.get(f"/api/playbook-runs/{runs[LINYI]}/timeline").status_code == 403

    def answer(path: str, **query: Any) -> Any:
        return answers[(path, orjson.dumps(query, option=orjson.OPT_SORT_KEYS).decode())]

    # days=N: fixed windows only; two windows never differ by a small count.
    refused = analyst.get("/api/overview/cities", params={"days": 8})
    assert refused.status_code == 422 and "7, 14, 28, 90, 365" in refused.json()["detail"]
    windows = [answer("/api/overview/cities", days=d) for d in ANALYST_WINDOWS]
    windows.append(answer("/api/overview/cities"))
    for i, small in enumerate(windows):
        for large in windows[i + 1 :]:
            for a, b in zip(small, large, strict=True):
                for column in COUNTS:
                    x, y = a[column], b[column]
                    if isinstance(x, int) and isinstance(y, int):
                        assert not 0 < y - x < 5, f"{a['code']} {column}: {y} - {x}"
    linyi_week = {c["code"]: c for c in windows[0]}[LINYI]
    assert linyi_week["people_laid_off"] == 50  # shown: its parts protect each other
    # 14 days hold the 2 laid off ten days ago: 52 - 50 would give them away
    assert _withheld({c["code"]: c for c in windows[1]}[LINYI]["people_laid_off"])

    # A city minus its shown counties reveals no county (complementary suppression).
    values = answer("/api/indicators")
    counties = ["371302", "371311", "371312"]
    for name in ("people_laid_off_7d", "registrations_7d", "claims_28d"):
        per = values[name]
        _no_lone_withheld(name, per.get(LINYI), [per.get(c) for c in counties if c in per])
    assert values["people_laid_off_7d"][SMALL_COUNTY] == SMALL
    assert values["people_laid_off_7d"]["371312"] == WITHHELD  # the next smallest
    assert values["people_laid_off_7d"]["371311"] == 40
    # the rate per million residents: for the city (the counties' populations are not in the
    # reference), shown as its count is; times the population it is the count
    rate = values["people_laid_off_7d_per_million"]
    assert rate[LINYI] == pytest.approx(50 * 1_000_000 / 11_018_000)
    assert not set(rate) & {SMALL_COUNTY, *counties}
    assert values["risk_index"][SMALL_COUNTY] == WITHHELD
    # A week of days minus its shown days reveals no day.
    trend = answer("/api/trends", region=SMALL_COUNTY, days=60)
    week = today() - dt.timedelta(days=7)
    last_week = [
        d["people_laid_off"] for d in trend["days"] if dt.date.fromisoformat(d["day"]) > week
    ]
    _no_lone_withheld("trend", values["people_laid_off_7d"][SMALL_COUNTY], last_week)

    # Alerts on counts: value and threshold withheld, and the summary does not repeat them.
    mine = [a for a in answer("/api/alerts", status="") if a["region"] == SMALL_COUNTY]
    assert mine and all(a["value"] == SMALL and " 3（" not in a["summary"] for a in mine)
    # Run figures, reports and notes.
    closed = answer(f"/api/playbook-runs/{runs[LINYI]}")
    assert closed["outcomes"]["people_enrolled"] == SMALL and closed["notes"] == []
    assert closed["outcomes"]["subsidy_amount"] == WITHHELD
    assert closed["report"]["counts"]["people_enrolled"] == SMALL
    enrolled = {r["region"]: r for r in answer("/api/temporary-assistance")}
    assert enrolled[SMALL_COUNTY]["enrolled_total"] == SMALL

    # The live stream says that something changed, never how much.
    with analyst.stream("GET", "/api/stream", timeout=30) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                assert orjson.loads(line[5:]) == {}
                break
    with auditor.stream("GET", "/api/stream", timeout=30) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                assert orjson.loads(line[5:])["rows"] > 0
                break
