"""Sign-in, roles, region scoping, small-cell suppression and API keys, against a real
worker: each role sees and does only its part, and every command records its actor. A
city's duty officer reads every GET route of the app (enumerated from its OpenAPI document,
path parameters filled with every real id) and no answer names a region of another city."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import encode, event, produce

from eams.auth import UserStore
from events.identity import make_national_id
from events.regions import load_reference

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
RULES = """rules:
  - id: disaster-city
    title: 灾区 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {level: city}
    levels:
      IV: {enter: 1, exit: 1}
"""


def _flag(disaster_id: str, city: str, county: str) -> dict[str, Any]:
    today = dt.date.today().isoformat()
    return event("disaster_area.flagged", city, {
        "disaster_id": disaster_id, "kind": "natural_disaster", "severity": "IV",
        "regions": [county], "title": "洪涝", "period_start": today})  # fmt: skip


@pytest.fixture
def clients() -> Iterator[list[httpx.Client]]:
    """HTTP clients of the test, closed at its end."""
    made: list[httpx.Client] = []
    yield made
    for client in made:
        client.close()


def _client(clients: list[httpx.Client], worker: Any, **kw: Any) -> httpx.Client:
    client = httpx.Client(base_url=str(worker.api.base_url), timeout=30, **kw)
    clients.append(client)
    return client


def _signed_in(clients: list[httpx.Client], worker: Any, name: str) -> httpx.Client:
    client = _client(clients, worker)
    answer = client.post("/api/session", json={"name": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    assert client.cookies.get("eams_session")  # the console's cookie
    return client


CODE = re.compile(r"\d{6}")
#: GET routes that answer every caller the same, whatever their regions: not region data
#: (the map draws every city; the vocabulary and the session are not about regions).
SAME_FOR_ALL = {"/api/geo/shandong", "/api/vocabulary", "/api/me", "/api/stream"}


def _regions_named(doc: Any) -> Iterator[str]:
    """Every region code an answer names: as a row's region, city, area or code, or as
    the key of a mapping by region."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if CODE.fullmatch(str(key)):
                yield str(key)
            if key in ("region", "city", "area", "code") and CODE.fullmatch(str(value)):
                yield str(value)
            yield from _regions_named(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _regions_named(value)


def _gets(schema: dict[str, Any], ids: dict[str, list[str]]) -> list[tuple[str, dict[str, Any]]]:
    """Every GET route with every real id for its path parameters and the queries the test
    knows it needs (regions of both cities); a new route with a parameter the test does not
    know fails here."""
    day = dt.date.today()
    both = [{"region": r} for r in ("371300", "371302", "370100", "370102")]
    queries: dict[str, list[dict[str, Any]]] = {
        "/api/alerts": [{}, {"status": ""}, *both],
        "/api/indicators": [{}, *both],
        "/api/trends": both,
        "/api/rules/backtest": [{"start": str(day - dt.timedelta(days=3)), "end": str(day)}],
        "/api/playbooks/{playbook_id}/simulate": [{**q, "level": "IV"} for q in both],
        "/api/playbook-runs": [{}, *both],
        # a person's detail is read only with a purpose (and audited)
        "/api/persons/{person_id}": [{"purpose": "scope check"}],
        "/api/persons/{person_id}/timeline": [{"purpose": "scope check"}],
        "/api/persons/{person_id}/explain": [{"purpose": "scope check"}],
        "/api/evaluations/live": [{"period": "2026-Q1"}],
    }
    out: list[tuple[str, dict[str, Any]]] = []
    for path, ops in schema["paths"].items():
        if "get" not in ops or path in SAME_FOR_ALL:
            continue
        params = ops["get"].get("parameters", [])
        known = queries.get(path, [{}])
        for p in params:
            if p["in"] == "query" and p.get("required"):
                assert all(p["name"] in q for q in known), f"{path}: give the test a {p['name']}"
        paths = [path]
        for name in (p["name"] for p in params if p["in"] == "path"):
            assert name in ids, f"{path}: give the test the ids of {name}"
            paths = [p.replace("{" + name + "}", v) for p in paths for v in ids[name]]
        out += [(p, q) for p in paths for q in known]
    return out


def _cities_read(client: httpx.Client, gets: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """The cities of every region the caller's answers to ``gets`` name."""
    reference = load_reference("shandong")
    named: set[str] = set()
    for path, query in gets:
        answer = client.get(path, params=query)
        assert answer.status_code in (200, 403, 404, 422), (path, query, answer.text)
        if answer.status_code == 200:
            named |= {reference.city_of(c) or c for c in _regions_named(answer.json())}
    return named


def test_roles_scopes_suppression_and_keys(
    worker_factory: Any, tmp_path: Path, clients: list[httpx.Client]
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    worker = worker_factory(EAMS_RULES=str(tmp_path / "rules.yaml"), EAMS_RISK_INTERVAL="0.3")
    users = UserStore(worker.state_dir / "users.sqlite")
    users.add_user("analyst-a", "analyst", PASSWORD, [])
    users.add_user("duty-linyi", "duty_officer", PASSWORD, ["371300"])
    users.add_user("duty-province", "duty_officer", PASSWORD, [])
    users.add_user("case-linyi", "case_officer", PASSWORD, ["371300"])
    people = [event("person.registered", "371302", {
        "national_id": make_national_id("371302", dt.date(1990, 1, 1), i),
        "target_group": "employment_difficulty", "employment_status": "unemployed"})
        for i in range(3)]  # fmt: skip
    flags = [_flag("f-ly", "371300", "371302"), _flag("f-jn", "370100", "370102")]
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([*people, *flags]))

    anonymous = _client(clients, worker)
    refused = anonymous.get("/api/alerts")
    assert refused.status_code == 401 and "POST /api/session" in refused.json()["detail"]
    wrong = anonymous.post("/api/session", json={"name": "analyst-a", "password": "nope"})
    assert wrong.status_code == 401
    guesses = [anonymous.post("/api/session", json={"name": "duty-province", "password": str(i)})
               for i in range(6)]  # fmt: skip
    # 5 failures are free; then each attempt must wait (1 s, 2 s … at most 60 s), refused
    # before the password is hashed, with Retry-After.
    assert [g.status_code for g in guesses] == [401] * 5 + [429]
    assert "try again in 1 s" in guesses[-1].json()["detail"]
    assert guesses[-1].headers["retry-after"] == "1"
    users.add_user("duty-province-2", "duty_officer", PASSWORD, [])  # others are not slowed

    province = _signed_in(clients, worker, "duty-province-2")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(province.get("/api/alerts").json()) < 2:
        time.sleep(0.2)
    assert {a["region"] for a in province.get("/api/alerts").json()} == {"371300", "370100"}

    # A city's duty officer sees only their city, and acts as themselves.
    linyi = _signed_in(clients, worker, "duty-linyi")
    [mine] = linyi.get("/api/alerts").json()
    assert mine["region"] == "371300"
    jinan_id = next(a["alert_id"] for a in province.get("/api/alerts").json()
                    if a["region"] == "370100")  # fmt: skip
    assert linyi.get(f"/api/alerts/{jinan_id}").status_code == 404
    assert linyi.post(f"/api/alerts/{jinan_id}/ack", json={}).status_code == 404
    acked = linyi.post(f"/api/alerts/{mine['alert_id']}/ack",
                       json={"actor": "someone-else", "note": "处置中"})  # fmt: skip
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "duty-linyi"
    assert [c["code"] for c in linyi.get("/api/overview/cities").json()] == ["371300"]

    # An analyst reads but cannot act; small counts are suppressed.
    analyst = _signed_in(clients, worker, "analyst-a")
    me = analyst.get("/api/me").json()
    assert me["role"] == "analyst" and "act:alerts" not in me["permissions"]
    assert me["small_cells_suppressed"] is True
    no = analyst.post(f"/api/alerts/{jinan_id}/ack", json={})
    assert no.status_code == 403 and "analyst" in no.json()["detail"]
    assert analyst.post("/api/ingest", json=people[0]).status_code == 403
    cities = {c["code"]: c for c in analyst.get("/api/overview/cities").json()}
    assert len(cities) == 16
    assert cities["371300"]["persons"] == "<5"  # 3 registered: suppressed for analysts
    every = {c["code"]: c for c in province.get("/api/overview/cities").json()}
    assert every["371300"]["persons"] == 3
    seen = analyst.get("/api/indicators", params={"region": "371302"}).json()
    assert seen["registrations_7d"] == "<5"
    assert province.get("/api/indicators", params={"region": "371302"}).json()[
        "registrations_7d"] == 3.0  # fmt: skip

    # Analysts read a run's figures, not its person-level timeline.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not analyst.get("/api/playbook-runs").json():
        time.sleep(0.2)
    run_id = analyst.get("/api/playbook-runs").json()[0]["run_id"]
    assert analyst.get(f"/api/playbook-runs/{run_id}").status_code == 200
    assert analyst.get(f"/api/playbook-runs/{run_id}/timeline").status_code == 403
    assert province.get(f"/api/playbook-runs/{run_id}/timeline").status_code == 200

    # Every GET route, read by the city's officer, names only its city's regions; read by
    # the province's, the same requests name Jinan's too (there was something to hide).
    ids = {
        "alert_id": [a["alert_id"] for a in province.get("/api/alerts?status=").json()],
        "run_id": [r["run_id"] for r in province.get("/api/playbook-runs").json()],
        "playbook_id": [p["id"] for p in province.get("/api/playbooks").json()],
        "code": ["370000", "371300", "370100"],
        "person_id": ["p_" + "0" * 32],  # duty officers may not read cases: 403 either way
        # the money and the evaluation: not these roles' (403), whichever the id
        "batch_id": ["pb-371302-2026-03-1"],
        "evaluation_id": ["ev-shandong-assistance-2026-Q1"],
        "post_id": ["wp-371302-none"],  # a post: 404 to an officer, 403 to the others
    }
    gets = _gets(province.get("/openapi.json").json(), ids)
    assert _cities_read(linyi, gets) == {"371300"}
    assert {"371300", "370100"} <= _cities_read(province, gets)
    jinan = {"region": "370100"}
    assert linyi.get("/api/trends", params=jinan).json() == {
        "detail": "region 370100 is outside your regions"
    }
    assert linyi.get("/api/indicators", params=jinan).status_code == 403
    assert linyi.get("/api/alerts", params=jinan).json() == []

    # The acknowledgement carries the signed-in user as its actor.
    def acks() -> list[dict[str, Any]]:
        timeline = province.get(f"/api/alerts/{mine['alert_id']}/timeline").json()
        return [e for e in timeline if e["event_type"] == "alert.acknowledged"]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not acks():
        time.sleep(0.2)
    [ack_event] = acks()
    assert ack_event["actor"] == "duty-linyi"

    # Source systems: an API key for ingest only; its events' source is its name.
    key = users.add_key("civil-affairs")
    feed = _client(clients, worker, headers={"X-API-Key": key})
    good = event("person.registered", "371311", {
        "national_id": make_national_id("371311", dt.date(1991, 1, 1), 9),
        "target_group": "employment_difficulty", "employment_status": "unemployed"})  # fmt: skip
    del good["source"]
    assert feed.post("/api/ingest", json=good).status_code == 200
    posing = feed.post("/api/ingest", json=dict(good, source="tax-bureau"))
    assert posing.status_code == 422 and posing.json()["results"][0]["field"] == "source"
    assert feed.get("/api/alerts").status_code == 403
    users.disable_key("civil-affairs")
    assert feed.post("/api/ingest", json=good).status_code == 401

    # A signed-in case officer ingests as themselves, for their own regions only.
    case = _signed_in(clients, worker, "case-linyi")
    own = dict(good, event_id=str(uuid.uuid4()), actor="case-linyi")
    assert case.post("/api/ingest", json=own).status_code == 200
    posing = case.post("/api/ingest", json=dict(own, event_id=str(uuid.uuid4()), actor="x"))
    assert posing.status_code == 422 and posing.json()["results"][0]["field"] == "actor"
    jinan_nid = make_national_id("370102", dt.date(1992, 1, 1), 9)
    jinan_person = dict(own, event_id=str(uuid.uuid4()), region="370102",
                        payload=dict(good["payload"], national_id=jinan_nid))  # fmt: skip
    outside = case.post("/api/ingest", json=jinan_person)
    assert outside.status_code == 422 and outside.json()["results"][0]["field"] == "region"

    # Disabling a user ends their session at once.
    users.disable("duty-linyi")
    assert linyi.get("/api/alerts").status_code == 401
    assert anonymous.post("/api/session", json={"name": "duty-linyi",
                          "password": PASSWORD}).status_code == 401  # fmt: skip
