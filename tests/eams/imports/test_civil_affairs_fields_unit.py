"""Dotted field names in a mapping (``facts.low_income``): what the civil-affairs feed needs to
fill a lead's facts. The linter checks every part of the path against the catalogue, with
the line and a did-you-mean; the converter builds the nested object, and the event passes
the catalogue's checks (or is refused naming the column the nested value came from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eams.errors import RowError
from eams.imports.convert import Converted, Converter
from eams.imports.fieldpaths import field_problem, get, overlaps, put
from eams.imports.mapping import lint_mapping, load_mapping
from eams.imports.readers import Record
from events.payloads_people import LeadDiscovered
from events.regions import load_reference

HEAD = """version: 1
event_type: lead.discovered
event_id: [{field: national_id}, {field: facts.household_id}]
occurred_at: {column: 认定日期, type: date, formats: [iso]}
region: {column: 区县, within: {const: 潍坊市}}
fields:
  national_id: {column: 身份证号码, type: national_id, required: true}
  lead_id: {template: "mz:{身份证号码}"}
  source: {const: civil_affairs}
"""
COLUMNS = ("身份证号码", "区县", "认定日期", "救助类别", "家庭编号", "残疾等级")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_path_into_an_object_field_is_checked_part_by_part() -> None:
    assert field_problem(LeadDiscovered, "facts.low_income") is None
    assert field_problem(LeadDiscovered, "lead_id") is None
    assert field_problem(LeadDiscovered, "facts.low_incom") == (
        "has no field 'facts.low_incom'; did you mean 'facts.low_income'?"
    )
    assert field_problem(LeadDiscovered, "fact.low_income") == (
        "has no field 'fact.low_income'; did you mean 'facts.low_income'?"
    )
    assert field_problem(LeadDiscovered, "lead_id.x") == (
        "has no field 'lead_id.x': lead_id is a value, not an object of fields"
    )
    listed = field_problem(LeadDiscovered, "facts.qqq")
    assert listed is not None and listed.startswith("has no field 'facts.qqq' (fields of facts: ")
    assert "minimum_living_allowance" in listed


def test_the_linter_names_the_line_of_a_wrong_nested_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD
        + """  facts.low_incom: {column: 救助类别, map: {低收入: "true"}, type: boolean}
  facts: {const: x}
  facts.household_id: {column: 家庭编号}
""",
    )
    problems = lint_mapping(path)
    assert (
        f"{path}:10: fields.facts.low_incom: lead.discovered has no field 'facts.low_incom'; "
        "did you mean 'facts.low_income'?"
    ) in problems
    assert any(p.startswith(f"{path}:12: fields.facts.household_id: 'facts' and") for p in problems)
    assert len(problems) == 3


@pytest.fixture
def converter(tmp_path: Path) -> Converter:
    path = write(
        tmp_path,
        HEAD
        + """  facts.minimum_living_allowance:
    {column: 救助类别, type: boolean, map: {低保: "true", 特困: "false"}}
  facts.household_id: {column: 家庭编号}
  facts.disability_grade: {column: 残疾等级, type: integer}
""",
    )
    assert lint_mapping(path, list(COLUMNS)) == []
    return Converter(load_mapping(path), COLUMNS, load_reference("shandong"), source="import:t")


def row(*values: str, line: int = 2) -> Record:
    return Record(line - 1, line, values, b"")


def test_nested_values_make_up_the_object_and_pass_the_catalogue(converter: Converter) -> None:
    out = converter.convert(
        row("370705198203154422", "奎文区", "2024-03-01", "低保", "WF-0017", "")
    )
    assert isinstance(out, Converted)
    converter.validate(out.event)
    assert out.event["payload"]["facts"] == {
        "minimum_living_allowance": True,
        "household_id": "WF-0017",
    }  # a blank grade leaves it out; the object holds only what the record says
    assert out.event["region"] == "370705"
    # the event id reads the nested value too: another household, another event
    other = converter.convert(row("370705198203154422", "奎文区", "2024-03-01", "低保", "WF-9", ""))
    assert isinstance(other, Converted)
    assert other.event["event_id"] != out.event["event_id"]


def test_a_nested_value_the_catalogue_refuses_names_its_column(converter: Converter) -> None:
    out = converter.convert(row("370705198203154422", "奎文区", "2024-03-01", "特困", "WF-1", "7"))
    assert isinstance(out, Converted)
    assert out.event["payload"]["facts"]["minimum_living_allowance"] is False
    with pytest.raises(RowError) as caught:
        converter.validate(out.event)
    assert caught.value.column == "残疾等级"
    assert caught.value.field == "payload.facts.disability_grade"


def test_put_get_and_overlaps() -> None:
    payload: dict[str, object] = {"lead_id": "x"}
    put(payload, ("facts", "low_income"), True)
    put(payload, ("facts", "gender"), "female")
    assert payload == {"lead_id": "x", "facts": {"low_income": True, "gender": "female"}}
    assert get(payload, "facts.gender") == "female"
    assert get(payload, "facts.birth_date") is None and get(payload, "lead_id.x") is None
    assert overlaps(["facts", "facts.low_income", "lead_id"]) == [("facts", "facts.low_income")]
    assert overlaps(["facts.low_income", "facts.gender"]) == []
