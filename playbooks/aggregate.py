"""A playbook run as an event-sourced aggregate: pure state, events in, decisions out.

One writer per run (the command topic is keyed by ``run_id``) calls, for each command:

1. ``state = fold(apply, events of the run)`` (or keeps the state it folded before);
2. ``decide(state, command, definition, now)``: the events to append, or
   ``CommandRejectedError`` saying why and what to do;
3. appends the events, then applies them to its state.

The lifecycle::

    none ─Propose─► proposed ─Activate─► active ─Close─► closed
                        └──────Decline──► declined
    active: steps assigned (on activation, then re-assigned), completed, marked overdue

Two commands racing on one run are decided in log order against the state the first
left behind, so exactly one wins: an ``Activate`` after a ``Decline`` (or the other way
round) is rejected, as is a second ``CompleteStep`` of a step. ``apply`` ignores an event
that changes nothing (a repeat), so applying an event twice leaves the same state and a
restarted writer may re-fold its log. Automated actions are not run here:
``ready_actions`` names the steps whose action the runtime should issue now, and the
runtime completes them with the figures they produced.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from events.catalogue import PAYLOADS
from events.severity import LEVEL_NAMES
from playbooks.errors import CommandRejectedError, PlaybooksError
from playbooks.model import Playbook, Step

__all__ = [
    "RUN_EVENT_TYPES",
    "Activate",
    "AddNote",
    "AssignStep",
    "Close",
    "Command",
    "CompleteStep",
    "Decline",
    "MarkOverdue",
    "Note",
    "Propose",
    "RunState",
    "StepState",
    "after_action_report",
    "apply",
    "decide",
    "overdue_steps",
    "ready_actions",
]

RUN_EVENT_TYPES: tuple[str, ...] = (
    "playbook.proposed",
    "playbook.activated",
    "playbook.declined",
    "playbook.step_assigned",
    "playbook.step_completed",
    "playbook.step_overdue",
    "playbook.note_added",
    "playbook.closed",
)
"""The event types of a run's stream; ``apply`` ignores any other."""


# -- state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepState:
    """Where one step of a run stands: ``pending``, ``assigned`` or ``completed``."""

    step_id: str
    status: str = "pending"
    owner_role: str | None = None
    assignee: str | None = None
    due_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    overdue: bool = False
    counts: dict[str, float] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Note:
    """A note added to a run (``step_id`` when it is about one step)."""

    at: datetime
    text: str
    step_id: str | None = None


@dataclass(frozen=True)
class RunState:
    """The state of one run; ``RunState(run_id)`` is the state before any event.

    ``status`` is ``none``, ``proposed``, ``active``, ``declined`` or ``closed``;
    ``closed_at`` is when the run ended (closed or declined).
    """

    run_id: str
    playbook_id: str | None = None
    level: str | None = None
    area: str | None = None
    status: str = "none"
    drill: bool = False
    trigger_alert_id: str | None = None
    disaster_id: str | None = None
    proposed_at: datetime | None = None
    activated_at: datetime | None = None
    closed_at: datetime | None = None
    decline_reason: str | None = None
    forced_close: bool = False
    steps: dict[str, StepState] = field(default_factory=dict, hash=False)
    notes: tuple[Note, ...] = ()
    last_event_at: datetime | None = None
    report: dict[str, Any] | None = field(default=None, hash=False)

    @property
    def note_count(self) -> int:
        """How many notes the run holds."""
        return len(self.notes)

    @property
    def open_steps(self) -> list[str]:
        """Ids of the steps not completed yet, in assignment order."""
        return [s.step_id for s in self.steps.values() if s.status != "completed"]


def _completed(state: RunState, step_id: str) -> bool:
    step = state.steps.get(step_id)
    return step is not None and step.status == "completed"


def apply(
    state: RunState, event_type: str, payload: Mapping[str, Any], occurred_at: datetime
) -> RunState:
    """Return the state after one event of the run (a repeat changes nothing).

    ``payload`` is validated with the catalogue model of ``event_type``; event types
    outside ``RUN_EVENT_TYPES`` leave the state as it is.
    """
    if event_type not in RUN_EVENT_TYPES:
        return state
    try:
        p: Any = PAYLOADS[event_type].model_validate(dict(payload))
    except ValidationError as exc:
        raise PlaybooksError(
            f"run {state.run_id!r}: cannot apply a malformed {event_type} event: "
            f"{exc.errors()[0]['msg']}; the run's log holds events decide() did not write"
        ) from None
    last = occurred_at if state.last_event_at is None else max(state.last_event_at, occurred_at)
    new = _apply(state, event_type, p, occurred_at)
    return replace(new, last_event_at=last)


def _apply(state: RunState, event_type: str, p: Any, at: datetime) -> RunState:
    status = state.status
    if event_type == "playbook.proposed":
        if status != "none":
            return state
        return replace(
            state,
            run_id=p.run_id,
            playbook_id=p.playbook_id,
            level=None if p.level is None else str(p.level),
            area=p.area,
            drill=p.drill,
            trigger_alert_id=p.trigger_alert_id,
            disaster_id=p.disaster_id,
            status="proposed",
            proposed_at=at,
        )
    if event_type == "playbook.activated":
        if status != "proposed":
            return state
        return replace(state, status="active", activated_at=at, drill=state.drill or p.drill)
    if event_type == "playbook.declined":
        if status != "proposed":
            return state
        return replace(state, status="declined", closed_at=at, decline_reason=p.reason)
    if event_type == "playbook.note_added":
        note = Note(at=at, text=p.note, step_id=p.step_id)
        if note in state.notes:
            return state
        return replace(state, notes=(*state.notes, note))
    if event_type == "playbook.closed":
        if status != "active":
            return state
        return replace(
            state, status="closed", closed_at=at, forced_close=p.forced, report=dict(p.report)
        )
    if status != "active":  # step events only happen while the run is active
        return state
    step = state.steps.get(p.step_id) or StepState(step_id=p.step_id)
    if step.status == "completed":
        return state
    if event_type == "playbook.step_assigned":
        step = replace(
            step,
            status="assigned",
            owner_role=p.owner_role,
            assignee=p.assignee if p.assignee is not None else step.assignee,
            due_at=p.due_at if p.due_at is not None else step.due_at,
        )
    elif event_type == "playbook.step_completed":
        step = replace(
            step,
            status="completed",
            completed_at=at,
            completed_by=p.completed_by,
            counts=dict(p.counts),
        )
    elif event_type == "playbook.step_overdue":
        step = replace(step, overdue=True, due_at=step.due_at or p.due_at)
    return replace(state, steps={**state.steps, p.step_id: step})


# -- commands ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Propose:
    """Propose a run of a playbook at a severity ``level`` for an ``area`` (by its trigger).

    Proposing the same run again with the same values changes nothing (a restarted
    runtime may re-propose); an ``automatic`` drill playbook activates at once.
    """

    run_id: str
    level: str
    area: str
    trigger_alert_id: str | None = None
    disaster_id: str | None = None
    drill: bool = False


@dataclass(frozen=True, slots=True)
class Activate:
    """The incident team activates a proposed run: every step is assigned to its owner."""

    actor: str


@dataclass(frozen=True, slots=True)
class Decline:
    """The incident team declines a proposed run; ``reason`` is required."""

    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class AssignStep:
    """Assign an open step of an active run to a person (its deadline stays)."""

    step_id: str
    assignee: str
    actor: str


@dataclass(frozen=True, slots=True)
class CompleteStep:
    """Complete a step whose dependencies are completed; an approval step is approved so.

    The caller checks that ``actor`` holds a role allowed to complete (or approve) it.
    """

    step_id: str
    actor: str
    note: str | None = None
    evidence: str | None = None
    counts: Mapping[str, float] | None = None


@dataclass(frozen=True, slots=True)
class AddNote:
    """Add a note to a run, or to one of its steps (also after it closed or was declined)."""

    actor: str
    note: str
    step_id: str | None = None


@dataclass(frozen=True, slots=True)
class MarkOverdue:
    """System: mark a step overdue if it is past due, open and not marked yet."""

    step_id: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close an active run with its after-action ``report``.

    Open steps are refused unless ``force`` is set with a ``reason``.
    """

    actor: str
    report: Mapping[str, Any]
    force: bool = False
    reason: str | None = None


Command = Propose | Activate | Decline | AssignStep | CompleteStep | AddNote | MarkOverdue | Close
Decision = list[tuple[str, dict[str, Any]]]


def _at(value: datetime | None) -> str:
    return "?" if value is None else value.isoformat(timespec="seconds")


def _where(state: RunState) -> str:
    """Describe the run and its state for a rejection message."""
    name = f"run {state.run_id!r}" + (f" of {state.playbook_id!r}" if state.playbook_id else "")
    if state.status == "none":
        return f"{name} has not been proposed"
    if state.status == "proposed":
        return f"{name} is proposed (since {_at(state.proposed_at)}) and not activated"
    if state.status == "active":
        return f"{name} is active (since {_at(state.activated_at)})"
    if state.status == "declined":
        return f"{name} was declined at {_at(state.closed_at)} ({state.decline_reason})"
    return f"{name} was closed at {_at(state.closed_at)}"


def _reject(state: RunState, problem: str, todo: str) -> CommandRejectedError:
    return CommandRejectedError(f"{problem}: {_where(state)}; {todo}")


def _event(state: RunState, event_type: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    """Return ``(event_type, payload)`` without None values, checked against the catalogue."""
    payload = {k: v for k, v in fields.items() if v is not None}
    try:
        PAYLOADS[event_type].model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise CommandRejectedError(
            f"run {state.run_id!r}: {event_type} {where}: {first['msg']}; fix the command"
        ) from None
    return event_type, payload


def _text(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


def decide(state: RunState, command: Command, definition: Playbook, now: datetime) -> Decision:
    """Return the events ``command`` leads to, as ``(event_type, payload)`` pairs.

    Raises CommandRejectedError naming the run, its state and what to do. ``now`` must be
    timezone-aware; it becomes deadlines (``due_at``) and the overdue check.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise PlaybooksError("decide needs a timezone-aware 'now', e.g. with +08:00")
    if state.playbook_id is not None and state.playbook_id != definition.id:
        raise PlaybooksError(
            f"run {state.run_id!r} runs playbook {state.playbook_id!r}, "
            f"not {definition.id!r}; pass its own definition"
        )
    if isinstance(command, Propose):
        return _propose(state, command, definition, now)
    if isinstance(command, Activate):
        if state.status != "proposed":
            todo = {
                "none": "propose it first",
                "active": "it is already running, so there is nothing to do",
            }.get(state.status, "propose a new run if the situation calls for one")
            raise _reject(state, "cannot activate", todo)
        return _activation(state, definition, now)
    if isinstance(command, Decline):
        reason = _text(command.reason)
        if reason is None:
            raise _reject(state, "cannot decline without a reason", "say why it is declined")
        if state.status != "proposed":
            todo = (
                "close it instead (with force and a reason if steps are open)"
                if state.status == "active"
                else "only a proposed run can be declined"
            )
            raise _reject(state, "cannot decline", todo)
        return [
            _event(
                state,
                "playbook.declined",
                run_id=state.run_id,
                playbook_id=definition.id,
                reason=reason,
            )
        ]
    if isinstance(command, AddNote):
        note = _text(command.note)
        if note is None:
            raise _reject(state, "cannot add an empty note", "write the note's text")
        if state.status == "none":
            raise _reject(state, "cannot add a note", "propose the run first")
        if command.step_id is not None:
            _definition_step(state, definition, command.step_id, "cannot add a note")
        return [
            _event(
                state,
                "playbook.note_added",
                run_id=state.run_id,
                note=note,
                step_id=command.step_id,
            )
        ]
    if isinstance(command, MarkOverdue):
        _definition_step(state, definition, command.step_id, "cannot mark overdue")
        step = state.steps.get(command.step_id)
        if (
            state.status != "active"
            or step is None
            or step.status == "completed"
            or step.overdue
            or step.due_at is None
            or now <= step.due_at
        ):
            return []
        return [
            _event(
                state,
                "playbook.step_overdue",
                run_id=state.run_id,
                step_id=step.step_id,
                due_at=step.due_at,
            )
        ]
    if isinstance(command, AssignStep | CompleteStep | Close) and state.status != "active":
        verb = {AssignStep: "assign", CompleteStep: "complete", Close: "close"}[type(command)]
        todo = {"none": "propose and activate it first", "proposed": "activate it first"}.get(
            state.status, "it has ended; add a note to record more"
        )
        raise _reject(state, f"cannot {verb}", todo)
    if isinstance(command, AssignStep):
        return _assign(state, command, definition)
    if isinstance(command, CompleteStep):
        return _complete(state, command, definition)
    return _close(state, command, definition)


def _propose(state: RunState, command: Propose, definition: Playbook, now: datetime) -> Decision:
    if command.level not in LEVEL_NAMES or command.level not in definition.variants:
        raise CommandRejectedError(
            f"cannot propose run {command.run_id!r} of {definition.id!r} at level "
            f"{command.level!r}; use one of {', '.join(LEVEL_NAMES)}"
        )
    if state.run_id and state.run_id != command.run_id:
        raise PlaybooksError(
            f"Propose for run {command.run_id!r} was decided against the state of run "
            f"{state.run_id!r}; pass RunState({command.run_id!r}) or that run's own state"
        )
    drill = command.drill or definition.drill
    if state.status != "none":
        same = (
            state.playbook_id == definition.id
            and state.level == command.level
            and state.area == command.area
            and state.trigger_alert_id == command.trigger_alert_id
            and state.disaster_id == command.disaster_id
        )
        if same:
            return []  # the same proposal again, e.g. after a restart
        raise _reject(state, "cannot propose again", "use a new run id for a new proposal")
    state = replace(state, run_id=command.run_id, playbook_id=definition.id)
    events = [
        _event(
            state,
            "playbook.proposed",
            run_id=command.run_id,
            playbook_id=definition.id,
            trigger_alert_id=command.trigger_alert_id,
            disaster_id=command.disaster_id,
            drill=drill,
            level=command.level,
            area=command.area,
        )
    ]
    if definition.activation == "automatic" and drill:
        proposed = replace(state, status="proposed", level=command.level, drill=drill)
        events += _activation(proposed, definition, now)
    return events


def _activation(state: RunState, definition: Playbook, now: datetime) -> Decision:
    """``playbook.activated``, then one ``step_assigned`` per step, due after ``now``."""
    level = state.level or LEVEL_NAMES[-1]
    events = [
        _event(
            state,
            "playbook.activated",
            run_id=state.run_id,
            playbook_id=definition.id,
            drill=state.drill,
            level=level,
        )
    ]
    for step in definition.steps:
        events.append(
            _event(
                state,
                "playbook.step_assigned",
                run_id=state.run_id,
                step_id=step.id,
                owner_role=step.owner,
                due_at=now + definition.deadline(step.id, level),
            )
        )
    return events


def _definition_step(state: RunState, definition: Playbook, step_id: str, problem: str) -> Step:
    step = definition.step(step_id)
    if step is None:
        known = ", ".join(s.id for s in definition.steps)
        raise _reject(state, f"{problem} {step_id!r}", f"no such step; its steps are {known}")
    return step


def _assign(state: RunState, command: AssignStep, definition: Playbook) -> Decision:
    _definition_step(state, definition, command.step_id, "cannot assign step")
    assignee = _text(command.assignee)
    if assignee is None:
        raise _reject(state, "cannot assign to nobody", "name the assignee")
    current = state.steps.get(command.step_id) or StepState(step_id=command.step_id)
    if current.status == "completed":
        raise _reject(
            state,
            f"cannot assign step {command.step_id!r}",
            f"it was completed at {_at(current.completed_at)} by {current.completed_by}",
        )
    if current.assignee == assignee:
        return []
    step = definition.step(command.step_id)
    owner = current.owner_role or (step.owner if step is not None else None)
    return [
        _event(
            state,
            "playbook.step_assigned",
            run_id=state.run_id,
            step_id=command.step_id,
            owner_role=owner,
            assignee=assignee,
            due_at=current.due_at,
        )
    ]


def _complete(state: RunState, command: CompleteStep, definition: Playbook) -> Decision:
    step = _definition_step(state, definition, command.step_id, "cannot complete step")
    current = state.steps.get(step.id)
    if current is not None and current.status == "completed":
        raise _reject(
            state,
            f"cannot complete step {step.id!r} again",
            f"it was completed at {_at(current.completed_at)} by {current.completed_by}; "
            "add a note to record more",
        )
    waiting = [dep for dep in step.depends_on if not _completed(state, dep)]
    if waiting:
        raise _reject(
            state,
            f"cannot complete step {step.id!r} yet",
            f"it waits for {', '.join(waiting)}; complete those first",
        )
    counts: dict[str, float] = {}
    for name, value in (command.counts or {}).items():
        number = float(value) if isinstance(value, int | float) else math.nan
        if isinstance(value, bool) or not math.isfinite(number):
            raise _reject(
                state, f"cannot complete step {step.id!r}", f"count {name!r} must be a number"
            )
        counts[name] = number
    return [
        _event(
            state,
            "playbook.step_completed",
            run_id=state.run_id,
            step_id=step.id,
            completed_by=command.actor,
            note=_text(command.note),
            evidence=_text(command.evidence),
            counts=counts or None,
        )
    ]


def _close(state: RunState, command: Close, definition: Playbook) -> Decision:
    reason = _text(command.reason)
    still_open = [s.id for s in definition.steps if not _completed(state, s.id)]
    if still_open and not (command.force and reason):
        raise _reject(
            state,
            f"cannot close with steps still open ({', '.join(still_open)})",
            "complete them, or close with force=True and a reason",
        )
    if command.force and reason is None:
        raise _reject(state, "cannot force a close without a reason", "say why")
    return [
        _event(
            state,
            "playbook.closed",
            run_id=state.run_id,
            report=dict(command.report),
            forced=bool(still_open) or None,
            reason=reason,
        )
    ]


# -- queries -----------------------------------------------------------------------------


def ready_actions(state: RunState, definition: Playbook) -> list[Step]:
    """Return the steps whose automated action is due now, in definition order.

    A step is ready when the run is active, it has an action, it is not completed and
    every step it depends on is. The runtime issues the action (with event ids derived
    from the run and step, so issuing it again after a restart is harmless) and then
    completes the step with the figures it produced.
    """
    if state.status != "active":
        return []
    return [
        step
        for step in definition.steps
        if step.action is not None
        and not _completed(state, step.id)
        and all(_completed(state, dep) for dep in step.depends_on)
    ]


def overdue_steps(state: RunState, now: datetime) -> list[str]:
    """Return the ids of open steps past due and not yet marked overdue (for the timer)."""
    if state.status != "active":
        return []
    return [
        s.step_id
        for s in state.steps.values()
        if s.status != "completed" and not s.overdue and s.due_at is not None and now > s.due_at
    ]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def after_action_report(
    state: RunState, definition: Playbook, counts: Mapping[str, float]
) -> dict[str, Any]:
    """Return the after-action report of a run, JSON-ready (datetimes as ISO 8601).

    ``counts`` are the run's figures the runtime queried (e.g. ``people_enrolled``,
    ``people_placed``, ``subsidies_paid``, ``subsidy_amount_paid``); each step has its
    deadline, due and completion times, whether it was on time and by how much it was
    late, and the figures recorded when it was completed.
    """
    level = state.level or LEVEL_NAMES[-1]
    steps: list[dict[str, Any]] = []
    on_time = late = 0
    for step in definition.steps:
        got = state.steps.get(step.id) or StepState(step_id=step.id)
        done = got.status == "completed" and got.completed_at is not None
        entry: dict[str, Any] = {
            "step_id": step.id,
            "title": step.title,
            "owner_role": got.owner_role or step.owner,
            "assignee": got.assignee,
            "status": got.status,
            "deadline_seconds": definition.deadline(step.id, level).total_seconds(),
            "due_at": _iso(got.due_at),
            "completed_at": _iso(got.completed_at),
            "completed_by": got.completed_by,
            "marked_overdue": got.overdue,
            "on_time": None,
            "late_by_seconds": None,
            "counts": dict(got.counts),
        }
        if done and got.completed_at is not None and state.activated_at is not None:
            entry["took_seconds"] = (got.completed_at - state.activated_at).total_seconds()
        if done and got.completed_at is not None and got.due_at is not None:
            lateness = (got.completed_at - got.due_at).total_seconds()
            entry["on_time"] = lateness <= 0
            entry["late_by_seconds"] = max(lateness, 0.0)
            on_time, late = (on_time + 1, late) if lateness <= 0 else (on_time, late + 1)
        steps.append(entry)
    completed = sum(1 for s in steps if s["status"] == "completed")
    return {
        "run_id": state.run_id,
        "playbook_id": definition.id,
        "level": state.level,
        "area": state.area,
        "drill": state.drill,
        "proposed_at": _iso(state.proposed_at),
        "activated_at": _iso(state.activated_at),
        "closed_at": _iso(state.closed_at),
        "counts": {name: float(value) for name, value in sorted(counts.items())},
        "steps_total": len(steps),
        "steps_completed": completed,
        "steps_on_time": on_time,
        "steps_late": late,
        "steps_open": len(steps) - completed,
        "notes": state.note_count,
        "steps": steps,
    }
