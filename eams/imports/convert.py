"""One record to one event, by a mapping: :class:`Converter`.

The mapping is compiled once into a getter per field (column positions looked up, regular
expressions, value maps, date formats prepared), so a record costs a few calls per field.
:meth:`Converter.convert` returns the event as a source would send it, or a :class:`Skipped`,
or raises :class:`~eams.errors.RowError` naming the column, the field and the kind of
failure; an :class:`Observer` (``--check``) sees every field's outcome, not only the first
failure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eams.errors import RowError
from eams.imports.cells import Cell
from eams.imports.errors import CellError, MappingError
from eams.imports.fieldpaths import get, put
from eams.imports.mapping import (
    EventIdField,
    EventTypeSpec,
    FieldSpec,
    MappingDoc,
    RegionSpec,
    SkipRule,
    _Sourced,
    template_names,
)
from eams.imports.places import Places
from eams.imports.readers import Record
from eams.imports.values import (
    ValueMap,
    cell_text,
    is_blank,
    normalise,
    parse_bool,
    parse_code,
    parse_date,
    parse_national_id,
    parse_number,
)
from events.catalogue import PAYLOADS
from events.envelope import parse_event
from events.errors import EventRejectedError
from events.regions import Region, RegionReference

__all__ = ["NAMESPACE", "Converted", "Converter", "Observer", "Skipped"]

#: The namespace of imported events' ids (uuid5 of the event type and the record's key).
NAMESPACE = uuid.UUID("6f1d1c1e-2f55-4b0e-9b59-3e0f6b1c7a01")

Getter = Callable[[tuple[Cell, ...]], Cell]
_NAMESPACE_BYTES = NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(NAMESPACE, name))``, without building the UUID object (a fifth of
    a record's conversion went there)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record a skip rule matched (``rule`` is the rule's label)."""

    rule: str


@dataclass(frozen=True, slots=True)
class Converted:
    """A record's event and how its region was found."""

    event: dict[str, Any]
    level: str  # the level of the region found: province, city, county
    fallback: bool  # the name did not resolve; the mapping's `within` region was used


class Observer(Protocol):
    """What ``--check`` is told of each field of each record."""

    def field(self, name: str, status: str, record: Record, error: RowError | None) -> None:
        """``status``: parsed, blank, failed, nulled, defaulted."""

    def region(self, level: str | None, fallback: bool, error: RowError | None) -> None:
        """The level the region resolved at (None: it did not)."""


class _Fail(Exception):
    """A value failed (carried out of a getter with the column it came from)."""

    def __init__(self, column: str, error: CellError) -> None:
        self.column = column
        self.error = error


def _source(spec: _Sourced, columns: dict[str, int], constants: dict[str, Any]) -> Getter:
    """The raw value of ``spec``'s source in a record."""
    if spec.column is not None:
        i = columns[spec.column]
        return lambda v: v[i] if i < len(v) else None
    if spec.columns is not None:
        idx = [columns[c] for c in spec.columns]

        def first(v: tuple[Cell, ...]) -> Cell:
            for i in idx:
                if i < len(v) and not is_blank(v[i]):
                    return v[i]
            return None

        return first
    if spec.template is not None:
        template = spec.template
        parts: list[tuple[str, int | None, str]] = []  # (placeholder, column index, constant)
        for name in template_names(template):
            if name in columns:
                parts.append((name, columns[name], ""))
            else:
                parts.append((name, None, str(constants[name])))
        pattern = re.compile(r"\{\s*([^{}]+?)\s*\}")

        def fill(v: tuple[Cell, ...]) -> Cell:
            values = {
                name: (cell_text(v[i]) if i < len(v) else "") if i is not None else const
                for name, i, const in parts
            }
            if all(not values[n] for n, i, _ in parts if i is not None):
                return None  # every column of the template is blank
            return pattern.sub(lambda m: values[m.group(1)], template)

        return fill
    const = spec.const
    return lambda v: const


def _column_label(spec: _Sourced) -> str:
    if spec.column is not None:
        return spec.column
    if spec.columns is not None:
        return " | ".join(spec.columns)
    if spec.template is not None:
        return spec.template
    return "(constant)"


def _parser(spec: FieldSpec, *, occurred: bool = False) -> Callable[[Cell], Any]:
    """Text steps, value map and the type's parser, as one function of a raw cell."""
    steps = spec.normalise
    vmap = ValueMap(spec.map, spec.synonyms) if spec.map is not None else None
    kind = "datetime" if occurred and spec.type == "text" else spec.type
    formats = tuple(spec.formats or ("iso",))
    pick = spec.pick

    def text(value: Cell) -> Cell:
        if steps:
            value = normalise(cell_text(value), steps)
        if vmap is not None:
            value = vmap(cell_text(value))
        return value

    parse: Callable[[Cell], Any]
    if kind == "text":

        def parse(value: Cell) -> Any:
            return cell_text(value).strip()

    elif kind in ("integer", "number"):
        integer = kind == "integer"

        def parse(value: Cell) -> Any:
            return parse_number(value, integer=integer, pick=pick)

    elif kind == "date":

        def parse(value: Cell) -> Any:
            found = parse_date(value, formats, pick=pick)
            return found.date() if isinstance(found, dt.datetime) else found

    elif kind == "datetime":

        def parse(value: Cell) -> Any:
            return parse_date(value, formats, pick=pick, keep_time=True)

    elif kind == "boolean":
        parse = parse_bool
    elif kind == "national_id":
        parse = parse_national_id
    else:  # code
        width, pad = spec.width or 1, spec.pad

        def parse(value: Cell) -> Any:
            return parse_code(value, width, pad=pad)

    whole = parse if not steps and vmap is None else (lambda value: parse(text(value)))
    # a cell's value is parsed once: dates, numbers, codes and mapped values repeat down a
    # column (free text seldom does, and is cheap)
    return whole if kind == "text" and vmap is None else _memoised(whole)


#: Distinct values a field remembers the parse of (then it starts over).
MEMO = 4096


def _memoised(parse: Callable[[Cell], Any]) -> Callable[[Cell], Any]:
    """``parse``, answering a value seen before (a failure too) from memory: it is pure."""
    memo: dict[tuple[type, Cell], Any] = {}

    def parse_once(value: Cell) -> Any:
        key = (type(value), value)  # True and 1 are equal keys, not equal cells
        try:
            hit = memo[key]
        except KeyError:
            try:
                hit = parse(value)
            except CellError as exc:
                hit = exc
            if len(memo) >= MEMO:
                memo.clear()
            memo[key] = hit
        if isinstance(hit, CellError):
            raise hit
        return hit

    return parse_once


class _Field:
    """One compiled payload field."""

    __slots__ = ("column", "default", "get", "name", "on_error", "parse", "path", "required")

    def __init__(
        self,
        name: str,
        spec: FieldSpec,
        columns: dict[str, int],
        constants: dict[str, Any],
        *,
        occurred: bool = False,
    ) -> None:
        self.name = name
        #: where a dotted name (facts.low_income) puts its value; None: a plain field
        self.path = tuple(name.split(".")) if "." in name else None
        self.column = _column_label(spec)
        self.get = _source(spec, columns, constants)
        self.parse = _parser(spec, occurred=occurred)
        self.required = spec.required
        self.on_error = spec.on_error
        self.default: Any = None
        if spec.default is not None:
            try:
                self.default = self.parse(spec.default)
            except CellError as exc:
                raise MappingError(f"{name}.default: {exc}") from exc

    def value(self, values: tuple[Cell, ...]) -> tuple[str, Any]:
        """(status, value): parsed, blank (value None), nulled, defaulted; raises _Fail."""
        raw = self.get(values)
        if is_blank(raw):
            if self.default is not None:
                return "defaulted", self.default
            if self.required:
                raise _Fail(self.column, CellError("empty", "empty, a value is required"))
            return "blank", None
        try:
            return "parsed", self.parse(raw)
        except CellError as exc:
            if self.on_error == "null":
                return "nulled", None
            if self.on_error == "default":
                return "defaulted", self.default
            raise _Fail(self.column, exc) from None


class _Skip:
    __slots__ = ("empty", "equals", "index", "label", "matches")

    def __init__(self, rule: SkipRule, columns: dict[str, int]) -> None:
        self.label = rule.label()
        self.index = columns[rule.column] if rule.column is not None else None
        self.matches = re.compile(rule.matches) if rule.matches is not None else None
        self.equals = {e.strip().casefold() for e in rule.equals} if rule.equals else None
        self.empty = rule.empty

    def hit(self, values: tuple[Cell, ...], used: Sequence[int]) -> bool:
        if self.index is None:  # blank: every mapped column blank
            return all(i >= len(values) or is_blank(values[i]) for i in used)
        value = values[self.index] if self.index < len(values) else None
        if self.empty is not None:
            return is_blank(value) == self.empty
        text = cell_text(value).strip()
        if self.matches is not None:
            return self.matches.search(text) is not None
        return self.equals is not None and text.casefold() in self.equals


class Converter:
    """A mapping compiled against a file's columns."""

    def __init__(
        self,
        doc: MappingDoc,
        columns: Sequence[str],
        reference: RegionReference,
        *,
        source: str,
        recorded_at: dt.datetime | None = None,
    ) -> None:
        self.doc = doc
        self.reference = reference
        self.places = Places(reference)
        self.source = doc.source or source
        self.zone = doc.zone()
        self.recorded_at = (recorded_at or dt.datetime.now(dt.UTC)).isoformat()
        index = {name: i for i, name in enumerate(columns)}
        uses = doc.column_uses()
        missing = sorted({name for _, name in uses if name not in index})
        if missing:
            raise MappingError(
                "the file has no column "
                + ", ".join(repr(m) for m in missing)
                + f"; its columns: {', '.join(columns)}"
            )
        consts = doc.constants
        self.occurred = _Field("occurred_at", doc.occurred_at, index, consts, occurred=True)
        self.shared = [_Field(n, s, index, consts) for n, s in doc.fields.items()]
        self.per_type = {
            t: [_Field(n, s, index, consts) for n, s in spec.fields.items()]
            for t, spec in doc.types.items()
        }
        self.type_of: Callable[[tuple[Cell, ...]], str]
        if isinstance(doc.event_type, EventTypeSpec):
            spec = doc.event_type
            vmap = ValueMap(spec.map, spec.synonyms, default=spec.default)
            i = index[spec.column]
            column = spec.column

            def type_of(v: tuple[Cell, ...]) -> str:
                try:
                    return vmap(cell_text(v[i] if i < len(v) else None))
                except CellError as exc:
                    raise _Fail(column, exc) from None

            self.type_of = type_of
        else:
            fixed = doc.event_type
            self.type_of = lambda v: fixed
        self.versions = {
            t: (doc.types[t].schema_version if t in doc.types else None)
            or doc.schema_version
            or PAYLOADS[t].VERSION
            for t in self._types()
        }
        self.region = _Region(doc.region, index, consts, self.places)
        self.skips = [_Skip(r, index) for r in doc.skip_rules()]
        # the columns values are read from ("blank" rows look at these)
        self.used = sorted({index[c] for loc, c in uses if loc[0] not in ("skip", "event_id")})
        # the event id's key: as the importer before the mapping language joined the cells
        # of its columns, so ids stay the same; a {field: F} part is F's parsed value
        self.key_parts: list[tuple[int | None, str, str | None]] = [
            (None, "", part.field)
            if isinstance(part, EventIdField)
            else (index.get(part), str(consts.get(part, "")), None)
            for part in doc.event_id or []
        ]
        self.field_columns = {f.name: f.column for f in self._all_fields()}

    def _key(self, values: tuple[Cell, ...], payload: dict[str, Any], at: dt.datetime) -> str:
        """What the record's event id is made of (every cell, without ``event_id``)."""
        if not self.key_parts:
            return "|".join(cell_text(c) for c in values)
        out = []
        for i, const, field in self.key_parts:
            if field is not None:
                found = at.isoformat() if field == "occurred_at" else get(payload, field)
                out.append("" if found is None else str(found))
            elif i is not None:
                out.append(cell_text(values[i]) if i < len(values) else "")
            else:
                out.append(const)
        return "|".join(out)

    def _types(self) -> list[str]:
        if isinstance(self.doc.event_type, EventTypeSpec):
            spec = self.doc.event_type
            return sorted(set(spec.map.values()) | ({spec.default} if spec.default else set()))
        return [self.doc.event_type]

    def _all_fields(self) -> list[_Field]:
        return [self.occurred, *self.shared, *(f for fs in self.per_type.values() for f in fs)]

    # -- one record ---------------------------------------------------------------------------
    def convert(self, record: Record, observer: Observer | None = None) -> Converted | Skipped:
        """The record's event (as a source sends it), or the skip rule that matched.

        Raises RowError for the first failing column (with an observer, every field is
        still evaluated and reported before it raises)."""
        values = record.values
        for skip in self.skips:
            if skip.hit(values, self.used):
                return Skipped(skip.label)
        first: RowError | None = None

        def failed(f: _Fail, field: str) -> RowError:
            return RowError(f.column, f.error.args[0], kind=f.error.kind, field=field)

        try:
            event_type = self.type_of(values)
        except _Fail as fail:
            raise failed(fail, "event_type") from None
        if event_type not in self.versions:
            raise RowError(
                "event_type", f"{event_type!r} is not an event type", kind="unknown event type"
            )
        payload: dict[str, Any] = {}
        fields = self.shared + self.per_type.get(event_type, [])
        for f in (self.occurred, *fields):
            try:
                status, value = f.value(values)
            except _Fail as fail:
                error = failed(fail, f.name)
                if observer is None:
                    raise error from None
                observer.field(f.name, "failed", record, error)
                first = first or error
                continue
            if observer is not None:
                observer.field(f.name, status, record, None)
            if value is not None and f is not self.occurred:
                value = value.isoformat() if isinstance(value, dt.date) else value
                if f.path is None:
                    payload[f.name] = value
                else:
                    put(payload, f.path, value)
            elif f is self.occurred:
                occurred = value
        try:
            region, fallback = self.region.find(values)
        except _Fail as fail:
            error = failed(fail, "region")
            if observer is None:
                raise error from None
            observer.region(None, False, error)
            raise first or error from None
        if observer is not None:
            observer.region(region.level, fallback, None)
        if first is not None:
            raise first
        if occurred is None:
            raise RowError(self.occurred.column, "empty, a date is required", kind="empty",
                           field="occurred_at")  # fmt: skip
        at = occurred
        if not isinstance(at, dt.datetime):
            at = dt.datetime.combine(at, dt.time())
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.zone)
        key = self._key(values, payload, at)
        event = {
            "event_id": _uuid5(f"{event_type}|{key}"),
            "event_type": event_type,
            "schema_version": self.versions[event_type],
            "occurred_at": at.isoformat(),
            "recorded_at": self.recorded_at,
            "region": region.code,
            "source": self.source,
            "actor": self.doc.actor,
            "payload": payload,
        }
        return Converted(event, region.level, fallback)

    def validate(self, event: dict[str, Any]) -> None:
        """Check the event as the ingest stream will (the catalogue's payload rules, the
        region); raise RowError naming the column the failing field came from."""
        try:
            parse_event(event, reference=self.reference)
        except EventRejectedError as exc:
            field = exc.field.removeprefix("payload.")
            column = self.field_columns.get(field, exc.field)
            raise RowError(column, str(exc), kind="invalid event", field=exc.field) from None


class _Region:
    """A record's region: a code or name, within another, with a fallback."""

    def __init__(
        self, spec: RegionSpec, columns: dict[str, int], constants: dict[str, Any], places: Places
    ) -> None:
        self.places = places
        self.column = _column_label(spec)
        self.get = _source(spec, columns, constants)
        self.steps = spec.normalise
        self.map = {k.casefold(): v for k, v in (spec.map or {}).items()}
        self.split = spec.split
        self.level = spec.level
        self.fallback = spec.fallback == "within"
        self.within = (
            _Field("region.within", spec.within, columns, constants)
            if spec.within is not None
            else None
        )

    def _name(self, value: Cell) -> str:
        text = cell_text(value).strip()
        if self.steps:
            text = normalise(text, self.steps)
        return self.map.get(text.casefold(), text)

    def find(self, values: tuple[Cell, ...]) -> tuple[Region, bool]:
        """(region, fell back to `within`); raises _Fail."""
        within: Region | None = None
        if self.within is not None:
            _, name = self.within.value(values)
            if name is not None:
                try:
                    within = self.places.resolve(str(name)).region  # cached by Places
                except CellError as exc:
                    raise _Fail(self.within.column, exc) from None
        raw = self.get(values)
        try:
            if is_blank(raw):
                raise CellError("empty", "empty, a region code or name is required")
            if self.split is not None:
                parts = [self._name(p) for p in cell_text(raw).split(self.split) if p.strip()]
                place = self.places.resolve_parts(parts, within=within)
            else:
                place = self.places.resolve(self._name(raw), within=within, level=self.level)
        except CellError as exc:
            if self.fallback and within is not None:
                return within, True
            raise _Fail(self.column, exc) from None
        return place.region, False
