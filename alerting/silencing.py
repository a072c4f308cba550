"""A silence by matchers as an event-sourced aggregate (decided by the command handler).

::

    none ─create─► in force (or scheduled) ─end─► ended
                   (its ``ends_at`` passing ends it too, without an event)

Creating needs at least one matcher (rule, region, level); ending a silence that has ended
(by hand or by its time) is refused with when it ended. The silence's region is its own
``region`` matcher or, for one without, the root of the hierarchy: a user limited to some
regions can neither see nor end a province-wide silence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from events.commands import Change, Command, parse_payload
from events.envelope import Envelope
from events.errors import CommandRejectedError
from events.regions import RegionReference
from events.severity import LEVEL_NAMES

__all__ = ["SILENCE_EVENT_TYPES", "SilenceAggregate", "SilenceState"]

SILENCE_EVENT_TYPES = frozenset({"silence.created", "silence.expired"})


@dataclass(frozen=True, slots=True)
class SilenceState:
    """What the log says about one silence."""

    silence_id: str
    status: Literal["none", "created", "ended"] = "none"
    region: str | None = None  # the events' region: the matcher, or the root
    ends_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


class _Create(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=16)
    level: str | None = None
    minutes: int = Field(ge=1, le=30 * 24 * 60)
    reason: str | None = Field(default=None, max_length=2000)


class _End(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str | None = Field(default=None, max_length=2000)


class SilenceAggregate:
    """The silence kind of the command handler (:class:`events.commands.Aggregate`)."""

    kind = "silence"
    event_types = SILENCE_EVENT_TYPES

    def __init__(self, reference: RegionReference) -> None:
        self.reference = reference

    def initial(self, aggregate_id: str) -> SilenceState:
        return SilenceState(silence_id=aggregate_id)

    def region_of(self, state: SilenceState) -> str | None:
        return state.region

    def apply(self, state: SilenceState, event: Envelope) -> SilenceState:
        p = event.payload_dict()
        if event.event_type == "silence.created" and state.status == "none":
            ends = p.get("ends_at")
            ends_at = (
                ends if isinstance(ends, dt.datetime) else dt.datetime.fromisoformat(str(ends))
            )
            return replace(state, status="created", region=event.region, ends_at=ends_at)
        if event.event_type == "silence.expired" and state.status == "created":
            return replace(state, status="ended", ended_at=event.occurred_at)
        return state

    def decide(self, state: SilenceState, command: Command, now: dt.datetime) -> list[Change]:
        if command.verb == "create":
            body = parse_payload(_Create, command)
            return [self._create(state, body, now)]
        if command.verb != "end":
            raise CommandRejectedError(
                f"{command.command_type}: silences take create and end", code="invalid"
            )
        end = parse_payload(_End, command)
        if state.status == "none":
            raise CommandRejectedError(
                f"no silence {state.silence_id!r}; see GET /api/silences", code="not_found"
            )
        ended = state.ended_at or (
            state.ends_at if state.ends_at and state.ends_at <= now else None
        )
        if ended is not None:
            raise CommandRejectedError(
                f"silence {state.silence_id} already ended at {ended.isoformat(timespec='seconds')}"
            )
        payload = {"silence_id": state.silence_id, "reason": end.reason}
        return [Change("silence.expired", payload)]

    def _create(self, state: SilenceState, body: _Create, now: dt.datetime) -> Change:
        if state.status != "none":
            raise CommandRejectedError(f"silence {state.silence_id} exists already")
        if not (body.rule or body.region or body.level):
            raise CommandRejectedError(
                "give at least one matcher: rule, region or level", code="invalid"
            )
        if body.region and self.reference.get(body.region) is None:
            raise CommandRejectedError(
                f"region: {body.region!r} is not a known region code", code="invalid"
            )
        if body.level is not None and body.level not in LEVEL_NAMES:
            raise CommandRejectedError(
                f"level: {body.level!r} is not a level; use one of {', '.join(LEVEL_NAMES)}",
                code="invalid",
            )
        payload = {
            "silence_id": state.silence_id,
            "rule": body.rule,
            "region": body.region,
            "level": body.level,
            "starts_at": now.isoformat(),
            "ends_at": (now + dt.timedelta(minutes=body.minutes)).isoformat(),
            "reason": body.reason,
        }
        return Change("silence.created", payload, region=body.region or self.reference.root().code)
