"""The notification pipeline as data: notices, the decision they are taken in, the stages.

A :class:`Notice` is one piece of news about one alert (raised, resolved, a reminder, an
escalation, a brief, a playbook's message). It goes through the :class:`Pipeline`, a list
of :class:`Stage` s sharing one interface: each takes the notices that reached it and
returns those that go on (a stage may drop some, expand one into several, or record
events). The first half decides, inside one :class:`Changes` (inhibit, silence, mute
windows, route, group); the group stage queues the notices, and when a group's timer fires
the second half delivers them (channels, dedupe, deliver with retry), outside any decision.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from alerting.dispatch.mutes import Alert
from alerting.notify.base import Notifier
from alerting.notify.message import AlertMessage, MessageKind
from alerting.roster import Officer
from events.commands import Command
from streams.commands import CommandBus

__all__ = ["Changes", "Channel", "Notice", "Pipeline", "Stage"]


@dataclasses.dataclass(frozen=True, slots=True)
class Channel:
    """Where a notice is delivered: the channel kind, the officer's address on it and the
    notifier that sends there."""

    kind: str
    address: str
    notifier: Notifier


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    """One piece of news on its way: what it is about (``alert``), its ``kind``, its ``tag``
    (its name within the alert: ``raised:II``, ``reminder:3`` …), the message, and when it
    was decided (``at``: mutes and duty rosters are asked at that time). ``officer`` is set
    by the route stage, ``channel`` once the group is sent."""

    alert: Alert
    kind: MessageKind
    tag: str
    message: AlertMessage
    at: dt.datetime
    officer: Officer | None = None
    channel: Channel | None = None

    @property
    def alert_id(self) -> str:
        """The id of the alert (or playbook run) the notice is about."""
        return self.alert.alert_id


@dataclasses.dataclass
class Changes:
    """One decision of the dispatcher: the commands to send to the alerts' writer, the
    effects to apply once they have their outcomes, and the state as the decision sees it
    (its own changes included).

    ``live_inhibited`` and ``live_rounds`` are the dispatcher's own state, changed only by
    the effects; ``inhibited`` and ``rounds`` are what the decision sees meanwhile."""

    bus: CommandBus
    live_inhibited: set[str]
    live_rounds: dict[str, tuple[int, dt.datetime]]
    inhibited: set[str] = dataclasses.field(init=False)
    rounds: dict[str, tuple[int, dt.datetime]] = dataclasses.field(default_factory=dict)
    effects: list[Callable[[], None]] = dataclasses.field(default_factory=list)
    commands: list[Command] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.inhibited = set(self.live_inhibited)

    def later(self, fn: Callable[..., None], *args: Any) -> None:
        """Apply ``fn(*args)`` once the decision's events are acknowledged."""
        self.effects.append(functools.partial(fn, *args))

    def apply(self) -> None:
        """Run the effects, in the order they were decided."""
        for effect in self.effects:
            effect()

    def round(self, alert_id: str, default: tuple[int, dt.datetime]) -> tuple[int, dt.datetime]:
        """The alert's reminder round and when it was last told, as the decision sees it."""
        return self.rounds.get(alert_id) or self.live_rounds.get(alert_id, default)

    def set_round(self, alert_id: str, value: tuple[int, dt.datetime]) -> None:
        """Decide the alert's reminder round (and when it was last told)."""
        self.rounds[alert_id] = value
        self.later(self.live_rounds.__setitem__, alert_id, value)

    def inhibit(self, alert_id: str) -> None:
        """Decide that the alert's notices are held back by an inhibition."""
        self.inhibited.add(alert_id)
        self.later(self.live_inhibited.add, alert_id)

    def uninhibit(self, alert_id: str) -> None:
        """Decide that nothing inhibits the alert any more."""
        self.inhibited.discard(alert_id)
        self.later(self.live_inhibited.discard, alert_id)

    def change_alert(
        self, event_type: str, alert_id: str, payload: dict[str, Any], salt: str
    ) -> None:
        """Decide a change of the alert's lifecycle (``alert.escalated``,
        ``alert.inhibited``, ``alert.inhibition_ended``): a command to the alert's single
        writer (``alert.escalate``, ``alert.inhibit``, ``alert.uninhibit``), which decides
        it against the alert's state. Its id is derived from the event type, the alert and
        ``salt``, so deciding it again is decided once."""
        body = {k: v for k, v in payload.items() if k != "alert_id" and v is not None}
        self.commands.append(
            self.bus.command(
                _LIFECYCLE_COMMANDS[event_type],
                alert_id[:64],
                actor="eams.alerting",
                source="eams.alerting",
                payload=body,
                command_id=uuid.uuid5(_COMMANDS_NAMESPACE, f"{event_type}|{alert_id}|{salt}"),
            )
        )


#: The namespace the ids of the dispatcher's alert commands are derived in.
_COMMANDS_NAMESPACE = uuid.UUID("5d0c4b1e-7f2a-4e93-8b6d-1a2c3e4f5a6b")
#: The command of the alert aggregate each lifecycle event of the dispatcher comes from.
_LIFECYCLE_COMMANDS = {
    "alert.escalated": "alert.escalate",
    "alert.inhibited": "alert.inhibit",
    "alert.inhibition_ended": "alert.uninhibit",
}


class Stage(Protocol):
    """One step of the pipeline. ``ch`` is the decision the notices are taken in (None in
    the delivery half: a delivery is recorded as it happens, not decided)."""

    name: str

    async def __call__(self, notices: list[Notice], ch: Changes | None) -> list[Notice]:
        """The notices that go on to the next stage."""
        ...


class Pipeline:
    """The stages, in order; :meth:`run` passes notices through a stretch of them."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)
        self._index = {s.name: i for i, s in enumerate(self.stages)}

    @property
    def names(self) -> list[str]:
        """The stages' names, in order."""
        return [s.name for s in self.stages]

    async def run(
        self,
        notices: Sequence[Notice],
        ch: Changes | None,
        *,
        start: str | None = None,
        through: str | None = None,
    ) -> list[Notice]:
        """Pass ``notices`` through the stages from ``start`` through ``through`` (both
        included; the first and the last by default); returns what came out of the last."""
        first = self._index[start] if start is not None else 0
        last = self._index[through] if through is not None else len(self.stages) - 1
        out = list(notices)
        for stage in self.stages[first : last + 1]:
            if not out:
                break
            out = await stage(out, ch)
        return out
