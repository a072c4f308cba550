"""Console: the overview API over 10,000,000 events, and live-update fan-out.

    .venv/bin/python benchmarks/console.py [--events 10000000] [--requests 300] [--clients 200]

One run, on the embedded default:

1. ``--events`` synthetic events (registrations, layoffs, services, claims, placements over
   the past year, spread over Shandong's 136 county-level regions and 3 million people) are
   written straight into the chDB ``events`` table with ``INSERT … SELECT FROM numbers()``,
   so the materialized views build the projections as they would from the log (loading
   them through Kafka at ~19k events/s would take nine minutes and measure the pipeline,
   which ``pipeline.py`` does);
2. a real ``eams run`` worker (default rules, evaluation every 2 s) serves that state;
3. ``GET /api/overview/cities`` (the console's main read, last 7 days) ``--requests`` times,
   one after another: p50, p95, max; the baseline in the same run is ``GET /api/me`` (the
   same authentication and HTTP path, no ClickHouse), and the ratio of the medians;
4. ``--clients`` connections to ``/api/stream`` (server-sent events); one event is appended
   and the time until each client receives the ``change`` event is measured: p50, p95, max.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from common import SIGNING_KEY, Worker, broker  # noqa: E402 (puts the project on sys.path)

from events.clock import SHANGHAI  # noqa: E402
from events.identity import make_national_id  # noqa: E402
from events.regions import load_reference  # noqa: E402
from projections.client import Store  # noqa: E402
from projections.migrations import migrate  # noqa: E402
from streams.producer import RawProducer  # noqa: E402
from streams.topics import TopicNames  # noqa: E402

CHUNK = 1_000_000
TYPES = ["person.registered", "layoff.reported", "service.delivered",
         "unemployment_claim.filed", "placement.recorded"]  # fmt: skip
GROUPS = ["employment_difficulty", "rural_surplus_labour", "low_income_graduate",
          "temporary_assistance"]  # fmt: skip


def load(state: Path, events: int) -> float:
    """Write ``events`` synthetic events into a fresh store; returns the seconds it took."""
    reference = load_reference("shandong")
    counties = [c for c in reference.counties() if not c.is_statistical_zone]
    codes = [c.code for c in counties]
    cities = [reference.city_of(c.code) or c.code for c in counties]
    store = Store(f"chdb://{state}/clickhouse")
    migrate(store)
    began = time.monotonic()
    for start in range(0, events, CHUNK):
        n = min(CHUNK, events - start)
        store.command(
            "INSERT INTO events (event_id, event_type, schema_version, occurred_at, recorded_at,"
            " region, city, aggregate_id, source, actor, person_id, target_group, status,"
            " laid_off, payload, kafka_partition, kafka_offset) "
            f"SELECT generateUUIDv4(number), {_array(TYPES)}[number % 5 + 1], 1, "
            "now64(3) - toIntervalSecond(number * 7919 % 31536000), now64(3), "
            f"{_array(codes)}[number % {len(codes)} + 1], "
            f"{_array(cities)}[number % {len(codes)} + 1], "
            "concat('p_', toString(number % 3000000)), 'bench', 'bench', "
            "concat('p_', toString(number % 3000000)), "
            f"if(number % 5 = 0, {_array(GROUPS)}[intDiv(number, 5) % 4 + 1], ''), "
            "if(number % 5 = 0, 'unemployed', ''), "
            "if(number % 5 = 1, toUInt32(number % 37 + 1), 0), '{}', 0, number "
            f"FROM numbers({start}, {n})"
        )
        print(f"  loaded {start + n:,}/{events:,} events", flush=True)
    took = time.monotonic() - began
    total = store.scalar("SELECT count() FROM events")
    print(f"  events in chDB: {total:,}; persons: "
          f"{store.scalar('SELECT uniqExact(person_id) FROM persons'):,}", flush=True)  # fmt: skip
    store.close()
    return took


def _array(items: list[str]) -> str:
    """A ClickHouse array literal of plain identifiers (codes and names made here)."""
    assert all(item.replace("_", "").replace(".", "").isalnum() for item in items)
    return "[" + ", ".join(f"'{item}'" for item in items) + "]"


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(client: httpx.Client, path: str, times: int) -> list[float]:
    """Seconds per request, one after another."""
    out = []
    for _ in range(times):
        began = time.perf_counter()
        client.get(path).raise_for_status()
        out.append(time.perf_counter() - began)
    return out


async def fan_out(base: str, token: str, clients: int, trigger: Any) -> list[float]:
    """Connect ``clients`` SSE streams, append one event, time each client's change."""
    connected = asyncio.Event()
    ready = 0
    fired: dict[str, float] = {}
    got: list[float] = []
    limits = httpx.Limits(max_connections=clients + 10)
    async with httpx.AsyncClient(base_url=base, timeout=None, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as http:  # fmt: skip

        async def listen() -> None:
            nonlocal ready
            seen_first = False
            async with http.stream("GET", "/api/stream") as response:
                async for line in response.aiter_lines():
                    if not line.startswith("event: change"):
                        continue
                    if not seen_first:
                        seen_first = True
                        ready += 1
                        if ready == clients:
                            connected.set()
                        continue
                    if "at" in fired:
                        got.append(time.perf_counter() - fired["at"])
                        return

        tasks = [asyncio.create_task(listen()) for _ in range(clients)]
        await asyncio.wait_for(connected.wait(), timeout=120)
        await asyncio.sleep(1.0)  # quiet: no change pending
        fired["at"] = time.perf_counter()
        await trigger()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    return got


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--bootstrap")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="eams-console-bench-"))
    print(f"loading {args.events:,} synthetic events into chDB ({work})", flush=True)
    took = load(work / "worker", args.events)
    print(f"  {args.events / took:,.0f} events/s into the events table and its views", flush=True)
    cluster, local_broker = broker(work, args.bootstrap)
    worker = Worker(work, cluster, "consolebench")
    try:
        worker.wait_ready()
        token = worker.api.headers["Authorization"].removeprefix("Bearer ")
        api = worker.api
        api.timeout = httpx.Timeout(120)
        timed(api, "/api/overview/cities?days=7", 5)  # warm-up
        overview = timed(api, "/api/overview/cities?days=7", args.requests)
        baseline = timed(api, "/api/me", args.requests)
        names = TopicNames.for_namespace(worker.namespace)

        async def trigger() -> None:
            now = time.time()
            import datetime as dt

            at = dt.datetime.fromtimestamp(now, SHANGHAI).isoformat()
            event = {"event_id": str(uuid.uuid4()), "event_type": "person.registered",
                     "schema_version": 1, "occurred_at": at, "recorded_at": at,
                     "region": "371302", "source": "bench", "actor": "bench", "payload": {
                         "national_id": make_national_id("371302", dt.date(1990, 1, 1), 7),
                         "target_group": "temporary_assistance",
                         "employment_status": "unemployed"}}  # fmt: skip
            async with RawProducer(
                cluster.kafka("raw"), names.ingest_raw, "bench", signing_key=SIGNING_KEY
            ) as producer:
                await producer.submit(orjson.dumps(event))

        base = str(api.base_url).rstrip("/")
        live = asyncio.run(fan_out(base, token, args.clients, trigger))
    finally:
        worker.stop()
        if local_broker is not None:
            local_broker.stop()

    print()
    print(f"events in chDB                 {args.events:>12,}")
    print(f"GET /api/overview/cities  p50  {statistics.median(overview) * 1000:>9.1f} ms")
    print(f"                          p95  {pct(overview, 0.95) * 1000:>9.1f} ms")
    print(f"                          max  {max(overview) * 1000:>9.1f} ms")
    print(f"baseline GET /api/me      p50  {statistics.median(baseline) * 1000:>9.1f} ms "
          f"(p95 {pct(baseline, 0.95) * 1000:.1f} ms)")  # fmt: skip
    ratio = statistics.median(overview) / statistics.median(baseline)
    print(f"ratio p50 overview / p50 me    {ratio:>9.1f}")
    print(f"live update to {len(live)} of {args.clients} SSE clients (event appended -> "
          f"change received): p50 {statistics.median(live) * 1000:.0f} ms, "
          f"p95 {pct(live, 0.95) * 1000:.0f} ms, max {max(live) * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
