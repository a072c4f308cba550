"""The values a rule file becomes: thresholds, scopes, rules and rule sets.

Levels follow the provincial four-colour scale of ``events.severity``, least to most
severe::

    IV blue  <  III yellow  <  II orange  <  I red

Higher indicator values are always worse; a rule's ``levels`` keep that order (IV first)
and the thresholds never decrease with severity. ``alerting.rules`` builds these values
from YAML and re-exports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from alerting.errors import AlertingError

__all__ = [
    "BASELINE_PERIODS",
    "KINDS",
    "SCOPE_LEVELS",
    "Baseline",
    "Rule",
    "RuleSet",
    "Scope",
    "Threshold",
]

KINDS: tuple[str, ...] = ("absolute", "ratio_to_baseline", "rise_over_low", "data_gap")
SCOPE_LEVELS: tuple[str, ...] = ("county", "city", "province")
BASELINE_PERIODS: tuple[str, ...] = ("day", "week", "month", "year")


@dataclass(frozen=True, slots=True)
class Threshold:
    """Enter and exit values of one level: enter at ``value >= enter``, leave below ``exit``."""

    enter: float
    exit: float


@dataclass(frozen=True, slots=True)
class Baseline:
    """The comparison base of a ``ratio_to_baseline`` rule: the last ``periods_back`` periods."""

    period: str
    periods_back: int


@dataclass(frozen=True, slots=True)
class Scope:
    """Which regions a rule watches.

    Either every region of one ``level`` (optionally only those under ``within``), or an
    explicit list of ``regions``; ``level`` is None exactly when ``regions`` is given.
    """

    level: str | None
    within: str | None = None
    regions: tuple[str, ...] = ()

    def covers(self, code: str, reference: Any) -> bool:
        """Return whether region ``code`` is watched, using a region ``reference``.

        ``reference`` offers ``get(code)`` (a region with ``level``) and ``ancestors(code)``,
        as ``events.regions.RegionReference`` does.
        """
        if self.regions:
            return code in self.regions
        region = reference.get(code)
        if region is None or region.level != self.level:
            return False
        if self.within is None:
            return True
        return any(a.code == self.within for a in reference.ancestors(code))


@dataclass(frozen=True)
class Rule:
    """One alerting rule, as read from a rule file (``file`` and ``line`` locate it).

    ``levels`` maps level names to thresholds, ordered IV → I (only the levels written).
    The value a rule judges depends on ``kind``:

    - ``absolute``: the indicator itself;
    - ``ratio_to_baseline``: the indicator over its mean across ``baseline``;
    - ``rise_over_low``: the indicator minus its minimum over ``low_window``;
    - ``data_gap``: time since the last ``source`` event divided by ``cadence``.
    """

    id: str
    title: str
    indicator: str
    kind: str
    scope: Scope
    levels: dict[str, Threshold] = field(hash=False)
    pending: timedelta = timedelta(0)
    keep_firing: timedelta = timedelta(0)
    baseline: Baseline | None = None
    low_window: timedelta | None = None
    source: str | None = None
    cadence: timedelta | None = None
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    description: str | None = None
    file: str = "<memory>"
    line: int = 1


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules loaded from one file or directory, in file order."""

    rules: tuple[Rule, ...]

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def by_id(self, id: str) -> Rule | None:
        """Return the rule with ``id``, or None (a rule removed since an alert was raised)."""
        for rule in self.rules:
            if rule.id == id:
                return rule
        return None

    def require(self, id: str) -> Rule:
        """Return the rule with ``id``; raise AlertingError listing the known ids if absent."""
        rule = self.by_id(id)
        if rule is None:
            known = ", ".join(r.id for r in self.rules) or "(none)"
            raise AlertingError(f"no rule with id {id!r} in this rule set; known ids: {known}")
        return rule

    def for_indicator(self, indicator: str) -> tuple[Rule, ...]:
        """Return the rules that judge ``indicator``, in file order."""
        return tuple(r for r in self.rules if r.indicator == indicator)
