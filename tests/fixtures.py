"""Integration fixtures: the real Kafka broker (once per session) and real workers.

The broker is the project's own (``eams.broker.LocalKafka``, Kafka 4.x from Maven Central)
on test ports; each worker is a real ``eams run`` process with its own state directory
(so its own embedded ClickHouse) and its own topic namespace, so tests never see each
other's events. Nothing here is a mock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.controller import Controller

from eams.auth import read_operator_token
from eams.broker import LocalKafka
from eams.errors import BrokerError
from eams.settings import Settings
from streams.kafka import KafkaAccess, Role

SECRET = "test-pseudonym-secret-0123456789abcdef"  # 32+ characters, as required
#: The key raw records are signed with (the worker's EAMS_INGEST_SECRET): tests' producers
#: sign like the importer does, so what they produce is ingested (helpers.produce).
INGEST_SECRET = "test-ingest-signing-secret-0123456789abcdef"
NO_RULES = Path(__file__).parent / "data" / "no_rules.yaml"


def free_port() -> int:
    """A TCP port nobody listens on right now. Racy (another process may take it before
    it is used): only for the Kafka broker's ports, a Java process that binds them itself
    (its start is retried on a bind failure). Servers of the tests bind port 0 instead."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bound_socket() -> socket.socket:
    """A loopback TCP socket bound to a port the OS picked (not yet listening)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections while the block runs: bound and never
    listening, so no other process can take it meanwhile."""
    with bound_socket() as sock:
        yield int(sock.getsockname()[1])


@contextlib.contextmanager
def http_server(app: Any) -> Iterator[int]:
    """Serve an ASGI app with uvicorn in a thread on a socket bound to port 0 (no race);
    yields the port."""
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", ws="none", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn exited during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class SmtpController(Controller):
    """aiosmtpd's Controller on ``port=0``: the OS picks a free port as the server binds
    (no race); ``port`` is the bound one once :meth:`start` returned."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()


def wait_ticks(worker: Worker, component: str, n: int = 3, timeout: float = 60) -> None:
    """Wait until ``component`` (``evaluator``, ``dispatcher`` or ``playbooks``) of the
    worker completed ``n`` more cycles (``/api/status`` ``alerting.<component>.ticks``), and
    for the dispatcher until nothing is queued or being delivered: then whatever those
    cycles decided has happened, and a test may assert that something did *not*. For the
    ``evaluator``, the stream path's evaluator (``alerting.stream``) too, when it judges
    any rule: both paths have evaluated ``n`` more times."""
    deadline = time.monotonic() + timeout

    def parts() -> dict[str, dict[str, Any]]:
        alerting: dict[str, Any] = worker.status()["alerting"]
        got = {component: alerting[component]}
        stream = alerting.get("stream")
        if component == "evaluator" and stream is not None and stream.get("rules"):
            got["stream"] = stream
        return got

    start = {name: part["ticks"] for name, part in parts().items()}
    while True:
        now = parts()
        done = all(part["ticks"] >= start.get(name, 0) + n for name, part in now.items())
        if done and component == "dispatcher":
            part = now[component]
            done = not (part["queued"] or part["delivering"] or part["backlog"])
        if done:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{component}: not {n} ticks within {timeout}s from {start} ({now}):\n"
                f"{worker.tail()}"
            )
        time.sleep(0.1)


def start_local_broker(state_dir: Path, attempts: int = 3) -> tuple[Settings, LocalKafka]:
    """Start the project's broker under ``state_dir`` on ports from :func:`free_port`. The
    JVM binds them itself, so another process may take one between the choice and the bind:
    a start that fails is retried on new ports (the state dir is kept: a storage already
    formatted keeps its log)."""
    for attempt in range(1, attempts + 1):
        settings = Settings(
            state_dir=state_dir, kafka_port=free_port(), kafka_controller_port=free_port()
        )
        broker = LocalKafka(settings)
        try:
            broker.start()
            return settings, broker
        except BrokerError:
            broker.stop()
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


class TestBroker:
    """A running broker and the ``EAMS_KAFKA_*`` variables that reach it as every role."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.bootstrap = env["EAMS_KAFKA_BOOTSTRAP"]

    def kafka(self, role: Role) -> KafkaAccess:
        """How a test client reaches the broker as ``role`` (raw, stream or admin)."""
        fields = {k.removeprefix("EAMS_").lower(): v for k, v in self.env.items()}
        return Settings(**fields).kafka(role)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestBroker]:
    """A real broker: ``EAMS_TEST_KAFKA_BOOTSTRAP`` if set (its security settings and
    credentials from the ``EAMS_KAFKA_*`` variables of this process), else the project's
    local Kafka (SASL/SCRAM and ACLs) started under a temporary state dir, stopped at the end."""
    external = os.environ.get("EAMS_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield TestBroker(Settings(kafka_bootstrap=external).kafka_env())
        return
    settings, broker = start_local_broker(tmp_path_factory.mktemp("kafka-state"))
    try:
        yield TestBroker(settings.kafka_env())
    finally:
        broker.stop()


class Worker:
    """One ``eams run`` process under test, with helpers to wait, kill and restart it."""

    _ids = itertools.count()

    def __init__(self, broker: TestBroker, state_dir: Path, namespace: str, **env: str) -> None:
        self.broker = broker
        self.bootstrap = broker.bootstrap
        self.state_dir = state_dir
        self.namespace = namespace
        self.port = 0  # the worker binds a free one and writes it to <state dir>/api.port
        self.extra_env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = state_dir / "worker.log"
        #: where its stderr goes when set (its logs: eams.logs); unset: into ``log`` too
        self.errors: Path | None = None
        self.settings = Settings(
            **{k.removeprefix("EAMS_").lower(): v for k, v in broker.env.items()},  # type: ignore[arg-type]
            state_dir=state_dir,
            namespace=namespace,
            http_port=self.port,
            pseudonym_secret=SECRET,
            ingest_secret=INGEST_SECRET,
            **({"rules": NO_RULES} | {k.removeprefix("EAMS_").lower(): v for k, v in env.items()}),  # type: ignore[arg-type]
        )
        self.api = httpx.Client(base_url="http://127.0.0.1", timeout=60)  # port: start()

    def env(self) -> dict[str, str]:
        """The environment of the worker process."""
        env = dict(os.environ)
        env.update(self.broker.env)  # the broker's address, protocol and credentials
        env.update(
            EAMS_STATE_DIR=str(self.state_dir),
            EAMS_NAMESPACE=self.namespace,
            EAMS_HTTP_PORT=str(self.port),
            EAMS_PSEUDONYM_SECRET=SECRET,
            EAMS_INGEST_SECRET=INGEST_SECRET,
            EAMS_LOG_LEVEL="info",
            EAMS_RULES=str(NO_RULES),
            # casework's reactor appends events of its own for imported persons: tests that
            # count what the pipeline holds run without it; casework's tests turn it on
            EAMS_CASEWORK="false",
        )
        env.update(self.extra_env)
        return env

    def kafka(self, role: Role) -> KafkaAccess:
        """How a test client reaches this worker's broker as ``role``: ``raw`` to produce
        raw inputs, ``stream`` to read the log or the DLQ, ``admin`` for offsets."""
        return self.broker.kafka(role)

    def start(self, timeout: float = 90) -> Worker:
        """Start the process on port 0; wait until it wrote its port, its API answers and
        its ingest stream is ready."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.state_dir / "api.port"
        port_file.unlink(missing_ok=True)  # a killed predecessor's
        self.port = 0
        with contextlib.ExitStack() as files:
            out = files.enter_context(self.log.open("ab"))
            err = files.enter_context(self.errors.open("ab")) if self.errors else None
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "eams.cli", "run"],
                env=self.env(),
                stdout=out,
                stderr=err or subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.tail()}")
            if not self.port and port_file.exists():
                self.port = int(port_file.read_text())
                self.api.base_url = httpx.URL(f"http://127.0.0.1:{self.port}")
            if not self.port:
                time.sleep(0.1)
                continue
            try:
                self.authorize()
                status = self.status()
                if status["ingest_ready"]:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"worker not ready within {timeout}s:\n{self.tail()}")

    def authorize(self) -> None:
        """Act as the local operator of this worker (the token it wrote at start)."""
        token = read_operator_token(self.state_dir)
        if token:
            self.api.headers["Authorization"] = f"Bearer {token}"

    def tail(self, lines: int = 40) -> str:
        """The end of the worker's log."""
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def status(self) -> dict[str, Any]:
        """``/api/status`` of the worker."""
        return dict(self.api.get("/api/status").raise_for_status().json())

    def counts(self) -> dict[str, Any]:
        """``/api/projections/counts`` of the worker."""
        return dict(self.api.get("/api/projections/counts").raise_for_status().json())

    def kill(self) -> None:
        """SIGKILL: no flush, no commit, no goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM and wait for a clean exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise AssertionError(f"worker ignored SIGTERM for 60s:\n{self.tail()}") from None

    def wait_settled(self, timeout: float = 120) -> dict[str, Any]:
        """Wait until every raw input is consumed (committed), every event projected and
        the case worklist written."""
        deadline = time.monotonic() + timeout
        names = self.settings.topics
        while time.monotonic() < deadline:
            raw_ends, committed, event_ends = asyncio.run(
                _offsets(
                    self.kafka("admin"), names.ingest_raw, names.events, f"{self.namespace}.ingest"
                )
            )
            # No partitions means metadata not known yet (a broker just restarted), not "done".
            known = bool(raw_ends) and bool(event_ends)
            raw_done = known and all(committed.get(p, 0) >= end for p, end in raw_ends.items())
            if raw_done:
                status = self.status()
                positions = {int(p): o for p, o in status["projector"]["positions"].items()}
                # the worklist is written a moment after the batch (projections.worklist)
                worklist = status.get("worklist", {"rebuilt": True, "pending": 0})
                written = worklist["rebuilt"] and worklist["pending"] == 0
                if written and all(positions.get(p, 0) >= end for p, end in event_ends.items()):
                    return self.counts()
            time.sleep(0.3)
        raise AssertionError(f"pipeline not settled within {timeout}s:\n{self.tail()}")


def read_log(worker: Worker, *types: str) -> list[dict[str, Any]]:
    """Every event in the worker's ``<ns>.events`` topic (the log itself, not a projection),
    in partition and offset order, optionally only of the given types; ``payload`` decoded."""
    return asyncio.run(read_events(worker.kafka("stream"), worker.settings.topics.events, *types))


async def read_events(kafka: KafkaAccess, topic: str, *types: str) -> list[dict[str, Any]]:
    """Every event in ``topic``, in partition and offset order, optionally only of the given
    types (what :func:`read_log` reads, for a test already in an event loop)."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            for batch in (await consumer.getmany(*remaining, timeout_ms=500)).values():
                records.extend(batch)
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    records.sort(key=lambda r: (r.partition, r.offset))
    events = [orjson.loads(r.value) for r in records]
    return [e for e in events if not types or e["event_type"] in types]


async def _offsets(
    kafka: KafkaAccess, raw: str, events: str, group: str
) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    consumer = AIOKafkaConsumer(**kafka.client_options())
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await consumer.start()
    await admin.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        raw_tps = [TopicPartition(raw, p) for p in cluster.partitions_for_topic(raw) or ()]
        ev_tps = [TopicPartition(events, p) for p in cluster.partitions_for_topic(events) or ()]
        ends = await consumer.end_offsets(raw_tps + ev_tps)
        group_offsets = await admin.list_consumer_group_offsets(group)
        committed = {
            tp.partition: meta.offset for tp, meta in group_offsets.items() if tp.topic == raw
        }
        return (
            {tp.partition: ends[tp] for tp in raw_tps},
            committed,
            {tp.partition: ends[tp] for tp in ev_tps},
        )
    finally:
        await consumer.stop()
        await admin.close()


@pytest.fixture
def worker_factory(kafka: TestBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Make workers: ``worker_factory()`` starts one on a fresh namespace and state dir;
    ``worker_factory(like=w)`` starts a new process on ``w``'s state and namespace."""
    started: list[Worker] = []

    def make(like: Worker | None = None, **env: str) -> Worker:
        if like is not None:
            worker = Worker(kafka, like.state_dir, like.namespace, **(like.extra_env | env))
        else:
            ns = f"t{next(Worker._ids)}-{uuid.uuid4().hex[:6]}"
            worker = Worker(kafka, tmp_path_factory.mktemp("worker"), ns, **env)
        started.append(worker)
        return worker.start()

    yield make
    for worker in started:
        try:
            worker.stop()
        finally:
            worker.api.close()


@pytest.fixture
def worker(worker_factory: Any) -> Worker:
    """A fresh, ready worker on its own namespace and state."""
    return worker_factory()  # type: ignore[no-any-return]


class Mailbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str, str]] = []
        self.arrived: list[float] = []  # time.monotonic() of each message, in order

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.content)
        subject = str(make_header(decode_header(msg["Subject"])))
        body = msg.get_payload(decode=True)
        text = body.decode("utf-8") if isinstance(body, bytes) else str(msg.get_payload())
        self.messages.append((list(envelope.rcpt_tos), subject, text))
        self.arrived.append(time.monotonic())
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on loopback."""
    box = Mailbox()
    controller = SmtpController(box, hostname="127.0.0.1", port=0)
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def clients() -> Iterator[list[httpx.Client]]:
    """HTTP clients of the test, closed at its end (see helpers.signed_in)."""
    made: list[httpx.Client] = []
    yield made
    for client in made:
        client.close()
