"""``eams run``: one process hosting the ingest stream, the projector and the API.

Start order:

1. create the topics, or give existing ones their retention (the CLI has started the
   local broker if none is configured); check the keys of personal data at rest
   (:mod:`eams.keys`: a missing pseudonym key with a non-empty log stops here);
2. open ClickHouse (embedded chDB by default) and apply the schema migrations;
3. start the projector, the ingest stream in its own process (:mod:`eams.ingest_process`;
   it restores its dedupe state), then the HTTP API;
4. on SIGINT/SIGTERM: stop the API, let the ingest process finish and commit its batch,
   let the projector write its batch, then close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from eams.auth import UserStore, operator_token
from eams.broker import ensure_namespace_acls
from eams.ingest_process import IngestProcess
from eams.keys import check_pseudonym_key, open_dead_letters
from eams.settings import Settings
from events.regions import RegionReference, load_reference
from projections.client import Store, run
from projections.migrations import drop_all, migrate
from projections.projector import Projector
from streams import topics
from streams.dlq import DeadLetterKey, dead_letter_part
from streams.outbox import Record
from streams.producer import RawProducer

log = logging.getLogger("eams")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the host owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


#: Seconds a per-city count of registered persons may be served before it is recomputed.
PERSONS_TTL = 10.0


class Host:
    """The parts of a running ``eams run`` process, shared by the API."""

    def __init__(self, settings: Settings, dlq_key: DeadLetterKey) -> None:
        self.settings = settings
        self.dlq_key = dlq_key  # seals and opens dead letters (GET /api/dlq)
        self.reference: RegionReference = load_reference(settings.region_hierarchy)
        # The overview lists the cities of the first configured hierarchy.
        self.primary = load_reference(settings.region_hierarchy.split(",")[0])
        self.secret = settings.secret()
        self.store = Store(settings.clickhouse_dsn)
        # Signed for each request's caller; the ingest child verifies with the same key.
        self.producer = RawProducer(
            settings.kafka("raw"),
            settings.topics.ingest_raw,
            source="http",
            signing_key=settings.ingest_key(),
        )
        self.ingest = IngestProcess(settings)
        self.projector = self._new_projector()
        self.rebuilding = False
        self.evaluator: Any = None
        self.dispatcher: Any = None
        self.playbooks: Any = None
        self.api_url = settings.api_url  # the bound one once the API listens (port 0)
        self.users = UserStore(settings.state_dir / "users.sqlite")
        self.stopping = asyncio.Event()
        self._persons: tuple[float, dict[str, int]] | None = None
        self._persons_task: asyncio.Task[None] | None = None
        # whoever can read the state dir administers this worker (the CLI sends it)
        self.operator_token = operator_token(settings.state_dir)
        self._stop_projector = asyncio.Event()
        self._projector_task: asyncio.Task[None] | None = None

    def _new_projector(self) -> Projector:
        s = self.settings
        return Projector(
            kafka=s.kafka("stream"),
            topic_names=s.topics,
            store=self.store,
            reference=self.reference,
            batch=s.projector_batch,
            linger_ms=s.projector_linger_ms,
            window=s.dedupe_window,
            crash_after_wal=s.test_crash_after_wal,
        )

    def start_projector(self) -> None:
        """Run the projector as a task of this loop."""
        self._stop_projector = asyncio.Event()
        self._projector_task = asyncio.create_task(
            self.projector.run(self._stop_projector), name="projector"
        )
        self._projector_task.add_done_callback(_crash_if_failed)

    async def stop_projector(self) -> None:
        """Stop the projector after it flushed its batch."""
        self._stop_projector.set()
        if self._projector_task is not None:
            await self._projector_task
            self._projector_task = None

    async def append_command(
        self, event_type: str, region: str, key: str, actor: str, payload: dict[str, Any]
    ) -> None:
        """Append an event decided by a command of a user (ack, silence …), with its actor."""
        from events.envelope import internal_event

        envelope = internal_event(
            event_type,
            region=region,
            aggregate_id=key,
            actor=actor,
            source="eams.api",
            payload=payload,
        )
        await self._alert_producer.send_and_wait(
            self.settings.topics.events, envelope.to_json(), key=key.encode()
        )

    async def _dead_letter_event(self, component: str, record: Record, reason: str) -> None:
        """Seal an event of ours the broker will never take into the dead-letter topic (its
        first ``STUB_BYTES`` when it is larger than that), so nothing vanishes unseen."""
        dead = dead_letter_part(
            self.dlq_key,
            record.value,
            reason=f"{component}: {reason}",
            field="(event)",
            source=f"eams.{component}",
            origin=f"{record.topic}:{component}",
        )
        await self._alert_producer.send_and_wait(
            self.settings.topics.dlq, dead.value, key=dead.key, headers=dead.headers
        )

    async def persons_per_city(self) -> dict[str, int]:
        """Registered persons per city, at most ``PERSONS_TTL`` seconds old: a stale figure
        is served at once while a fresh one is computed in the background."""
        from projections.queries import persons_per_city

        now = asyncio.get_running_loop().time()
        if self._persons is None:
            self._persons = (now, await run(persons_per_city, self.store))
        elif now - self._persons[0] > PERSONS_TTL and self._persons_task is None:

            async def refresh() -> None:
                try:
                    found = await run(persons_per_city, self.store)
                    self._persons = (asyncio.get_running_loop().time(), found)
                finally:
                    self._persons_task = None

            self._persons_task = asyncio.create_task(refresh())
        return self._persons[1]

    def alerting_status(self) -> dict[str, Any]:
        """Ticks and append health of the evaluator, the dispatcher and the playbook runtime
        (``ticks`` only grow; ``pending_events`` > 0 means decided events wait for the broker;
        see streams/outbox.py); a component not started is absent."""
        parts = (
            ("evaluator", self.evaluator),
            ("dispatcher", self.dispatcher),
            ("playbooks", self.playbooks),
        )
        return {name: c.status() for name, c in parts if c is not None}

    def caught_up(self) -> bool:
        """True when the projector has projected everything the log held when it started
        (and no rebuild is under way): decisions taken on the projections are sound."""
        return self.projector.stats.caught_up and not self.rebuilding

    async def start_alerting(self) -> list[asyncio.Task[None]]:
        """Start the evaluator (and the dispatcher when a roster is configured)."""
        from alerting.dispatch import Dispatcher
        from alerting.evaluator import Evaluator
        from alerting.indicator_names import INDICATOR_NAMES
        from alerting.roster import load_roster
        from alerting.rules import load_rules
        from playbooks.lint import load_library
        from playbooks.runner import PlaybookRunner
        from projections.risk_index import load_components
        from streams.producer import BatchSender, new_producer

        s = self.settings
        rules = load_rules(s.rules, indicators=INDICATOR_NAMES, reference=self.reference)
        self._alert_producer = new_producer(s.kafka("stream"))
        await self._alert_producer.start()
        self.evaluator = Evaluator(
            store=self.store,
            reference=self.primary,
            rules=rules,
            components=load_components(s.risk_index),
            sender=BatchSender(self._alert_producer),
            topic_names=s.topics,
            interval=s.risk_interval,
        )
        self._stop_alerting = asyncio.Event()
        tasks = [
            asyncio.create_task(
                self.evaluator.run(self._stop_alerting, self.caught_up), name="evaluator"
            )
        ]
        if s.roster is not None:
            self.dispatcher = Dispatcher(
                store=self.store,
                reference=self.primary,
                roster=load_roster(s.roster),
                sender=BatchSender(self._alert_producer),
                topic_names=s.topics,
                rules=rules,
                open_alerts=self.evaluator.open_alerts,
            )
            self.evaluator.listeners.append(self.dispatcher.on_fired)
            tasks.append(asyncio.create_task(self._dispatch_loop(), name="dispatcher"))
        self.playbooks = PlaybookRunner(
            store=self.store,
            reference=self.primary,
            library=load_library(s.playbooks, reference=self.primary),
            sender=BatchSender(self._alert_producer),
            topic_names=s.topics,
            dispatcher=self.dispatcher,
        )
        self.evaluator.listeners.append(self.playbooks.on_fired)
        for part in (self.evaluator, self.dispatcher, self.playbooks):
            if part is not None:
                part.outbox.dead_letter = self._dead_letter_event
        tasks.append(
            asyncio.create_task(
                self.playbooks.loop(self._stop_alerting, self.caught_up, s.risk_interval),
                name="playbooks",
            )
        )
        return tasks

    async def _dispatch_loop(self) -> None:
        while not self.caught_up() and not self._stop_alerting.is_set():
            await asyncio.sleep(0.1)
        assert self.dispatcher is not None
        await self.dispatcher.restore()
        while not self._stop_alerting.is_set():
            if not self.caught_up():
                await asyncio.sleep(0.1)
                continue
            try:
                await self.dispatcher.tick()
            except Exception:  # noqa: BLE001 - reminders must survive one bad cycle
                log.exception("reminder cycle failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_alerting.wait(), self.settings.risk_interval)

    async def stop_alerting(self, tasks: list[asyncio.Task[None]]) -> None:
        """Stop evaluating and let deliveries under way finish."""
        self._stop_alerting.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.playbooks is not None:
            await self.playbooks.drain()
        if self.dispatcher is not None:
            await self.dispatcher.drain()
        await self._alert_producer.stop()

    async def rebuild(self) -> None:
        """Drop every projection and replay ``eams.events`` from offset 0."""
        self.rebuilding = True
        try:
            await self.stop_projector()
            await run(drop_all, self.store)
            await run(migrate, self.store)
            self.projector = self._new_projector()
            self.start_projector()
        finally:
            self.rebuilding = False


#: Where ``eams run`` writes the port its API listens on (``EAMS_HTTP_PORT=0``: any free one).
API_PORT_FILE = "api.port"


def _record_api_port(settings: Settings, server: uvicorn.Server) -> str:
    """Write the API's bound port to ``<state dir>/api.port`` (the CLI and the tests find a
    worker started with ``EAMS_HTTP_PORT=0`` there); returns the API's URL."""
    port = int(server.servers[0].sockets[0].getsockname()[1])
    path = settings.state_dir / API_PORT_FILE
    tmp = path.with_name(f".{API_PORT_FILE}.tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(path)  # readers never see a half-written file
    return f"http://{settings.http_host}:{port}"


def _crash_if_failed(task: asyncio.Task[None]) -> None:
    """A dead projector must not leave a live-looking process: stop the host."""
    if task.cancelled() or task.exception() is None:
        return
    log.error("projector stopped: %s", task.exception())
    signal.raise_signal(signal.SIGTERM)


async def _watch_ingest(host: Host, stop: asyncio.Event) -> None:
    """A dead ingest child must not leave a live-looking worker: stop everything."""
    while host.ingest.alive:
        await asyncio.sleep(0.5)
    log.error("the ingest process ended (exit code %s); stopping", host.ingest.exitcode)
    stop.set()


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a process that allocates per event.

    The dedupe windows hold millions of entries; every full collection walks them. Batches
    allocate tens of thousands of short-lived objects, which the young generation handles.
    """
    import gc

    gc.freeze()  # everything imported so far is permanent: never scan it again
    gc.set_threshold(50_000, 20, 100)


async def serve(settings: Settings, on_ready: Callable[[Host], Any] | None = None) -> None:
    """Run everything until SIGINT/SIGTERM (see the module docstring for the order)."""
    tune_gc()
    settings.ensure_state_dir()
    await topics.ensure_topics(
        settings.kafka("admin"),
        settings.topic_partitions,
        settings.topics,
        raw_retention_ms=settings.raw_retention_ms,
    )
    await ensure_namespace_acls(settings)
    await check_pseudonym_key(settings)  # before Host: settings.secret() would make one
    dlq_key = await open_dead_letters(settings)
    host = Host(settings, dlq_key)
    await run(migrate, host.store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await host.producer.__aenter__()
    host.start_projector()
    # Configuration errors (rules, roster) and a taken port must stop us before the ingest
    # child is spawned: a child orphaned mid-spawn prints a traceback nobody can act on.
    alerting = await host.start_alerting()

    from eams.api import create_api

    config = uvicorn.Config(
        create_api(host),
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=5,  # open live streams must not hold a stop up
    )
    server = _Server(config)
    server_task = asyncio.create_task(server.serve(), name="api")
    while not server.started:
        if server_task.done():
            await server_task  # re-raises why it could not start (port taken, …)
            raise SystemExit(f"the API could not listen on {settings.api_url}")
        await asyncio.sleep(0.05)
    host.api_url = _record_api_port(settings, server)
    host.ingest.start()
    watch = asyncio.create_task(_watch_ingest(host, stop), name="watch-ingest")
    if on_ready is not None:
        on_ready(host)
    try:
        await stop.wait()
    finally:
        host.stopping.set()  # live streams end
        server.should_exit = True
        await server_task
        (settings.state_dir / API_PORT_FILE).unlink(missing_ok=True)
        watch.cancel()
        await host.stop_alerting(alerting)
        await host.ingest.stop()
        await host.stop_projector()
        await host.producer.__aexit__(None, None, None)
        host.store.close()
