"""The messages the dispatcher sends: one alert's news in Chinese, with the region's full
name, the console link and the report deadline of its level."""

from __future__ import annotations

import datetime as dt
from typing import Any

from alerting.notify.message import AlertMessage, MessageKind
from alerting.roster import Roster
from alerting.rules import RuleSet
from events.clock import SHANGHAI
from events.regions import RegionReference
from events.severity import LEVEL_NAMES

__all__ = ["Messages", "transition_tag"]


class Messages:
    """Builds the :class:`~alerting.notify.message.AlertMessage` of an alert."""

    def __init__(self, reference: RegionReference, roster: Roster, rules: RuleSet | None) -> None:
        self.reference = reference
        self.roster = roster
        self.rules = rules

    def message(
        self,
        alert_id: str,
        kind: MessageKind,
        level: str,
        title: str,
        region: str,
        indicator: str,
        value: float | None,
        threshold: float | None,
        at: dt.datetime,
        *,
        link: str | None = None,
    ) -> AlertMessage:
        """The message for one alert (its console link unless ``link`` is given)."""
        names = [r.name for r in reversed(self.reference.ancestors(region))][1:]
        here = self.reference.get(region)
        deadline = self.roster.policy.report_deadline.get(level)
        return AlertMessage(
            alert_id=alert_id,
            kind=kind,
            level=level,
            rule_title=title,
            region_code=region,
            region_name=" ".join(names + [here.name if here else region]),
            indicator=indicator,
            indicator_label=title,
            value=value,
            threshold=threshold,
            fired_at=at,
            link=link or f"{self.roster.policy.link_base}{alert_id}",
            report_due=(at + deadline) if deadline and kind != "resolved" else None,
        )

    def of_row(self, row: dict[str, Any], kind: MessageKind, at: dt.datetime) -> AlertMessage:
        """The message about an alert of the projection."""
        rule = self.rules.by_id(row["rule"]) if self.rules is not None else None
        return self.message(
            row["alert_id"],
            kind,
            row["level"] or LEVEL_NAMES[0],  # the least severe level when none was projected
            rule.title if rule is not None else row["summary"],
            row["region"],
            row["indicator"],
            row["value"],
            row["threshold"],
            at,
        )

    def console_link(self, section: str, ident: str) -> str:
        """The console's page of ``ident`` in ``section`` (``playbooks`` …), beside the
        alerts' pages of ``policy.link_base``."""
        return self.roster.policy.link_base.replace("/alerts/", f"/{section}/") + ident


def transition_tag(kind: str, level: str, at: dt.datetime) -> str:
    """The notice's name within its alert: the first notice is ``raised:<level>`` (so a
    restart can name it again); later changes carry their time, to the millisecond."""
    if kind == "raised":
        return f"raised:{level}"
    return f"{kind}:{level}:{at.astimezone(SHANGHAI).isoformat(timespec='milliseconds')}"
