"""Small-cell disclosure control: what a caller may see of counts about few people.

One policy per principal (:meth:`Policy.for_role`); the HTTP layer passes every answer of
every route through it (:mod:`eams.http.disclosure`), so no route applies it by hand and a
new route cannot forget it. Only analysts are limited; every other role sees the counts
their work needs. For an analyst:

- **Primary suppression**: a count from 1 to 4 is shown as ``"<5"`` (0 is shown: it
  describes nobody).
- **Complementary suppression**: a shown total must not give a suppressed part away by
  subtraction (a city minus its shown counties, registrations minus the shown target
  groups, a 28-day window minus the 7-day one, the days of a trend against their window).
  Every such equation is a *group* of a :class:`CellTable`; :meth:`CellTable.solve` withholds
  further cells (shown as ``"x"``: of the parts and the total, the one in the fewest other
  equations, then the smallest) until no withheld cell of any group can be worked out
  exactly from what is shown, knowing that a ``"<5"`` is 1 to 4 and an ``"x"`` at least 5.
- **Fixed windows**: ``days`` takes only :data:`ANALYST_WINDOWS`, so two answers of
  consecutive windows (``days=8`` minus ``days=7``) cannot isolate one day; the windows
  are linked in the table like any other total and its parts.
- **No free text** (notes, reasons, evidence: they may name or count anyone), and no
  figure derived from a withheld count (a ratio whose parts are small, the risk index of a
  region whose count components are withheld, an amount paid beside a withheld number of
  payments).

Pure: no I/O, no web framework. The tables are built by :mod:`projections.cells`; how each
kind of result is rendered is :mod:`projections.disclosure_views`.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from events.errors import EamsError

SMALL_CELL = 5
#: A count from 1 to 4 (primary suppression).
SMALL = f"<{SMALL_CELL}"
#: A count of 5 or more withheld so that a small one beside it cannot be worked out
#: (complementary suppression), or a figure derived from a withheld count.
WITHHELD = "x"
#: The only ``days`` an analyst may ask for (and none: everything so far).
ANALYST_WINDOWS: tuple[int, ...] = (7, 14, 28, 90, 365)
#: The daily figures an analyst may see go back this many days.
TREND_DAYS = 90
#: Keys of free text: analysts get none of it.
FREE_TEXT = frozenset(
    {"note", "notes_text", "ack_note", "evidence", "reason", "decline_reason",
     "close_reason", "text", "error", "comment"}
)  # fmt: skip
#: Keys whose numbers are not counts of people or events (severities, positions, seconds).
NOT_COUNTS = frozenset(
    {"level", "severity", "disaster_area", "attempt", "partition", "offset", "version",
     "schema_version", "deadline_seconds", "late_by_seconds", "took_seconds"}
)  # fmt: skip

Key = Hashable


class DisclosureError(EamsError):
    """A request disclosure control refuses for this caller (e.g. a window outside the fixed
    set); the message says what is allowed."""


def is_number(value: object) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def count_cell(value: object) -> object:
    """Primary suppression of one count: 1 to 4 becomes ``"<5"`` (a float holding a count,
    as indicator values do, is treated the same)."""
    if is_number(value) and 0 < value < SMALL_CELL:  # type: ignore[operator]
        return SMALL
    return value


def scrub(doc: Any, key: str | None = None) -> Any:
    """The default for a result no view knows: every number under 5 (except under
    :data:`NOT_COUNTS`) becomes ``"<5"``, free text goes, and JSON documents held as text
    (``payload``, ``report``) are scrubbed inside."""
    if key in FREE_TEXT:
        return None
    if isinstance(doc, dict):
        return {k: scrub(v, str(k)) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [scrub(v, key) for v in doc]
    if isinstance(doc, str) and key in ("payload", "report") and doc.startswith("{"):
        try:
            inner = orjson.loads(doc)
        except orjson.JSONDecodeError:
            return None
        return orjson.dumps(scrub(inner)).decode()
    if key in NOT_COUNTS:
        return doc
    return count_cell(doc)


@dataclass(frozen=True)
class Policy:
    """What one principal may see of small counts: ``suppress`` for analysts."""

    suppress: bool

    @classmethod
    def for_role(cls, role: str) -> Policy:
        """Analysts are limited; other roles see the counts their work needs."""
        return cls(suppress=role == "analyst")

    def window(self, days: int | None) -> int:
        """The window of ``days`` this caller may read (0 = everything so far)."""
        if not days:
            return 0
        if self.suppress and days not in ANALYST_WINDOWS:
            allowed = ", ".join(map(str, ANALYST_WINDOWS))
            raise DisclosureError(
                f"days: analysts may ask for {allowed} or no days at all, not {days}: "
                "fixed windows, so that two answers never differ by a small count"
            )
        return days


@dataclass
class _Group:
    parent: Key
    children: tuple[Key, ...]
    remainder: float  # what the parent holds that no child shows (never shown)


_REM = object()  # the remainder's place in a group's terms


@dataclass(frozen=True)
class Cells:
    """A solved table: each cell's value and, for withheld ones, its marker."""

    values: dict[Key, float]
    markers: dict[Key, str]
    unresolved: int = 0  # groups no cell was left to protect (should stay 0)

    def value(self, key: Key) -> float:
        """The true value (0 for a cell the table does not hold)."""
        return self.values.get(key, 0.0)

    def withheld(self, key: Key) -> bool:
        """Whether the cell is shown as a marker."""
        return key in self.markers

    def show(self, key: Key) -> object:
        """What an analyst sees: the marker, or the value (an int when it is whole)."""
        if key in self.markers:
            return self.markers[key]
        value = self.values.get(key, 0.0)
        return int(value) if float(value).is_integer() else value


@dataclass
class CellTable:
    """Counts of one moment, which of them are shown anywhere, and the equations between
    them (a total = the sum of its parts + a remainder nobody is shown)."""

    threshold: int = SMALL_CELL
    values: dict[Key, float] = field(default_factory=dict)
    shown: set[Key] = field(default_factory=set)
    counts: set[Key] = field(default_factory=set)
    groups: list[_Group] = field(default_factory=list)
    links: dict[Key, list[Key]] = field(default_factory=lambda: defaultdict(list))

    def add(self, key: Key, value: float, *, shown: bool = True, count: bool = True) -> None:
        """A cell; zero cells need no entry (a missing cell is 0 and known to be)."""
        if value:
            self.values[key] = float(value)
        if shown:
            self.shown.add(key)
        if count:
            self.counts.add(key)

    def group(self, parent: Key, children: Iterable[Key]) -> None:
        """``parent`` is the sum of ``children`` plus a remainder no one is shown."""
        total = self.values.get(parent, 0.0)
        if not total:
            return
        kids = tuple(k for k in children if self.values.get(k))
        remainder = round(total - sum(self.values[k] for k in kids), 6)
        self.groups.append(_Group(parent, kids, max(remainder, 0.0)))

    def link(self, count: Key, derived: Key) -> None:
        """``derived`` (an amount, a ratio) is withheld whenever ``count`` is."""
        self.links[count].append(derived)

    # -- solving ---------------------------------------------------------------------------
    def solve(self) -> Cells:
        """Withhold the small cells, then complements until every group is safe."""
        t = self.threshold
        markers: dict[Key, str] = {
            k: "p" for k in self.shown & self.counts if 0 < self.values.get(k, 0.0) < t
        }
        member: dict[Key, list[int]] = defaultdict(list)
        for i, g in enumerate(self.groups):
            member[g.parent].append(i)
            for k in g.children:
                member[k].append(i)
        queue = deque(range(len(self.groups)))
        queued = set(queue)
        unresolved = 0
        while queue:
            i = queue.popleft()
            queued.discard(i)
            group = self.groups[i]
            while not self._safe(group, markers):
                pick = self._complement(group, markers, member)
                if pick is None:
                    unresolved += 1
                    break
                markers[pick] = "c"
                for j in member[pick]:
                    if j != i and j not in queued:
                        queue.append(j)
                        queued.add(j)
        for count, derived in self.links.items():
            if count in markers:
                for d in derived:
                    markers.setdefault(d, "c")
        names = {"p": SMALL, "c": WITHHELD}
        return Cells(dict(self.values), {k: names[m] for k, m in markers.items()}, unresolved)

    def _term(self, key: Key, group: _Group, markers: dict[Key, str]) -> tuple[float, float, bool]:
        """(low, high, protected) of an unknown term as an analyst knows it; low == high
        for a known one."""
        t = self.threshold
        if key is _REM:
            value = group.remainder
            shown = False
        else:
            value = self.values.get(key, 0.0)
            shown = key in self.shown
        if key in markers:
            if markers[key] == "p":
                return 1.0, t - 1.0, True
            # a withheld count is not small (a small one says "<5"); a withheld cell that
            # is no count of people (a post's slots) may be anything
            return (float(t) if key in self.counts else 0.0), math.inf, True
        if shown or not value:
            return value, value, False
        return 0.0, math.inf, 0 < value < t  # a cell no one is shown

    def _safe(self, group: _Group, markers: dict[Key, str]) -> bool:
        """No protected unknown of the group can be worked out exactly."""
        terms = [(1, group.parent), *((-1, k) for k in group.children), (-1, _REM)]
        known = 0.0
        unknown: list[tuple[int, float, float, bool]] = []
        for sign, key in terms:
            low, high, protected = self._term(key, group, markers)
            if low == high:
                known += sign * low
            else:
                unknown.append((sign, low, high, protected))
        if not any(u[3] for u in unknown):
            return True
        # The range of sum(sign * x) over the unknowns, finite parts and infinities apart,
        # so that each term's "rest" is the total minus its own share (linear, not square).
        lows = [lo if s > 0 else -hi for s, lo, hi, _ in unknown]
        highs = [hi if s > 0 else -lo for s, lo, hi, _ in unknown]
        low_inf = sum(1 for v in lows if v == -math.inf)
        high_inf = sum(1 for v in highs if v == math.inf)
        low_sum = sum(v for v in lows if v != -math.inf)
        high_sum = sum(v for v in highs if v != math.inf)
        for (sign, low, high, protected), own_low, own_high in zip(
            unknown, lows, highs, strict=True
        ):
            if not protected:
                continue
            if own_low == -math.inf:
                rest_low = -math.inf if low_inf > 1 else low_sum
            else:
                rest_low = -math.inf if low_inf else low_sum - own_low
            if own_high == math.inf:
                rest_high = math.inf if high_inf > 1 else high_sum
            else:
                rest_high = math.inf if high_inf else high_sum - own_high
            # sign * x = -known - rest
            if sign > 0:
                x_low, x_high = -known - rest_high, -known - rest_low
            else:
                x_low, x_high = known + rest_low, known + rest_high
            if max(low, x_low) >= min(high, x_high) - 1e-9:
                return False
        return True

    def _complement(
        self, group: _Group, markers: dict[Key, str], member: dict[Key, list[int]]
    ) -> Key | None:
        """The next cell to withhold: of the group's shown parts and its total, the one in
        the fewest other equations (withholding it disturbs least), then the smallest (the
        next smallest part, as a rule)."""
        candidates = sorted(
            (len(member[k]), self.values[k], repr(k), k)
            for k in (*group.children, group.parent)
            if k in self.shown and k not in markers and self.values.get(k)
        )
        return candidates[0][3] if candidates else None
