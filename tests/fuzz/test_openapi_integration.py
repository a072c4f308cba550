"""schemathesis against the OpenAPI document of a real worker, as every role.

One real ``eams run`` (real broker, real chDB) is seeded through ``POST /api/ingest`` so that
alerts, playbook runs, silences and regions exist; one user per role signs in, plus a case
officer scoped to 临沂 (371300), an API key and nobody at all. schemathesis generates the
inputs of every operation of ``/openapi.json`` (its coverage phase: boundary and invalid
values of each parameter; then random ones, valid and invalid), and every generated request
is sent as each of these callers. For each answer:

- no 5xx, for anyone;
- no 2xx where the caller's role lacks the operation's permission (:data:`NEEDS`, held to the
  app by :func:`test_the_permission_table_is_the_apps`), and 401 for a caller without
  credentials everywhere but sign-in and sign-out;
- for a caller who may: the answer conforms to the schema (the body of a documented
  status, the content type) and input the schema calls invalid is refused with a 4xx;
- the city-scoped case officer is never shown a region outside 临沂.

At the end the event log must agree: no command event by a role that may not give it.
``GET /api/stream`` (never ends), ``DELETE /api/session`` (would sign the callers out) and
``POST /api/admin/rebuild`` (drops the projections) are called explicitly instead.

CI runs a few random inputs per operation; ``pytest --full`` many more (figures in the
README, "Tests and CI"). schemathesis's own pytest loader for a schema that exists only once
a fixture ran (``schemathesis.pytest.from_fixture``) fails under pytest 9 (it sets
``Function._nodeid``, gone in pytest 9), so :func:`test_every_operation_as_every_role` runs
the per-operation tests schemathesis builds as subtests itself.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from fixtures import TestBroker, Worker, read_log
from helpers import event
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from openapi_callers import (
    COMMANDS,
    EXPLICIT,
    NEEDS,
    REFERENCE,
    Caller,
    Tally,
    app_permissions,
    judge,
)
from schemathesis.checks import load_all_checks
from schemathesis.core.result import Ok
from schemathesis.pytest.lazy import get_all_tests

from eams.auth import ROLES, UserStore
from events.clock import SHANGHAI
from events.identity import make_national_id
from streams.pipeline import in_regions, is_source_type

PASSWORD = "fuzz-password-0123456789"
LINYI, JINAN = "371300", "370100"
RULES = """rules:
  - id: disaster-city
    title: 灾区状态 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {level: city}
    levels:
      IV: {enter: 1, exit: 1}
      III: {enter: 2, exit: 2}
"""
#: While chasing a finding: ``EAMS_FUZZ_ONLY='/(leads|facts)$' pytest tests/fuzz/...``
#: fuzzes only the operations whose label ("POST /api/persons/{person_id}/facts") the
#: regular expression finds.
ONLY = re.compile(os.environ.get("EAMS_FUZZ_ONLY", ""))
#: Random inputs per operation after the coverage phase: CI, and ``--full``.
CI_EXAMPLES, FULL_EXAMPLES = 4, 150


def test_the_permission_table_is_the_apps() -> None:
    assert app_permissions() == NEEDS


@dataclass
class World:
    """The seeded worker, its callers and what exists in it."""

    worker: Worker
    callers: list[Caller]
    known: dict[str, list[Any]]
    spare_token: str
    tally: Tally = field(default_factory=Tally)

    def caller(self, name: str) -> Caller:
        return next(c for c in self.callers if c.name == name)


def _seed_events() -> list[dict[str, Any]]:
    """Registrations, a layoff and two disaster flags (临沂, 济南): two city alerts, and the
    natural-disaster playbook proposed for each city."""
    today = dt.datetime.now(SHANGHAI).date().isoformat()
    out = []
    for county, city in (("371302", LINYI), ("370102", JINAN)):
        out += [event("person.registered", county, {
            "national_id": make_national_id(county, dt.date(1988, 5, 1), i),
            "target_group": "temporary_assistance", "employment_status": "unemployed"})
            for i in range(6)]  # fmt: skip
        out.append(event("layoff.reported", county, {"enterprise_name": "甲厂", "laid_off": 250}))
        out.append(event("disaster_area.flagged", city, {
            "disaster_id": f"fz-{city}", "kind": "natural_disaster", "severity": "III",
            "regions": [county], "title": "洪涝", "period_start": today}))  # fmt: skip
    for e in out:  # a signed-in user's events carry their name and source: leave them out
        del e["source"], e["actor"]
    return out


def _wait(what: str, check: Any, worker: Worker, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{worker.tail()}")


def _sign_in(api: httpx.Client, name: str) -> str:
    answer = api.post("/api/session", json={"name": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


@pytest.fixture(scope="module")
def world(kafka: TestBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One seeded worker for the module, its callers signed in."""
    state = tmp_path_factory.mktemp("fuzz-openapi")
    rules = state / "rules.yaml"
    rules.write_text(RULES)
    worker = Worker(
        kafka,
        state / "state",
        f"fz-{uuid.uuid4().hex[:6]}",
        EAMS_RULES=str(rules),
        EAMS_RISK_INTERVAL="0.3",
    )
    try:
        worker.start()
        world = _prepare(worker)
        yield world
        for caller in world.callers:
            caller.session.close()
    finally:
        worker.stop()
        worker.api.close()


def _prepare(worker: Worker) -> World:
    users = UserStore(worker.state_dir / "users.sqlite")
    callers = []
    for role in ROLES:
        users.add_user(f"fz-{role}", role, PASSWORD, [])
        callers.append(Caller(role, role))
    users.add_user("fz-case-linyi", "case_officer", PASSWORD, [LINYI])
    callers.append(Caller("case_officer_371300", "case_officer", (LINYI,)))
    anon = httpx.Client(base_url=str(worker.api.base_url), timeout=60)
    try:
        for caller in callers:
            login = "fz-case-linyi" if caller.regions else f"fz-{caller.role}"
            caller.headers = {"Authorization": f"Bearer {_sign_in(anon, login)}"}
        spare = _sign_in(anon, "fz-auditor")  # for the sign-out test
    finally:
        anon.close()
    added = subprocess.run(
        [sys.executable, "-m", "eams.cli", "apikeys", "add", "fuzz-source"],
        env=worker.env(), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    key = added.stdout.strip().splitlines()[-1]
    callers.append(Caller("apikey", None, kind="apikey", headers={"X-API-Key": key}))
    callers.append(Caller("anonymous", None, kind="anonymous"))

    admin = httpx.Client(base_url=str(worker.api.base_url), timeout=60)
    named = {c.name: c for c in callers}
    admin.headers.update(named["admin"].headers)
    try:
        seeded = _seed_events()
        body = b"\n".join(orjson.dumps(e) for e in seeded)
        answer = admin.post(
            "/api/ingest", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        assert answer.status_code == 200 and answer.json()["accepted"] == len(seeded), answer.text
        worker.wait_settled()
        _wait("two alerts", lambda: len(admin.get("/api/alerts").json()) >= 2, worker)
        runs = _wait(
            "two proposed runs", lambda: [r for r in admin.get("/api/playbook-runs").json()
                                          if r["status"] == "proposed"][:2] or None, worker,
        )  # fmt: skip
        # One run goes on (its steps open to commands), one stays proposed.
        incident = {"Authorization": named["incident_team"].headers["Authorization"]}
        active = admin.post(
            f"/api/playbook-runs/{runs[0]['run_id']}/activate", json={}, headers=incident
        )
        assert active.status_code == 200, active.text
        duty = {"Authorization": named["duty_officer"].headers["Authorization"]}
        silenced = admin.post(
            "/api/silences", json={"region": JINAN, "minutes": 60, "reason": "seed"}, headers=duty
        )
        assert silenced.status_code == 200, silenced.text
        _wait("the silence", lambda: admin.get("/api/silences").json(), worker)
        known = _known(admin)
    finally:
        admin.close()
    return World(worker, callers, known, spare)


def _known(admin: httpx.Client) -> dict[str, list[Any]]:
    """Ids and codes that exist, so that generated requests also reach real rows."""
    alerts = [a["alert_id"] for a in admin.get("/api/alerts", params={"status": ""}).json()]
    runs = admin.get("/api/playbook-runs").json()
    steps: list[dict[str, str]] = []
    for r in runs:
        shown = admin.get(f"/api/playbook-runs/{r['run_id']}").json()
        steps += [{"run_id": r["run_id"], "step_id": s["step_id"]} for s in shown.get("steps", [])]
    silences = [s["silence_id"] for s in admin.get("/api/silences").json()]
    playbooks = [p["id"] for p in admin.get("/api/playbooks").json()]
    assert alerts and runs and steps and silences and playbooks
    return {
        "alert_id": alerts,
        "run_id": [r["run_id"] for r in runs],
        "steps": steps,
        "silence_id": silences,
        "playbook_id": playbooks,
        "code": ["370000", LINYI, JINAN, "371302", "370102"],
        "region": ["370000", LINYI, JINAN, "371302", "370102"],
        "rule": ["disaster-city"],
        "hierarchy": ["shandong"],
    }


@pytest.fixture(scope="module")
def api_schema(world: World, full_profile: bool) -> Any:
    """The worker's own OpenAPI document, loaded by schemathesis, with hooks that also draw
    the ids and codes that exist."""
    config = schemathesis.Config.from_dict(
        {"generation": {"max-examples": FULL_EXAMPLES if full_profile else CI_EXAMPLES}}
    )
    loaded = schemathesis.openapi.from_url(
        f"{world.worker.api.base_url}/openapi.json", config=config, timeout=30
    )
    known = world.known

    @loaded.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
        if not path_parameters:
            return st.just(path_parameters)
        options = [path_parameters]
        if "step_id" in path_parameters:
            options += [path_parameters | pair for pair in known["steps"]]
        else:
            for name in path_parameters:
                options += [path_parameters | {name: v} for v in known.get(name, ())]
        return st.sampled_from(options)

    @loaded.hook
    def flatmap_query(context: Any, query: dict[str, Any] | None) -> Any:
        if not query:
            return st.just(query)
        options = [query]
        for name in query:
            options += [query | {name: v} for v in known.get(name, ())]
        if "start" in query:
            today = dt.datetime.now(SHANGHAI).date()
            options.append(query | {"start": str(today - dt.timedelta(days=5)), "end": str(today)})
        return st.sampled_from(options)

    return loaded


#: Hypothesis settings of every operation's test (the number of examples is the config's).
FUZZ_SETTINGS = settings(deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.integration
# 73 operations as 9 callers: 247 s alone on this 2-core machine (2026-12-02), more in the
# full suite's company; the default bound (300 s) is for one test of one behaviour
@pytest.mark.timeout(900)
def test_every_operation_as_every_role(
    world: World, api_schema: Any, subtests: pytest.Subtests
) -> None:
    """schemathesis builds each operation's test (explicit examples, coverage phase, random
    inputs); each runs as a subtest. schemathesis's own ``from_fixture`` loader cannot run
    under pytest 9 (it sets ``Function._nodeid``, which pytest 9 no longer has), so this
    does what that loader does, without renaming the node."""
    load_all_checks()
    for built in get_all_tests(
        schema=api_schema, test_func=_fuzz_one, settings=FUZZ_SETTINGS, given_kwargs=None
    ):
        assert isinstance(built, Ok), built  # an operation schemathesis cannot read
        operation, test = built.ok()
        if operation.label in EXPLICIT or not ONLY.search(operation.label):
            continue
        with subtests.test(operation=operation.label):
            test(world=world)
    print(world.tally.summary())
    assert not world.tally.findings, world.tally.report()
    if not ONLY.pattern:
        assert set(world.tally.examples) == set(NEEDS) - set(EXPLICIT)


def _fuzz_one(case: Any, world: World) -> None:
    """One generated request, sent as every caller."""
    label = f"{case.operation.method.upper()} {case.operation.path}"
    sent = f"{case.method.upper()} {case.operation.path}"
    world.tally.examples[label] += 1
    for caller in world.callers:
        judge(world.tally, caller, case, sent)


@pytest.mark.integration
def test_the_log_holds_no_command_a_role_may_not_give(world: World) -> None:
    """After every generated call: what each caller wrote to the log in its own name is what
    its role may write (analysts, auditors, API keys and nobody: nothing but their own
    source events; a city's officer: only inside the city)."""
    log = read_log(world.worker)
    mine = {c.name: c for c in world.callers}
    logins = {f"fz-{c.role}": c for c in world.callers if c.kind == "user" and not c.regions}
    logins["fz-case-linyi"] = mine["case_officer_371300"]
    by: Counter[str] = Counter()
    for e in log:
        caller = logins.get(e["actor"])
        if caller is None or caller.role == "admin":
            continue
        by[caller.name] += 1
        kind = e["event_type"]
        allowed = COMMANDS.get(caller.role or "", ())
        if caller.role == "case_officer":
            assert is_source_type(kind) or kind.startswith(allowed), e
        else:
            assert kind.startswith(allowed), f"{caller.name} wrote {kind}: {e}"
        if caller.regions:
            assert in_regions(caller.regions, e["region"], REFERENCE), e
    assert not {e["source"] for e in log} & {"fuzz-source"}  # the API key sent nothing valid
    assert by["duty_officer"] >= 1 and by["incident_team"] >= 1  # the seed's commands, at least
    assert not by["analyst"]


@pytest.mark.integration
def test_the_live_stream_as_every_role(world: World) -> None:
    """``GET /api/stream`` never ends: opened and closed once per caller."""
    with httpx.Client(base_url=str(world.worker.api.base_url), timeout=30) as client:
        for caller in world.callers:
            with client.stream("GET", "/api/stream", headers=caller.headers) as answer:
                if caller.may("GET /api/stream"):
                    assert answer.status_code == 200, caller.name
                    assert answer.headers["content-type"].startswith("text/event-stream")
                    assert next(answer.iter_bytes()).startswith(b"retry:")
                else:
                    want = 401 if caller.kind == "anonymous" else 403
                    assert answer.status_code == want, caller.name


@pytest.mark.integration
def test_signing_out(world: World) -> None:
    """``DELETE /api/session`` ends the session it is sent with, and no other; without one
    there is nothing to end (200 as well: the console signs out after a session expired)."""
    api = world.worker.api
    assert httpx.delete(f"{api.base_url}/api/session").json() == {"signed_out": True}
    spare = {"Authorization": f"Bearer {world.spare_token}"}
    assert httpx.get(f"{api.base_url}/api/me", headers=spare).status_code == 200
    out = httpx.delete(f"{api.base_url}/api/session", headers=spare)
    assert out.status_code == 200
    assert httpx.get(f"{api.base_url}/api/me", headers=spare).status_code == 401
    auditor = world.caller("auditor").headers
    assert httpx.get(f"{api.base_url}/api/me", headers=auditor).json()["role"] == "auditor"


@pytest.mark.integration
def test_regressions_of_the_server_errors_found(world: World) -> None:
    """Each 5xx the fuzzing found, with the input that caused it: now refused with 422 that
    names the field, and nothing written."""
    api = world.worker.api
    duty = world.caller("duty_officer").headers
    before = world.worker.counts()["events_by_type"]
    # An empty matcher or reason passed the route and failed the catalogue's payload (500).
    for body in ({"rule": "", "level": "I"}, {"region": " ", "level": "I"},
                 {"level": "I", "reason": ""}):  # fmt: skip
        answer = api.post("/api/silences", json={"minutes": 1, **body}, headers=duty)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"][-1] in body, answer.text
    alert = world.known["alert_id"][0]
    # Not a 5xx, but schema-violating input accepted: "minutes": true silenced for a minute.
    for path in ("/api/silences", f"/api/alerts/{alert}/silence"):
        answer = api.post(path, json={"minutes": True, "level": "I"}, headers=duty)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == "minutes"
    for path, sent in ((f"/api/alerts/{alert}/ack", {"note": ""}),
                       (f"/api/alerts/{alert}/silence", {"minutes": 5, "reason": ""})):  # fmt: skip
        answer = api.post(path, json=sent, headers=duty)
        assert answer.status_code == 422, answer.text
    # An id no aggregate can have reached the command envelope's check (500): now 404.
    weird = "\\âd\U0009d74e"
    answer = api.post(f"/api/alerts/{weird}/unsilence", json={}, headers=duty)
    assert answer.status_code == 404 and "no alert" in answer.json()["detail"], answer.text
    answer = api.delete(f"/api/silences/%01Z{weird}", headers=duty)  # a control character
    assert answer.status_code == 404 and "no silence" in answer.json()["detail"], answer.text
    # ?days beyond what a date can go back (OverflowError, 500).
    answer = api.get("/api/overview/cities", params={"days": 100000001}, headers=duty)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "days"]
    assert api.get("/api/overview/cities", params={"days": 3660}, headers=duty).status_code == 200
    # A backtest of year 1 went back past the first date there is (OverflowError, 500).
    for start, end in (("0001-01-01", "0001-01-01"), ("9999-12-01", "9999-12-31")):
        answer = api.get("/api/rules/backtest", params={"start": start, "end": end}, headers=duty)
        assert answer.status_code == 422 and "between 1971-01-01" in answer.json()["detail"]
    first = {"start": "1971-01-01", "end": "1971-01-03"}  # nothing had happened then
    assert api.get("/api/rules/backtest", params=first, headers=duty).json() == []
    last = {"start": "2149-06-04", "end": "2149-06-06"}  # the seeded flags still stand
    raised = api.get("/api/rules/backtest", params=last, headers=duty).json()
    assert {(r["kind"], r["region"]) for r in raised} == {("raised", LINYI), ("raised", JINAN)}
    world.worker.wait_settled()
    assert world.worker.counts()["events_by_type"] == before  # nothing reached the log


@pytest.mark.integration
def test_rebuild_as_every_role(world: World) -> None:
    """The one destructive route: refused to every role but the administrator; after the
    administrator's rebuild every projection holds what it held before."""
    api = world.worker.api
    before = world.worker.wait_settled()
    for caller in world.callers:
        if caller.role != "admin":
            answer = httpx.post(f"{api.base_url}/api/admin/rebuild", headers=caller.headers)
            assert answer.status_code == (401 if caller.kind == "anonymous" else 403)
    assert world.worker.counts() == before
    admin = world.caller("admin").headers
    answer = httpx.post(f"{api.base_url}/api/admin/rebuild", headers=admin, timeout=120)
    assert answer.status_code == 200 and answer.json() == {"started": True}
    _wait("the rebuild", lambda: not world.worker.status()["rebuilding"], world.worker)
    assert world.worker.wait_settled() == before
