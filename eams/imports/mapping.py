"""The mapping language: how the records of one kind of file become events.

A mapping is YAML (its JSON Schema is :func:`json_schema`, written to
``deploy/mappings/mapping.schema.json``; the README documents every key). The models below
*are* the language: what they accept is what a mapping may say, and a problem is reported
as ``path:line: where: message`` with a did-you-mean for a misspelt key.

A value comes from exactly one *source* (``column``, ``columns`` = the first non-blank of
several, ``const``, or ``template`` = text with ``{column}`` or ``{constant}`` filled in),
then goes through ``normalise`` steps, a value ``map`` (with ``synonyms``) and is parsed
as its ``type``. What happens when it cannot be parsed is ``on_error``: ``dlq`` (the row is
dead-lettered, the default), ``null`` (the field is left out) or ``default`` (``default``
is used). A blank value leaves the field out, unless ``required`` (then the row is
dead-lettered) or a ``default`` is given.

A field's name is a payload field, or a dotted path into a payload field that is itself an
object: ``facts.low_income`` sets ``low_income`` inside ``facts`` (the fields given of one
object make it up; the linter checks every part of the path against the catalogue).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eams.imports.dates import check_date_formats
from eams.imports.errors import MappingError
from eams.imports.fieldpaths import field_problem, overlaps
from eams.imports.values import check_steps
from events.catalogue import PAYLOADS
from events.yaml_lines import YamlLines, YamlSyntaxError, problems, where

__all__ = [
    "EventIdField",
    "EventTypeSpec",
    "FieldSpec",
    "FileSpec",
    "MappingDoc",
    "RegionSpec",
    "SkipRule",
    "TypeSpec",
    "json_schema",
    "lint_mapping",
    "load_mapping",
    "template_names",
]

ValueType = Literal[
    "text", "integer", "number", "date", "datetime", "boolean", "national_id", "code"
]
Pick = Literal["first", "last", "min", "max", "sum", "mean"]
_TEMPLATE = re.compile(r"\{([^{}]+)\}")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSpec(_Spec):
    """How the file is read (``eams import`` options override these)."""

    format: Literal["auto", "csv", "tsv", "xlsx", "xls", "ndjson"] = Field(
        default="auto", description="auto: by the file's suffix"
    )
    encoding: str | None = Field(
        default=None, description="auto (default): detected; or utf-8, gb18030 …"
    )
    delimiter: str | None = Field(default=None, description="CSV delimiter; auto sniffs , ; tab |")
    sheet: str | int | None = Field(default=None, description="Excel sheet: name or 1-based index")
    header_row: Annotated[int, Field(ge=1)] = Field(
        default=1, description="1-based row of the header"
    )
    header_rows: Annotated[int, Field(ge=1, le=5)] = Field(
        default=1, description="rows the header spans (merged header cells are joined with '/')"
    )


class _Sourced(_Spec):
    """A value's source: exactly one of column, columns, const, template."""

    column: str | None = Field(default=None, description="a header label of the file")
    columns: list[str] | None = Field(
        default=None, description="the first non-blank of these columns"
    )
    const: str | int | float | bool | None = Field(
        default=None, description="the same value every row"
    )
    template: str | None = Field(
        default=None, description="text with {column} / {constant} filled in"
    )
    normalise: list[str | dict[str, Any]] = Field(
        default_factory=list,
        description="steps in order: trim, casefold, upper, lower, collapse_spaces, nfkc, "
        "title, {strip_suffix: [..]}, {strip_prefix: [..]}, {replace: {a: b}}, {remove: [..]}",
    )

    @model_validator(mode="after")
    def _one_source(self) -> _Sourced:
        given = [
            k for k in ("column", "columns", "const", "template") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of column, columns, const, template"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def source_columns(self) -> list[str]:
        """The file's columns this value reads (a template's may also be constants)."""
        if self.column is not None:
            return [self.column]
        if self.columns is not None:
            return list(self.columns)
        if self.template is not None:
            return template_names(self.template)
        return []


class FieldSpec(_Sourced):
    """One payload field (or ``occurred_at``)."""

    type: ValueType = "text"
    formats: list[str] | None = Field(
        default=None,
        description="dates, tried in order: strptime patterns, iso, excel_serial, chinese, compact",
    )
    pick: Pick | None = Field(default=None, description="a cell holding several numbers or dates")
    keep_time: bool = Field(default=False, description="dates: keep the time of day when present")
    width: Annotated[int, Field(ge=1, le=32)] | None = Field(
        default=None, description="code: digits"
    )
    pad: bool = Field(default=False, description="code: zero-fill a code Excel shortened")
    map: dict[str, str] | None = Field(default=None, description="value -> value, after normalise")
    synonyms: dict[str, list[str]] | None = Field(
        default=None, description="value -> other spellings"
    )
    required: bool = Field(default=False, description="a blank value dead-letters the row")
    default: str | int | float | bool | None = Field(
        default=None, description="used when the value is blank (or fails, with on_error: default)"
    )
    on_error: Literal["dlq", "null", "default"] = "dlq"

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if self.on_error == "default" and self.default is None:
            raise ValueError("on_error: default needs a default value")
        if self.type == "code" and self.width is None:
            raise ValueError("type: code needs width (its number of digits)")
        if self.synonyms and self.map is None:
            raise ValueError("synonyms need a map (synonyms name other spellings of its keys)")
        return self


class RegionSpec(_Sourced):
    """Where a record's region code comes from: a code or a name at any level."""

    split: str | None = Field(
        default=None, description="several names in one cell ('Cambridge/Guernsey'): the separator"
    )
    within: FieldSpec | None = Field(
        default=None, description="the region the name lies in (a state, a city): its own source"
    )
    level: Literal["province", "city", "county"] | None = Field(
        default=None, description="the level wanted; default: the most specific match"
    )
    fallback: Literal["dlq", "within"] = Field(
        default="dlq", description="a name that does not resolve: dead-letter, or use `within`"
    )
    map: dict[str, str] | None = Field(
        default=None, description="spelling -> name the reference knows"
    )

    @model_validator(mode="after")
    def _fallback_needs_within(self) -> RegionSpec:
        if self.fallback == "within" and self.within is None:
            raise ValueError("fallback: within needs within")
        return self


class EventTypeSpec(_Spec):
    """The event type of each row, from a column."""

    column: str
    map: dict[str, str] = Field(description="the column's value -> event type")
    synonyms: dict[str, list[str]] | None = None
    default: str | None = Field(
        default=None, description="for a value not in map (else dead-letter)"
    )


class EventIdField(_Spec):
    """A part of the event id taken from a field's parsed value, not its cell: the same
    record from an Excel sheet (a date cell) and from its CSV export (2021/03/08) then gets
    one id."""

    field: str = Field(description="a field of the mapping, or occurred_at")


class TypeSpec(_Spec):
    """Fields of one event type, when the type comes from a column."""

    schema_version: Annotated[int, Field(ge=1)] | None = None
    fields: dict[str, FieldSpec] = Field(default_factory=dict)


class SkipRule(_Spec):
    """A row filter: a matching row is skipped (counted, never sent)."""

    name: str | None = Field(default=None, description="shown in the summary (default: the rule)")
    blank: bool = Field(default=False, description="every mapped column is blank")
    column: str | None = None
    matches: str | None = Field(
        default=None, description="regular expression searched in the value"
    )
    equals: list[str] | None = None
    empty: bool | None = Field(default=None, description="true: the column is blank")

    @model_validator(mode="after")
    def _one_test(self) -> SkipRule:
        if self.blank:
            if self.column is not None:
                raise ValueError("blank: true tests every column; leave out column")
            return self
        if self.column is None:
            raise ValueError("a skip rule needs blank: true, or column with matches/equals/empty")
        tests = [k for k in ("matches", "equals", "empty") if getattr(self, k) is not None]
        if len(tests) != 1:
            raise ValueError("give exactly one of matches, equals, empty")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"matches: not a regular expression: {exc}") from exc
        return self

    def label(self) -> str:
        """What the summary calls rows this rule skipped."""
        if self.name:
            return self.name
        if self.blank:
            return "blank rows"
        test = (
            f"matches {self.matches!r}"
            if self.matches is not None
            else f"is one of {self.equals}"
            if self.equals is not None
            else "is blank"
            if self.empty
            else "is not blank"
        )
        return f"{self.column} {test}"


class MappingDoc(_Spec):
    """A whole mapping file."""

    version: Literal[1] = Field(default=1, description="the mapping language's version")
    description: str | None = None
    file: FileSpec = Field(default_factory=lambda: FileSpec())
    hierarchy: str | None = Field(
        default=None, description="region hierarchy names are looked up in"
    )
    timezone: str = Field(default="Asia/Shanghai", description="for dates without a zone")
    source: str | None = Field(
        default=None, description="the events' source (default: import:<file>)"
    )
    actor: str = "importer"
    constants: dict[str, str | int | float | bool] = Field(default_factory=dict)
    skip: list[SkipRule | Literal["blank"]] = Field(default_factory=list)
    event_type: str | EventTypeSpec
    schema_version: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="payload version (default: the catalogue's current)"
    )
    event_id: list[str | EventIdField] | None = Field(
        default=None,
        description="columns (or constants, or {field: NAME}: a field's parsed value) whose "
        "values identify a record: re-importing adds nothing (default: every cell)",
    )
    occurred_at: FieldSpec
    region: RegionSpec
    fields: dict[str, FieldSpec] = Field(
        default_factory=dict,
        description="payload field -> its value; a dotted name (facts.low_income) sets a "
        "field inside an object field",
    )
    types: dict[str, TypeSpec] = Field(default_factory=dict)

    def skip_rules(self) -> list[SkipRule]:
        """The skip list with the ``blank`` shorthand expanded."""
        return [SkipRule(blank=True) if r == "blank" else r for r in self.skip]

    def zone(self) -> ZoneInfo:
        """``timezone`` as a zone (checked at load)."""
        return ZoneInfo(self.timezone)

    def column_uses(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(where in the mapping, column) for every column of the file the mapping reads:
        the sources of its values, the event type's column, skip rules and ``event_id``
        (a constant named in a template or in ``event_id`` is not a column)."""
        out: list[tuple[tuple[str | int, ...], str]] = []

        def add(spec: _Sourced | None, loc: tuple[str | int, ...]) -> None:
            if spec is None:
                return
            for name in spec.source_columns():
                if not (spec.template is not None and name in self.constants):
                    out.append((loc, name))

        add(self.occurred_at, ("occurred_at",))
        add(self.region, ("region",))
        add(self.region.within, ("region", "within"))
        for name, spec in self.fields.items():
            add(spec, ("fields", name))
        for type_name, type_spec in self.types.items():
            for name, spec in type_spec.fields.items():
                add(spec, ("types", type_name, "fields", name))
        if isinstance(self.event_type, EventTypeSpec):
            out.append((("event_type", "column"), self.event_type.column))
        for i, rule in enumerate(self.skip_rules()):
            if rule.column is not None:
                out.append((("skip", i, "column"), rule.column))
        for i, part in enumerate(self.event_id or []):
            if isinstance(part, str) and part not in self.constants:
                out.append((("event_id", i), part))
        return out


_MODEL_NAMES = frozenset(
    {
        "FileSpec",
        "FieldSpec",
        "RegionSpec",
        "EventTypeSpec",
        "EventIdField",
        "TypeSpec",
        "SkipRule",
        "MappingDoc",
    }  # fmt: skip
)


def template_names(template: str) -> list[str]:
    """The ``{names}`` a template fills in, in order."""
    return [m.strip() for m in _TEMPLATE.findall(template)]


def json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a mapping file."""
    schema = MappingDoc.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "EAMS import mapping"
    return schema


#: key -> (the model of its value, how many parts of a location it spans: 2 for the values
#: of a dict or list, as in fields.NAME or skip[I])
_NESTED: dict[str, tuple[type[BaseModel], int]] = {
    "file": (FileSpec, 1),
    "occurred_at": (FieldSpec, 1),
    "region": (RegionSpec, 1),
    "within": (FieldSpec, 1),
    "event_type": (EventTypeSpec, 1),
    "fields": (FieldSpec, 2),
    "types": (TypeSpec, 2),
    "skip": (SkipRule, 2),
}


def _semantic(doc: MappingDoc, lines: YamlLines) -> list[str]:
    """What the models cannot check alone: zone, steps, templates, the catalogue."""
    out: list[str] = []

    def say(loc: tuple[str | int, ...], msg: str) -> None:
        out.append(lines.say(loc, msg))

    try:
        ZoneInfo(doc.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        say(("timezone",), f"unknown time zone {doc.timezone!r} (e.g. Asia/Shanghai)")

    def check_type(name: str, loc: tuple[str | int, ...]) -> bool:
        if name in PAYLOADS:
            return True
        close = difflib.get_close_matches(name, list(PAYLOADS), n=1, cutoff=0.6)
        say(
            loc, f"unknown event type {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
        )
        return False

    def check_spec(spec: _Sourced, loc: tuple[str | int, ...]) -> None:
        for problem in check_steps(spec.normalise):
            say((*loc, "normalise"), problem)
        if isinstance(spec, FieldSpec) and spec.formats is not None:
            for problem in check_date_formats(spec.formats):
                say((*loc, "formats"), problem)
        if spec.template is not None and not template_names(spec.template):
            say((*loc, "template"), "a template fills in {column} or {constant}; none found")

    def check_fields(
        fields: dict[str, FieldSpec], event_type: str | None, loc: tuple[str | int, ...]
    ) -> None:
        model = PAYLOADS.get(event_type) if event_type is not None else None
        for name, spec in fields.items():
            check_spec(spec, (*loc, name))
            problem = field_problem(model, name) if model is not None else None
            if problem is not None:
                say((*loc, name), f"{event_type} {problem}")

    check_spec(doc.occurred_at, ("occurred_at",))
    check_spec(doc.region, ("region",))
    if doc.region.within is not None:
        check_spec(doc.region.within, ("region", "within"))
    if isinstance(doc.event_type, str):
        check_type(doc.event_type, ("event_type",))
        check_fields(doc.fields, doc.event_type, ("fields",))
        for name in doc.types:
            say(("types", name), "types: needs event_type from a column (event_type: {column: …})")
    else:
        targets = set(doc.event_type.map.values()) | (
            {doc.event_type.default} if doc.event_type.default else set()
        )
        for value, target in doc.event_type.map.items():
            check_type(target, ("event_type", "map", value))
        # shared fields must fit every type; per-type ones their own
        for name, spec in doc.fields.items():
            check_spec(spec, ("fields", name))
            for target in sorted(t for t in targets if t in PAYLOADS):
                if field_problem(PAYLOADS[target], name) is not None:
                    say(("fields", name), f"{target} has no field {name!r}; move it to types")
        for name, type_spec in doc.types.items():
            if check_type(name, ("types", name)):
                check_fields(type_spec.fields, name, ("types", name, "fields"))
    for loc, own, names in [
        (("fields",), doc.fields, list(doc.fields)),
        *(
            (("types", t, "fields"), ts.fields, [*doc.fields, *ts.fields])
            for t, ts in doc.types.items()
        ),
    ]:
        for whole, inner in overlaps(names):
            if inner in own or whole in own:
                say(
                    (*loc, inner if inner in own else whole),
                    f"{whole!r} and {inner!r} both set {inner!r}: give {whole} whole or by "
                    "its fields, not both",
                )
    named = {"occurred_at", *doc.fields, *(f for t in doc.types.values() for f in t.fields)}
    for i, part in enumerate(doc.event_id or []):
        if isinstance(part, EventIdField) and part.field not in named:
            close = difflib.get_close_matches(part.field, sorted(named), n=1, cutoff=0.6)
            say(
                ("event_id", i),
                f"{part.field!r} is not a field of this mapping"
                + (f"; did you mean {close[0]!r}?" if close else f" ({', '.join(sorted(named))})"),
            )
    for i, rule in enumerate(doc.skip_rules()):
        if rule.column is not None and rule.column in doc.constants:
            say(("skip", i, "column"), f"{rule.column!r} is a constant, not a column")
    return out


def _read(path: Path, columns: list[str] | None) -> tuple[MappingDoc | None, list[str]]:
    """The mapping at ``path`` and its problems (the mapping is None when it does not load)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}:1: cannot read the mapping: {exc}"]
    try:
        lines = YamlLines(path, text)
    except YamlSyntaxError as exc:
        return None, [str(exc)]
    if not isinstance(lines.doc, dict):
        return None, [
            f"{path}:1: a mapping is a YAML object (event_type, occurred_at, region, fields)"
        ]
    try:
        doc = MappingDoc.model_validate(lines.doc)
    except ValidationError as exc:
        return None, problems(exc, lines, MappingDoc, _NESTED, _MODEL_NAMES)
    out = _semantic(doc, lines)
    if columns is not None:
        for loc, name in doc.column_uses():
            if name not in columns:
                close = difflib.get_close_matches(name, columns, n=1, cutoff=0.5)
                out.append(
                    f"{path}:{lines.line_of(loc)}: {where(loc)}: the file has no column "
                    f"{name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                )
    return doc, out


def lint_mapping(path: Path, columns: list[str] | None = None) -> list[str]:
    """Every problem of the mapping at ``path`` as ``path:line: where: message``; with the
    file's ``columns``, also every column the mapping names that the file lacks."""
    return _read(path, columns)[1]


def load_mapping(path: Path) -> MappingDoc:
    """Read a mapping; raise :class:`MappingError` listing every problem (file:line)."""
    doc, problems = _read(path, None)
    if problems or doc is None:
        more = f"\n(and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise MappingError("\n".join(problems[:10]) + more)
    return doc
