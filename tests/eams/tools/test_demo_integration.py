"""``eams demo`` with a history, end to end on the real broker, with the default rules: the
backfill is projected day by day, the rules that compare with the past get their baseline,
nothing fires on the history, the flood fires what it should and only in Linyi, and a rerun
with the same seed adds nothing. A second test holds the prior-years comparison to what two
years of history make of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fixtures import TestBroker, Worker, read_log, wait_ticks
from helpers import wait_for

from eams.tools.history import History, HistoryConfig
from eams.tools.player import history, history_end, play, scenario
from events.regions import load_reference

pytestmark = pytest.mark.integration

DEFAULT_RULES = Path(__file__).parents[3] / "alerting" / "rules" / "default.yaml"
DAY = dt.timedelta(days=1)
LINYI = "371300"
#: What the history and the live part send (alerts, notifications and playbook runs are
#: the system's own).
FACT_TYPES = ("person.registered", "service.delivered", "unemployment_claim.filed",
              "vacancy.reported", "layoff.reported", "enterprise.headcount_reported",
              "disaster_area.flagged")  # fmt: skip


def demo(worker: Worker, *args: str) -> subprocess.CompletedProcess[str]:
    """``eams demo --exit-when-done`` on the worker's broker, state and namespace (the demo
    starts and stops its own ``eams run`` there)."""
    done = subprocess.run(
        [sys.executable, "-m", "eams.cli", "demo", "--exit-when-done", *args],
        env=worker.env(), capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _sum(h: History, series: str, city: str, last: dt.date, days: int) -> int:
    return sum(h.count(series, city, last - i * DAY) for i in range(days))


def _years_back(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, as the indicator reads it
        return day.replace(year=day.year - years, day=28)


def _facts(worker: Worker) -> dict[str, int]:
    by_type = worker.counts()["events_by_type"]
    return {t: int(by_type.get(t, 0)) for t in FACT_TYPES}


@pytest.mark.timeout(400)
def test_demo_backfills_the_history_then_plays_the_flood(kafka: TestBroker, tmp_path: Path) -> None:
    namespace = f"demo-{uuid.uuid4().hex[:6]}"
    worker = Worker(kafka, tmp_path / "state", namespace,
                    EAMS_RULES=str(DEFAULT_RULES), EAMS_RISK_INTERVAL="0.3")  # fmt: skip
    done = demo(worker, "--history-days", "60", "--count", "2000", "--rate", "0", "--seed", "5")
    past = history(worker.settings, days=60, seed=5, end=history_end(None))
    today = past.end
    assert f"history 历史: {len(past):,} events of 60 days sent and projected" in done.stdout
    live = list(scenario(worker.settings, count=2000, seed=5, after=past))
    reference = load_reference("shandong")
    live_temporary: Counter[str] = Counter(
        reference.city_of(e["region"]) or ""
        for e in live
        if e["payload"].get("target_group") == "temporary_assistance"
    )
    try:
        worker.start()  # a fresh evaluator on what the demo left
        # the daily facts of Linyi hold every day of the history, as generated
        trend = worker.api.get("/api/trends", params={"region": LINYI, "days": 61}).json()
        days = {dt.date.fromisoformat(d["day"]): d for d in trend["days"]}
        assert sorted(days) == [today - i * DAY for i in range(60, -1, -1)]
        for day in sorted(days)[:-1]:
            registered = sum(past.count(g, LINYI, day) for g in
                             ("employment_difficulty", "rural_surplus_labour",
                              "low_income_graduate", "temporary_assistance"))  # fmt: skip
            assert days[day]["registrations"] == registered, day
            assert days[day]["claims"] == past.count("claim", LINYI, day), day
        # every city has its baseline of the 4 weeks before: the surge rule's value is
        # this week's temporary-assistance registrations (today's live ones included)
        # over their mean then; only flooded Linyi surges
        wait_ticks(worker, "evaluator", 3)
        values = worker.api.get("/api/indicators").json()
        surge = values["rule:assistance.city.temporary_registrations"]
        for city in (c.code for c in reference.cities()):
            now = _sum(past, "temporary_assistance", city, today - DAY, 6) + live_temporary[city]
            prior = sum(
                _sum(past, "temporary_assistance", city, today - 7 * k * DAY, 7)
                for k in (1, 2, 3, 4)
            )
            assert surge[city] == pytest.approx(now / (prior / 4)), city
            assert surge[city] > 5 if city == LINYI else surge[city] < 1.5, (city, surge[city])
        assert "371300" not in values.get("claims_vs_prior_years", {})  # no earlier years yet
        # the flood fires in Linyi and its four counties; nothing fired anywhere else
        flag = next(e for e in live if e["event_type"] == "disaster_area.flagged")
        flooded = set(flag["payload"]["regions"])

        def fired() -> dict[tuple[str, str], str]:
            alerts = worker.api.get("/api/alerts").json()
            return {(a["rule"], a["region"]): a["level"] for a in alerts}

        want = {("emergency.city.disaster_area", LINYI): "II",
                ("layoffs.city.concentrated_7d", LINYI): "I"} | {
            ("emergency.county.disaster_area", county): "II" for county in flooded
        }  # fmt: skip
        got = wait_for(lambda: fired() if want.items() <= fired().items() else None,
                       "the flood's alerts")  # fmt: skip
        assert {reference.city_of(region) for _, region in got} == {LINYI}, got
        facts = _facts(worker)
        assert facts["disaster_area.flagged"] == 1
        # the case table: the demo's officers registered through the API what they say,
        # and every city's open cases are the log's registered persons not exited
        assert "援助台账 Case management" in done.stdout
        said = re.findall(r"登记 registered ([\d,]+)", done.stdout)[-1]
        log = read_log(worker, "person.registered", "person.exited")
        by_api = [e for e in log if e["event_type"] == "person.registered"
                  and e["source"] == "eams.api"]  # fmt: skip
        assert len(by_api) == int(said.replace(",", ""))
        registered = {e["aggregate_id"] for e in log if e["event_type"] == "person.registered"}
        exited = {e["aggregate_id"] for e in log if e["event_type"] == "person.exited"}
        summary = worker.api.get("/api/cases/summary").json()
        assert sum(r["open"] for r in summary) == len(registered - exited) > 0
    finally:
        worker.stop()
    # the same seed again: the history is all duplicates, the log gains no fact
    demo(worker, "--history-days", "60", "--count", "0", "--seed", "5")
    try:
        worker.start()
        assert _facts(worker) == facts
    finally:
        worker.stop()
        worker.api.close()


def test_two_years_of_history_give_the_prior_years_comparison(worker_factory: Any) -> None:
    worker = worker_factory(EAMS_RULES=str(DEFAULT_RULES), EAMS_RISK_INTERVAL="0.3")
    # a tenth of the default rates: every day of two years and 28 days, in ~20k events
    past = History(
        load_reference("shandong"),
        HistoryConfig(seed=3, days=760, end=history_end(None), scale=0.1),
    )
    assert asyncio.run(play(worker.settings, past)) == len(past)
    worker.wait_settled()
    wait_ticks(worker, "evaluator", 3)
    values = worker.api.get("/api/indicators").json()
    ratio = values["claims_vs_prior_years"]
    today = past.end
    for city in (c.code for c in load_reference("shandong").cities()):
        claims = _sum(past, "claim", city, today - DAY, 27)  # today has none yet
        years = [_sum(past, "claim", city, _years_back(today, y), 28) for y in (1, 2)]
        assert ratio[city] == pytest.approx(claims / (sum(years) / 2)), city
    assert 0.8 < ratio["370000"] < 1.1  # the province: about the earlier years' level
    # the surge rule reads past days: the evaluator had computed them on an empty store
    # before the history came, and forgot them as the projector wrote it (no restart)
    surge = values["rule:assistance.city.temporary_registrations"]
    for city in (c.code for c in load_reference("shandong").cities()):
        now = _sum(past, "temporary_assistance", city, today - DAY, 6)
        prior = sum(
            _sum(past, "temporary_assistance", city, today - 7 * k * DAY, 7) for k in (1, 2, 3, 4)
        )
        if prior:
            assert surge[city] == pytest.approx(now / (prior / 4)), city
        else:
            assert city not in surge, city
    assert worker.api.get("/api/alerts").json() == []
