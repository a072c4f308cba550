"""``eams rules backtest`` replays every rule kind (ratio to a baseline, rise over the
trailing low, data gap) from history in the real log and chDB, as the evaluator would
have judged it day by day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from helpers import encode, event, produce

from events.clock import SHANGHAI
from events.identity import make_uscc

LINYI, LANSHAN = "371300", "371302"
RULES = """rules:
  - id: layoffs-vs-weeks
    title: 裁员激增 / Layoff surge
    indicator: people_laid_off_7d
    kind: ratio_to_baseline
    baseline: {period: week, periods_back: 2}
    scope: {regions: ["371300"]}
    levels:
      III: {enter: 3, exit: 2}
  - id: job-loss-rise
    title: 岗位流失率上升 / Job-loss rate rise
    indicator: job_loss_rate
    kind: rise_over_low
    low_window: 60d
    scope: {regions: ["371300"]}
    levels:
      IV: {enter: 2, exit: 1}
  - id: vacancy-gap
    title: 岗位信息缺报 / Vacancy reports missing
    indicator: headcount_report_gap
    kind: data_gap
    source: vacancy.reported
    cadence: 3d
    scope: {regions: ["371300"]}
    levels:
      IV: {enter: 1, exit: 0.5}
"""


@pytest.mark.integration
def test_backtest_replays_baselines_trailing_lows_and_gaps(
    worker_factory: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    worker = worker_factory(EAMS_RULES=str(rules), EAMS_RISK_INTERVAL="0.5")
    today = dt.datetime.now(SHANGHAI).replace(hour=10, minute=0, second=0, microsecond=0)

    def ago(days: int) -> dt.datetime:
        return today - dt.timedelta(days=days)

    uscc = make_uscc("91371302MA3C00007")
    events = (
        [
            event("layoff.reported", LANSHAN, {"enterprise_name": "甲厂", "laid_off": n}, at=ago(d))
            for d, n in ((16, 100), (9, 100), (2, 400))
        ]
        + [
            event(
                "enterprise.headcount_reported",
                LANSHAN,
                {
                    "uscc": uscc,
                    "period": ago(d).strftime("%Y-%m"),
                    "base_headcount": 1000,
                    "current_headcount": current,
                },
                at=ago(d),
            )  # fmt: skip
            for d, current in ((40, 990), (5, 940))
        ]
        + [
            event("vacancy.reported", LANSHAN, {"vacancy_id": "v1", "openings": 3}, at=ago(12)),
        ]
    )
    produce(worker.kafka("raw"), worker.settings.topics.ingest_raw, encode(events))
    worker.wait_settled()

    answer = worker.api.get(
        "/api/rules/backtest",
        params={"start": ago(30).date().isoformat(), "end": today.date().isoformat()},
    )
    rows = answer.raise_for_status().json()
    got = {(r["rule"], r["kind"]): r for r in rows if r["region"] == LINYI}

    # 400 laid off against a mean of 100 over the two weeks before: ratio 4 on day -2 only
    surge = got[("layoffs-vs-weeks", "raised")]
    assert surge["at"][:10] == ago(2).date().isoformat()
    assert surge["level"] == "III" and surge["value"] == pytest.approx(4.0)
    # job loss 6% against a trailing low of 1% on day -5 (the rise is 5 points)
    rise = got[("job-loss-rise", "raised")]
    assert rise["at"][:10] == ago(5).date().isoformat()
    assert rise["value"] == pytest.approx(5.0)
    assert ("job-loss-rise", "resolved") not in got
    # the last vacancy report on day -12 at 10:00: 3 days' cadence is overdue by day -9 end
    gap = got[("vacancy-gap", "raised")]
    assert gap["at"][:10] == ago(9).date().isoformat()
    assert gap["value"] == pytest.approx((3 * 86400 + 14 * 3600 - 1) / (3 * 86400), rel=1e-3)
