"""The caller's regions, applied once: the scoped read layer every region-data route uses.

A user may be limited to some regions (``Principal.regions``: city or county codes). A row
is theirs when its region or its city is one of them; an unlimited caller sees every row.
A route never spells that rule: it declares ``scope: Scope = scoped(permission)``
(:func:`eams.http.auth.scope_guard`), which admits the caller like ``need(permission)`` and
builds one :class:`Scope` for the request, and reads through it:

- :meth:`Scope.regions_for` narrows a projection query that takes ``regions=`` (the store
  filters), and :meth:`Scope.rows` keeps the caller's rows of any answer;
- :meth:`Scope.check` refuses one region outside the caller's regions (403), and
  :meth:`Scope.found` answers a row outside them as if it did not exist (404);
- :meth:`Scope.by_region` keeps the caller's entries of a mapping keyed by region code.

Commands are scoped where they are decided (:mod:`streams.commands`), from the regions the
command carries; ingest applies the same rule to each record (``streams.pipeline.in_regions``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from eams.auth import Principal
from eams.http.errors import ForbiddenError, NotFoundError
from events.regions import RegionReference

__all__ = ["Scope", "in_scope"]

V = TypeVar("V")
Row = TypeVar("Row", bound=Mapping[str, Any])


def in_scope(who: Principal, *codes: str | None) -> bool:
    """Whether a user limited to some regions may see a row of ``codes`` (region, city):
    the one rule, which :class:`Scope` applies for the routes."""
    return not who.regions or any(c in who.regions for c in codes if c)


@dataclass(frozen=True)
class Scope:
    """What one caller may read: their regions, judged with the region reference (a region
    without a city of its own on the row gets its city from there)."""

    who: Principal
    reference: RegionReference

    @property
    def limited(self) -> bool:
        """Whether the caller is limited to some regions (False: they see every region)."""
        return bool(self.who.regions)

    def sees(self, region: str | None, city: str | None = None) -> bool:
        """Whether a row of ``region`` (in ``city``; from the reference when not given) is
        the caller's. A row with neither is only an unlimited caller's."""
        if city is None and region:
            city = self.reference.city_of(region)
        return in_scope(self.who, region, city)

    def rows(
        self, rows: Iterable[Row], region: str = "region", city: str | None = "city"
    ) -> list[Row]:
        """The caller's rows, in their order: the row's ``region`` key and its ``city`` key
        (``city=None``: the region's city from the reference)."""
        if not self.limited:
            return list(rows)
        if city is None:
            return [r for r in rows if self.sees(r.get(region))]
        return [r for r in rows if in_scope(self.who, r.get(region), r.get(city))]

    def by_region(self, values: Mapping[str, V]) -> dict[str, V]:
        """The caller's entries of a mapping keyed by region code."""
        return {code: v for code, v in values.items() if self.sees(code)}

    def regions_for(self, asked: str | None = None) -> set[str] | None:
        """The ``regions=`` of a projection query (rows whose region or city is one of
        them): the region the caller asked for, else the caller's regions (None: every
        region). Pass the answer through :meth:`rows` as well: a city asked for holds
        counties a county-limited caller may not read."""
        if asked:
            return {asked}
        return set(self.who.regions) or None

    def check(self, region: str) -> None:
        """Refuse a region outside the caller's regions (403, naming it)."""
        if not self.sees(region):
            raise ForbiddenError(f"region {region} is outside your regions")

    def found(
        self, row: Row | None, missing: str, region: str = "region", city: str = "city"
    ) -> Row:
        """The row, unless there is none or it lies outside the caller's regions: then
        404 with ``missing`` (the same answer, so a row's existence is not told)."""
        if row is None or not self.rows([row], region, city):
            raise NotFoundError(missing)
        return row
