"""A Chinese office ledger (台账) as Excel keeps it and as its GB18030 CSV export, through
the shipped mapping: merged headers, dates in four spellings, a former county name, Excel's
numbers for IDs caught and explained, the blank and the totals rows skipped."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from ledgers import MANGLED, ROWS, build_gb18030_csv, build_xlsx

from eams.imports.check import CheckReport, outcomes
from eams.imports.convert import Converter
from eams.settings import PROJECT_ROOT
from eams.tools.importer import open_input
from events.regions import load_reference

MAPPING = PROJECT_ROOT / "deploy" / "mappings" / "ledger_registrations.yaml"
COUNTIES = ["371302", "371311", "371312", "371321", "371302", "371324"]  # 苍山县 is 兰陵县 now


def run(path: Path) -> tuple[CheckReport, list[dict], Counter[str]]:
    table, doc = open_input(path, MAPPING)
    assert doc is not None
    converter = Converter(doc, table.columns, load_reference("shandong"), source="import:t")
    report = CheckReport(table, "ledger", sample=0)  # type: ignore[arg-type]
    events, errors = [], Counter[str]()
    for outcome in outcomes(table, converter, observer=report):  # type: ignore[arg-type]
        report.add(outcome)
        if outcome.event is not None:
            events.append(outcome.event)
        elif outcome.error is not None:
            errors[f"{outcome.record.line}:{outcome.error.kind}"] += 1
    return report, events, errors


@pytest.fixture(params=["xlsx", "csv"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "xlsx":
        return build_xlsx(tmp_path / "台账.xlsx")
    return build_gb18030_csv(tmp_path / "台账.csv")


def test_the_ledger_imports_as_registrations(ledger: Path) -> None:
    report, events, errors = run(ledger)
    assert report.encoding == ("gb18030" if ledger.suffix == ".csv" else None)
    assert [e["region"] for e in events] == COUNTIES
    assert {e["event_type"] for e in events} == {"person.registered"}
    assert [e["payload"]["national_id"] for e in events] == [r[2] for r in ROWS]
    assert [e["payload"]["registered_on"] for e in events] == [
        "2021-03-08",
        "2021-04-12",
        "2021-06-03",
        "2021-06-30",
        "2021-07-21",
        "2021-08-02",
    ]  # a date cell, 2021年4月12日, the serial 44350, 2021/06/30, 2021.08.02
    assert [e["payload"]["target_group"] for e in events] == [
        "employment_difficulty", "rural_surplus_labour", "employment_difficulty",
        "low_income_graduate", "temporary_assistance", "employment_difficulty",
    ]  # fmt: skip
    assert events[1]["payload"]["name"] == "王 芳"  # the ideographic space, normalised
    # the two IDs Excel made numbers: dead-lettered, named, and told how to fix the sheet
    assert errors == {"10:ID mangled by Excel": 1, "11:ID mangled by Excel": 1}
    stats = report.fields["national_id"]
    assert stats.counts["failed"] == len(MANGLED)
    [(line, message), _] = stats.examples["ID mangled by Excel"]
    assert line == 10 and "基本信息/公民身份号码" in message and "文本" in message
    assert report.skipped == {"blank rows": 1, "合计行 (totals row)": 1}


def test_the_sheet_and_its_csv_export_give_the_same_events(tmp_path: Path) -> None:
    _, from_xlsx, _ = run(build_xlsx(tmp_path / "a.xlsx"))
    _, from_csv, _ = run(build_gb18030_csv(tmp_path / "a.csv"))
    drop = ("recorded_at",)
    assert [{k: v for k, v in e.items() if k not in drop} for e in from_xlsx] == [
        {k: v for k, v in e.items() if k not in drop} for e in from_csv
    ]
