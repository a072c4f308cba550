"""What holds an alert's notices back, behind one interface: :class:`Mutes`.

Silences (by matchers, from the log), inhibitions (a parent region's alert, an active
playbook run: :mod:`alerting.dispatch.inhibit`) and the recurring mute windows of the duty
policy all answer ``mutes(alert, at)`` with the :class:`Reason` they hold it back, or None.
The pipeline's stages ask them; what each stage does with a reason differs (an inhibition
is recorded in the log, a mute window moves the reminder clock), the question does not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Literal, Protocol

from alerting.roster import Policy
from alerting.silences import Silence

__all__ = ["Alert", "MuteWindows", "Mutes", "Reason", "Silences"]


@dataclasses.dataclass(frozen=True, slots=True)
class Alert:
    """What a notice is about, as the mutes match it: the alert (or playbook run) id, its
    rule and indicator, its region followed by the region's ancestors (``chain``), and its
    level."""

    alert_id: str
    rule: str
    indicator: str
    chain: tuple[str, ...]
    level: str

    @property
    def region(self) -> str:
        """The alert's own region."""
        return self.chain[0]

    @property
    def parents(self) -> frozenset[str]:
        """The regions above the alert's."""
        return frozenset(self.chain[1:])


@dataclasses.dataclass(frozen=True, slots=True)
class Reason:
    """Why an alert is held back: by what (``kind``) and which one (``ident``)."""

    kind: Literal["silence", "mute_window", "alert", "playbook"]
    ident: str


class Mutes(Protocol):
    """Anything that may hold back an alert's notices."""

    def mutes(self, alert: Alert, at: dt.datetime) -> Reason | None:
        """The reason ``alert`` is held back at ``at``, or None."""
        ...


@dataclasses.dataclass(frozen=True)
class Silences:
    """The silences of the log as one :class:`Mutes`: the first that holds wins."""

    silences: tuple[Silence, ...] = ()

    @classmethod
    def of(cls, silences: Iterable[Silence]) -> Silences:
        """The silences, in the order they were read."""
        return cls(tuple(silences))

    def mutes(self, alert: Alert, at: dt.datetime) -> Reason | None:
        """The silence that holds for ``alert`` at ``at`` (rule, region or above, level)."""
        chain = list(alert.chain)
        for s in self.silences:
            if s.matches(alert.rule, chain, alert.level, at):
                return Reason("silence", s.silence_id)
        return None


@dataclasses.dataclass(frozen=True)
class MuteWindows:
    """The recurring mute windows of the duty policy as one :class:`Mutes`."""

    policy: Policy

    def mutes(self, alert: Alert, at: dt.datetime) -> Reason | None:
        """The first window of the policy that holds back ``alert``'s level at ``at``."""
        for i, window in enumerate(self.policy.mute_windows):
            if window.mutes(alert.level, at):
                return Reason("mute_window", f"policy.mute_windows[{i}]")
        return None
