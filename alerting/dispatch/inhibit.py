"""Stage 1, inhibit: an alert another alert or a playbook run already covers is not sent.

:class:`Inhibitions` answers the :class:`~alerting.dispatch.mutes.Mutes` question: a firing
alert of the same indicator on a parent region at the same or a more severe level
(Alertmanager-style inhibition along the region tree), or an active playbook run for the
region or an ancestor at the same or a more severe variant. :class:`Inhibit` is the stage:
a firing notice of an alert newly covered records ``alert.inhibited`` and goes no further;
one whose inhibitor has gone records ``alert.inhibition_ended`` and goes on (it is the news
the officers did not get); reminders of an inhibited alert stop here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from alerting.dispatch.mutes import Alert, Reason
from alerting.dispatch.pipeline import Changes, Notice
from alerting.rules import Rule
from events.severity import at_least
from projections.playbook_queries import ActiveRun

__all__ = ["Inhibit", "Inhibitions"]

#: (alert id, rule, region, level) of every alert firing now (the evaluator's view).
OpenAlerts = Callable[[], Sequence[tuple[str, Rule, str, str]]]


class Inhibitions:
    """What covers an alert: a parent region's alert or an active playbook run."""

    def __init__(self, open_alerts: OpenAlerts | None) -> None:
        self.open_alerts = open_alerts
        self.runs: list[ActiveRun] = []  # refreshed by the dispatcher from the projection

    def mutes(self, alert: Alert, at: dt.datetime) -> Reason | None:
        """The alert or run that covers ``alert`` (never the alert itself), or None."""
        parents = alert.parents
        for alert_id, rule, other_region, other in self.open_alerts() if self.open_alerts else []:
            if (
                alert_id != alert.alert_id
                and other_region in parents
                and rule.indicator == alert.indicator
                and at_least(other, alert.level)
            ):
                return Reason("alert", alert_id)
        for r in self.runs:
            if (r.region == alert.region or r.region in parents) and (
                r.level is None or at_least(r.level, alert.level)
            ):
                return Reason("playbook", r.run_id)
        return None


class Inhibit:
    """The inhibit stage (see the module docstring)."""

    name = "inhibit"

    def __init__(self, inhibitions: Inhibitions) -> None:
        self.inhibitions = inhibitions

    async def __call__(self, notices: list[Notice], ch: Changes | None) -> list[Notice]:
        """Firing notices: inhibit or end the inhibition; resolved: the inhibition goes with
        the alert; reminders of inhibited alerts: held."""
        assert ch is not None, "inhibition is decided, never delivered"
        out: list[Notice] = []
        for n in notices:
            alert_id = n.alert.alert_id
            if n.kind == "resolved":
                if alert_id in ch.inhibited:
                    ch.uninhibit(alert_id)  # nothing to record: the alert itself has ended
            elif n.kind == "firing":
                reason = self.inhibitions.mutes(n.alert, n.at)
                if reason is not None:
                    if alert_id not in ch.inhibited:
                        self.inhibit(ch, n, reason)
                    continue
                if alert_id in ch.inhibited:  # its inhibitor has gone: the news goes out
                    self.end(ch, n)
            elif alert_id in ch.inhibited:
                continue
            out.append(n)
        return out

    def changed(self, alert: Alert, ch: Changes, at: dt.datetime) -> bool:
        """True when the alert's inhibition would change at ``at`` (covered and not yet
        inhibited, or inhibited and no longer covered)."""
        covered = self.inhibitions.mutes(alert, at) is not None
        return covered != (alert.alert_id in ch.inhibited)

    @staticmethod
    def inhibit(ch: Changes, n: Notice, by: Reason) -> None:
        """Decide that ``by`` holds back the notices of the notice's alert."""
        ch.inhibit(n.alert.alert_id)
        payload: dict[str, Any] = {"alert_id": n.alert.alert_id}
        if by.kind == "alert":
            payload.update(
                by_alert_id=by.ident,
                reason="上级地区同类预警已在处置 / parent region already alerted",
            )
        else:
            payload.update(
                by_playbook_run=by.ident,
                reason="应急预案已启动，由处置组负责 / an active playbook covers the area",
            )
        ch.change_alert("alert.inhibited", n.alert.alert_id, payload, n.at.isoformat())

    @staticmethod
    def end(ch: Changes, n: Notice) -> None:
        """Decide that nothing inhibits the notice's alert any more."""
        ch.uninhibit(n.alert.alert_id)
        payload = {
            "alert_id": n.alert.alert_id,
            "reason": "抑制条件已消失 / the inhibitor has gone",
        }
        ch.change_alert("alert.inhibition_ended", n.alert.alert_id, payload, n.at.isoformat())
