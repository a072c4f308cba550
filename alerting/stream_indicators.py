"""The indicators an event decides by itself, kept per region as the events arrive.

The stream path of alerting (:mod:`alerting.stream`) judges its rules on these values
instead of the projections. They mean exactly what :func:`projections.indicators.compute`
means by the same names, computed from the same row of each event
(:func:`projections.rows.to_row`, the projector's own conversion, so an event the
projector would park is ignored here too) and rolled up with the same functions:

- ``disaster_area``: kept per (region, disaster), the latest event by (occurred_at, offset)
  with its severity, and the latest flag; per disaster, the latest clear naming no region.
  As ``disaster_area_state`` and ``disaster_clears`` (``ACTIVE_DISASTER_AREAS``): a region
  is active when its latest event is no clear and its latest flag is later than a clear of
  the whole disaster; the most severe active flag, rolled up by max.
- ``people_laid_off_7d``: kept per (region, day of occurred_at), people laid off; as
  ``region_daily_facts.people_laid_off`` over the days ``today-6 … today``, rolled up by sum.
- ``concentrated_layoffs_7d``: kept per (region, day), reports of 200+ laid off; as
  ``region_daily_facts.concentrated_layoffs`` over the same window.

Layoff reports are counted once per ``event_id`` (the projector drops duplicates of the
log by id); flags need no such care (a repeat changes nothing). Regions the reference does
not know are left out, as the projection's queries leave them out. Days before the 7-day
window are forgotten (:meth:`StreamIndicators.values` prunes them), so the state stays a
few thousand numbers whatever the length of the log.

Which indicators are *not* here, and why (they stay on the projection path):
``people_laid_off_7d_per_million`` (a region with no event of any type in 28 days has no
value there, not 0: that needs every event type), the data-gap indicator (it counts from
the first event of any type the system recorded, and it fires as time passes, not as an
event arrives), and every indicator of market data, registrations, claims, households,
posts and the risk index (their inputs are joins over current state and long windows).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from alerting.rule_model import Rule
from events.clock import SHANGHAI
from events.errors import EventRejectedError
from events.regions import RegionReference
from projections.indicators import Values, _roll_sum, _severities
from projections.rows import COLUMNS, to_row

__all__ = ["STREAMED_INDICATORS", "StreamIndicators", "relevant", "streamed"]

#: Indicators the stream path computes (see the module docstring for the others).
STREAMED_INDICATORS: frozenset[str] = frozenset(
    {"disaster_area", "people_laid_off_7d", "concentrated_layoffs_7d"}
)
#: Event types whose events change them (a record without one of these is skipped unread).
DISASTER_TYPES = ("disaster_area.flagged", "disaster_area.updated", "disaster_area.cleared")
LAYOFF_TYPE = "layoff.reported"
_MARKERS = (b"disaster_area.", b"layoff.reported")
#: A concentrated layoff: 200+ people at one enterprise in one report (the materialized
#: view ``mv_region_daily_facts`` counts ``laid_off >= 200``).
CONCENTRATED = 200
WINDOW_DAYS = 7
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_COL = {name: i for i, name in enumerate(COLUMNS)}
_NONE: frozenset[str] = frozenset()
_DISASTER = frozenset({"disaster_area"})
_PEOPLE = frozenset({"people_laid_off_7d"})
_BOTH = frozenset({"people_laid_off_7d", "concentrated_layoffs_7d"})


def streamed(rule: Rule) -> bool:
    """Whether ``rule`` can be judged from the stream: an ``absolute`` rule on a streamed
    indicator (a derived kind needs the indicator's past, which only the projections have)."""
    return rule.kind == "absolute" and rule.indicator in STREAMED_INDICATORS


def relevant(value: bytes) -> bool:
    """Whether a record of the log may change a streamed indicator (a cheap byte test
    before parsing: every such event names its type in its JSON)."""
    return any(marker in value for marker in _MARKERS)


def _ms(at: dt.datetime) -> dt.datetime:
    """``at`` as ``DateTime64(3, 'Asia/Shanghai')`` holds it: milliseconds, Shanghai time."""
    at = at.astimezone(SHANGHAI)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


@dataclass(slots=True)
class _Flag:
    """One (region, disaster) as ``disaster_area_state`` aggregates it."""

    latest: tuple[dt.datetime, int]  # (occurred_at, offset) of the latest event
    active: bool  # that event is no clear
    severity: str  # that event's severity ("" for a clear)
    flagged_at: dt.datetime | None  # the latest flag or update


class StreamIndicators:
    """The per-region state of the streamed indicators (pure: no I/O)."""

    def __init__(self, reference: RegionReference) -> None:
        self.reference = reference
        self.flags: dict[tuple[str, str], _Flag] = {}
        self.clears: dict[str, dt.datetime] = {}  # disaster -> latest clear naming no region
        self.laid_off: dict[tuple[str, dt.date], float] = defaultdict(float)
        self.concentrated: dict[tuple[str, dt.date], float] = defaultdict(float)
        self._counted: dict[dt.date, set[str]] = defaultdict(set)  # layoff ids, by day
        self.applied = 0  # events that changed the state

    def apply(self, doc: dict[str, Any], partition: int, offset: int) -> frozenset[str]:
        """Take one decoded event of the log at (``partition``, ``offset``); returns the
        indicators it may have changed (none: not one of ours, a duplicate, or an event the
        projector would park)."""
        event_type = doc.get("event_type")
        if event_type not in DISASTER_TYPES and event_type != LAYOFF_TYPE:
            return _NONE
        try:
            row = to_row(doc, partition, offset, self.reference)
        except (EventRejectedError, TypeError, ValueError, KeyError, OverflowError):
            return _NONE  # the projector parks it: it counts in no indicator
        at = _ms(row[_COL["occurred_at"]])
        if event_type == LAYOFF_TYPE:
            return self._layoff(row, at)
        return self._disaster(str(event_type), row, at, offset)

    def _layoff(self, row: tuple[Any, ...], at: dt.datetime) -> frozenset[str]:
        region = str(row[_COL["region"]])
        if self.reference.get(region) is None:
            return _NONE
        day = at.date()
        event_id = str(row[_COL["event_id"]])
        if event_id in self._counted[day]:
            return _NONE  # a duplicate of the log: the projector drops it by id
        self._counted[day].add(event_id)
        laid_off = int(row[_COL["laid_off"]])
        self.laid_off[(region, day)] += laid_off
        if laid_off >= CONCENTRATED:
            self.concentrated[(region, day)] += 1
        self.applied += 1
        return _BOTH if laid_off >= CONCENTRATED else _PEOPLE

    def _disaster(
        self, event_type: str, row: tuple[Any, ...], at: dt.datetime, offset: int
    ) -> frozenset[str]:
        disaster_id = str(row[_COL["disaster_id"]])
        regions = [str(r) for r in row[_COL["disaster_regions"]]]
        cleared = event_type == "disaster_area.cleared"
        if cleared and not regions:  # clears every region of the disaster, late flags too
            if at > self.clears.get(disaster_id, _EPOCH):
                self.clears[disaster_id] = at
            self.applied += 1
            return _DISASTER
        latest = (at, offset)
        severity = str(row[_COL["severity"]])
        for region in regions:
            key = (region, disaster_id)
            flag = self.flags.get(key)
            flagged_at = flag.flagged_at if flag is not None else None
            if not cleared:
                flagged_at = at if flagged_at is None else max(flagged_at, at)
            if flag is None or latest >= flag.latest:
                self.flags[key] = _Flag(latest, not cleared, severity, flagged_at)
            else:  # an older event, arriving late: only the latest flag time can move
                flag.flagged_at = flagged_at
        self.applied += 1
        return _DISASTER

    def disaster(self) -> dict[str, float]:
        """``disaster_area`` per region: the most severe active flag, rolled up."""
        rows = []
        for (region, disaster_id), flag in self.flags.items():
            since_clear = self.clears.get(disaster_id, _EPOCH)
            active = flag.active and flag.flagged_at is not None and flag.flagged_at > since_clear
            rows.append((region, 1 if active else 0, flag.severity))
        return _severities(self.reference, rows)

    def values(self, today: dt.date) -> Values:
        """Every streamed indicator as of ``today`` (Asia/Shanghai), as
        :func:`projections.indicators.compute` gives it (a region with no layoff in the
        window has no entry where the projection may have a 0: both judge it 0). Forgets
        the days before the window."""
        first = today - dt.timedelta(days=WINDOW_DAYS - 1)
        self._prune(first)
        people: dict[str, float] = defaultdict(float)
        concentrated: dict[str, float] = defaultdict(float)
        for (region, day), n in self.laid_off.items():
            if first <= day <= today:
                people[region] += n
        for (region, day), n in self.concentrated.items():
            if first <= day <= today:
                concentrated[region] += n
        return {
            "disaster_area": self.disaster(),
            "people_laid_off_7d": _roll_sum(self.reference, dict(people)),
            "concentrated_layoffs_7d": _roll_sum(self.reference, dict(concentrated)),
        }

    def _prune(self, first: dt.date) -> None:
        """Forget the layoffs of days before ``first`` (they count in no window again; a
        late report of such a day is counted and forgotten at the next evaluation)."""
        for table in (self.laid_off, self.concentrated):
            for key in [k for k in table if k[1] < first]:
                del table[key]
        for day in [d for d in self._counted if d < first]:
            del self._counted[day]
