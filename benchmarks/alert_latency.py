"""Alert latency: triggering event in the log -> e-mail at the SMTP server, under load.

    .venv/bin/python benchmarks/alert_latency.py [--alerts 1000] [--load 5000] [--wave 50]

One run, on the embedded default, measures both paths of alerting (README, "Alerting: two
paths") on the same flags:

- a real broker (started here unless ``--bootstrap``), a real ``eams run`` worker with two
  county-level disaster rules (pending 0, keep-firing 0): ``bench-stream`` on the stream
  path (:mod:`alerting.stream`: judged as the flag arrives in the log) and
  ``bench-projection``, the same rule kept on the projection path
  (``EAMS_ALERT_PROJECTION_RULES``: judged from the projections every ``--interval``); a
  roster whose province duty officer receives every alert by e-mail, a real SMTP server
  (aiosmtpd) on loopback; grouping by city with group wait and group interval 0 s (no
  message is held back on purpose, so the figure is the pipeline's own latency; the alerts
  of one evaluation still share one message per city);
- a background load of ``--load`` scenario events per second into the ingest topic;
- alerts in waves: ``--wave`` counties are flagged as disaster areas at once; each
  flag's time is the Kafka timestamp of its record in ``<ns>.events`` (read back from the
  log), and each alert's time is when the SMTP server received the e-mail naming that
  county's alert of that rule; then the counties are cleared and the next wave starts once
  all resolved.

It prints p50, p95, p99 and max of each path over all alerts, and, as the baseline
measured in the same run, the time from the flag's append to the worker's
``/api/disaster-areas`` showing it (what the projection path waits for before it can
decide anything). No figure is asserted anywhere: the numbers go in the README.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import email
import re
import statistics
import tempfile
import threading
import time
import uuid
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from common import SIGNING_KEY, Worker, broker, free_port  # noqa: E402 (puts the project on sys.path)

from eams.tools.simulator import Scenario, ScenarioConfig  # noqa: E402
from events.clock import SHANGHAI  # noqa: E402
from events.regions import load_reference  # noqa: E402
from streams.kafka import KafkaAccess  # noqa: E402
from streams.producer import RawProducer  # noqa: E402
from streams.topics import TopicNames  # noqa: E402

RULE = """
  - id: bench-{path}
    title: 灾区 / Disaster area
    indicator: disaster_area
    kind: absolute
    scope: {{level: county}}
    levels:
      IV: {{enter: 1, exit: 1}}
    pending: 0s
    keep_firing: 0s
"""
PATHS = ("stream", "projection")
RULES = "rules:" + "".join(RULE.format(path=p) for p in PATHS)
# Every alert a message carries (the lead and the rest of its group) links to its id,
# which names the rule and the county: ``…/alerts/bench-stream:371302:20261127T…``.
REGION = re.compile(r"bench-(stream|projection):(\d{6}):\d{8}T\d{6}")


class Inbox:
    """SMTP handler: when the firing e-mail of each (path, county) arrived."""

    def __init__(self) -> None:
        self.arrived: dict[tuple[str, str], float] = {}
        self.alert_ids: set[str] = set()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.time()
        msg = email.message_from_bytes(envelope.content)
        subject = str(make_header(decode_header(msg["Subject"] or "")))
        body = msg.get_payload(decode=True)
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else ""
        if "解除" not in subject:
            for match in REGION.finditer(text):
                with self.lock:
                    self.arrived.setdefault((match.group(1), match.group(2)), now)
                    self.alert_ids.add(match.group(0))
        return "250 OK"


def background_load(kafka: KafkaAccess, topic: str, rate: float, stop: threading.Event) -> None:
    """Scenario events at ``rate`` per second until ``stop``."""

    async def go() -> None:
        cfg = ScenarioConfig(seed=99, count=10_000_000, flood_at=2.0)
        scenario = iter(Scenario(load_reference("shandong"), cfg))
        async with RawProducer(kafka, topic, "load", signing_key=SIGNING_KEY) as producer:
            began = time.monotonic()
            sent = 0
            while not stop.is_set():
                for _ in range(int(rate / 20)):
                    await producer.submit(orjson.dumps(next(scenario)))
                    sent += 1
                await producer.flush()
                ahead = sent / rate - (time.monotonic() - began)
                if ahead > 0:
                    await asyncio.sleep(ahead)

    asyncio.run(go())


class LogTail:
    """Tails the event log in a thread: the Kafka timestamp of each disaster flag."""

    def __init__(self, kafka: KafkaAccess, topic: str) -> None:
        self.kafka = kafka
        self.topic = topic
        self.flags: dict[tuple[str, str], float] = {}  # (disaster id, county) -> seconds
        # alert id -> (decided: the raise's time, appended: its record's Kafka timestamp)
        self.raised: dict[str, tuple[float, float]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(**self.kafka.client_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            cluster = await consumer._client.fetch_all_metadata()
            parts = cluster.partitions_for_topic(self.topic) or ()
            tps = [TopicPartition(self.topic, p) for p in parts]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while not self.stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=50_000)
                for records in batch.values():
                    for r in records:
                        if b'"alert.raised"' in (r.value or b""):
                            doc = orjson.loads(r.value or b"{}")
                            at = dt.datetime.fromisoformat(doc["occurred_at"]).timestamp()
                            self.raised[doc["payload"]["alert_id"]] = (at, r.timestamp / 1000)
                        elif b"disaster_area.flagged" in (r.value or b""):
                            doc = orjson.loads(r.value or b"{}")
                            for code in doc["payload"]["regions"]:
                                key = (doc["payload"]["disaster_id"], code)
                                self.flags.setdefault(key, r.timestamp / 1000)
        finally:
            await consumer.stop()


def flag(county: str, disaster_id: str, cleared: bool = False) -> bytes:
    """A flag (or clear) of one county."""
    now = dt.datetime.now(SHANGHAI)
    payload: dict[str, Any] = {"disaster_id": disaster_id}
    if cleared:
        payload.update(period_end=now.date().isoformat(), regions=[county])
        event_type = "disaster_area.cleared"
    else:
        payload.update(
            kind="natural_disaster",
            severity="IV",
            regions=[county],
            title="基准测试",
            period_start=now.date().isoformat(),
        )
        event_type = "disaster_area.flagged"
    return orjson.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": now.isoformat(),
            "recorded_at": now.isoformat(),
            "region": county[:4] + "00",
            "source": "bench",
            "actor": "bench",
            "payload": payload,
        }
    )


async def send(kafka: KafkaAccess, topic: str, raws: list[bytes]) -> None:
    """Produce and wait for acks."""
    async with RawProducer(kafka, topic, "bench", signing_key=SIGNING_KEY) as producer:
        for raw in raws:
            await producer.submit(raw)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def patient(api: Any, path: str) -> Any:
    """GET ``path`` as JSON, asking again when the loaded worker is slow to answer."""
    while True:
        try:
            return api.get(path).json()
        except httpx.TimeoutException:
            print(f"  (GET {path} timed out; asking again)", flush=True)


def figures(name: str, values: list[float]) -> None:
    """One line per quantile of ``values`` (seconds)."""
    if not values:
        print(f"{name:<27}  no alert measured")
        return
    print(f"{name:<27}p50 {statistics.median(values):>8.3f} s")
    for label, q in (("p95", 0.95), ("p99", 0.99)):
        print(f"{'':<27}{label} {pct(values, q):>8.3f} s")
    print(f"{'':<27}max {max(values):>8.3f} s")


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=1000, help="alerts per path")
    parser.add_argument("--load", type=float, default=5000.0, help="background events/s")
    parser.add_argument("--wave", type=int, default=50, help="counties flagged at once")
    parser.add_argument("--interval", type=float, default=0.2, help="EAMS_RISK_INTERVAL")
    parser.add_argument("--bootstrap")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="eams-alert-bench-"))
    cluster, local_broker = broker(work, args.bootstrap)
    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    (work / "rules.yaml").write_text(RULES)
    (work / "roster.yaml").write_text(
        f"channels: {{smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: eams@example.gov.cn}}}}\n"
        "officers:\n  - {id: province-duty, tier: province, regions: ['370000'], "
        "contacts: {email: duty@example.gov.cn}}\n"
        "policy: {repeat_interval: 1d, escalate_after: 1d, group_wait: 0s, group_interval: 0s}\n"
    )
    worker = Worker(
        work, cluster, "alertbench",
        EAMS_RULES=str(work / "rules.yaml"), EAMS_ROSTER=str(work / "roster.yaml"),
        EAMS_RISK_INTERVAL=str(args.interval), EAMS_PROJECTOR_LINGER_MS="100",
        EAMS_ALERT_PROJECTION_RULES="bench-projection", EAMS_ALERT_STREAM="1",
    )  # fmt: skip
    names = TopicNames.for_namespace(worker.namespace)
    api = worker.api
    stop = threading.Event()
    raw = cluster.kafka("raw")
    load = threading.Thread(
        target=background_load, args=(raw, names.ingest_raw, args.load, stop), daemon=True
    )
    counties = [c.code for c in load_reference("shandong").counties() if not c.is_statistical_zone]
    tail = LogTail(cluster.kafka("stream"), names.events)
    latencies: dict[str, list[float]] = {path: [] for path in PATHS}
    # per path: flag appended -> raise decided, decided -> alert.raised appended, -> SMTP
    stages: dict[str, list[tuple[float, float, float]]] = {path: [] for path in PATHS}
    baseline: list[float] = []
    try:
        worker.wait_ready()
        load.start()
        tail.thread.start()
        time.sleep(3)
        done = 0
        wave_no = 0
        while done < args.alerts:
            wave = counties[: min(args.wave, args.alerts - done)]
            inbox.arrived.clear()
            inbox.alert_ids.clear()
            did = f"bench-{wave_no}"
            asyncio.run(send(raw, names.ingest_raw, [flag(c, did) for c in wave]))
            deadline = time.monotonic() + 60
            seen_at: dict[str, float] = {}
            while time.monotonic() < deadline and len(inbox.arrived) < len(PATHS) * len(wave):
                if len(seen_at) < len(wave):
                    now = time.time()
                    for a in api.get("/api/disaster-areas").json():
                        if a["disaster_id"] == did:
                            seen_at.setdefault(a["region"], now)
                time.sleep(0.02)
            time.sleep(0.3)  # the tail has read the flags long before the e-mails came
            for c in wave:
                appended = tail.flags.get((did, c))
                if appended is None:
                    continue
                for path in PATHS:
                    if (path, c) in inbox.arrived:
                        latencies[path].append(inbox.arrived[(path, c)] - appended)
                if c in seen_at:
                    baseline.append(seen_at[c] - appended)
            for alert_id in inbox.alert_ids:
                match = REGION.fullmatch(alert_id)
                raised = tail.raised.get(alert_id)
                appended = tail.flags.get((did, match.group(2))) if match else None
                mailed = inbox.arrived.get((match.group(1), match.group(2))) if match else None
                if match and raised and appended and mailed:
                    decided, logged = raised
                    stages[match.group(1)].append(
                        (decided - appended, logged - decided, mailed - logged)
                    )
            asyncio.run(send(raw, names.ingest_raw, [flag(c, did, True) for c in wave]))
            # The next wave flags the same counties: it may only start once every alert of
            # this one has resolved, or it would be the same (still firing) alerts.
            for alert_id in sorted(inbox.alert_ids):
                # (404 until the alert's own event is projected: the e-mail can be faster)
                while patient(api, f"/api/alerts/{alert_id}").get("status") != "resolved":
                    time.sleep(0.1)
            while any(a["region"] in wave for a in patient(api, "/api/alerts")):
                time.sleep(0.1)
            done += len(wave)
            wave_no += 1
            print(
                f"  {done}/{args.alerts} flags, measured stream {len(latencies['stream'])} "
                f"projection {len(latencies['projection'])} (flags {len(tail.flags)}, "
                f"seen {len(seen_at)})",
                flush=True,
            )
        status = api.get("/api/status").json()
    finally:
        stop.set()
        tail.stop.set()
        worker.stop()
        smtp.stop()
        if local_broker is not None:
            local_broker.stop()

    stream, projection = latencies["stream"], latencies["projection"]
    print()
    print(f"alerts measured            stream {len(stream)}, projection {len(projection)} "
          f"of {args.alerts} each")  # fmt: skip
    print(
        f"background load            {args.load:>8,.0f} events/s "
        f"(worker accepted {status['ingest']['accepted']:,})"
    )
    print(f"evaluation interval        {args.interval:>8.2f} s (the projection path's)")
    figures("stream path: log -> SMTP", stream)
    figures("projection path: log -> SMTP", projection)
    figures("baseline: log -> projections", baseline)
    for path in PATHS:
        if stages[path]:
            cols = list(zip(*stages[path], strict=True))
            print(
                f"{path} path p50 by stage: flag -> raise decided "
                f"{statistics.median(cols[0]):.3f} s, -> alert.raised appended "
                f"{statistics.median(cols[1]):.3f} s, -> SMTP {statistics.median(cols[2]):.3f} s"
            )
    if stream and projection and baseline:
        p50 = statistics.median
        print(f"ratio p50 stream / projection          {p50(stream) / p50(projection):.2f}")
        print(f"ratio p99 stream / projection          "
              f"{pct(stream, 0.99) / pct(projection, 0.99):.2f}")  # fmt: skip
        print(f"ratio p50 stream / visible in projections {p50(stream) / p50(baseline):.2f}")
        print(f"ratio p50 projection / visible         {p50(projection) / p50(baseline):.2f}")


if __name__ == "__main__":
    main()
