"""Silences by matchers (Alertmanager-style): who is not told about what, until when.

A silence matches an alert when every matcher it has matches: ``rule`` (exact id),
``region`` (the alert's region or any region above it, so a city silence covers its
counties) and ``level``. It holds between ``starts_at`` and ``ends_at`` unless expired by
hand. Silences are events (``silence.created`` / ``silence.expired``) with their actor.
The notification pipeline asks them, as it asks inhibitions and mute windows, through
:class:`alerting.dispatch.mutes.Silences` (``mutes(alert, at) -> reason | None``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Silence:
    """One silence as read from the log."""

    silence_id: str
    rule: str | None
    region: str | None
    level: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    actor: str
    reason: str | None
    expired: bool

    def active(self, at: dt.datetime) -> bool:
        """True while the silence holds."""
        return not self.expired and self.starts_at <= at < self.ends_at

    def matches(self, rule: str, region_chain: list[str], level: str, at: dt.datetime) -> bool:
        """True when this silence holds at ``at`` for an alert of ``rule`` in the first
        region of ``region_chain`` (followed by its ancestors) at ``level``."""
        return (
            self.active(at)
            and (self.rule is None or self.rule == rule)
            and (self.region is None or self.region in region_chain)
            and (self.level is None or self.level == level)
        )


def from_payload(
    silence_id: str, p: dict[str, Any], actor: str, *, expired: bool = False
) -> Silence:
    """A silence from the payload of its ``silence.created`` event."""
    return Silence(
        silence_id=silence_id,
        rule=p.get("rule"),
        region=p.get("region"),
        level=p.get("level"),
        starts_at=dt.datetime.fromisoformat(p["starts_at"]),
        ends_at=dt.datetime.fromisoformat(p["ends_at"]),
        actor=actor,
        reason=p.get("reason"),
        expired=expired,
    )


def from_rows(rows: Iterable[dict[str, Any]]) -> list[Silence]:
    """Silences from the rows of :func:`projections.alert_queries.silence_rows`."""
    return [
        from_payload(
            row["silence_id"],
            orjson.loads(row["payload"]),
            row["actor"],
            expired=bool(row["expired"]),
        )  # fmt: skip
        for row in rows
        if row["payload"]
    ]


def silenced(
    silences: Iterable[Silence], rule: str, region_chain: list[str], level: str, at: dt.datetime
) -> Silence | None:
    """The first silence that holds for this alert, if any."""
    return next((s for s in silences if s.matches(rule, region_chain, level, at)), None)
