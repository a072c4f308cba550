"""Stage 4, route: which officers hear of a notice, one notice per officer.

City-tier officers on duty for the alert's region or its city; levels in
``policy.notify_province_at`` (I and II by default) reach province duty at once, and so
does everything no city officer covers. An escalation goes to province duty only; a
playbook's message is routed as level I (the province always hears of a run).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from alerting.dispatch.pipeline import Changes, Notice
from alerting.roster import Officer, Roster
from events.regions import RegionReference
from events.severity import LEVEL_NAMES

__all__ = ["Route", "Router"]


class Router:
    """The region tree and the duty roster: who is responsible for what, when."""

    def __init__(self, reference: RegionReference, roster: Roster) -> None:
        self.reference = reference
        self.roster = roster

    def chain(self, region: str) -> tuple[str, ...]:
        """The region and its ancestors (an officer of the city covers its counties)."""
        return (region, *(r.code for r in self.reference.ancestors(region)))

    def recipients(self, region: str, level: str, at: dt.datetime) -> list[Officer]:
        """Officers to tell at once for an alert of ``level`` in ``region``."""
        chain = list(self.chain(region))
        found = self.roster.responsible(chain, "city", at)
        if level in self.roster.policy.notify_province_at or not found:
            found += self.roster.responsible(chain, "province", at)
        return found

    def province(self, region: str, at: dt.datetime) -> list[Officer]:
        """Province duty on shift for ``region`` at ``at`` (who an escalation reaches)."""
        return self.roster.responsible(list(self.chain(region)), "province", at)

    def audience(self, notice: Notice) -> list[Officer]:
        """The officers a notice goes to (see the module docstring)."""
        region = notice.alert.region
        if notice.kind == "escalation":
            return self.province(region, notice.at)
        level = (
            LEVEL_NAMES[-1] if notice.kind == "playbook" else notice.alert.level
        )  # the most severe
        return self.recipients(region, level, notice.at)


class Route:
    """The route stage: each notice becomes one notice per officer of its audience."""

    name = "route"

    def __init__(self, router: Router) -> None:
        self.router = router

    async def __call__(self, notices: list[Notice], ch: Changes | None) -> list[Notice]:
        """One notice per (notice, officer)."""
        return [
            dataclasses.replace(n, officer=officer)
            for n in notices
            for officer in self.router.audience(n)
        ]
