"""Records to events by a mapping: sources, types, regions, skips, ids, per-row event types."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from eams.errors import RowError
from eams.imports.convert import NAMESPACE, Converted, Converter, Skipped, _uuid5
from eams.imports.mapping import MappingDoc, load_mapping
from eams.imports.readers import Record
from events.envelope import parse_event
from events.regions import RegionReference, load_reference

MAPPINGS = Path(__file__).parents[3] / "deploy" / "mappings"
COLUMNS = ("state", "company", "notice_date", "effective_date", "city", "county", "jobs")
HARRIS = {
    "state": "TX",
    "company": "Acme Refining, Inc.",
    "notice_date": "2022-03-01",
    "effective_date": "2022-05-01",
    "city": "Houston",
    "county": "Harris",
    "jobs": "120",
}


@pytest.fixture(scope="module")
def ref() -> RegionReference:
    """Shandong and US merged, as a worker importing WARN data runs."""
    return load_reference("shandong,us")


@pytest.fixture(scope="module")
def warn(ref: RegionReference) -> Converter:
    """The shipped mapping of the normalised WARN file."""
    doc = load_mapping(MAPPINGS / "warn_us.yaml")
    return Converter(doc, COLUMNS, ref, source="import:warn.csv")


def rec(row: dict[str, Any], columns: tuple[str, ...] = COLUMNS, line: int = 2) -> Record:
    return Record(line - 1, line, tuple(row.get(c, "") for c in columns), b"")


def event(
    conv: Converter, row: dict[str, Any], columns: tuple[str, ...] = COLUMNS
) -> dict[str, Any]:
    out = conv.convert(rec(row, columns))
    assert isinstance(out, Converted), out
    conv.validate(out.event)
    return out.event


def test_a_harris_county_row(warn: Converter, ref: RegionReference) -> None:
    got = event(warn, HARRIS)
    assert got["region"] == "48201"
    assert got["event_type"] == "layoff.reported" and got["schema_version"] == 2
    assert got["occurred_at"] == "2022-03-01T00:00:00-06:00"
    assert got["payload"] == {
        "enterprise_name": "Acme Refining, Inc.",
        "laid_off": 120,
        "notice_date": "2022-03-01",
        "effective_date": "2022-05-01",
    }
    assert parse_event(got, reference=ref).payload.laid_off == 120  # type: ignore[attr-defined]


def test_an_unknown_county_falls_back_to_the_state(warn: Converter) -> None:
    assert event(warn, HARRIS | {"county": "Gotham"})["region"] == "48"
    assert event(warn, HARRIS | {"county": ""})["region"] == "48"
    assert event(warn, HARRIS | {"state": "IA", "county": "Polk County"})["region"] == "19153"
    out = warn.convert(rec(HARRIS | {"county": "Gotham"}))
    assert isinstance(out, Converted) and out.fallback and out.level == "city"


@pytest.mark.parametrize(
    ("change", "column", "kind"),
    [
        ({"jobs": ""}, "jobs", "empty"),
        ({"jobs": " "}, "jobs", "empty"),
        ({"jobs": "many"}, "jobs", "not a number"),
        ({"notice_date": "March 1st"}, "notice_date", "not a date"),
        ({"state": "ZZ"}, "state", "unknown place"),
    ],
)
def test_bad_rows_name_the_column_and_the_kind(
    warn: Converter, change: dict[str, str], column: str, kind: str
) -> None:
    with pytest.raises(RowError) as info:
        warn.convert(rec(HARRIS | change))
    assert (info.value.column, info.value.kind) == (column, kind)
    assert str(info.value).startswith(f"column {column!r}: ")


def test_an_unparsable_optional_date_is_left_out(warn: Converter) -> None:
    got = event(warn, HARRIS | {"effective_date": "soon"})  # on_error: null
    assert "effective_date" not in got["payload"]
    assert "effective_date" not in event(warn, HARRIS | {"effective_date": ""})["payload"]


def test_event_ids_are_stable_uuid5_of_the_key_columns(warn: Converter) -> None:
    first = event(warn, HARRIS)["event_id"]
    assert uuid.UUID(first).version == 5
    assert event(warn, dict(HARRIS))["event_id"] == first
    assert event(warn, HARRIS | {"jobs": "121"})["event_id"] != first
    assert event(warn, HARRIS | {"company": "Other"})["event_id"] != first
    # the same id the importer gave before the mapping language: a re-import adds nothing
    key = "|".join(HARRIS[c] for c in COLUMNS)
    assert first == str(uuid.uuid5(uuid.UUID("6f1d1c1e-2f55-4b0e-9b59-3e0f6b1c7a01"),
                                   f"layoff.reported|{key}"))  # fmt: skip


def doc(text: str) -> MappingDoc:
    return MappingDoc.model_validate(yaml.safe_load(text))


LEDGER = ("序号", "姓名", "公民身份号码", "人员类别", "所在区县", "登记日期", "事项")
ROW = {
    "序号": "1",
    "姓名": "张三",
    "公民身份号码": "370102199001011231",
    "人员类别": "就业困难人员",
    "所在区县": "兰山区",
    "登记日期": "2021年11月3日",
    "事项": "登记",
}
LEDGER_MAPPING = """
timezone: Asia/Shanghai
constants: {city: 临沂市}
skip:
  - blank
  - {name: 合计行, column: 序号, matches: "^(合计|小计)"}
event_type:
  column: 事项
  map: {登记: person.registered, 退出: person.exited}
event_id: [公民身份号码, 事项, 登记日期]
occurred_at: {column: 登记日期, type: date, formats: [chinese, iso, excel_serial]}
region:
  column: 所在区县
  within: {template: "{city}"}
fields:
  national_id: {column: 公民身份号码, type: national_id, required: true}
  name: {column: 姓名}
types:
  person.registered:
    fields:
      target_group:
        column: 人员类别
        map: {就业困难人员: employment_difficulty, 农村劳动力: rural_surplus_labour}
        synonyms: {农村劳动力: [农村富余劳动力]}
      employment_status: {const: unemployed}
  person.exited:
    fields:
      reason: {const: employed}
"""


@pytest.fixture(scope="module")
def ledger() -> Converter:
    return Converter(doc(LEDGER_MAPPING), LEDGER, load_reference("shandong"), source="import:x")


def test_a_chinese_ledger_row(ledger: Converter) -> None:
    got = event(ledger, ROW, LEDGER)
    assert got["event_type"] == "person.registered"
    assert got["region"] == "371302"  # 兰山区 within 临沂市
    assert got["occurred_at"] == "2021-11-03T00:00:00+08:00"
    assert got["payload"] == {
        "national_id": "370102199001011231",
        "name": "张三",
        "target_group": "employment_difficulty",
        "employment_status": "unemployed",
    }


def test_the_event_type_comes_from_a_column(ledger: Converter) -> None:
    got = event(ledger, ROW | {"事项": "退出"}, LEDGER)
    assert got["event_type"] == "person.exited"
    assert got["payload"]["reason"] == "employed" and "target_group" not in got["payload"]
    with pytest.raises(RowError) as info:
        ledger.convert(rec(ROW | {"事项": "调整"}, LEDGER))
    assert (info.value.column, info.value.kind) == ("事项", "unmapped value")


def test_synonyms_and_skips(ledger: Converter) -> None:
    got = event(ledger, ROW | {"人员类别": "农村富余劳动力"}, LEDGER)
    assert got["payload"]["target_group"] == "rural_surplus_labour"
    assert ledger.convert(rec({c: "" for c in LEDGER}, LEDGER)) == Skipped("blank rows")
    assert ledger.convert(rec(ROW | {"序号": "合计"}, LEDGER)) == Skipped("合计行")


def test_an_id_excel_turned_into_a_number_is_explained(ledger: Converter) -> None:
    with pytest.raises(RowError) as info:
        ledger.convert(rec(ROW | {"公民身份号码": 3.70102199001012e17}, LEDGER))
    assert info.value.kind == "ID mangled by Excel"
    assert "Text" in str(info.value)


def test_a_catalogue_refusal_names_the_column(ledger: Converter) -> None:
    bad = ledger.convert(rec(ROW | {"姓名": "x" * 80}, LEDGER))
    assert isinstance(bad, Converted)
    with pytest.raises(RowError) as info:
        ledger.validate(bad.event)
    assert (info.value.column, info.value.kind) == ("姓名", "invalid event")


def test_templates_and_first_non_blank_columns(ref: RegionReference) -> None:
    cols = ("a", "b", "n", "d", "st", "co")
    conv = Converter(
        doc("""
event_type: layoff.reported
occurred_at: {column: d, type: date, formats: ["%m/%d/%Y"]}
region: {column: co, within: {column: st}, fallback: within}
fields:
  enterprise_name: {template: "{a} ({b})"}
  laid_off: {columns: [n, a], type: integer, pick: sum}
"""),
        cols, ref, source="import:t",
    )  # fmt: skip
    got = event(conv, {"a": "Acme", "b": "Plant 2", "n": "58 94", "d": "3/1/2022",
                       "st": "Ohio", "co": "Du Page"}, cols)  # fmt: skip
    assert got["payload"]["enterprise_name"] == "Acme (Plant 2)"
    assert got["payload"]["laid_off"] == 152
    assert got["region"] == "39"  # no Du Page county in Ohio: the state


def test_a_mapping_naming_a_missing_column_is_refused(ref: RegionReference) -> None:
    with pytest.raises(Exception, match="no column 'jobz'"):
        Converter(
            doc("""
event_type: layoff.reported
occurred_at: {column: notice_date}
region: {column: county}
fields: {laid_off: {column: jobz, type: integer}}
"""),
            COLUMNS, ref, source="import:t",
        )  # fmt: skip


@pytest.mark.parametrize("name", ["warn_il", "warn_fl", "warn_tx", "warn_oh", "warn_ny", "warn_us"])
def test_shipped_mappings_load(name: str) -> None:
    assert load_mapping(MAPPINGS / f"{name}.yaml").event_type == "layoff.reported"


def test_a_constant_is_no_column(ref: RegionReference) -> None:
    """A constant fills templates and event ids; as a value's `column` it is refused by
    name, not looked up in the file."""
    with pytest.raises(Exception, match="no column 'state'"):
        Converter(
            doc("""
constants: {state: TX}
event_type: layoff.reported
occurred_at: {column: notice_date}
region: {column: state}
fields: {laid_off: {column: jobs, type: integer}}
"""),
            ("notice_date", "jobs"), ref, source="import:t",
        )  # fmt: skip


@given(st.text(max_size=300))
def test_the_fast_uuid5_is_uuid5(name: str) -> None:
    assert _uuid5(name) == str(uuid.uuid5(NAMESPACE, name))


def test_a_failing_value_fails_every_time_it_comes(warn: Converter) -> None:
    """Parses are remembered per value, failures too: the second record fails like the first."""
    for line in (2, 3):
        with pytest.raises(RowError) as info:
            warn.convert(rec(HARRIS | {"jobs": "many"}, line=line))
        assert info.value.kind == "not a number"
    assert event(warn, HARRIS | {"jobs": "1,529"})["payload"]["laid_off"] == 1529
    assert event(warn, HARRIS | {"jobs": "1,529"})["payload"]["laid_off"] == 1529
