"""The parts of a running ``eams run`` process, shared by the HTTP routes.

:func:`build_host` makes every part from the settings (one factory); :class:`Host` holds
them and runs the long-lived ones: the projector, then the evaluator, the dispatcher (with
a roster) and the playbook runtime, and the appends of users' commands. The HTTP API
(:mod:`eams.http`) and ``eams run`` (:mod:`eams.runtime`) import this module; it imports
neither of them, nor the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from alerting.dispatch import Dispatcher
from alerting.evaluator import Evaluator, Fired
from alerting.indicator_names import INDICATOR_NAMES
from alerting.lifecycle import AlertAggregate
from alerting.roster import load_roster
from alerting.rules import load_rules
from alerting.silencing import SilenceAggregate
from alerting.stream import StreamEvaluator, split
from cases.household import HouseholdAggregate
from cases.person import PersonAggregate
from cases.policy import CasePolicy, load_policy
from cases.reactions import CaseworkView
from cases.rules import RuleBook, load_recognition
from eams.auth import UserStore, operator_token
from eams.ingest_process import IngestProcess
from eams.settings import Settings
from eams.supervision import FraudSweep
from events.envelope import internal_event
from events.regions import RegionReference, load_reference
from playbooks.commands import PlaybookRunAggregate
from playbooks.lint import load_library
from playbooks.model import Library
from playbooks.runner import PlaybookRunner
from projections import queries
from projections.client import Store, run
from projections.migrations import drop_all, migrate
from projections.projector import Projector
from projections.risk_index import load_components
from projections.worklist import WorklistKeeper
from streams.casework import CaseworkReactor
from streams.commands import CommandBus, CommandHandler
from streams.dlq import DeadLetterKey, dead_letter_part
from streams.producer import BatchSender, RawProducer, new_producer
from streams.writer import Record
from subsidies.applications import SubsidyDecisions
from subsidies.batches import PaymentBatchAggregate
from subsidies.catalogue import Catalogue, load_catalogue
from subsidies.evaluation import EvaluationAggregate, EvaluationTable, load_table
from subsidies.fraud import FraudCaseAggregate
from subsidies.fraud_rules import load_fraud_rules
from subsidies.posts import WelfarePostAggregate
from subsidies.reactions import MoneyReactions

log = logging.getLogger("eams")

#: Seconds a per-city count of registered persons may be served before it is recomputed.
PERSONS_TTL = 10.0


class Host:
    """The parts of a running ``eams run`` process, shared by the API (made by
    :func:`build_host`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        dlq_key: DeadLetterKey,
        reference: RegionReference,
        primary: RegionReference,
        secret: bytes,
        store: Store,
        producer: RawProducer,
        ingest: IngestProcess,
        users: UserStore,
        operator_token: str,
        library: Library,
        commands: CommandBus,
        command_handler: CommandHandler,
        casework: tuple[RuleBook, CasePolicy],
    ) -> None:
        self.settings = settings
        self.dlq_key = dlq_key  # seals and opens dead letters (GET /api/dlq)
        self.reference = reference
        self.primary = primary  # the overview lists the cities of the first hierarchy
        self.secret = secret
        self.store = store
        self.producer = producer  # signed for each request's caller (the ingest child checks)
        self.ingest = ingest
        self.projector = new_projector(settings, store, reference)
        self.rebuilding = False
        self.evaluator: Evaluator | None = None
        self.stream: StreamEvaluator | None = None  # the rules judged as events arrive
        self.dispatcher: Dispatcher | None = None
        self.playbooks: PlaybookRunner | None = None
        self.fraud: FraudSweep | None = None
        self.evaluation: EvaluationTable = load_table(settings.evaluation)
        self.api_url = settings.api_url  # the bound one once the API listens (port 0)
        self.users = users
        self.commands = commands  # every route that changes an aggregate sends a command
        self.command_handler = command_handler
        # the recognition rules and the case policy the person aggregate decides with
        # (explain replays with the same rules)
        self.recognition, self.case_policy = casework
        # and the person's case with its money, which explain replays the subsidies with
        person = command_handler.aggregates["person"]
        assert isinstance(person, PersonAggregate)
        self.person_aggregate = person
        self.money = next(e for e in person.extensions if isinstance(e, SubsidyDecisions))
        self._stop_commands = asyncio.Event()
        self._commands_task: asyncio.Task[None] | None = None
        self.casework = CaseworkReactor(
            settings.kafka("stream"),
            settings.topics,
            CaseworkView(casework[1], reference, extensions=[MoneyReactions()]),
            commands,
            interval=settings.casework_interval,
        )
        self._casework_task: asyncio.Task[None] | None = None
        self._stop_casework = asyncio.Event()
        self.stopping = asyncio.Event()
        # whoever can read the state dir administers this worker (the CLI sends it)
        self.operator_token = operator_token
        self.library = library  # the playbooks: the runtime and the run aggregate share it
        self._persons: tuple[float, dict[str, int]] | None = None
        self._persons_task: asyncio.Task[None] | None = None
        self._stop_projector = asyncio.Event()
        self._projector_task: asyncio.Task[None] | None = None
        self.worklist = WorklistKeeper(store)  # the case officers' worklists, kept current
        self._stop_worklist = asyncio.Event()
        self._worklist_task: asyncio.Task[None] | None = None
        self._stop_alerting = asyncio.Event()
        self._alert_producer: AIOKafkaProducer | None = None  # started by start_alerting

    def start_projector(self) -> None:
        """Run the projector as a task of this loop (and the worklist's keeper beside it,
        told of every person each batch touched)."""
        self.projector.touched.append(self.worklist.touch)
        if self._worklist_task is None:
            self._stop_worklist = asyncio.Event()
            self._worklist_task = asyncio.create_task(
                self.worklist.run(self._stop_worklist), name="worklist"
            )
            self._worklist_task.add_done_callback(_crash_if_failed)
        self._stop_projector = asyncio.Event()
        self._projector_task = asyncio.create_task(
            self.projector.run(self._stop_projector), name="projector"
        )
        self._projector_task.add_done_callback(_crash_if_failed)

    async def stop_projector(self, *, keeper: bool = True) -> None:
        """Stop the projector after it flushed its batch (and the worklist's keeper, unless
        ``keeper`` is False: a rebuild keeps it)."""
        self._stop_projector.set()
        if self._projector_task is not None:
            await self._projector_task
            self._projector_task = None
        if keeper and self._worklist_task is not None:
            self._stop_worklist.set()
            await asyncio.gather(self._worklist_task, return_exceptions=True)
            self._worklist_task = None

    async def start_commands(self) -> None:
        """Start deciding commands (this process joins the handlers' consumer group) and the
        bus the routes send them with; returns once the first partitions are folded."""
        self._stop_commands = asyncio.Event()
        await self.commands.start()
        self._commands_task = await self.command_handler.start(self._stop_commands)
        self._commands_task.add_done_callback(_crash_if_failed)
        self._stop_casework = asyncio.Event()
        if self.settings.casework:
            self._casework_task = asyncio.create_task(
                self.casework.run(self._stop_casework), name="casework"
            )
            self._casework_task.add_done_callback(_crash_if_failed)

    async def stop_commands(self) -> None:
        """Stop casework (its batch in hand still gets its outcomes), then sending, then let
        the handler commit its batch and leave the group."""
        self._stop_casework.set()
        if self._casework_task is not None:
            await asyncio.gather(self._casework_task, return_exceptions=True)
            self._casework_task = None
        await self.commands.stop()
        self._stop_commands.set()
        if self._commands_task is not None:
            await asyncio.gather(self._commands_task, return_exceptions=True)
            self._commands_task = None

    def _appender(self) -> AIOKafkaProducer:
        """The producer of the host's own appends (commands, dead letters of our events)."""
        if self._alert_producer is None:
            raise RuntimeError("the host appends nothing before start_alerting()")
        return self._alert_producer

    async def record_audit(
        self, event_type: str, region: str, key: str, actor: str, payload: dict[str, Any]
    ) -> None:
        """Append an audit fact of the API (``audit.dlq_revealed``: who saw what, before
        they see it), with its actor. Not a command: nothing is decided on an aggregate;
        every change of one goes through :attr:`commands`."""
        envelope = internal_event(
            event_type,
            region=region,
            aggregate_id=key,
            actor=actor,
            source="eams.api",
            payload=payload,
        )
        await self._appender().send_and_wait(
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
        await self._appender().send_and_wait(
            self.settings.topics.dlq, dead.value, key=dead.key, headers=dead.headers
        )

    async def persons_per_city(self) -> dict[str, int]:
        """Registered persons per city, at most ``PERSONS_TTL`` seconds old: a stale figure
        is served at once while a fresh one is computed in the background."""
        now = asyncio.get_running_loop().time()
        if self._persons is None:
            self._persons = (now, await run(queries.persons_per_city, self.store))
        elif now - self._persons[0] > PERSONS_TTL and self._persons_task is None:

            async def refresh() -> None:
                try:
                    found = await run(queries.persons_per_city, self.store)
                    self._persons = (asyncio.get_running_loop().time(), found)
                finally:
                    self._persons_task = None

            self._persons_task = asyncio.create_task(refresh())
        return self._persons[1]

    def alerting_status(self) -> dict[str, Any]:
        """Ticks and append health of the evaluator, the dispatcher and the playbook runtime
        (``ticks`` only grow; ``pending_events`` > 0 means decided events wait for the broker;
        see streams/writer.py); a component not started is absent."""
        parts: tuple[tuple[str, Evaluator | Dispatcher | PlaybookRunner | None], ...] = (
            ("evaluator", self.evaluator),
            ("stream", self.stream),
            ("dispatcher", self.dispatcher),
            ("playbooks", self.playbooks),
        )
        out = {name: c.status() for name, c in parts if c is not None}
        out["casework"] = self.casework.status()
        if self.fraud is not None:
            out["fraud"] = self.fraud.status()
        return out

    def caught_up(self) -> bool:
        """True when the projector has projected everything the log held when it started
        (and no rebuild is under way): decisions taken on the projections are sound."""
        return self.projector.stats.caught_up and not self.rebuilding

    async def start_alerting(self) -> list[asyncio.Task[None]]:
        """Start the evaluators (the stream path and the projection path, each judging its
        own rules: :func:`alerting.stream.split`), the dispatcher when a roster is
        configured, and the playbook runtime."""
        s = self.settings
        rules = load_rules(s.rules, indicators=INDICATOR_NAMES, reference=self.reference)
        self._alert_producer = new_producer(s.kafka("stream"))
        await self._alert_producer.start()
        on_stream, on_projection = split(
            stream=s.alert_stream,
            projection_rules=[r.strip() for r in s.alert_projection_rules.split(",") if r.strip()],
        )
        self.evaluator = Evaluator(
            store=self.store,
            reference=self.primary,
            rules=rules,
            components=load_components(s.risk_index),
            sender=BatchSender(self._alert_producer),
            topic_names=s.topics,
            interval=s.risk_interval,
            commands=self.commands,
            evaluates=on_projection,
        )
        self.stream = StreamEvaluator(
            kafka=s.kafka("stream"),
            store=self.store,
            reference=self.primary,
            rules=rules,
            components=self.evaluator.components,
            sender=BatchSender(self._alert_producer),
            topic_names=s.topics,
            interval=s.risk_interval,
            commands=self.commands,
            evaluates=on_stream,
        )
        evaluators = (self.evaluator, self.stream)
        self.projector.revised.append(self.evaluator.history.revise)
        self._stop_alerting = asyncio.Event()
        tasks = [
            asyncio.create_task(
                self.evaluator.run(self._stop_alerting, self.caught_up), name="evaluator"
            ),
            asyncio.create_task(self.stream.run(self._stop_alerting), name="stream-evaluator"),
        ]
        tasks[-1].add_done_callback(_crash_if_failed)  # a dead consumer would miss alerts
        if s.roster is not None:
            self.dispatcher = Dispatcher(
                store=self.store,
                reference=self.primary,
                roster=load_roster(s.roster),
                sender=BatchSender(self._alert_producer),
                topic_names=s.topics,
                rules=rules,
                open_alerts=lambda: [a for e in evaluators for a in e.open_alerts()],
                commands=self.commands,
            )
            # silences made or ended anywhere, heard before the projections show them
            self.commands.listeners.append(self.dispatcher.hear)
            notify = _one_at_a_time(self.dispatcher.on_fired)  # one lock for both evaluators
            for evaluator in evaluators:
                evaluator.listeners.append(notify)
            tasks.append(asyncio.create_task(self._dispatch_loop(), name="dispatcher"))
        self.playbooks = PlaybookRunner(
            store=self.store,
            reference=self.primary,
            library=self.library,
            sender=BatchSender(self._alert_producer),
            topic_names=s.topics,
            dispatcher=self.dispatcher,
            commands=self.commands,
        )
        # Playbooks read the disaster flags a proposal names from the projections: the
        # stream path's alerts are proposed by the runtime's tick (propose_open_alerts), once
        # the alert and its flags are projected, as before.
        self.evaluator.listeners.append(self.playbooks.on_fired)
        for part in (self.evaluator, self.stream, self.dispatcher, self.playbooks):
            if part is not None:
                part.outbox.dead_letter = self._dead_letter_event
        tasks.append(
            asyncio.create_task(
                self.playbooks.loop(self._stop_alerting, self.caught_up, s.risk_interval),
                name="playbooks",
            )
        )
        self.fraud = FraudSweep(self.store, load_fraud_rules(s.fraud_rules), self.commands,
                                self.users.staff_persons, s.fraud_interval)  # fmt: skip
        tasks.append(
            asyncio.create_task(self.fraud.run(self._stop_alerting, self.caught_up), name="fraud")
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
            if self.dispatcher.hear in self.commands.listeners:
                self.commands.listeners.remove(self.dispatcher.hear)
        await self._appender().stop()

    async def rebuild(self) -> None:
        """Drop every projection and replay ``eams.events`` from offset 0."""
        self.rebuilding = True
        try:
            await self.stop_projector(keeper=False)
            await run(drop_all, self.store)
            await run(migrate, self.store)
            self.worklist.reset()
            self.projector = new_projector(self.settings, self.store, self.reference)
            self.start_projector()
        finally:
            self.rebuilding = False


def build_host(settings: Settings, dlq_key: DeadLetterKey) -> Host:
    """Every part of the worker, from its settings. Call it after the pseudonym key was
    checked (:func:`eams.keys.check_pseudonym_key`): ``settings.secret()`` would make one."""
    store = Store(settings.clickhouse_dsn)
    reference = load_reference(settings.region_hierarchy)
    primary = load_reference(settings.region_hierarchy.split(",")[0])
    library = load_library(settings.playbooks, reference=primary)
    casework = load_casework(settings, primary)
    return Host(
        settings,
        dlq_key=dlq_key,
        reference=reference,
        primary=primary,
        secret=settings.secret(),
        store=store,
        # signed for each request's caller; the ingest child verifies with the same key
        producer=RawProducer(
            settings.kafka("raw"),
            settings.topics.ingest_raw,
            source="http",
            signing_key=settings.ingest_key(),
        ),
        ingest=IngestProcess(settings),
        users=UserStore(settings.state_dir / "users.sqlite"),
        operator_token=operator_token(settings.state_dir),
        library=library,
        commands=CommandBus(settings.kafka("stream"), settings.topics, source="eams.api"),
        command_handler=new_command_handler(settings, reference, primary, library, casework),
        casework=casework,
    )


def load_casework(settings: Settings, primary: RegionReference) -> tuple[RuleBook, CasePolicy]:
    """The recognition rules and the case policy of the settings (raises naming every
    problem with its file and line)."""
    # the shipped rules are Shandong's: their city codes are checked against its reference
    cities = {c.code: c.name for c in primary.cities()} if primary.hierarchy == "shandong" else None
    return load_recognition(settings.recognition, cities=cities), load_policy(settings.case_policy)


def load_policies(settings: Settings, primary: RegionReference) -> Catalogue:
    """The policy catalogue of the settings (raises naming every problem, file and line)."""
    cities = {c.code: c.name for c in primary.cities()} if primary.hierarchy == "shandong" else None
    return load_catalogue(settings.policies, cities=cities)


def new_command_handler(
    settings: Settings,
    reference: RegionReference,
    primary: RegionReference,
    library: Library,
    casework: tuple[RuleBook, CasePolicy] | None = None,
) -> CommandHandler:
    """The command handler of every aggregate kind (one writer per aggregate): alerts,
    silences, playbook runs (decided with the playbook ``library``) and persons' cases
    (with the recognition rules and the case policy, read from the settings if not given,
    and their subsidy applications, checked against the policy catalogue)."""
    rules, policy = casework or load_casework(settings, primary)
    money = SubsidyDecisions(load_policies(settings, primary), rules, policy, reference)
    person = PersonAggregate(rules, policy, reference, extensions=[money])
    household = HouseholdAggregate(policy, reference)
    return CommandHandler(
        settings.kafka("stream"),
        settings.topics,
        [
            AlertAggregate(),
            SilenceAggregate(reference),
            PlaybookRunAggregate(library, primary),
            person,
            household,
            PaymentBatchAggregate(reference),
            FraudCaseAggregate(),
            WelfarePostAggregate(),
            EvaluationAggregate(primary.root().code),
        ],
        reference,
    )


def new_projector(settings: Settings, store: Store, reference: RegionReference) -> Projector:
    """The projector of this worker (a new one after each rebuild)."""
    return Projector(
        kafka=settings.kafka("stream"),
        topic_names=settings.topics,
        store=store,
        reference=reference,
        batch=settings.projector_batch,
        linger_ms=settings.projector_linger_ms,
        window=settings.dedupe_window,
        crash_after_wal=settings.test_crash_after_wal,
    )


def _one_at_a_time(
    listener: Callable[[Sequence[Fired]], Awaitable[None]],
) -> Callable[[Sequence[Fired]], Awaitable[None]]:
    """``listener`` behind a lock: both evaluators hand it transitions, and one batch is
    decided (its commands answered) before the next is taken."""
    lock = asyncio.Lock()

    async def call(fired: Sequence[Fired]) -> None:
        async with lock:
            await listener(fired)

    return call


def _crash_if_failed(task: asyncio.Task[None]) -> None:
    """A dead projector must not leave a live-looking process: stop the host."""
    if task.cancelled() or task.exception() is None:
        return
    log.error("%s stopped: %s", task.get_name(), task.exception())
    signal.raise_signal(signal.SIGTERM)
