"""The civil-affairs feed through ``eams import --check``: the 民政 social-assistance roster
(Excel, merged title and headers) and the 残联 disability records (GB18030 CSV) through the
shipped mappings. The report names each record that would be dead-lettered with its line
and column; every other record is one lead.discovered with its facts, and nothing is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from civil_affairs import (
    DISABILITY,
    DISABILITY_MANGLED_LINES,
    ROSTER,
    ROSTER_MANGLED_LINES,
    SHARED_ID,
    build_disability_csv,
    build_roster_xlsx,
)
from typer.testing import CliRunner

from eams.cli import app
from eams.imports.check import CheckReport, outcomes
from eams.imports.convert import Converter
from eams.imports.mapping import lint_mapping
from eams.settings import PROJECT_ROOT
from eams.tools.importer import open_input
from events.regions import load_reference

MAPPINGS = PROJECT_ROOT / "deploy" / "mappings"
ROSTER_MAPPING = MAPPINGS / "civil_affairs_assistance.yaml"
DISABILITY_MAPPING = MAPPINGS / "civil_affairs_disability.yaml"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state dir of its own for the CLI (--check needs no worker and no broker)."""
    monkeypatch.setenv("EAMS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def check(path: Path, mapping: Path) -> str:
    done = CliRunner().invoke(
        app, ["import", str(path), "--mapping", str(mapping), "--check", "--sample", "0"]
    )
    assert done.exit_code == 0, done.output
    return done.stdout


def convert(path: Path, mapping: Path) -> tuple[CheckReport, list[dict[str, Any]], list[Any]]:
    table, doc = open_input(path, mapping)
    assert doc is not None
    converter = Converter(doc, table.columns, load_reference("shandong"), source="import:t")
    report = CheckReport(table, mapping.name, sample=0)  # type: ignore[arg-type]
    events, dead = [], []
    for outcome in outcomes(table, converter, observer=report):  # type: ignore[arg-type]
        report.add(outcome)
        if outcome.event is not None:
            events.append(outcome.event)
        elif outcome.error is not None:
            dead.append((outcome.record.line, outcome.error))
    return report, events, dead


def test_the_mappings_lint_clean_against_the_files_they_read(tmp_path: Path) -> None:
    roster = build_roster_xlsx(tmp_path / "花名册.xlsx")
    records = build_disability_csv(tmp_path / "残疾人.csv")
    for path, mapping in ((roster, ROSTER_MAPPING), (records, DISABILITY_MAPPING)):
        table, _ = open_input(path, mapping)
        assert lint_mapping(mapping, list(table.columns)) == [], mapping


def test_check_of_the_roster_names_the_mangled_id_by_line_and_column(state: Path) -> None:
    out = check(build_roster_xlsx(state / "花名册.xlsx"), ROSTER_MAPPING)
    assert "花名册.xlsx (xlsx, 9 records) through" in out and "nothing was sent" in out
    [line] = ROSTER_MANGLED_LINES
    assert f"line {line}: column '家庭成员信息/身份证号码': 3.70705E+17: Excel stored the ID" in out
    assert "设置单元格格式 → 文本" in out  # how to fix the sheet
    assert "would accept 6 (66.7 %), dead-letter 1 (11.1 %), skip 2" in out
    assert "skipped 1: blank rows" in out and "skipped 1: 合计行 (totals row)" in out
    assert "region: 7 of 7 resolved" in out
    for row in ROSTER:  # --check prints no event (--sample 0): no ID, no phone
        assert row[3] not in out and (not row[14] or row[14] not in out)
    facts = next(line for line in out.splitlines() if line.startswith("facts.low_income "))
    # set for the 低收入 household only (the mangled row's is counted too: every field of a
    # record is judged, for the report)
    assert facts.split()[1:] == ["1", "0", "0", "6", "0"]


def test_check_of_the_disability_export_reads_gb18030_and_names_the_bad_line(
    state: Path,
) -> None:
    out = check(build_disability_csv(state / "残疾人.csv"), DISABILITY_MAPPING)
    assert "残疾人.csv (csv, gb18030, 8 records) through" in out
    [line] = DISABILITY_MANGLED_LINES
    assert f"line {line}: column '身份证号': '3.70783E+17': Excel stored the ID" in out
    assert "would accept 5 (62.5 %), dead-letter 1 (12.5 %), skip 2" in out
    grade = next(line for line in out.splitlines() if line.startswith("facts.disability_grade"))
    assert grade.split()[1:] == ["6", "0", "0", "0", "0"]


def test_the_roster_becomes_one_lead_per_member_with_its_facts(tmp_path: Path) -> None:
    report, events, dead = convert(build_roster_xlsx(tmp_path / "r.xlsx"), ROSTER_MAPPING)
    assert [(line, e.column, e.kind) for line, e in dead] == [
        (ROSTER_MANGLED_LINES[0], "家庭成员信息/身份证号码", "ID mangled by Excel")
    ]
    assert {e["event_type"] for e in events} == {"lead.discovered"}
    payloads = [e["payload"] for e in events]
    assert [p["national_id"] for p in payloads] == [r[3] for r in ROSTER]
    assert [p["lead_id"] for p in payloads] == [f"mz:{r[3]}" for r in ROSTER]
    assert len({e["event_id"] for e in events}) == len(ROSTER)
    assert {p["source"] for p in payloads} == {"civil_affairs"}
    assert [e["region"] for e in events] == [
        "370705",
        "370705",
        "370783",
        "370781",
        "370725",
        "370702",
    ]  # fmt: skip  (奎文区, 寿光市, 青州市, 昌乐县, 潍城区 within 潍坊市)
    # 认定日期 as a date cell, 2021年5月10日, 2019/11/02, a serial, 2022.08.15
    assert [p["record_on"] for p in payloads] == [
        "2021-05-10", "2021-05-10", "2019-11-02", "2023-03-15", "2022-08-15", "2020-04-01",
    ]  # fmt: skip
    assert [p["suggested_target_group"] for p in payloads] == [
        "employment_difficulty", "low_income_graduate", "employment_difficulty",
        "employment_difficulty", "low_income_graduate", "employment_difficulty",
    ]  # fmt: skip
    facts = [p["facts"] for p in payloads]
    assert facts[0] == {
        "minimum_living_allowance": True,
        "extreme_poverty": False,
        "household_id": "WF-DB-2021-0031",
        "gender": "female",
    }
    assert facts[1]["graduated_on"] == "2023-06-30" and facts[1]["household_id"] == (
        "WF-DB-2021-0031"
    )  # the graduate of the same 低保 household
    assert (facts[2]["minimum_living_allowance"], facts[2]["extreme_poverty"]) == (False, True)
    assert facts[3] == {
        "minimum_living_allowance": False,
        "extreme_poverty": False,
        "low_income": True,
        "household_id": "QZ-DSR-2023-0112",
        "gender": "female",
    }
    assert facts[4]["minimum_living_allowance"] is True  # 城市低保, a synonym
    assert facts[4]["graduated_on"] == "2024-07-01"
    assert "low_income" not in facts[0]  # the roster does not decide it for 低保
    assert payloads[3]["name"] == "刘 芳" and payloads[3]["phone"] == "13963612345"
    assert payloads[2]["phone"] == "05365212345"
    assert "phone" not in payloads[1]  # a blank cell
    assert report.skipped == {"blank rows": 1, "合计行 (totals row)": 1}


def test_the_disability_records_carry_the_disability_and_its_grade(tmp_path: Path) -> None:
    _, events, dead = convert(build_disability_csv(tmp_path / "d.csv"), DISABILITY_MAPPING)
    assert [(line, e.column, e.kind) for line, e in dead] == [
        (DISABILITY_MANGLED_LINES[0], "身份证号", "ID mangled by Excel")
    ]
    payloads = [e["payload"] for e in events]
    assert [p["national_id"] for p in payloads] == [r[4] for r in DISABILITY]
    assert {p["source"] for p in payloads} == {"disabled_persons_federation"}
    assert [p["facts"]["disability_grade"] for p in payloads] == [3, 2, 4, 1, 3]
    assert all(p["facts"]["disability"] is True for p in payloads)
    assert [p["facts"]["birth_date"] for p in payloads] == [
        "1972-02-10", "1985-09-23", "1993-03-16", "2000-01-01", "1979-11-30",
    ]  # fmt: skip
    assert [p["record_on"] for p in payloads] == [
        "2018-06-20", "2020-09-01", "2021-03-08", "2019-10-11", "2022-12-05",
    ]  # fmt: skip
    assert [e["region"] for e in events] == ["370702", "370705", "370783", "370781", "370782"]
    for p, row in zip(payloads, DISABILITY, strict=True):  # the certificate number: never
        assert row[5] not in str(p)


def test_a_person_in_both_feeds_gets_two_leads_with_two_ids(tmp_path: Path) -> None:
    _, roster, _ = convert(build_roster_xlsx(tmp_path / "r.xlsx"), ROSTER_MAPPING)
    _, records, _ = convert(build_disability_csv(tmp_path / "d.csv"), DISABILITY_MAPPING)
    both = [e for e in roster + records if e["payload"]["national_id"] == SHARED_ID]
    assert [e["payload"]["lead_id"] for e in both] == [f"mz:{SHARED_ID}", f"cl:{SHARED_ID}"]
    assert len({e["event_id"] for e in both}) == 2


def test_an_unknown_category_is_dead_lettered_not_guessed(tmp_path: Path) -> None:
    typo = (*ROSTER[0][:9], "低报", *ROSTER[0][10:])  # a typo of 低保
    path = build_roster_xlsx(tmp_path / "r.xlsx", [typo, *ROSTER[1:]])
    _, events, dead = convert(path, ROSTER_MAPPING)
    assert [(line, e.column, e.kind) for line, e in dead][0] == (
        4,
        "家庭信息/救助类别",
        "unmapped value",
    )
    assert "did you mean '低保'" in str(dead[0][1])
    assert len(events) == len(ROSTER) - 1
