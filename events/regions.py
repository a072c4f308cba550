"""Region reference: the administrative hierarchy events are reported against.

Two hierarchies ship with EAMS (CSV files in ``events/reference/``):

- ``shandong``: 山东省 (370000) → 16 prefecture-level cities → 151 county-level
  divisions (GB/T 2260, NBS 2023), 15 of which are statistical development zones
  (accepted, but flagged with ``is_statistical_zone``).
- ``us``: the United States ("US") → 51 states incl. DC (2-digit FIPS, level "city")
  → 3142 counties (5-digit FIPS, level "county"); used for WARN-notice imports.

Levels are always ``province`` → ``city`` → ``county`` so rollups work unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from events.errors import EventRejectedError, ReferenceDataError

__all__ = ["REFERENCE_DIR", "Region", "RegionReference", "load_reference"]

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"

Level = Literal["province", "city", "county"]

# 2020 census, in units of 10,000 persons (events/reference/README.md).
_SHANDONG_CITY_POP_10K: dict[str, tuple[str, str]] = {
    "370100": ("Jinan", "920.2"),
    "370200": ("Qingdao", "1007.2"),
    "370300": ("Zibo", "470.4"),
    "370400": ("Zaozhuang", "385.6"),
    "370500": ("Dongying", "219.4"),
    "370600": ("Yantai", "710.2"),
    "370700": ("Weifang", "938.7"),
    "370800": ("Jining", "835.8"),
    "370900": ("Tai'an", "547.2"),
    "371000": ("Weihai", "290.7"),
    "371100": ("Rizhao", "296.8"),
    "371300": ("Linyi", "1101.8"),
    "371400": ("Dezhou", "561.1"),
    "371500": ("Liaocheng", "595.2"),
    "371600": ("Binzhou", "392.9"),
    "371700": ("Heze", "879.6"),
}
_SHANDONG_POP_10K = "10152.7"

# Codes that used to exist; a rejection names what replaced them.
_RETIRED: dict[str, str] = {
    "371200": "莱芜市 (371200) was merged into 济南市 (370100) in 2019; "
    "use 370116 莱芜区 or 370117 钢城区",
}


def _persons(ten_thousands: str) -> int:
    """Convert a census figure in units of 10,000 (as text) to whole persons."""
    whole, _, frac = ten_thousands.partition(".")
    return int(whole) * 10_000 + int((frac + "0000")[:4])


@dataclass(frozen=True, slots=True)
class Region:
    """One node of a region hierarchy (province, city or county level)."""

    code: str
    name: str
    level: Level
    parent: str | None
    is_statistical_zone: bool = False
    population: int | None = None
    name_en: str | None = None


class RegionReference:
    """An in-memory region hierarchy with lookups by code, parent and name."""

    def __init__(
        self, hierarchy: str, regions: Iterable[Region], aliases: dict[str, str] | None = None
    ) -> None:
        self.hierarchy = hierarchy
        self._parts: tuple[RegionReference, ...] = ()  # set when several are merged
        self._by_code: dict[str, Region] = {}
        self._children: dict[str, list[Region]] = {}
        for region in regions:
            if region.code in self._by_code:
                raise ReferenceDataError(f"{hierarchy}: duplicate region code {region.code!r}")
            self._by_code[region.code] = region
            if region.parent is not None:
                self._children.setdefault(region.parent, []).append(region)
        # lower-cased alias (abbreviation, English or local name) → city-level code
        self._aliases = {k.lower(): v for k, v in (aliases or {}).items()}
        for region in self.cities():
            self._aliases.setdefault(region.name.lower(), region.code)
            if region.name_en:
                self._aliases.setdefault(region.name_en.lower(), region.code)

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    def __iter__(self) -> Iterator[Region]:
        return iter(self._by_code.values())

    def get(self, code: str) -> Region | None:
        """Return the region with ``code``, or None."""
        return self._by_code.get(code)

    def require(self, code: str, field: str = "region") -> Region:
        """Return the region with ``code`` or raise EventRejectedError naming ``field``."""
        region = self._by_code.get(code) if isinstance(code, str) else None
        if region is not None:
            return region
        raise EventRejectedError(field, self._unknown_reason(code))

    def _unknown_reason(self, code: object) -> str:
        if self._parts:
            return " — nor ".join(part._unknown_reason(code) for part in self._parts)
        if self.hierarchy == "shandong":
            reason = (
                f"{code!r} is not a Shandong division code "
                "(GB/T 2260, 6 digits; see eams regions list)"
            )
            if isinstance(code, str) and code in _RETIRED:
                reason += f"; {_RETIRED[code]}"
            return reason
        if self.hierarchy == "us":
            reason = (
                f"{code!r} is not a US state or county FIPS code "
                "(2-digit state or 5-digit county, zero-padded; see eams regions list)"
            )
            if isinstance(code, str) and code.isdigit():
                for width in (2, 5):
                    padded = code.zfill(width)
                    if padded != code and padded in self._by_code:
                        reason += f"; did you mean {padded!r}?"
                        break
            return reason
        return f"{code!r} is not a region code of hierarchy {self.hierarchy!r}"

    def children(self, code: str) -> list[Region]:
        """Return the direct children of ``code`` (empty for leaves and unknown codes)."""
        return list(self._children.get(code, []))

    def ancestors(self, code: str) -> list[Region]:
        """Return the ancestors of ``code``, nearest first (empty for the root/unknown)."""
        out: list[Region] = []
        region = self._by_code.get(code)
        while region is not None and region.parent is not None:
            region = self._by_code.get(region.parent)
            if region is not None:
                out.append(region)
        return out

    def city_of(self, code: str) -> str | None:
        """Return the city-level code containing ``code`` (itself for a city), else None."""
        region = self._by_code.get(code)
        if region is None:
            return None
        if region.level == "city":
            return region.code
        for ancestor in self.ancestors(code):
            if ancestor.level == "city":
                return ancestor.code
        return None

    def root(self) -> Region:
        """Return the province-level root of the hierarchy."""
        return next(r for r in self._by_code.values() if r.parent is None)

    def cities(self) -> list[Region]:
        """Return all city-level regions in code order."""
        return sorted((r for r in self if r.level == "city"), key=lambda r: r.code)

    def counties(self) -> list[Region]:
        """Return all county-level regions in code order."""
        return sorted((r for r in self if r.level == "county"), key=lambda r: r.code)

    def aliases(self) -> dict[str, str]:
        """Other names of city-level regions (lower-cased): abbreviations such as US state
        codes ("il"), English and local names; each maps to its region's code. Name lookup
        at every level is :class:`eams.imports.places.Places`'s."""
        return dict(self._aliases)


def _read_csv(name: str) -> list[dict[str, str]]:
    path = REFERENCE_DIR / name
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError as e:
        raise ReferenceDataError(f"cannot read reference file {path}: {e}") from e


def _load_shandong() -> RegionReference:
    regions = [
        Region(
            "370000",
            "山东省",
            "province",
            None,
            population=_persons(_SHANDONG_POP_10K),
            name_en="Shandong",
        )
    ]
    for row in _read_csv("shandong_cities_2023.csv"):
        name_en, pop = _SHANDONG_CITY_POP_10K[row["city_code"]]
        regions.append(
            Region(
                row["city_code"],
                row["city_name"],
                "city",
                "370000",
                population=_persons(pop),
                name_en=name_en,
            )
        )
    for row in _read_csv("shandong_divisions_2023.csv"):
        regions.append(
            Region(
                row["county_code"],
                row["county_name"],
                "county",
                row["city_code"],
                is_statistical_zone=row["is_statistical_zone"].strip() == "1",
            )
        )
    return RegionReference("shandong", regions)


def _load_us() -> RegionReference:
    states = _read_csv("us_states_fips.csv")
    total = sum(int(row["state_pop2019"]) for row in states)
    regions = [
        Region("US", "United States", "province", None, population=total, name_en="United States")
    ]
    aliases: dict[str, str] = {}
    for row in states:
        code = row["statefips"].zfill(2)
        aliases[row["stateabbrev"]] = code
        regions.append(
            Region(
                code,
                row["statename"],
                "city",
                "US",
                population=int(row["state_pop2019"]),
                name_en=row["statename"],
            )
        )
    for row in _read_csv("us_counties_fips.csv"):
        regions.append(
            Region(
                row["countyfips"].zfill(5),
                row["countyname"],
                "county",
                row["statefips"].zfill(2),
                population=int(row["county_pop2019"]),
                name_en=row["countyname"],
            )
        )
    return RegionReference("us", regions, aliases)


_LOADERS = {"shandong": _load_shandong, "us": _load_us}


def load_reference(hierarchy: str = "shandong") -> RegionReference:
    """Load (once per name, cached) the region hierarchy ``shandong`` or ``us``.

    A comma-separated list (``shandong,us``) merges hierarchies into one reference: their
    codes do not collide (6-digit GB/T 2260 vs 2/5-digit FIPS), and an unknown code is
    explained against each of them.
    """
    names = [n.strip() for n in hierarchy.split(",") if n.strip()]
    if len(names) <= 1:
        return _load_cached(names[0] if names else "shandong")
    return _merge_cached(tuple(names))


@cache
def _merge_cached(names: tuple[str, ...]) -> RegionReference:
    parts = tuple(_load_cached(n) for n in names)
    aliases: dict[str, str] = {}
    for part in reversed(parts):  # the first hierarchy wins an alias both define
        aliases.update(part._aliases)
    merged = RegionReference(",".join(names), [r for part in parts for r in part], aliases)
    merged._parts = parts
    return merged


@cache  # keyed by the name only, so load_reference() and ("shandong") share one object
def _load_cached(hierarchy: str) -> RegionReference:
    loader = _LOADERS.get(hierarchy)
    if loader is None:
        raise ReferenceDataError(
            f"unknown region hierarchy {hierarchy!r}; known: {', '.join(sorted(_LOADERS))}"
        )
    return loader()
