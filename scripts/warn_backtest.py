"""Real history through the real rules: the five states' WARN notices, imported with their
mappings alone, replayed day by day through the default rules at state level over 2019-2021,
and held against the same states' weekly unemployment-insurance claims.

    .venv/bin/python scripts/warn_backtest.py [--from 2019-01-01] [--to 2021-12-31]

It starts what it needs (the local Kafka broker, ``eams run`` on the US hierarchy in a fresh
state folder), imports ``tests/data/warn_raw/{il,fl,tx,oh,ny}.csv`` with
``deploy/mappings/warn_{state}.yaml``, asks the worker's ``/api/rules/backtest`` for every
transition, and prints, per state (weeks end on Saturday, as the claims file's do):

- the first week the rules reach orange (II) or red (I) from 2020 on,
- the first week initial claims exceed twice their January-February 2020 mean,
- the lead (+) or lag (-) of the rules in weeks,
- the orange/red weeks of 2019 (a calm year: each one is a false alarm) and of 2020, 2021,
- which rules put the state at orange/red.

The table goes into the README ("Real history through the real rules").
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import os
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from eams.broker import ensure_broker, ensure_namespace
from eams.settings import PROJECT_ROOT, Settings
from eams.tools.client import ApiClient
from eams.tools.demo import start_worker, stop_worker
from eams.tools.importer import import_file, open_input
from events.severity import rank

RAW = PROJECT_ROOT / "tests" / "data" / "warn_raw"
CLAIMS = PROJECT_ROOT / "tests" / "data" / "ui_claims_weekly_il_fl_tx_oh_ny.csv"
MAPPINGS = PROJECT_ROOT / "deploy" / "mappings"
STATES = {"IL": "17", "FL": "12", "TX": "48", "OH": "39", "NY": "36"}
ORANGE = rank("II")


def backtest(
    client: ApiClient, start: dt.date, end: dt.date
) -> dict[str, dict[dt.date, tuple[int, set[str]]]]:
    """Levels by region and week from ``start`` to ``end``, asked of the worker a year at a
    time (a backtest covers at most MAX_DAYS days): each year's run starts a year earlier,
    so what stands at the year's start is carried in, and only the year's weeks are kept."""
    out: dict[str, dict[dt.date, tuple[int, set[str]]]] = defaultdict(dict)
    year = start.year
    while dt.date(year, 1, 1) <= end:
        first, last = max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))
        warm = dt.date(first.year - 1, 1, 1)
        began = time.monotonic()
        rows = client.get("/api/rules/backtest", start=warm.isoformat(), end=last.isoformat())
        print(f"backtest {warm} … {last}: {len(rows):,} transitions in "
              f"{time.monotonic() - began:.0f} s")  # fmt: skip
        for region, weeks in levels_by_week(rows, warm, last).items():
            for week, held in weeks.items():
                if first <= week <= week_end(last):
                    out[region][week] = held
        year += 1
    return out


def week_end(day: dt.date) -> dt.date:
    """The Saturday ending ``day``'s week."""
    return day + dt.timedelta(days=(5 - day.weekday()) % 7)


async def import_states(settings: Settings) -> int:
    accepted = 0
    for state in STATES:
        path = RAW / f"{state.lower()}.csv"
        mapping = MAPPINGS / f"warn_{state.lower()}.yaml"
        table, doc = open_input(path, mapping)
        report = await import_file(
            table, doc, kafka=settings.kafka("raw"), dlq_kafka=settings.kafka("stream"),
            topic_names=settings.topics, hierarchy=settings.region_hierarchy,
            signing_key=settings.ingest_key(), dlq_key=settings.dead_letter_key(),
            state_dir=settings.state_dir, mapping_path=mapping,
        )  # fmt: skip
        print(f"{state}: {report.records:,} records, {report.accepted:,} accepted")
        accepted += report.accepted
    return accepted


def levels_by_week(
    transitions: list[dict[str, Any]], start: dt.date, end: dt.date
) -> dict[str, dict[dt.date, tuple[int, set[str]]]]:
    """region -> week end -> (highest level rank held that week, rules at orange/red)."""
    by_series: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for t in transitions:
        by_series[(t["rule"], t["region"])].append(t)
    out: dict[str, dict[dt.date, tuple[int, set[str]]]] = defaultdict(dict)
    for (rule, region), series in by_series.items():
        series.sort(key=lambda t: t["at"])
        level: str | None = None
        i = 0
        day = start
        while day <= end:
            while i < len(series) and dt.date.fromisoformat(series[i]["at"][:10]) <= day:
                t = series[i]
                level = None if t["kind"] == "resolved" else t["level"]
                i += 1
            if level is not None:
                week = week_end(day)
                held, rules = out[region].get(week, (0, set()))
                r = rank(level)
                if r >= ORANGE:
                    rules = rules | {rule}
                out[region][week] = (max(held, r), rules)
            day += dt.timedelta(days=1)
    return out


def claims_weeks() -> dict[str, list[tuple[dt.date, int]]]:
    out: dict[str, list[tuple[dt.date, int]]] = defaultdict(list)
    with CLAIMS.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            day = dt.date(int(row["year"]), int(row["month"]), int(row["day_endofweek"]))
            out[row["state"]].append((day, int(row["initclaims_count_regular"])))
    return {s: sorted(v) for s, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="start", default="2019-01-01")
    parser.add_argument("--to", dest="end", default="2021-12-31")
    args = parser.parse_args()
    start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp) / "state"
        settings = Settings(
            state_dir=state_dir, namespace=f"backtest-{uuid.uuid4().hex[:6]}",
            region_hierarchy="us", http_port=0, kafka_port=29092, kafka_controller_port=29093,
        )  # fmt: skip
        os.environ.update(EAMS_STATE_DIR=str(state_dir), EAMS_NAMESPACE=settings.namespace,
                          EAMS_REGION_HIERARCHY="us", EAMS_HTTP_PORT="0",
                          EAMS_KAFKA_PORT="29092", EAMS_KAFKA_CONTROLLER_PORT="29093")  # fmt: skip
        broker = ensure_broker(settings)  # its own, in the temporary folder, on its own ports
        asyncio.run(ensure_namespace(settings))
        worker = start_worker(settings, state_dir / "worker.log")
        try:
            client = ApiClient(settings, timeout=3600)
            accepted = asyncio.run(import_states(settings))
            while True:
                counts = client.get("/api/projections/counts")
                if counts["events"] >= accepted and client.status()["projector"]["lag"] == 0:
                    break
                time.sleep(0.5)
            weeks = backtest(client, start, end)
        finally:
            stop_worker(worker)
            if broker is not None:
                broker.stop()
    claims = claims_weeks()
    print()
    print(
        "| state | rules first orange/red (2020–) | claims first > 2× Jan–Feb 2020 mean "
        "| lead (+) / lag (−) | orange/red weeks 2019 | 2020 | 2021 | rules at orange/red: "
        "2019 | 2020–21 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for state, code in STATES.items():
        held = weeks.get(code, {})
        hot = sorted(w for w, (r, _) in held.items() if r >= ORANGE)
        first = next((w for w in hot if w >= dt.date(2020, 1, 1)), None)
        series = claims.get(state, [])
        base = [n for d, n in series if d.year == 2020 and d.month <= 2]
        mean = sum(base) / len(base) if base else 0
        surge = next((d for d, n in series if d.year >= 2020 and n > 2 * mean), None)
        lead = f"{(surge - first).days // 7:+d}" if first and surge else "–"
        per_year = {y: sum(1 for w in hot if w.year == y) for y in (2019, 2020, 2021)}
        calm = sorted({r for w in hot if w.year == 2019 for r in held[w][1]})
        rules = sorted({r for w in hot if w.year >= 2020 for r in held[w][1]})
        print(f"| {state} | {first or 'never'} | {surge or 'never'} | {lead} | {per_year[2019]} | "
              f"{per_year[2020]} | {per_year[2021]} | {', '.join(calm) or '–'} | "
              f"{', '.join(rules) or '–'} |")  # fmt: skip


if __name__ == "__main__":
    main()
