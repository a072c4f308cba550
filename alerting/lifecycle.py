"""An alert as an event-sourced aggregate: its lifecycle, decided by pure code.

The evaluator (:mod:`alerting.engine` decides *when* a condition fires) and the people who
handle an alert both send commands; this module decides each against the alert's state::

    none ─raise─► firing ─resolve─► resolved
                  firing: change_level, acknowledge (once), silence / unsilence,
                          escalate (once, while unacknowledged), inhibit / uninhibit

A command the state does not allow is refused with the reason (``conflict``), a command
for an alert that does not exist with ``not_found``. ``apply`` accepts every ``alert.*``
event the log holds, including those written before commands existed, and a repeat of an
event changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from events.commands import Change, Command, parse_payload
from events.envelope import Envelope
from events.errors import CommandRejectedError

__all__ = ["ALERT_EVENT_TYPES", "AlertAggregate", "AlertLifecycle"]

ALERT_EVENT_TYPES = frozenset(
    {
        "alert.raised",
        "alert.level_changed",
        "alert.resolved",
        "alert.acknowledged",
        "alert.silenced",
        "alert.unsilenced",
        "alert.escalated",
        "alert.inhibited",
        "alert.inhibition_ended",
    }
)

Status = Literal["none", "firing", "resolved"]


@dataclass(frozen=True, slots=True)
class AlertLifecycle:
    """What the log says about one alert."""

    alert_id: str
    status: Status = "none"
    rule: str | None = None
    region: str | None = None
    level: str | None = None
    firing_since: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: dt.datetime | None = None
    silenced_until: dt.datetime | None = None
    escalated_at: dt.datetime | None = None
    inhibited_by: str | None = None

    def silenced(self, at: dt.datetime) -> bool:
        """Whether a silence of this alert holds at ``at``."""
        return self.silenced_until is not None and self.silenced_until > at


# -- command payloads (validated, so a malformed command is refused with its field) --------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Raise(_Body):
    rule: str = Field(min_length=1, max_length=64)
    region: str = Field(min_length=1, max_length=16)
    level: str
    summary: str = Field(min_length=1, max_length=2000)
    indicator: str | None = None
    value: float | None = None
    threshold: float | None = None
    pending_since: dt.datetime | None = None
    at: dt.datetime


class ChangeLevel(_Body):
    level: str
    value: float | None = None
    threshold: float | None = None
    at: dt.datetime


class Resolve(_Body):
    automatic: bool = False
    resolution: str | None = Field(default=None, max_length=2000)
    at: dt.datetime | None = None


class Acknowledge(_Body):
    note: str | None = Field(default=None, max_length=2000)


class Silence(_Body):
    minutes: int = Field(ge=1, le=7 * 24 * 60)
    reason: str | None = Field(default=None, max_length=2000)


class Unsilence(_Body):
    reason: str | None = Field(default=None, max_length=2000)


class Escalate(_Body):
    to_role: str | None = None
    to_officer: str | None = None
    reason: str | None = Field(default=None, max_length=2000)


class Inhibit(_Body):
    by_alert_id: str | None = None
    by_playbook_run: str | None = None
    reason: str | None = Field(default=None, max_length=2000)


class Uninhibit(_Body):
    reason: str | None = Field(default=None, max_length=2000)


_BODIES: dict[str, type[_Body]] = {
    "raise": Raise,
    "change_level": ChangeLevel,
    "resolve": Resolve,
    "acknowledge": Acknowledge,
    "silence": Silence,
    "unsilence": Unsilence,
    "escalate": Escalate,
    "inhibit": Inhibit,
    "uninhibit": Uninhibit,
}


def _iso(value: dt.datetime | None) -> str:
    return "?" if value is None else value.isoformat(timespec="seconds")


def _time(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


class AlertAggregate:
    """The alert kind of the command handler (:class:`events.commands.Aggregate`)."""

    kind = "alert"
    event_types = ALERT_EVENT_TYPES
    verbs = frozenset(_BODIES)

    def initial(self, aggregate_id: str) -> AlertLifecycle:
        return AlertLifecycle(alert_id=aggregate_id)

    def region_of(self, state: AlertLifecycle) -> str | None:
        return state.region

    # -- apply ---------------------------------------------------------------------------

    def apply(self, state: AlertLifecycle, event: Envelope) -> AlertLifecycle:
        p = event.payload_dict()
        at = event.occurred_at
        kind = event.event_type
        if kind == "alert.raised":
            if state.status != "none":
                return state
            return replace(
                state,
                status="firing",
                rule=p.get("rule") or state.rule,
                region=event.region,
                level=p.get("level"),
                firing_since=at,
            )
        region = state.region or event.region
        if kind == "alert.level_changed":
            return replace(state, region=region, level=p.get("level") or state.level)
        if kind == "alert.resolved":
            if state.status == "resolved":
                return state
            return replace(state, region=region, status="resolved", resolved_at=at)
        if kind == "alert.acknowledged":
            if state.acknowledged_by is not None:
                return state
            return replace(state, region=region, acknowledged_by=event.actor, acknowledged_at=at)
        if kind == "alert.silenced":
            return replace(state, region=region, silenced_until=_time(p.get("until")))
        if kind == "alert.unsilenced":
            return replace(state, region=region, silenced_until=None)
        if kind == "alert.escalated":
            return replace(state, region=region, escalated_at=state.escalated_at or at)
        if kind == "alert.inhibited":
            by = p.get("by_alert_id") or p.get("by_playbook_run") or "?"
            return replace(state, region=region, inhibited_by=by)
        if kind == "alert.inhibition_ended":
            return replace(state, region=region, inhibited_by=None)
        return state

    # -- decide --------------------------------------------------------------------------

    def decide(self, state: AlertLifecycle, command: Command, now: dt.datetime) -> list[Change]:
        body_type = _BODIES.get(command.verb)
        if body_type is None:
            raise CommandRejectedError(
                f"{command.command_type}: alerts take {', '.join(sorted(_BODIES))}",
                code="invalid",
            )
        body = parse_payload(body_type, command)
        if isinstance(body, Raise):
            return self._raise(state, body)
        if state.status == "none":
            raise CommandRejectedError(
                f"no alert {state.alert_id!r}; see GET /api/alerts", code="not_found"
            )
        name = f"alert {state.alert_id}"
        if isinstance(body, Resolve):
            self._firing(state, "resolve")
            return [
                Change(
                    "alert.resolved",
                    {
                        "alert_id": state.alert_id,
                        "automatic": body.automatic,
                        "resolution": body.resolution,
                    },
                    occurred_at=body.at,
                )
            ]
        self._firing(state, command.verb)
        if isinstance(body, ChangeLevel):
            if body.level == state.level:
                raise CommandRejectedError(f"{name} is already at level {body.level}")
            return [
                Change(
                    "alert.level_changed",
                    {
                        "alert_id": state.alert_id,
                        "rule": state.rule,
                        "previous_level": state.level,
                        "level": body.level,
                        "value": body.value,
                        "threshold": body.threshold,
                    },
                    occurred_at=body.at,
                )
            ]
        if isinstance(body, Acknowledge):
            if state.acknowledged_by is not None:
                raise CommandRejectedError(
                    f"{name} was already acknowledged by {state.acknowledged_by} at "
                    f"{_iso(state.acknowledged_at)}; see GET /api/alerts/{state.alert_id}/timeline"
                )
            return [Change("alert.acknowledged", {"alert_id": state.alert_id, "note": body.note})]
        if isinstance(body, Silence):
            until = now + dt.timedelta(minutes=body.minutes)
            payload = {
                "alert_id": state.alert_id,
                "until": until.isoformat(),
                "reason": body.reason,
            }
            return [Change("alert.silenced", payload)]
        if isinstance(body, Unsilence):
            if not state.silenced(now):
                raise CommandRejectedError(f"{name} is not silenced; nothing to end")
            return [Change("alert.unsilenced", {"alert_id": state.alert_id, "reason": body.reason})]
        if isinstance(body, Escalate):
            if state.escalated_at is not None:
                raise CommandRejectedError(f"{name} was escalated at {_iso(state.escalated_at)}")
            if state.acknowledged_by is not None:
                raise CommandRejectedError(
                    f"{name} was acknowledged by {state.acknowledged_by}; no escalation"
                )
            payload = {"alert_id": state.alert_id} | body.model_dump(exclude_none=True)
            return [Change("alert.escalated", payload)]
        if isinstance(body, Inhibit):
            if state.inhibited_by is not None:
                raise CommandRejectedError(f"{name} is already inhibited by {state.inhibited_by}")
            if not (body.by_alert_id or body.by_playbook_run):
                raise CommandRejectedError(
                    "alert.inhibit: give by_alert_id or by_playbook_run", code="invalid"
                )
            payload = {"alert_id": state.alert_id} | body.model_dump(exclude_none=True)
            return [Change("alert.inhibited", payload)]
        assert isinstance(body, Uninhibit)
        if state.inhibited_by is None:
            raise CommandRejectedError(f"{name} is not inhibited")
        payload = {"alert_id": state.alert_id, "reason": body.reason}
        return [Change("alert.inhibition_ended", payload)]

    @staticmethod
    def _raise(state: AlertLifecycle, body: Raise) -> list[Change]:
        if state.status != "none":
            raise CommandRejectedError(
                f"alert {state.alert_id} was raised at {_iso(state.firing_since)} already"
            )
        payload = {"alert_id": state.alert_id} | body.model_dump(
            exclude={"region", "at", "pending_since"}, exclude_none=True
        )
        if body.pending_since is not None:
            payload["pending_since"] = body.pending_since.isoformat()
        return [Change("alert.raised", payload, region=body.region, occurred_at=body.at)]

    @staticmethod
    def _firing(state: AlertLifecycle, verb: str) -> None:
        if state.status == "resolved":
            raise CommandRejectedError(
                f"alert {state.alert_id} is already resolved (at {_iso(state.resolved_at)}); "
                f"cannot {verb.replace('_', ' ')} it"
            )
