"""A year's performance evaluation of the 16 cities and their counties from 10 million
events: :func:`eams.evaluations.compute` (every measure of the shipped indicator table,
counted per county as of an instant, summed to cities and the province, scored and ranked)
over a chDB store, against a plain scan of the same events (each county's events of the
year counted by type: what any evaluation reads at least), measured in the same run.

    .venv/bin/python benchmarks/evaluation.py [--events 10000000] [--persons 1000000]
                                              [--dir PATH]

What it does, in one run:

1. **load**: ``--events`` events of 2025 into a fresh store (``INSERT … SELECT`` from
   ``numbers()``, so the engine writes them with every materialised view of the
   migrations): registrations, recognitions, services, visits scheduled and made,
   placements, entitlements and payments, zero-employment households identified and
   cleared, recovery orders and recoveries, over ``--persons`` persons in the province's
   counties. ``--dir`` keeps the store, and a second run with it measures again.
2. **baseline**: ``SELECT region, event_type, count() … GROUP BY region, event_type`` over
   the year, as known now.
3. **evaluate**: the year computed as of now, twice (the second is reported), then each
   measure alone (where the time goes).

Prints the load rate, each pass's seconds, the ratio to the baseline, and a few figures of
the outcome (the best and worst city).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eams.evaluations import compute  # noqa: E402
from events.clock import SHANGHAI  # noqa: E402
from events.regions import load_reference  # noqa: E402
from projections import evaluation_queries as q  # noqa: E402
from projections.client import Store  # noqa: E402
from projections.migrations import migrate  # noqa: E402
from subsidies.evaluation import load_table, parse_period  # noqa: E402

CHUNK = 1_000_000
TYPES = [
    "person.registered",
    "person.recognized",
    "service.delivered",
    "visit.scheduled",
    "visit.recorded",
    "subsidy.entitled",
    "subsidy.paid",
    "placement.recorded",
    "household.zero_employment_identified",
    "household.zero_employment_cleared",
    "subsidy.recovery_ordered",
    "subsidy.recovered",
]


def _array(items: list[str]) -> str:
    assert all(item.replace("_", "").replace(".", "").isalnum() for item in items)
    return "[" + ", ".join(f"'{item}'" for item in items) + "]"


def load(store: Store, events: int, persons: int) -> float:
    """Write ``events`` synthetic events of 2025; returns the seconds it took."""
    reference = load_reference("shandong")
    codes = [c.code for c in reference.counties() if not c.is_statistical_zone]
    cities = [reference.city_of(c) or c for c in codes]
    kinds = len(TYPES)
    day = "toDate('2025-01-01') + toIntervalDay(number * 7919 % 365)"
    app = f"concat('\"application_id\":\"sa-', toString(number % {persons}), '\"')"

    def obj(*parts: str) -> str:  # a JSON object from SQL expressions of "key":value text
        return "concat('{', " + ", ',', ".join(parts) + ", '}')"

    def text(key: str, value: str) -> str:
        return f"concat('\"{key}\":\"', {value}, '\"')"

    def const(key: str, value: str) -> str:
        return f"'\"{key}\":{value}'"

    month = text("month", f"formatDateTime({day}, '%Y-%m')")
    by_type = {
        "person.registered": obj(
            const("target_group", '"employment_difficulty"'),
            text("registered_on", f"toString({day})"),
        ),
        "person.recognized": obj(const("target_group", '"employment_difficulty"')),
        "service.delivered": obj(const("service", '"job_referral"')),
        "visit.scheduled": obj(
            text("due_on", f"toString({day} + 20)"), const("interval_days", "30")
        ),
        "visit.recorded": obj(
            text("visited_on", f"toString({day})"), const("outcome", '"contacted"')
        ),
        "subsidy.entitled": obj(app, const("amount", '"600.00"'), month),
        "subsidy.paid": obj(app, const("amount", '"600.00"'), month),
        "placement.recorded": obj(const("placement", '"enterprise"')),
        "household.zero_employment_identified": obj(text("deadline", f"toString({day} + 30)")),
        "household.zero_employment_cleared": obj(
            "if(number % 3 = 0, '\"on_time\":false', '\"on_time\":true')"
        ),
        "subsidy.recovery_ordered": obj(app, const("amount", '"300.00"')),
        "subsidy.recovered": obj(app, const("amount", '"200.00"')),
    }
    payload = "multiIf(" + ", ".join(f"t = '{k}', {v}" for k, v in by_type.items()) + ", '{}')"
    began = time.monotonic()
    for start in range(0, events, CHUNK):
        n = min(CHUNK, events - start)
        store.command(
            "INSERT INTO events (event_id, event_type, schema_version, occurred_at, recorded_at,"
            " region, city, aggregate_id, source, actor, person_id, household_id, payload,"
            " kafka_partition, kafka_offset) "
            f"SELECT generateUUIDv4(number), t, 1, ts, ts, r, c, agg, 'bench', 'bench', pid, hid, "
            f"{payload}, toUInt16(number % 4), number FROM ("
            f"  SELECT number, {_array(TYPES)}[number % {kinds} + 1] AS t,"
            f"  toDateTime64({day}, 3, 'Asia/Shanghai') + toIntervalSecond(number % 36000) AS ts,"
            f"  {_array(codes)}[intDiv(number % {persons}, 7) % {len(codes)} + 1] AS r,"
            f"  {_array(cities)}[intDiv(number % {persons}, 7) % {len(codes)} + 1] AS c,"
            f"  if(t LIKE 'household.%', concat('h_', toString(intDiv(number % {persons}, 4))),"
            f"     concat('p_', lower(hex(MD5(toString(number % {persons})))))) AS agg,"
            f"  if(t LIKE 'household.%', '', agg) AS pid,"
            f"  if(t LIKE 'household.%', agg, '') AS hid"
            f"  FROM numbers({start}, {n}))"
        )
        rate = (start + n) / (time.monotonic() - began)
        print(f"  loaded {start + n:>12,}/{events:,} events  {rate:>9,.0f} events/s", flush=True)
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="eams-evaluation-"))
    store = Store(f"chdb://{work}/clickhouse")
    migrate(store)
    held = int(store.scalar("SELECT count() FROM events") or 0)
    if held:
        print(f"reusing the {held:,} events in {work}")
    else:
        took = load(store, args.events, args.persons)
        print(f"loaded {args.events:,} events in {took:.1f} s ({args.events / took:,.0f} events/s)")
    reference = load_reference("shandong")
    table = load_table(ROOT / "deploy" / "evaluation" / "indicators.yaml")
    year = parse_period("2025")
    now = dt.datetime.now(SHANGHAI)

    t0 = time.perf_counter()
    at = "DateTime64(3, 'Asia/Shanghai')"
    rows = store.rows(
        f"SELECT region, event_type, count() FROM events WHERE recorded_at <= {{now:{at}}} "
        f"AND occurred_at >= {{start:{at}}} AND occurred_at < {{end:{at}}} "
        "GROUP BY region, event_type",
        {"now": now, "start": year.start_at, "end": year.end_at},
    )
    base = time.perf_counter() - t0
    counted = sum(r[2] for r in rows)
    print(f"baseline (counts by county and type): {base:7.2f} s  ({counted:,} events, "
          f"{len(rows):,} groups)")  # fmt: skip

    compute(store, reference, table, year, now)  # warm
    t0 = time.perf_counter()
    regions = compute(store, reference, table, year, now)
    took = time.perf_counter() - t0
    print(
        f"evaluate the year (every measure)  : {took:7.2f} s  ratio to baseline {took / base:.1f}"
    )
    params = {"start": year.start_at, "end": year.end_at, "as_of": now, "bound": [2**64 - 1] * 1024}
    days = {i.measure: i.days for i in table.indicators if i.days is not None}
    parts = {
        "persons (coverage, employment, recognition)": lambda c: q._person_measures(
            store, params, days, c
        ),
        "households (clearing on time)": lambda c: q._clearing(store, params, c),
        "visits (compliance)": lambda c: q._visits(store, params, c),
        "subsidies (timeliness)": lambda c: q._subsidies(store, params, days, c),
        "recovery (rate)": lambda c: q._recovery(store, params, c),
    }
    for label, part in parts.items():
        t0 = time.perf_counter()
        part({})
        print(f"    {label:<46} {time.perf_counter() - t0:7.2f} s")
    cities = [r for r in regions if r["level"] == "city" and r["total"] is not None]
    names = {r.code: r.name for r in reference}
    best, worst = cities[0], cities[-1]
    print(
        f"cities ranked: {len(cities)}; first {names[best['region']]} {best['total']}, "
        f"last {names[worst['region']]} {worst['total']}; counties: "
        f"{sum(1 for r in regions if r['level'] == 'county' and r['total'] is not None)}"
    )
    store.close()


if __name__ == "__main__":
    main()
