"""Region names at any level to regions: codes, names, former names and paths.

A file names its region by code, US state ("IL") or county ("Du Page County", "Saint Clair"),
Chinese path ("山东省临沂市兰山区"), name without its suffix ("兰山") or former name (莱芜市:
``events/reference/shandong_former_names.csv``). The first step with a match inside ``within``
at ``level`` decides: 0. a code (zeros Excel dropped put back; former codes); 1. an exact name
or alias (English city name, state abbreviation, 济南高新区; US names compare without County,
Parish, Borough…, but "Richmond City" is never the county "Richmond"); 2. an exact former name;
3. a Chinese name without 省 市 区 县 自治县. Of several matches one of a higher level than all
others wins, noted ("Ohio" is the state, not three states' Ohio County; "东营" is 东营市, not
its 东营区); else the name is ambiguous. Unmatched Chinese is read as a path: city, then rest.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from eams.imports.errors import PlaceError
from events.errors import ReferenceDataError
from events.regions import REFERENCE_DIR, Region, RegionReference

__all__ = ["CacheInfo", "Level", "Place", "Places"]

Level = Literal["province", "city", "county"]

_RANK = {"county": 0, "city": 1, "province": 2}
_CJK = re.compile(r"[\u3400-\u9fff]")
_CN_SUFFIXES = ("自治县", "省", "市", "区", "县")
# a US name's suffix; "city" marks an independent city, never the county of the same name
_US_SUFFIX = re.compile(
    r"^(.+) (city and borough|census area|county|co|parish|borough|municipality|city)$"
)
_ZONES = (("高新?技术(产业)?开发区$", "高新区"), ("经济技术开发区$", "经开区"))
_FORMER_FILE = REFERENCE_DIR / "shandong_former_names.csv"
_MAX_CACHE = 200_000  # distinct (text, within, level) keys kept before the cache starts over
_LISTED = 6  # candidates a message names before "and N more"


@dataclass(frozen=True, slots=True)
class Place:
    """A resolved region; ``note`` says what was assumed (a former name, other readings)."""

    region: Region
    note: str | None = None


class CacheInfo(NamedTuple):
    """Resolutions answered from the cache, resolutions computed, answers kept."""

    hits: int
    misses: int
    size: int


class _Hit(NamedTuple):
    step: int
    region: Region  # what the name resolves to: a former name's successor
    former: dict[str, str] | None = None  # its row of shandong_former_names.csv


def _former_note(row: dict[str, str]) -> str:
    when = f"in {row['year']} ({row['approval']}) it {row['change']}"
    return f"{row['former_name']} ({row['former_code']}) is a former name: {when}"


def _latin_keys(text: str) -> list[tuple[str, str | None]]:
    """(key, suffix kind): the name whole, and without a County/City/… suffix."""
    s = re.sub(r"[.'’`]", "", unicodedata.normalize("NFKC", text).casefold().replace("&", " and "))
    words = [{"saint": "st", "sainte": "ste"}.get(w, w) for w in re.split(r"[\s\-_/,]+", s) if w]
    keys: list[tuple[str, str | None]] = [("".join(words), None)]
    if m := _US_SUFFIX.match(" ".join(words)):
        kind = {"city": "city", "city and borough": None}.get(m[2], "county")
        keys.append((m[1].replace(" ", ""), kind))
    return keys


def _cn_key(text: str) -> str:
    return re.sub(r"[\s·•]+", "", unicodedata.normalize("NFKC", text))


def _cn_stem(name: str) -> str | None:
    cut = (name[: -len(s)] for s in _CN_SUFFIXES if name.endswith(s) and len(name) > len(s) + 1)
    return next(cut, None)


def _zone_aliases(name: str, city_name: str) -> set[str]:
    """Short names of a development zone: 济南高新区, and 高新区 inside 济南市."""
    out: set[str] = set()
    for pattern, short in _ZONES:
        if m := re.search(pattern, name):
            out.add(name[: m.start()] + short)
            if name[: m.start()] == (_cn_stem(city_name) or city_name):
                out |= {m[0], short}
    return out


def _us_county(name: str, state: str) -> str:
    if re.search(r" (city|borough|census area|municipality)$", name, re.IGNORECASE):
        return name
    return name if state in ("02", "11") else f"{name} {'Parish' if state == '22' else 'County'}"


def _join(labels: Sequence[str], word: str) -> str:
    if len(labels) > _LISTED:
        labels = [*labels[:_LISTED], f"{len(labels) - _LISTED} more"]
    return f"{', '.join(labels[:-1])} {word} {labels[-1]}" if len(labels) > 1 else "".join(labels)


class Places:
    """Resolves region codes and names (any level, either hierarchy) against a reference.

    Built once per import (the indexes take milliseconds); every answer, errors included, is
    cached by (text, within, level), so a column of repeated names costs a dict lookup.
    """

    def __init__(self, reference: RegionReference) -> None:
        self._ref = reference
        self._anc: dict[str, frozenset[str]] = {}
        self._root: dict[str, str] = {}
        for region in reference:
            ancestors = [a.code for a in reference.ancestors(region.code)]
            self._anc[region.code] = frozenset(ancestors)
            self._root[region.code] = ancestors[-1] if ancestors else region.code
        self._cn: dict[str, list[_Hit]] = {}
        self._latin: dict[str, list[tuple[Region, str | None]]] = {}
        self._former_codes: dict[str, _Hit] = {}
        # (normalised name, region) to suggest from: Chinese under "", Latin by first letter
        self._names: dict[str, list[tuple[str, Region]]] = {}
        for region in reference:
            self._index(region, reference.get(region.parent or ""))
        if "370000" in reference:
            self._index_former()
        for alias, code in reference.aliases().items():  # US state abbreviations, mostly
            if (state := reference.get(code)) is not None and self._root[code] == "US":
                self._add_latin(alias, state)
        self._cache: dict[tuple[str, str | None, str | None], Place | tuple[str, str]] = {}
        self._calls = self._misses = 0

    def _add_cn(self, key: str, hit: _Hit) -> None:
        if hit not in (hits := self._cn.setdefault(key, [])):
            hits.append(hit)

    def _add_latin(self, name: str, region: Region) -> None:
        for key, kind in _latin_keys(name) if name else ():
            if (region, kind) not in (entries := self._latin.setdefault(key, [])):
                entries.append((region, kind))

    def _index(self, region: Region, parent: Region | None) -> None:
        if self._root[region.code] == "US":
            self._add_latin(region.name, region)
            names = {region.name, _us_county(region.name, parent.code) if parent else ""}
            for key in {_latin_keys(n)[0][0] for n in names if n}:
                self._names.setdefault(key[:1], []).append((key, region))
            return
        self._add_cn(_cn_key(region.name), _Hit(1, region))
        if stem := _cn_stem(region.name):
            self._add_cn(stem, _Hit(3, region))
        self._add_latin(region.name_en or "", region)
        if region.is_statistical_zone and parent is not None:
            for alias in _zone_aliases(region.name, parent.name):
                self._add_cn(alias, _Hit(1, region))
        path = parent.name + region.name if region.level == "county" and parent else ""
        self._names.setdefault("", []).extend((n, region) for n in (region.name, path) if n)

    def _index_former(self) -> None:
        with _FORMER_FILE.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if (successor := self._ref.get(row["successor_code"])) is None:
                    raise ReferenceDataError(
                        f"{_FORMER_FILE.name}: the successor {row['successor_code']} of "
                        f"{row['former_name']} is not a current region; correct the file"
                    )
                self._former_codes.setdefault(row["former_code"], _Hit(0, successor, row))
                self._add_cn(row["former_name"], _Hit(2, successor, row))
                if stem := _cn_stem(row["former_name"]):
                    self._add_cn(stem, _Hit(3, successor, row))

    def resolve(
        self, text: str, *, within: Region | None = None, level: Level | None = None
    ) -> Place:
        """Resolve a code or name to a place strictly inside ``within``, at ``level``.

        Raises PlaceError: ``empty`` (blank), ``unknown place`` (with what the text names
        outside the scope, or up to 3 close names in it), ``ambiguous place`` (the candidates
        with their codes, and what to add).
        """
        key = (text, within.code if within is not None else None, level)
        self._calls += 1
        answer = self._cache.get(key)
        if answer is None:
            self._misses += 1
            try:
                answer = self._resolve(text.strip(), within, level)
            except PlaceError as exc:
                answer = (exc.kind, str(exc))
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[key] = answer
        if isinstance(answer, Place):
            return answer
        raise PlaceError(*answer)  # a new one each time: a raised exception keeps its traceback

    def resolve_parts(self, parts: Sequence[str], *, within: Region | None = None) -> Place:
        """Resolve several names of one place (cells, or the parts of a "city/county" cell).

        The most specific part that resolves wins; one that resolves to nothing (a US city) is
        ignored, one that fails alone is tried again inside the others ("市中区" after "枣庄市").
        Of parts naming places of one level the later wins, noted ("Warren/Trumbull": Warren is
        a county too); a broader part that does not hold the winner is an error. Raises
        PlaceError when no part resolves below ``within``.
        """
        texts = [p.strip() for p in parts if p and p.strip()]
        if not texts:
            raise PlaceError("empty", "no place given (all parts blank): fill in the cell")
        got: dict[int, Place] = {}
        errors: dict[int, PlaceError] = {}
        for i, text in enumerate(texts):
            try:
                got[i] = self.resolve(text, within=within)
            except PlaceError as exc:
                errors[i] = exc
        # provinces, cities and states are unique names: one more pass inside them suffices
        scopes = sorted({p.region for p in got.values()}, key=lambda r: _RANK[r.level])
        for i in list(errors):
            for scope in (s for s in scopes if s.level != "county"):
                with contextlib.suppress(PlaceError):
                    got[i] = self.resolve(texts[i], within=scope)
                    break
        if not got:
            first = next((e for e in errors.values() if e.kind == "ambiguous place"), errors[0])
            where = f" in {self._label(within)}" if within is not None else ""
            names = " / ".join(repr(t) for t in texts)
            raise PlaceError(first.kind, f"no part of {names} names a place{where}: {first}")
        low = min(_RANK[p.region.level] for p in got.values())
        last = max(i for i, p in got.items() if _RANK[p.region.level] == low)
        win, notes = got[last].region, [n for n in (got[last].note,) if n]
        for i, other in sorted((i, p.region) for i, p in got.items()):
            if other == win or other.code in self._anc[win.code]:
                continue
            if other.level != win.level:
                why = (
                    f"{texts[i]!r} and {texts[last]!r} name different places: {self._label(other)}"
                )
                raise PlaceError(
                    "ambiguous place", f"{why} does not hold {self._label(win)}; fix one"
                )
            taken = f"the later part, {texts[last]!r}, was taken"
            notes.append(f"{texts[i]!r} also names {self._label(other, within)}; {taken}")
        return Place(win, "; ".join(notes) or None)

    def cache_info(self) -> CacheInfo:
        """How many resolutions were cached answers, how many were computed, how many kept."""
        return CacheInfo(self._calls - self._misses, self._misses, len(self._cache))

    def _resolve(self, t: str, within: Region | None, level: Level | None) -> Place:
        if not t:
            raise PlaceError("empty", "no place given (blank): write a region code or name")
        place = self._find(t, within, level)
        if place is None:
            raise self._unknown(t, self._lookup(t), within, level)
        return place

    def _find(self, t: str, within: Region | None, level: Level | None) -> Place | None:
        inside = [h for h in self._lookup(t) if self._inside(h.region, within, level)]
        if inside:
            step = min(h.step for h in inside)
            return self._choose(t, [h for h in inside if h.step == step], within)
        return self._split(t, within, level) if _CJK.search(t) else None

    def _lookup(self, t: str) -> list[_Hit]:
        code = unicodedata.normalize("NFKC", t).removesuffix(".0")
        if code.isdigit() or code in self._ref:
            tries = [code, code[:6] if len(code) == 12 and code.endswith("000000") else ""]
            for c in tries + ([code.zfill(len(code) + 1)] if len(code) in (1, 4) else []):
                if (region := self._ref.get(c)) is not None:
                    return [_Hit(0, region)]
                if c in self._former_codes:
                    return [self._former_codes[c]]
            return []
        if _CJK.search(t):
            return list(self._cn.get(_cn_key(t), ()))
        found = {
            region.code: _Hit(1, region)
            for key, kind in _latin_keys(t)
            for region, stored in self._latin.get(key, ())
            if kind is None or (kind == "city") == (stored == "city")  # no city is its county
        }
        return list(found.values())

    def _inside(self, region: Region, within: Region | None, level: Level | None) -> bool:
        if level is not None and region.level != level:
            return False
        return within is None or within.code in self._anc[region.code]

    def _choose(self, text: str, hits: list[_Hit], within: Region | None) -> Place:
        unique = {h.region.code: h for h in sorted(hits, key=lambda h: h.former is None)}
        top = max(_RANK[h.region.level] for h in unique.values())
        winners = [h for h in unique.values() if _RANK[h.region.level] == top]
        if len(winners) > 1:
            raise PlaceError("ambiguous place", self._ambiguous(text, winners, within))
        notes = [_former_note(winners[0].former)] if winners[0].former else []
        if others := [h for h in unique.values() if h is not winners[0]]:
            notes.append(f"'{text}' also names {self._list(others, within)}")
        return Place(winners[0].region, "; ".join(notes) or None)

    def _split(self, text: str, within: Region | None, level: Level | None) -> Place | None:
        """Read a Chinese path: a province or city name, then the rest inside it."""
        key, found, ambiguous = _cn_key(text), dict[str, Place](), None
        for i in range(2, len(key) - 1):
            for hit in self._cn.get(key[:i], ()):
                outer = hit.region  # the narrower of it and within is the scope of the rest
                nested = within is None or within.code in self._anc[outer.code] | {outer.code}
                holds = within is not None and outer.code in self._anc[within.code]
                if outer.level == "county" or not (nested or holds):
                    continue
                scope = outer if nested else within
                try:
                    inner = self._find(key[i:], scope, level)
                except PlaceError as exc:  # the rest is ambiguous inside this prefix
                    ambiguous = ambiguous or exc
                    continue
                if inner is not None:
                    note = _former_note(hit.former) if hit.former else None
                    note = "; ".join(n for n in (note, inner.note) if n) or None
                    found.setdefault(inner.region.code, Place(inner.region, note))
        if len(found) > 1:
            hits = [_Hit(1, p.region) for p in found.values()]
            raise PlaceError("ambiguous place", self._ambiguous(text, hits, within))
        if not found and ambiguous is not None:
            raise ambiguous
        return next(iter(found.values()), None)

    def _label(
        self, region: Region, within: Region | None = None, former: dict[str, str] | None = None
    ) -> str:
        parent = self._ref.get(region.parent or "")
        name = region.name
        if region.level == "county" and parent is not None:
            beside = within is not None and within.code == parent.code
            if self._root[region.code] == "US":
                name = _us_county(name, parent.code) + ("" if beside else f", {parent.name}")
            elif not beside:
                name = f"{parent.name} {name}"
        was = f"former {former['former_name']} ({former['former_code']}), now " if former else ""
        return f"{was}{name} ({region.code})"

    def _list(self, hits: Iterable[_Hit], within: Region | None) -> str:
        return _join([self._label(h.region, within, h.former) for h in hits], "and")

    def _ambiguous(self, text: str, hits: list[_Hit], within: Region | None) -> str:
        last, us = hits[-1].region, self._root[hits[-1].region.code] == "US"
        hints, parent = [], self._ref.get(last.parent or "")
        if len({h.region.parent for h in hits}) > 1:
            hints.append(f"give the {'state' if us else 'city'} (within)")
        full = last.name
        if last.level == "county" and parent is not None:
            full = _us_county(last.name, parent.code) if us else parent.name + last.name
        if (not us or not hints) and _cn_key(full).casefold() != _cn_key(text).casefold():
            hints.append(f"write the full name, e.g. {full}")
        return f"'{text}' matches {self._list(hits, within)}: {' or '.join(hints)}"

    def _unknown(
        self, text: str, hits: list[_Hit], within: Region | None, level: Level | None
    ) -> PlaceError:
        states = self._root.get(within.code) == "US" if within else "370000" not in self._ref
        noun = {"city": "state" if states else "city"}.get(level or "", level or "place")
        where = f" {'of' if level else 'in'} {self._label(within)}" if within else ""
        msg = f"'{text}' is not a {'' if within else 'known '}{noun}{where}"
        if within is not None and any(h.region == within for h in hits):
            return PlaceError("unknown place", f"{msg}: it names {self._label(within)} itself")
        if hits:
            return PlaceError("unknown place", f"{msg}; it names {self._list(hits, within)}")
        near = self._suggest(text, within, level)
        tail = f"did you mean {near}?" if near else "check the spelling, or write the region code"
        return PlaceError("unknown place", f"{msg}; {tail}")

    def _suggest(self, text: str, within: Region | None, level: Level | None) -> str:
        """Up to 3 names in scope close to ``text`` (about as close as the closest; a Latin one
        starts with its letter); for a Chinese path, what its last name names (济南市兰山区)."""
        cjk = bool(_CJK.search(text))
        key = _cn_key(text) if cjk else _latin_keys(text)[0][0]
        tails = [h.region for i in range(1, len(key) - 1) for h in self._cn.get(key[i:], ())]
        scored = dict.fromkeys(tails if cjk else (), 1.0)
        matcher, cut = difflib.SequenceMatcher(b=key), 0.6 if cjk else 0.75
        for name, region in () if scored else self._names.get("" if cjk else key[:1], []):
            matcher.set_seq1(name)
            if matcher.real_quick_ratio() >= cut and self._inside(region, within, level):
                scored[region] = max(matcher.ratio(), scored.get(region, 0.0))
        floor = max(cut, max(scored.values(), default=0.0) - 0.1)
        near = sorted((r for r, v in scored.items() if v >= floor), key=lambda r: -scored[r])
        return _join([self._label(r, within) for r in near[:3]], "or")
