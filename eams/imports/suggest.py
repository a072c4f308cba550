"""``eams mapping suggest FILE``: a starting mapping from a file's headers and first rows.

Each header is matched against synonyms of the catalogue's fields (English and Chinese, as
offices label their ledgers: 姓名, 公民身份号码, 人员类别, 所在社区, 登记日期, 企业名称,
裁员人数 …); the event type is the one whose fields match most headers. The first rows
decide each date column's formats, whether a number column needs ``pick``, and the value
map of a vocabulary column (人员类别 → target_group) from the labels EAMS shows. What
could not be matched is listed in comments, for the person who edits the result.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, get_args

import yaml

from eams.imports.cells import Cell
from eams.imports.errors import CellError
from eams.imports.readers import FormatSpec, Table
from eams.imports.values import cell_text, is_blank, parse_date, parse_number
from events.catalogue import PAYLOADS
from events.labels import VALUE_LABELS

__all__ = ["SYNONYMS", "suggest_mapping"]

#: field -> header spellings (compared without case, spaces or punctuation).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "national_id": ("公民身份号码", "身份证号", "身份证号码", "身份证", "证件号码", "national id",
                    "id number", "id no"),
    "name": ("姓名", "name", "full name"),
    "phone": ("联系电话", "手机号", "手机号码", "电话", "phone", "mobile", "telephone"),
    "target_group": ("人员类别", "援助对象类别", "对象类别", "类别", "target group"),
    "employment_status": ("就业状态", "就业情况", "employment status"),
    "household_id": ("户编号", "家庭编号", "户号", "household id"),
    "gender": ("性别", "gender", "sex"),
    "birth_year": ("出生年份", "birth year"),
    "registered_on": ("登记日期", "登记时间", "认定日期", "registration date", "registered on"),
    "enterprise_name": ("企业名称", "单位名称", "用人单位", "company", "company name", "employer",
                        "business name", "business legal name", "job site name", "location name"),
    "enterprise_uscc": ("统一社会信用代码", "信用代码", "uscc", "credit code"),
    "laid_off": ("裁员人数", "减员人数", "拟裁减人数", "employees affected", "jobs",
                 "number affected", "potential number affected", "total layoff number",
                 "number of affected workers", "workers affected", "total # of employees"),
    "headcount_before": ("职工总数", "在岗职工人数", "headcount", "total employees"),
    "industry": ("行业", "所属行业", "industry"),
    "reason": ("裁员原因", "原因", "reason"),
    "notice_date": ("报告日期", "notice date", "warn received", "date received",
                    "state notification date", "date of warn notice", "notification date"),
    "effective_date": ("裁员日期", "layoff date", "layoff dates", "effective date",
                       "date layoff closure starts"),
}  # fmt: skip

#: headers naming where a record is (most specific last).
REGION_HEADERS: tuple[str, ...] = (
    "所在社区", "社区", "所在区县", "区县", "县区", "所属区县", "户籍所在地", "行政区划代码",
    "区划代码", "county", "county name", "impacted site county", "city/county", "所在城市",
    "城市", "city", "state", "省份",
)  # fmt: skip

#: headers whose date is when the record happened, best first.
OCCURRED: tuple[str, ...] = ("registered_on", "notice_date", "effective_date")


class _Plain(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML ships no types
    """Writes a value given twice twice (no &anchors and *aliases: people edit this)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-./:：()（）#]+", "", text)


_SYNONYM_KEYS = {_key(s): f for f, spellings in SYNONYMS.items() for s in spellings}
_REGION_KEYS = {_key(h) for h in REGION_HEADERS}


def _sample(table: Table, n: int = 200) -> list[tuple[Cell, ...]]:
    out: list[tuple[Cell, ...]] = []
    for record in table.records():
        out.append(record.values)
        if len(out) >= n:
            break
    return out


def _column(rows: list[tuple[Cell, ...]], i: int) -> list[Cell]:
    return [r[i] for r in rows if i < len(r) and not is_blank(r[i])]


_DATE_PATTERNS = ("iso", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "chinese", "compact", "excel_serial")


def _date_formats(values: list[Cell]) -> list[str]:
    """The patterns, in order, that parse the sample's values (at most three)."""
    found: list[str] = []
    for value in values:
        for pattern in (*found, *(p for p in _DATE_PATTERNS if p not in found)):
            try:
                parse_date(value, (pattern,), pick="first")
            except CellError:
                continue
            if pattern not in found:
                found.append(pattern)
            break
    return found[:3] or ["iso"]


def _number_pick(values: list[Cell]) -> str | None:
    for value in values:
        try:
            parse_number(value, integer=True)
        except CellError as exc:
            if exc.kind == "several numbers":
                return "first"
    return None


def _types(annotation: Any) -> set[type]:
    """The classes a field's annotation is made of (through Optional and Annotated)."""
    if isinstance(annotation, type):
        return {annotation}
    return {t for arg in get_args(annotation) for t in _types(arg)}


def _vocabulary(event_type: str, field: str) -> type[StrEnum] | None:
    info = PAYLOADS[event_type].model_fields.get(field)
    if info is None:
        return None
    return next((t for t in _types(info.annotation) if issubclass(t, StrEnum)), None)


def _value_map(enum: type[StrEnum], values: Iterable[Cell]) -> dict[str, str]:
    """Sample values -> enum values, by the zh/en labels EAMS shows (unknown left to edit)."""
    by_label: dict[str, str] = {}
    for member in enum:
        labels = VALUE_LABELS.get(member.value, {})
        for text in (member.value, labels.get("zh", ""), labels.get("en", "")):
            if text:
                by_label[_key(text)] = member.value
    out: dict[str, str] = {}
    for value in values:
        text = cell_text(value).strip()
        if text and text not in out:
            out[text] = by_label.get(_key(text), f"TODO: one of {', '.join(m.value for m in enum)}")
    if not out:
        out = {VALUE_LABELS.get(m.value, {}).get("zh", m.value): m.value for m in enum}
    return out


_TOTALS = re.compile(r"^\s*(合计|小计|总计|total|subtotal)\b", re.IGNORECASE)


def _totals(table: Table, rows: list[tuple[Cell, ...]]) -> list[dict[str, str]]:
    """A skip rule for a totals row (合计 …) where the sample has one in its first column."""
    if not table.columns or not any(_TOTALS.match(cell_text(v)) for v in _column(rows, 0)):
        return []
    return [{"name": "totals rows", "column": table.columns[0], "matches": _TOTALS.pattern}]


def _guess_type(matched: dict[str, int]) -> str:
    best, score = "layoff.reported", -1
    for event_type, model in PAYLOADS.items():
        hits = sum(1 for f in matched if f in model.model_fields)
        if hits > score:
            best, score = event_type, hits
    return best


def suggest_mapping(table: Table, spec: FormatSpec, *, event_type: str | None = None) -> str:
    """A mapping (YAML text with comments) for ``table`` to be edited by a person."""
    rows = _sample(table)
    matched: dict[str, int] = {}
    region_cols: list[str] = []
    unmatched: list[str] = []
    for i, header in enumerate(table.columns):
        # a merged header is "基本信息/姓名": its own label is the last part
        key = (
            _key(header.rsplit("/", 1)[-1])
            if "/" in header and _key(header) not in _REGION_KEYS
            else _key(header)
        )
        field = _SYNONYM_KEYS.get(key)
        if field is not None and field not in matched:
            matched[field] = i
        elif key in _REGION_KEYS:
            region_cols.append(header)
        elif header and not header.startswith("column "):
            unmatched.append(header)
    event_type = event_type or _guess_type(matched)
    model = PAYLOADS[event_type]
    fields: dict[str, Any] = {}
    occurred: dict[str, Any] | None = None
    for field, i in matched.items():
        if field not in model.model_fields and field not in OCCURRED:
            unmatched.append(table.columns[i])
            continue
        values = _column(rows, i)
        spec_: dict[str, Any] = {"column": table.columns[i]}
        info = model.model_fields.get(field)
        kinds = _types(info.annotation) if info is not None else set()
        if field == "national_id":
            spec_["type"] = "national_id"
        elif dt.date in kinds or field in OCCURRED:
            spec_["type"] = "date"
            spec_["formats"] = _date_formats(values)
        elif int in kinds:
            spec_["type"] = "integer"
            if (pick := _number_pick(values)) is not None:
                spec_["pick"] = pick
                spec_["on_error"] = "dlq"
        elif (enum := _vocabulary(event_type, field)) is not None:
            spec_["map"] = _value_map(enum, values)
        if field in OCCURRED and (occurred is None or OCCURRED.index(field) < occurred["rank"]):
            occurred = {"rank": OCCURRED.index(field), **spec_}
        if field in model.model_fields:
            fields[field] = spec_
    region: dict[str, Any] = (
        {"column": region_cols[0]}
        if region_cols
        else {"column": "TODO: the column naming the region"}
    )
    if region_cols:
        cells = [cell_text(v) for v in _column(rows, table.columns.index(region_cols[0]))]
        if any("/" in c for c in cells):  # "Cambridge/Guernsey": city and county in one cell
            region["split"] = "/"
    occurred_field = next((f for f in OCCURRED if f in fields), None)
    doc: dict[str, Any] = {
        "version": 1,
        "description": f"TODO: what {table.path.name} is and who sends it",
        "file": {
            k: v
            for k, v in {
                "format": table.kind,
                "encoding": table.encoding,
                "sheet": spec.sheet,
                "header_row": spec.header_row if spec.header_row != 1 else None,
                "header_rows": spec.header_rows if spec.header_rows != 1 else None,
            }.items()
            if v is not None
        },
        "timezone": "Asia/Shanghai",
        "skip": ["blank", *_totals(table, rows)],
        "event_type": event_type,
        # the person and the day, as parsed (else every cell of the record)
        "event_id": (
            [{"field": "national_id"}, {"field": occurred_field}]
            if "national_id" in fields and occurred_field
            else None
        ),
        "occurred_at": (
            {k: v for k, v in occurred.items() if k != "rank"}
            if occurred
            else {"column": "TODO: the column with the record's date", "formats": ["iso"]}
        ),
        "region": region,
        "fields": fields,
    }
    required = [
        f for f, info in model.model_fields.items() if info.is_required() and f not in fields
    ]
    head = [
        f"# A starting mapping for {table.path.name} ({len(table.columns)} columns), written by",
        "# `eams mapping suggest`: check every line, replace each TODO, then run",
        f"#   eams import {table.path.name} --mapping THIS_FILE --check",
        "# The language is in the README (Import mappings); `eams mapping lint` checks it.",
    ]
    if required:
        head.append(f"# {event_type} also needs: {', '.join(required)} (no column matched)")
    if unmatched:
        head.append(f"# columns not mapped: {', '.join(unmatched)}")
    if len(region_cols) > 1:
        head.append(f"# other region columns: {', '.join(region_cols[1:])} (see region.within)")
    body: str = yaml.dump(
        {k: v for k, v in doc.items() if v is not None},
        Dumper=_Plain,
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )
    return "\n".join(head) + "\n" + body
