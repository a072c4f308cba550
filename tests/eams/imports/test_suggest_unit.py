"""``eams mapping suggest``: a starting mapping from the headers and first rows, which lints
clean against its file and maps what the headers say."""

from __future__ import annotations

from pathlib import Path

import yaml
from ledgers import build_xlsx

from eams.imports.mapping import lint_mapping
from eams.imports.readers import FormatSpec, open_table
from eams.imports.suggest import suggest_mapping
from eams.settings import PROJECT_ROOT

RAW = PROJECT_ROOT / "tests" / "data" / "warn_raw"


def suggest(path: Path, spec: FormatSpec, out: Path) -> dict:
    table = open_table(path, spec)
    text = suggest_mapping(table, spec)
    out.write_text(text, encoding="utf-8")
    assert lint_mapping(out, list(table.columns)) == [], text
    assert text.startswith("# A starting mapping for ")
    return dict(yaml.safe_load(text))


def test_a_chinese_ledger_gets_its_fields_from_merged_headers(tmp_path: Path) -> None:
    spec = FormatSpec(header_row=2, header_rows=2)
    doc = suggest(build_xlsx(tmp_path / "台账.xlsx"), spec, tmp_path / "m.yaml")
    assert doc["event_type"] == "person.registered"
    assert doc["file"] == {"format": "xlsx", "header_row": 2, "header_rows": 2}
    fields = doc["fields"]
    assert fields["national_id"] == {"column": "基本信息/公民身份号码", "type": "national_id"}
    assert fields["name"] == {"column": "基本信息/姓名"}
    assert fields["gender"]["map"] == {"男": "male", "女": "female"}
    assert fields["target_group"]["map"]["就业困难人员"] == "employment_difficulty"
    assert fields["target_group"]["map"]["农村劳动力"].startswith("TODO: one of ")
    assert doc["occurred_at"]["column"] == "登记信息/登记日期"
    assert doc["occurred_at"]["formats"] == ["iso", "chinese", "excel_serial"]
    assert doc["region"] == {"column": "基本信息/所在区县"}
    assert doc["event_id"] == [{"field": "national_id"}, {"field": "registered_on"}]
    assert doc["skip"][1]["column"] == "序号" and "合计" in doc["skip"][1]["matches"]


def test_a_state_warn_file_gets_a_layoff_mapping(tmp_path: Path) -> None:
    doc = suggest(RAW / "oh.csv", FormatSpec(), tmp_path / "m.yaml")
    assert doc["event_type"] == "layoff.reported"
    assert doc["region"] == {"column": "City/County", "split": "/"}
    assert doc["fields"]["laid_off"]["column"] == "Potential Number Affected"
    assert doc["fields"]["laid_off"]["type"] == "integer"
    assert doc["occurred_at"] == {"column": "Date Received", "type": "date",
                                  "formats": ["%m/%d/%Y"]}  # fmt: skip
    assert "event_id" not in doc  # no person: every cell of the record is its id
