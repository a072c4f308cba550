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
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from common import ROOT, SIGNING_KEY, Worker, broker  # (puts the project on sys.path)

from eams.tools.simulator import Scenario, ScenarioConfig  # noqa: E402
from events.regions import load_reference  # noqa: E402
from streams.kafka import KafkaAccess  # noqa: E402
from streams.producer import RawProducer  # noqa: E402
from streams.topics import TopicNames, log_ends  # noqa: E402


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


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def java_pid() -> int | None:
    """The broker's process (the local one this benchmark started), if any."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"kafka.Kafka" in cmd and b"eams-bench-" in cmd:
                return int(proc.name)
    return None


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
    done = 0; t0 = None; c0 = 0.0
    while done < n:
        got = await c.getmany(timeout_ms=500, max_records=20000)
        if t0 is None and got: t0 = time.perf_counter(); c0 = time.process_time()
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
    print(json.dumps({"events": done, "seconds": elapsed, "cpu": time.process_time() - c0}))
asyncio.run(main())
"""


def first_append(kafka: KafkaAccess, topic: str) -> float:
    """The earliest record timestamp (epoch seconds) over the partitions of ``topic``: when
    the worker's ingest appended its first event."""

    async def go() -> float:
        consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            cluster = await consumer._client.fetch_all_metadata()  # noqa: SLF001
            tps = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            firsts: list[float] = []
            pending = set(tps)
            while pending:
                got = await consumer.getmany(*pending, timeout_ms=1000, max_records=1)
                for tp, records in got.items():
                    if records:
                        firsts.append(records[0].timestamp / 1000)
                        pending.discard(tp)
                        consumer.pause(tp)
                if not got:
                    break  # partitions without a record
            return min(firsts)
        finally:
            await consumer.stop()

    return asyncio.run(go())


def progress(t0: float, status: dict[str, Any]) -> str:
    """One progress line: how far each stage is."""
    ingest = status["ingest"]
    projector = status["projector"]
    worklist = status["worklist"]
    return (
        f"  {time.time() - t0:6.1f} s  ingest {ingest.get('accepted', 0):>10,}  "
        f"projected {projector['rows']:>10,}  lag {projector['lag']:>9,}  "
        f"worklist pending {worklist['pending']:>8,} rebuilds {worklist['rebuilds']}"
    )


def rebuild_all(cluster: Any, names: TopicNames, api: Any) -> dict[str, float]:
    """``POST /api/admin/rebuild`` on the settled worker: every projection dropped and the
    whole log projected again (the projector alone: nothing new comes in); the seconds
    until the projector is at the log's end, and how many events it wrote."""
    ends = asyncio.run(log_ends(cluster.kafka("stream"), names.events))
    print(f"rebuild: dropping every projection and projecting {sum(ends.values()):,} log "
          "offsets again …", flush=True)  # fmt: skip
    started = time.time()
    api.post("/api/admin/rebuild", timeout=600).raise_for_status()
    status = wait_past(api, ends, started)
    return {"seconds": time.time() - started, "rows": float(status["projector"]["rows"])}


def wait_past(api: Any, ends: dict[int, int], started: float) -> dict[str, Any]:
    """Until the projector (not rebuilding) is past ``ends`` on every partition, with a
    progress line every 5 s; its last status."""
    shown = time.time()
    while True:
        status: dict[str, Any] = api.get("/api/status", timeout=60).json()
        positions = {int(p): o for p, o in status["projector"]["positions"].items()}
        if not status["rebuilding"] and all(positions.get(p, 0) >= e for p, e in ends.items()):
            return status
        if time.time() - shown >= 5:
            print(progress(started, status), flush=True)
            shown = time.time()
        time.sleep(0.2)


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
    expected: dict[str, int] = {}
    for raw in raws:
        kind = orjson.loads(raw)["event_type"]
        expected[kind] = expected.get(kind, 0) + 1
    # The pipeline alone: no alert rules (the evaluator would add its own events and work).
    (work / "no_rules.yaml").write_text("rules: []\n")
    env = {"EAMS_RULES": str(work / "no_rules.yaml")}
    # A first start creates the namespace's topics, keys and schema; it is stopped again
    # before anything is produced.
    worker = Worker(work, cluster, "bench", **env)
    names = TopicNames.for_namespace(worker.namespace)
    worker.wait_ready()
    worker.stop()
    print(f"producing {n:,} raw events (the worker is stopped) …", flush=True)
    produce_s = asyncio.run(produce(cluster.kafka("raw"), names.ingest_raw, raws))
    del raws
    print("pipeline: the worker starts on the loaded raw topic; waiting until all are "
          "projected …", flush=True)  # fmt: skip
    worker = Worker(work, cluster, "bench", namespace=worker.namespace, **env)
    api = worker.api
    broker_pid = java_pid()
    broker_cpu = cpu_seconds(broker_pid) if broker_pid else 0.0
    try:
        worker.wait_ready()
        shown = 0.0
        started = time.time()
        while True:
            status = api.get("/api/status", timeout=60).json()
            if time.time() - shown >= 5:
                print(progress(started, status), flush=True)
                shown = time.time()
            if status["ingest"].get("accepted", 0) >= n:
                break
            time.sleep(0.5)
        # Every input is in the log (the counters are published after the batch's flush
        # at the latest half a second later): wait until the projector is past them.
        ends = asyncio.run(log_ends(cluster.kafka("stream"), names.events))
        status = wait_past(api, ends, started)
        done_at = time.time()
        print(progress(started, status), flush=True)
        rss = peak_rss_mb(worker.proc.pid)
        child_rss = sum(peak_rss_mb(c) for c in children(worker.proc.pid))
        cpu = {
            "worker (projector, commands, casework, API)": cpu_seconds(worker.proc.pid),
            "ingest process": sum(cpu_seconds(c) for c in children(worker.proc.pid)),
        }
        if broker_pid:
            cpu["Kafka broker"] = cpu_seconds(broker_pid) - broker_cpu
        counts = api.get("/api/projections/counts", timeout=300).json()
        rebuild = rebuild_all(cluster, names, api)
    finally:
        worker.stop()
    t0 = first_append(cluster.kafka("stream"), names.events)
    pipeline_s = done_at - t0

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

    by_type = counts["events_by_type"]
    projected = sum(by_type.get(kind, 0) for kind in expected)
    pipeline_eps = n / pipeline_s
    baseline_eps = baseline["events"] / baseline["seconds"]
    print()
    print(f"events                         {n:>12,}")
    print(f"projected (exact count check)  {projected:>12,}  (+{counts['events'] - projected:,} "
          "that casework decided)")  # fmt: skip
    print(f"producer rate (alone)          {n / produce_s:>12,.0f} events/s")
    print(f"pipeline end to end            {pipeline_eps:>12,.0f} events/s  ({pipeline_s:.1f} s)")
    print(
        f"baseline raw consume+insert    {baseline_eps:>12,.0f} events/s  "
        f"({baseline['seconds']:.1f} s)"
    )
    print(f"ratio pipeline / baseline      {pipeline_eps / baseline_eps:>12.2f}")
    rebuild_eps = rebuild["rows"] / rebuild["seconds"]
    if rebuild_eps > 0:
        print(
            f"rebuild (projector alone)      {rebuild_eps:>12,.0f} events/s  "
            f"({rebuild['rows']:,.0f} events in {rebuild['seconds']:.1f} s; "
            f"10M at this rate: {10_000_000 / rebuild_eps / 60:.1f} min)"
        )
        print(f"ratio rebuild / baseline       {rebuild_eps / baseline_eps:>12.2f}")
    else:  # seen at 5,000 events, not at 300,000 or more: not yet explained
        print("rebuild (projector alone)      not measured: the rebuilt projector reports no "
              "event written when it is already past the log's end")  # fmt: skip
    print(f"worker peak RSS (projector)    {rss:>12,.0f} MiB")
    print(f"ingest process peak RSS        {child_rss:>12,.0f} MiB")
    print("CPU per event (start of the worker to the last projection; user + system):")
    for name, seconds in cpu.items():
        print(f"  {name:45s} {seconds / n * 1e6:7.1f} us  ({seconds:.1f} s)")
    print(f"  {'all of them':45s} {sum(cpu.values()) / n * 1e6:7.1f} us  "
          f"(the copy's own process: {baseline['cpu'] / n * 1e6:.1f} us)")  # fmt: skip
    wrong = {k: (by_type.get(k, 0), v) for k, v in expected.items() if by_type.get(k, 0) != v}
    if wrong:
        raise SystemExit(f"projected (got, expected) by type: {wrong}")
    if rebuild_eps <= 0:
        raise SystemExit("the rebuild wrote no event: its figure is missing from this run")


if __name__ == "__main__":
    main()
