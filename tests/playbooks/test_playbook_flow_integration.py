"""A flood, end to end on the real broker, chDB and SMTP server, as a timeline:

t0      people registered in Linyi (some out of work), then two counties flagged at II
t<10s   the disaster alert fires for 临沂市 at II -> the natural-disaster playbook is
        proposed for 371300 at II (one run, whatever the alerts)
act     the incident team activates it from the CLI: every step assigned; the notify step
        tells the duty officers by e-mail at once
assess  completed by hand -> the affected are enrolled (exact count: out of work in the
        flagged counties, plus a registration citing the flood from elsewhere), welfare
        posts opened, a job fair scheduled; no subsidy paid before approval
restart SIGKILL and restart: nothing lost, no action repeated
approve the finance approver approves -> the batch pays each enrolled person once
close   refused while a step is open; after it, the after-action report has the figures
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from fixtures import wait_ticks
from helpers import encode, event, produce

from events.identity import make_national_id

pytestmark = pytest.mark.integration

LINYI = "371300"
FLOODED = ["371302", "371311"]
RULES = """rules:
  - id: disaster-city
    title: 灾区状态 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {level: city}
    levels:
      IV: {enter: 1, exit: 1}
      III: {enter: 2, exit: 2}
      II: {enter: 3, exit: 3}
      I: {enter: 4, exit: 4}
"""


def _flag(disaster_id: str, severity: str, regions: list[str]) -> dict[str, Any]:
    today = dt.date.today().isoformat()
    return event("disaster_area.flagged", LINYI, {
        "disaster_id": disaster_id, "kind": "natural_disaster", "severity": severity,
        "regions": regions, "title": "临沂洪涝", "period_start": today})  # fmt: skip


def _person(region: str, seq: int, status: str, **extra: Any) -> dict[str, Any]:
    nid = make_national_id(region, dt.date(1985, 3, 1), seq)
    return event("person.registered", region, {
        "national_id": nid, "target_group": "temporary_assistance",
        "employment_status": status, **extra})  # fmt: skip


def _wait(what: str, check: Any, timeout: float = 40, worker: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{worker.tail()}" if worker else ""))


def eams(worker: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eams.cli", *args], env=worker.env(),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def _roster(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(
        f"channels: {{smtp: {{host: 127.0.0.1, port: {port}, sender: eams@example.gov.cn}}}}\n"
        "officers:\n"
        "  - {id: linyi-a, tier: city, regions: ['371300'], contacts: {email: linyi-a@x.cn}}\n"
        "  - {id: province-a, tier: province, regions: ['370000'], "
        "contacts: {email: province-a@x.cn}}\n"
        "policy: {repeat_interval: 1h, escalate_after: 1h, group_interval: 0s}\n"
    )
    return path


def _start(worker_factory: Any, tmp_path: Path, port: int, **env: str) -> Any:
    (tmp_path / "rules.yaml").write_text(RULES)
    return worker_factory(
        EAMS_RULES=str(tmp_path / "rules.yaml"),
        EAMS_ROSTER=str(_roster(tmp_path, port)),
        EAMS_RISK_INTERVAL="0.3",
        **env,
    )


def _proposed(worker: Any) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        runs = worker.api.get("/api/playbook-runs", params={"status": "proposed"}).json()
        return [r for r in runs if r["area"] == LINYI]

    return dict(_wait("a proposed run", found, worker=worker)[0])


def _run(worker: Any, run_id: str) -> dict[str, Any]:
    return dict(worker.api.get(f"/api/playbook-runs/{run_id}").raise_for_status().json())


def _post(worker: Any, path: str, body: dict[str, Any]) -> Any:
    return worker.api.post(path, json=body)


def test_flood_to_after_action_report(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, port = mailbox
    worker = _start(worker_factory, tmp_path, port)
    topic = worker.settings.topics.ingest_raw
    people = [
        _person("371302", 1, "unemployed"), _person("371302", 2, "unemployed"),
        _person("371302", 3, "lost_work_due_to_disaster"),
        _person("371302", 4, "employed"),  # has work: not enrolled
        _person("371311", 5, "lost_work_due_to_disaster"), _person("371311", 6, "unemployed"),
        _person("371312", 7, "unemployed"),  # Linyi, but not flagged: not enrolled
        _person("370102", 8, "unemployed"),  # Jinan: not enrolled
    ]  # fmt: skip
    produce(worker.kafka("raw"), topic, encode(people))
    worker.wait_settled()
    flag = _flag("flood-1", "II", FLOODED)
    # registered after the flood elsewhere, citing it: enrolled too
    citing = _person("371312", 9, "lost_work_due_to_disaster", disaster_id="flood-1")
    produce(worker.kafka("raw"), topic, encode([flag, citing]))

    run = _proposed(worker)
    run_id = run["run_id"]
    assert run["playbook_id"] == "natural_disaster" and run["level"] == "II"
    wait_ticks(worker, "evaluator", 3)  # more evaluations and runtime ticks:
    wait_ticks(worker, "playbooks", 3)  # still one run for the area
    worker.wait_settled()
    assert len(worker.api.get("/api/playbook-runs").json()) == 1

    # A dry run shows what activation would do on the current data, and changes nothing.
    def dry() -> dict[str, Any]:
        return dict(worker.api.get("/api/playbooks/natural_disaster/simulate",
                                   params={"region": "371302", "level": "II"}).json())  # fmt: skip

    plan = _wait("six people in the dry run", lambda: (p := dry())["steps"][2]["action"][
        "people"] == 6 and p)  # fmt: skip
    actions = {s["step_id"]: s["action"] for s in plan["steps"] if s["action"]}
    assert plan["area"] == LINYI and plan["disaster_id"] == "flood-1"
    assert actions["open_posts"]["posts"] == 300
    assert actions["pay_subsidy"]["amount_total"] == "7200"
    shown = eams(worker, "playbooks", "simulate", "natural_disaster", "--region", "371302")
    assert shown.returncode == 0, shown.stderr
    assert "dry run" in shown.stdout and "'people': 6" in shown.stdout
    assert worker.api.get("/api/temporary-assistance").json() == []
    assert _run(worker, run_id)["status"] == "proposed"

    # Activation from the CLI: every step assigned; notify runs at once.
    done = eams(worker, "playbooks", "activate", run_id, "--actor", "incident-a")
    assert done.returncode == 0, done.stderr
    assert "activated" in done.stdout
    state = _run(worker, run_id)
    assert state["status"] == "active" and len(state["steps"]) == 8
    _wait("the notify step", lambda: _run(worker, run_id)["steps"][0]["status"] == "completed")

    def told() -> set[str]:
        return {r for m in box.messages if "预案" in m[1] for r in m[0]}

    # one mail per officer, one after the other: wait for the second before comparing
    _wait("the activation e-mails", lambda: len(told()) >= 2)
    assert told() == {"linyi-a@x.cn", "province-a@x.cn"}

    # Enrolment depends on the assessment, which is done by hand.
    early = _post(worker, f"/api/playbook-runs/{run_id}/steps/enrol/complete", {"actor": "x"})
    assert early.status_code == 409 and "assess" in early.json()["detail"]
    ok = _post(worker, f"/api/playbook-runs/{run_id}/steps/assess/complete",
               {"actor": "incident-a", "note": "两县受灾，约 6 人失业"})  # fmt: skip
    assert ok.status_code == 200, ok.text

    def outcomes() -> dict[str, Any]:
        return dict(_run(worker, run_id)["outcomes"])

    def step(name: str) -> dict[str, Any]:
        return next(s for s in _run(worker, run_id)["steps"] if s["step_id"] == name)

    _wait("enrolment, posts and job fair", lambda: all(
        step(s)["status"] == "completed" for s in ("enrol", "open_posts", "job_fair")))  # fmt: skip
    assert step("enrol")["counts"] == {"people_enrolled": 6.0}
    _wait("enrolments projected", lambda: outcomes()["people_enrolled"] == 6)
    _wait("posts and the fair projected", lambda: outcomes()["job_fairs"] == 1)
    got = outcomes()
    assert got["welfare_posts"] == 300 and got["job_fairs"] == 1
    assert got["subsidies_paid"] == 0  # not before approval
    assert step("pay_subsidy")["status"] != "completed"

    # SIGKILL and restart mid-run: nothing lost, no action repeated.
    worker.kill()
    worker = worker_factory(like=worker)
    _wait("the run restored", lambda: worker.api.get(
        f"/api/playbook-runs/{run_id}").status_code == 200)  # fmt: skip
    wait_ticks(worker, "playbooks", 3)  # several ticks of the restarted runtime
    worker.wait_settled()
    assert outcomes()["people_enrolled"] == 6 and outcomes()["subsidies_paid"] == 0
    assert _run(worker, run_id)["status"] == "active"

    # Approval, then the batch pays each enrolled person once (II: 1,200 yuan each).
    ok = _post(worker, f"/api/playbook-runs/{run_id}/steps/approve_subsidy/complete",
               {"actor": "finance-a", "note": "名单已核"})  # fmt: skip
    assert ok.status_code == 200, ok.text
    _wait("the subsidy batch", lambda: outcomes()["subsidies_paid"] == 6, worker=worker)
    assert outcomes()["subsidy_amount"] == 6 * 1200
    # five enrolled in the flooded counties, one who cited the flood from 371312
    enrolled = {r["region"]: r for r in worker.api.get("/api/temporary-assistance").json()}
    assert [enrolled[c]["enrolled_now"] for c in (*FLOODED, "371312")] == [3, 2, 1]
    # one of them finds work
    placed = event("placement.recorded", "371302", {
        "national_id": make_national_id("371302", dt.date(1985, 3, 1), 1),
        "placement": "welfare_post", "started_on": dt.date.today().isoformat()})  # fmt: skip
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode([placed]))
    _wait("the placement", lambda: outcomes()["people_placed"] == 1)

    refused = eams(worker, "playbooks", "close", run_id, "--actor", "incident-a")
    assert refused.returncode == 2 and "review" in refused.stderr
    assert "Traceback" not in refused.stderr
    ok = _post(
        worker, f"/api/playbook-runs/{run_id}/steps/review/complete", {"actor": "incident-a"}
    )
    assert ok.status_code == 200, ok.text
    closed = eams(worker, "playbooks", "close", run_id, "--actor", "incident-a")
    assert closed.returncode == 0, closed.stderr
    assert "people_enrolled" in closed.stdout

    def closed_run() -> list[dict[str, Any]]:
        runs = worker.api.get("/api/playbook-runs", params={"status": "closed"}).json()
        return [r for r in runs if r["run_id"] == run_id]

    report = orjson.loads(_wait("the closed run", closed_run)[0]["report"])
    assert report["counts"]["people_enrolled"] == 6
    assert report["counts"]["subsidies_paid"] == 6
    assert report["counts"]["subsidy_amount"] == 7200
    assert report["counts"]["people_placed"] == 1
    assert report["steps_completed"] == 8 and report["steps_late"] == 0

    # The log holds each action's events once.
    timeline = worker.api.get(f"/api/playbook-runs/{run_id}/timeline").json()
    kinds = [e["event_type"] for e in timeline]
    assert kinds.count("temporary_assistance.enrolled") == 6
    assert kinds.count("subsidy.paid") == 6
    assert kinds.count("playbook.activated") == 1 and kinds.count("playbook.closed") == 1


def test_racing_commands_an_overdue_step_and_the_end_of_enrolment(
    worker_factory: Any, mailbox: tuple[Any, int], tmp_path: Path
) -> None:
    box, port = mailbox
    library = tmp_path / "library"
    library.mkdir()
    source = Path(__file__).parents[2] / "playbooks" / "library" / "natural_disaster.yaml"
    # at level III: the approval is due 3 s after activation, and enrolment ends 2 s
    # after the flag is cleared
    text = source.read_text().replace(
        "deadlines: {assess: 12h}", "deadlines: {assess: 12h, approve_subsidy: 3s}"
    )
    text = text.replace("enrolment_grace: 45d", "enrolment_grace: 2s")
    (library / "natural_disaster.yaml").write_text(text)
    worker = _start(worker_factory, tmp_path, port, EAMS_PLAYBOOKS=str(library))
    topic = worker.settings.topics.ingest_raw
    produce(worker.kafka("raw"), topic, encode([
        _person("371302", 11, "unemployed"), _person("371302", 12, "unemployed")]))  # fmt: skip
    worker.wait_settled()
    produce(worker.kafka("raw"), topic, encode([_flag("flood-2", "III", ["371302"])]))
    run_id = _proposed(worker)["run_id"]

    # Two officers activate at the same moment: exactly one wins, the other is told why.
    answers: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda a=a: answers.append(
                _post(worker, f"/api/playbook-runs/{run_id}/activate", {"actor": a})
            )
        )  # fmt: skip
        for a in ("incident-a", "incident-b")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409], [a.text for a in answers]
    assert "active" in next(a for a in answers if a.status_code == 409).json()["detail"]
    late = _post(worker, f"/api/playbook-runs/{run_id}/decline",
                 {"actor": "incident-b", "reason": "不需要"})  # fmt: skip
    assert late.status_code == 409
    assert _run(worker, run_id)["status"] == "active"
    ok = _post(worker, f"/api/playbook-runs/{run_id}/steps/assess/complete", {"actor": "a"})
    assert ok.status_code == 200, ok.text

    def enrolled_now() -> int:
        rows = worker.api.get("/api/temporary-assistance").json()
        return sum(r["enrolled_now"] for r in rows if r["region"] == "371302")

    _wait("two enrolled", lambda: enrolled_now() == 2)

    # The approval was due 3 s after activation: marked overdue once, and the area's
    # duty officers (province included) are told.
    def approval() -> dict[str, Any]:
        return next(s for s in _run(worker, run_id)["steps"] if s["step_id"] == "approve_subsidy")

    _wait("the overdue mark", lambda: approval()["overdue"])

    # Each officer gets a mail of their own, sent one after the other: wait for both.
    def overdue_recipients() -> set[str]:
        return {r for m in box.messages if "逾期" in m[2] for r in m[0]}

    _wait("the overdue e-mails",
          lambda: overdue_recipients() >= {"linyi-a@x.cn", "province-a@x.cn"})  # fmt: skip
    board = worker.api.get("/api/playbook-runs/board").json()
    [entry] = [b for b in board if b["run_id"] == run_id]
    assert entry["overdue_steps"] >= 1

    def kinds() -> list[str]:
        timeline = worker.api.get(f"/api/playbook-runs/{run_id}/timeline").json()
        return [e["event_type"] for e in timeline]

    _wait("the overdue event projected", lambda: "playbook.step_overdue" in kinds())
    wait_ticks(worker, "playbooks", 3)  # more ticks: it is not marked again
    worker.wait_settled()
    assert kinds().count("playbook.step_overdue") == 1
    assert kinds().count("playbook.activated") == 1

    # The flag is cleared: 2 s later (the variant's grace period) enrolment ends.
    clear = event("disaster_area.cleared", LINYI, {
        "disaster_id": "flood-2", "period_end": dt.date.today().isoformat()})  # fmt: skip
    produce(worker.kafka("raw"), topic, encode([clear]))
    _wait("enrolment ended", lambda: enrolled_now() == 0)
    [row] = [r for r in worker.api.get("/api/temporary-assistance").json()
             if r["region"] == "371302"]  # fmt: skip
    assert row["ended"] == 2 and row["enrolled_total"] == 2
