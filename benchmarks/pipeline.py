"""End-to-end pipeline throughput on the embedded default, against a raw baseline.

    .venv/bin/python benchmarks/pipeline.py [--events 1000000] [--bootstrap HOST:PORT]

What it measures, in one run on the same broker:

1. **pipeline**: a real ``eams run`` worker (fresh state dir, embedded chDB, its own topic
   namespace) is started and idle; the clock starts when this process begins producing
   N raw scenario events to ``<ns>.ingest.raw`` and stops when ``/api/status`` shows all N
   projected (validate, pseudonymise, dedupe, append to the log, project with the
   exactly-once protocol and the materialized views). Events/s = N / that time.
2. **baseline**: a separate process (chDB allows one per data path) consumes the same N
   events from ``<ns>.events`` with aiokafka batch ``getmany`` and inserts them with
   clickhouse-connect into a plain MergeTree table in its own chDB, no validation, no
   views. Events/s = N / (first fetch .. last insert).

It prints both rates, their ratio, the producer's rate, and the peak RSS (VmHWM) of the
worker and of its ingest child process.
Event generation and encoding happen before any clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, SIGNING_KEY, Worker, broker  # (puts the project on sys.path)

from eams.tools.simulator import Scenario, ScenarioConfig  # noqa: E402
from events.regions import load_reference  # noqa: E402
from streams.kafka import KafkaAccess  # noqa: E402
from streams.producer import RawProducer  # noqa: E402
from streams.topics import TopicNames  # noqa: E402


def generate(n: int) -> list[bytes]:
    """N scenario events, encoded (not timed)."""
    import datetime as dt

    import orjson

    from events.clock import SHANGHAI

    cfg = ScenarioConfig(
        seed=2024,
        count=n,
        start=dt.datetime(2026, 1, 1, tzinfo=SHANGHAI),
        span=dt.timedelta(days=300),
    )
    return [orjson.dumps(e) for e in Scenario(load_reference("shandong"), cfg)]


async def produce(kafka: KafkaAccess, topic: str, raws: list[bytes]) -> float:
    """Produce everything; return the seconds it took."""
    t0 = time.perf_counter()
    async with RawProducer(kafka, topic, "benchmark", signing_key=SIGNING_KEY) as producer:
        for raw in raws:
            await producer.submit(raw)
    return time.perf_counter() - t0


def children(pid: int) -> list[int]:
    """Direct children of a process (the ingest child of ``eams run``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


BASELINE = r"""
import asyncio, json, sys, time
import clickhouse_connect, orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from eams.settings import Settings
topic, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
client.command("CREATE TABLE raw_events (event_id String, event_type String, region String, "
               "occurred_at String, payload String) ENGINE = MergeTree ORDER BY event_id")
async def main():
    c = AIOKafkaConsumer(**Settings().kafka("stream").client_options(), enable_auto_commit=False,
                         max_partition_fetch_bytes=8*1024*1024, fetch_max_bytes=32*1024*1024)
    await c.start()
    cluster = await c._client.fetch_all_metadata()
    tps = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic)]
    c.assign(tps); await c.seek_to_beginning(*tps)
    done = 0; t0 = None
    while done < n:
        got = await c.getmany(timeout_ms=500, max_records=20000)
        if t0 is None and got: t0 = time.perf_counter()
        rows = []
        for records in got.values():
            for r in records:
                d = orjson.loads(r.value)
                rows.append((d["event_id"], d["event_type"], d["region"], d["occurred_at"],
                             orjson.dumps(d["payload"]).decode()))
        if rows:
            await asyncio.to_thread(client.insert, "raw_events", rows,
                column_names=["event_id", "event_type", "region", "occurred_at", "payload"])
            done += len(rows)
    elapsed = time.perf_counter() - t0
    await c.stop()
    print(json.dumps({"events": done, "seconds": elapsed}))
asyncio.run(main())
"""


def main() -> None:
    """Run the pipeline and the baseline and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--bootstrap", help="an existing Kafka (default: start the local one)")
    args = parser.parse_args()
    n = args.events

    work = Path(tempfile.mkdtemp(prefix="eams-bench-"))
    cluster, local_broker = broker(work, args.bootstrap)
    print(f"generating {n:,} scenario events …", flush=True)
    raws = generate(n)
    # The pipeline alone: no alert rules (the evaluator would add its own events and work).
    (work / "no_rules.yaml").write_text("rules: []\n")
    worker = Worker(work, cluster, "bench", EAMS_RULES=str(work / "no_rules.yaml"))
    names = TopicNames.for_namespace(worker.namespace)
    api = worker.api
    try:
        worker.wait_ready()
        print(f"pipeline: producing {n:,} events and waiting until all are projected …", flush=True)
        t0 = time.perf_counter()
        produce_s = asyncio.run(produce(cluster.kafka("raw"), names.ingest_raw, raws))
        while True:
            status = api.get("/api/status").json()
            if status["projector"]["rows"] >= n:
                break
            time.sleep(0.05)
        pipeline_s = time.perf_counter() - t0
        rss = peak_rss_mb(worker.proc.pid)
        child_rss = sum(peak_rss_mb(c) for c in children(worker.proc.pid))
        counts = api.get("/api/projections/counts", timeout=120).json()
    finally:
        worker.stop()
    del raws

    print("baseline: aiokafka getmany -> clickhouse-connect insert (no validation) …", flush=True)
    out = subprocess.run(
        [sys.executable, "-c", BASELINE, names.events, str(n), str(work / "baseline")],
        env=dict(os.environ, **cluster.kafka_env()),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    baseline = json.loads(out.stdout.strip().splitlines()[-1])
    if local_broker is not None:
        local_broker.stop()

    pipeline_eps = n / pipeline_s
    baseline_eps = baseline["events"] / baseline["seconds"]
    print()
    print(f"events                         {n:>12,}")
    print(f"projected (exact count check)  {counts['events']:>12,}")
    print(f"producer rate                  {n / produce_s:>12,.0f} events/s")
    print(f"pipeline end to end            {pipeline_eps:>12,.0f} events/s  ({pipeline_s:.1f} s)")
    print(
        f"baseline raw consume+insert    {baseline_eps:>12,.0f} events/s  "
        f"({baseline['seconds']:.1f} s)"
    )
    print(f"ratio pipeline / baseline      {pipeline_eps / baseline_eps:>12.2f}")
    print(f"worker peak RSS (projector)    {rss:>12,.0f} MiB")
    print(f"ingest process peak RSS        {child_rss:>12,.0f} MiB")
    if counts["events"] != n:
        raise SystemExit(f"projected {counts['events']} events, expected {n}")


if __name__ == "__main__":
    main()
