"""The playbook runtime in ``eams run``: proposals, commands on runs (to their one writer), actions.

- **Proposals.** For every alert raised (or raised a level) the evaluator hands over, the
  library's triggers are matched with the kinds of disaster flagged in the alert's region;
  a matching playbook with no open run for the same area is proposed
  (``playbook.proposed``); an ``automatic`` (drill) playbook is activated at once.
- **One writer.** Every command on every run (from the API and CLI, and the runtime's own)
  goes through :meth:`PlaybookRunner.command`, which sends it to the run's single writer:
  the command handler (:mod:`streams.commands`) decides it with the run aggregate
  (:mod:`playbooks.commands` around :mod:`playbooks.aggregate`) against the state it folded
  from the run's events, appends the events and answers; this process applies what was
  decided to its own view of the run. Two commands racing on a run, from any process, are
  decided in log order; the second sees the first's effect and is refused if it no longer
  fits (e.g. activate after decline).
- **Actions.** After each change and on every tick, the steps whose automated action is
  ready (dependencies completed) are carried out (:mod:`playbooks.actions`: enrolments,
  welfare posts, subsidy batches, job fairs, messages to the officers of the area) and
  then completed with their figures.
- **Timers.** Open steps past their deadline are marked ``playbook.step_overdue`` and the
  area's duty officers (province included) are told; the enrolments of an active run
  follow its disaster flag (:meth:`~playbooks.actions.Actions.follow_enrolment`).
- **Restarts.** At start, after the projector has caught up, every run is folded again
  from the log; nothing is kept elsewhere.
- **The log first.** An action's outcome events go through the runtime's
  :class:`~streams.writer.EventWriter`, and a run's view here changes only with an outcome
  of its writer. When the broker does not acknowledge held events, they are sent
  again (same ids) by the next ticks, with backoff, the failure is counted in
  ``/api/status`` (``playbooks``), and commands are refused with
  :class:`~streams.writer.EventsNotAcknowledgedError` until the held events are in the
  log (a command decided on a state that misses them would be decided twice). A run's own
  ``playbook.*`` events are appended by its writer (the command handler); an action's
  outcome events by the runtime, :meth:`~playbooks.actions.Actions.emit`.
- **Officers are told** through the dispatcher's public
  :meth:`~alerting.dispatch.Dispatcher.announce` (and, for a dry run,
  :meth:`~alerting.dispatch.Dispatcher.audience`). The runtime's queries live in
  :mod:`projections.playbook_queries`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from events.clock import SHANGHAI
from events.regions import RegionReference
from events.severity import LEVEL_NAMES
from playbooks.actions import Actions
from playbooks.aggregate import (
    RUN_EVENT_TYPES,
    Activate,
    Close,
    Command,
    CompleteStep,
    MarkOverdue,
    Propose,
    RunState,
    after_action_report,
    apply,
    overdue_steps,
    ready_actions,
)
from playbooks.commands import to_command
from playbooks.errors import CommandRejectedError
from playbooks.model import Library, Playbook
from projections import alert_queries, playbook_queries
from projections.client import Store, run
from projections.indicators import SEVERITY_NUMBER
from streams.commands import CommandBus
from streams.errors import EventsNotAcknowledgedError
from streams.producer import BatchSender
from streams.topics import TopicNames
from streams.writer import EventWriter

if TYPE_CHECKING:
    from alerting.dispatch import Dispatcher
    from alerting.evaluator import Fired

log = logging.getLogger(__name__)
NAMESPACE = uuid.UUID("7d3f2a64-0c1e-4b8e-9f5a-2e6b1c0d9a47")
ACTOR = "eams.playbooks"


class PlaybookRunner:
    """Proposes runs, decides every command on them, and carries out their actions."""

    def __init__(
        self,
        *,
        store: Store,
        reference: RegionReference,
        library: Library,
        sender: BatchSender,
        topic_names: TopicNames,
        dispatcher: Dispatcher | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(SHANGHAI),
        commands: CommandBus | None = None,
    ) -> None:
        self.store = store
        self.commands = commands  # with a bus, every run command goes to the run's writer
        self.reference = reference
        self.library = library
        self.dispatcher = dispatcher
        self.now = now
        self.states: dict[str, RunState] = {}
        self.restored = False
        # this process's view of its runs changes in the order their commands were decided
        self._lock = asyncio.Lock()
        self._acting = asyncio.Lock()  # one action at a time
        self._tasks: set[asyncio.Task[None]] = set()
        self.writer = EventWriter(
            sender,
            "playbooks",
            topics=topic_names,
            namespace=NAMESPACE,
            actor=ACTOR,
            source="eams.playbooks",
            now=lambda: self.now(),
        )
        self.actions = Actions(
            store=store,
            reference=reference,
            library=library,
            writer=self.writer,
            dispatcher=dispatcher,
            now=lambda: self.now(),
        )

    @property
    def outbox(self) -> EventWriter:
        """The writer, by the name the host sets its dead-letter hook through."""
        return self.writer

    def status(self) -> dict[str, Any]:
        """What ``/api/status`` shows: ticks, the health of the appends, actions under way."""
        return self.writer.status() | {"runs": len(self.states), "acting": len(self._tasks)}

    # -- state -----------------------------------------------------------------------------
    async def restore(self) -> int:
        """Fold every run from the log (via the events table); returns how many."""
        rows = await run(playbook_queries.run_events, self.store, RUN_EVENT_TYPES)
        states: dict[str, RunState] = {}
        for run_id, event_type, payload, occurred_at in rows:
            state = states.get(run_id) or RunState(run_id)
            states[run_id] = apply(state, event_type, orjson.loads(payload), occurred_at)
        self.states = states
        self.restored = True
        return len(states)

    def state(self, run_id: str) -> RunState:
        """The state of a run (``RunState(run_id)`` with status ``none`` if unknown)."""
        return self.states.get(run_id) or RunState(run_id)

    def definition(self, state: RunState) -> Playbook:
        """The playbook a run follows (raises UnknownPlaybookError if it left the library)."""
        return self.library.require(state.playbook_id or "")

    # -- the single writer -----------------------------------------------------------------
    async def command(
        self,
        run_id: str,
        command: Command,
        playbook_id: str | None = None,
        *,
        follow: bool = True,
        scope: Sequence[str] = (),
    ) -> list[tuple[str, dict[str, Any]]]:
        """Decide ``command`` on run ``run_id``, append its events and apply them; then
        (``follow``) start the actions this made ready, in the background.

        Raises :class:`CommandRejectedError` (nothing appended) when it does not fit, and
        :class:`~streams.writer.EventsNotAcknowledgedError` when the broker has not (yet)
        acknowledged its events, or earlier ones (they are kept and sent again; the run
        changes once they are in the log)."""
        async with self._lock:
            if not await self.writer.settled():
                raise self.writer.not_acknowledged()
            if isinstance(command, Propose) and playbook_id is not None:
                other = self.open_run(playbook_id, command.area)
                if other is not None and other.run_id != run_id:
                    return []  # another alert of the same area proposed it meanwhile
            decided = await self._send(run_id, command, playbook_id, scope)
        if decided and follow:
            task = asyncio.create_task(self._advance_in_background(run_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return decided

    async def _advance_in_background(self, run_id: str) -> None:
        try:
            await self.advance(run_id)
        except Exception:  # noqa: BLE001 - the next tick carries the actions out again
            log.exception("actions of %s stopped; the next tick tries them again", run_id)

    async def drain(self) -> None:
        """Wait for actions under way (at shutdown and in tests), then try once more to
        append events still held."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.writer.flush(force=True)

    async def _send(
        self, run_id: str, command: Command, playbook_id: str | None, scope: Sequence[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        """Send ``command`` to the run's single writer (:mod:`playbooks.commands`); apply
        what it decided to this process's view of the run. The runtime's own decisions
        (proposals, overdue marks) have ids named by what they decide, so a repeat after a
        crash is decided once; people's commands and action completions are each new."""
        if self.commands is None:
            raise RuntimeError("the playbook runtime sends run commands with a command bus")
        command_type, payload = to_command(command, playbook_id)
        name = _command_name(run_id, command_type, payload, self.now())
        outcome = await self.commands.submit(
            self.commands.command(
                command_type,
                run_id,
                actor=getattr(command, "actor", ACTOR),
                source="eams.playbooks",
                payload=payload,
                scope=scope,
                command_id=uuid.uuid5(NAMESPACE, name),
            )
        )
        decided = list(zip(outcome.event_types, outcome.payloads, strict=True))
        if outcome.duplicate:
            return []  # decided before (a repeat after a crash): the log has its events
        at = outcome.decided_at or self.now()
        state = self.state(run_id)
        for event_type, event_payload in decided:
            state = apply(state, event_type, event_payload, at)
        self.states[run_id] = state
        return decided

    # -- proposals -------------------------------------------------------------------------
    async def on_fired(self, fired: Sequence[Fired]) -> None:
        """Propose the playbooks that alerts raised (or raised a level) trigger."""
        if not self.restored:
            return  # the first tick proposes for every open alert
        raised = [
            f
            for f in fired
            if f.transition.kind in ("raised", "level_raised") and f.transition.level is not None
        ]
        if not raised:
            return
        flags = await run(self.active_flags)
        for f in raised:
            level = f.transition.level or LEVEL_NAMES[0]  # the least severe
            await self.propose_for(f.alert_id, f.region, level, f.rule.indicator, flags)

    async def propose_open_alerts(self) -> None:
        """Propose for every open alert (after a restart, or an alert the runtime missed);
        proposals already made are not repeated."""
        rows = await run(alert_queries.list_alerts, self.store, self.now(), status="open")
        if not rows:
            return
        flags = await run(self.active_flags)
        for row in rows:
            if row["level"] and row["status"] != "resolved":
                await self.propose_for(
                    row["alert_id"], row["region"], row["level"], row["indicator"], flags
                )

    async def propose_for(
        self,
        alert_id: str,
        region: str,
        level: str,
        indicator: str | None,
        flags: list[dict[str, Any]],
    ) -> None:
        """Propose each matching playbook with no open run for the area. The run id is
        derived from the playbook, the area and when the alert began, so one alert
        proposes one run, restarts included."""
        kinds, disaster_id = self.disasters_in(region, flags)
        for match in self.library.matching(level, indicator, region, kinds, self.reference):
            if self.open_run(match.playbook.id, match.area) is not None:
                continue
            stamp = alert_id.rsplit(":", 1)[-1]
            run_id = f"{match.playbook.id}:{match.area}:{stamp}"[:64]
            status = self.state(run_id).status
            if status == "proposed" and match.playbook.activation == "automatic":
                await self.command(run_id, Activate(actor=ACTOR))  # a drill cut short
                continue
            if status != "none":
                continue  # this alert's run was declined or closed: not again
            try:
                await self.command(
                    run_id,
                    Propose(
                        run_id=run_id,
                        level=match.level,
                        area=match.area,
                        trigger_alert_id=alert_id,
                        disaster_id=disaster_id,
                        drill=match.playbook.drill,
                    ),
                    playbook_id=match.playbook.id,
                )
                if match.playbook.activation == "automatic":
                    await self.command(run_id, Activate(actor=ACTOR))
            except CommandRejectedError as exc:
                log.warning("proposal of %s not made: %s", run_id, exc)

    def open_run(self, playbook_id: str, area: str) -> RunState | None:
        """A proposed or active run of ``playbook_id`` for ``area``."""
        for state in self.states.values():
            if (
                state.playbook_id == playbook_id
                and state.area == area
                and state.status in ("proposed", "active")
            ):
                return state
        return None

    def active_flags(self) -> list[dict[str, Any]]:
        """Every active disaster flag (region, disaster, kind, severity)."""
        return playbook_queries.active_flags(self.store)

    def disasters_in(self, region: str, rows: list[dict[str, Any]]) -> tuple[set[str], str | None]:
        """Kinds of the active disaster flags ``rows`` in ``region`` (itself, above or below
        it) and the id of the most severe one."""
        related = {region} | {r.code for r in self.reference.ancestors(region)}
        kinds: set[str] = set()
        best: tuple[int, str] | None = None
        for row in rows:
            code = str(row["region"])
            chain = {code} | {r.code for r in self.reference.ancestors(code)}
            if code not in related and region not in chain:
                continue
            kinds.add(str(row["kind"]))
            rank = SEVERITY_NUMBER.get(str(row["severity"]), 0)
            if best is None or rank > best[0]:
                best = (rank, str(row["disaster_id"]))
        return kinds, best[1] if best else None

    # -- actions and timers ----------------------------------------------------------------
    async def tick(self) -> None:
        """Proposals for open alerts, overdue steps, enrolments that end or start, and
        actions that are ready. While events wait for the broker, only they are sent again
        (with backoff); the tick counts (``ticks``) once it completed."""
        if not await self.writer.settled():
            return
        await self.propose_open_alerts()
        now = self.now()
        for run_id, state in list(self.states.items()):
            if state.status != "active":
                continue
            for step_id in overdue_steps(state, now):
                try:
                    if await self.command(run_id, MarkOverdue(step_id), follow=False):
                        await self.actions.tell_overdue(self.state(run_id), step_id)
                except CommandRejectedError as exc:
                    log.warning("overdue %s/%s: %s", run_id, step_id, exc)
            await self.advance(run_id)
            async with self._acting:
                await self.actions.follow_enrolment(self.state(run_id))
        self.writer.stats.ticks += 1

    async def advance(self, run_id: str) -> None:
        """Run every ready action of a run and complete its step with the figures."""
        async with self._acting:
            await self._advance(run_id)

    async def _advance(self, run_id: str) -> None:
        for _ in range(20):  # a completed action can make the next one ready
            state = self.state(run_id)
            if state.status != "active":
                return
            definition = self.definition(state)
            ready = ready_actions(state, definition)
            if not ready:
                return
            step = ready[0]
            counts, note = await self.actions.carry_out(state, definition, step)
            try:
                await self.command(
                    run_id,
                    CompleteStep(step.id, actor=ACTOR, note=note, counts=counts),
                    follow=False,
                )
            except CommandRejectedError as exc:  # completed meanwhile by someone else
                log.info("action step %s/%s: %s", run_id, step.id, exc)
                return

    # -- closing ---------------------------------------------------------------------------
    async def close(
        self, run_id: str, actor: str, *, force: bool = False, reason: str | None = None
    ) -> dict[str, Any]:
        """Close a run with its after-action report (figures queried from the projections)."""
        state = self.state(run_id)
        if state.status == "none":
            raise CommandRejectedError(f"no playbook run {run_id!r}; see `eams playbooks runs`")
        counts = await run(playbook_queries.run_outcomes, self.store, run_id)
        report = after_action_report(state, self.definition(state), counts)
        await self.command(run_id, Close(actor=actor, report=report, force=force, reason=reason))
        return report

    async def loop(
        self, stop: asyncio.Event, caught_up: Callable[[], bool], interval: float
    ) -> None:
        """Restore after the projector caught up, then tick every ``interval`` seconds."""
        while not caught_up() and not stop.is_set():
            await asyncio.sleep(0.1)
        restored = await self.restore()
        log.info("playbooks: %d runs restored", restored)
        while not stop.is_set():
            if caught_up():
                try:
                    await self.tick()
                except EventsNotAcknowledgedError as exc:  # logged by the writer, retried
                    log.warning("playbook cycle held: %s", exc)
                except Exception:  # noqa: BLE001 - one bad cycle must not stop the runs
                    log.exception("playbook cycle failed; retrying next cycle")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def _command_name(run_id: str, command_type: str, payload: dict[str, Any], at: dt.datetime) -> str:
    """The name a run command's id is derived from: decisions of the runtime itself
    (proposals, overdue marks) are named by what they decide, so a repeat after a crash is
    decided once; the others (people's commands, action completions) are distinct by time."""
    what = payload.get("step_id") or ""
    if command_type in ("playbook.propose", "playbook.mark_overdue"):
        return f"{run_id}|{command_type}|{what}"
    return f"{run_id}|{command_type}|{what}|{at.isoformat()}"


def simulate(runner: PlaybookRunner, playbook_id: str, region: str, level: str) -> dict[str, Any]:
    """A dry run: the steps of ``playbook_id`` for the area containing ``region`` at
    ``level``, with their deadlines from now and what each action would do on the current
    data. Appends nothing."""
    from projections import playbook_queries as q

    definition = runner.library.require(playbook_id)
    area = definition.trigger.scope.area_of(region, runner.reference)
    if area is None:
        raise CommandRejectedError(
            f"region {region!r} is not inside the scope of playbook {playbook_id!r} "
            f"({definition.trigger.scope}); give a region code from `eams regions list`"
        )
    variant = definition.variant(level)
    now = runner.now()
    kinds, disaster_id = runner.disasters_in(area, runner.active_flags())
    state = RunState("simulation", playbook_id=playbook_id, level=level, area=area,
                     disaster_id=disaster_id, activated_at=now)  # fmt: skip
    regions, flagged = runner.actions.flagged_regions(state)
    candidates = q.enrolment_candidates(runner.store, regions, disaster_id, flagged)
    steps: list[dict[str, Any]] = []
    for step in definition.steps:
        entry: dict[str, Any] = {
            "step_id": step.id,
            "title": step.title,
            "owner": step.owner,
            "owner_title": definition.roles.get(step.owner, step.owner),
            "due_at": (now + definition.deadline(step.id, level)).isoformat(),
            "depends_on": list(step.depends_on),
            "approval": step.approval,
            "checklist": list(step.checklist),
            "action": None,
        }
        if step.action is not None:
            kind = step.action.kind
            would: dict[str, Any] = {"kind": kind}
            if kind == "enrol_temporary_assistance":
                would.update(people=len(candidates), regions=regions)
            elif kind == "open_welfare_posts":
                would.update(posts=int(variant.welfare_posts or 0), region=area)
            elif kind == "subsidy_batch":
                each = variant.subsidy_amount or Decimal(0)
                would.update(people=len(candidates), amount_each=str(each),
                             amount_total=str(each * len(candidates)))  # fmt: skip
            elif kind == "schedule_job_fair":
                would.update(held_by=variant.job_fair_by(now).isoformat())
            elif kind == "notify" and runner.dispatcher is not None:
                would.update(officers=runner.dispatcher.audience(area))
            entry["action"] = would
        steps.append(entry)
    return {
        "playbook_id": playbook_id,
        "title": definition.title,
        "area": area,
        "level": level,
        "disaster_id": disaster_id,
        "disaster_kinds": sorted(kinds),
        "disaster_kind_matches": not definition.trigger.disaster_kinds
        or bool(kinds & set(definition.trigger.disaster_kinds)),
        "steps": steps,
        "changes_nothing": True,
    }
