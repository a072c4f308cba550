"""A village's attendance sheet (考勤表): CSV in GB18030 with a title row and a name column,
or Excel; the citizen ID kept only as its pseudonym; every mistake named by row and column."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import xlsxwriter
from xlsx_bombs import bomb

from eams.attendance import AttendanceSheetError, read_sheet
from events.identity import make_national_id
from events.privacy import pseudonym

SECRET = b"k" * 32
ONE = make_national_id("370702", dt.date(1980, 5, 1), 11)
TWO = make_national_id("370702", dt.date(1975, 2, 3), 22)


def test_a_gb18030_sheet_with_a_title_row_and_names_reads_as_pseudonyms() -> None:
    text = (
        "潍城区某村公益性岗位2026年3月考勤表,,,\n"
        "序号,姓名,身份证号,出勤天数,应出勤天数\n"
        f"1,张三,{ONE},２０天,22\n"
        f"2,李四,{TWO.lower()},22,\n"
        ",,,,\n"
        "合计,,,42,\n"
    )
    rows = read_sheet(text.encode("gb18030"), "考勤.csv", SECRET)
    assert rows == [
        {"row": 3, "person_id": pseudonym(ONE, SECRET), "days_present": 20, "days_required": 22},
        {"row": 4, "person_id": pseudonym(TWO, SECRET), "days_present": 22},
    ]
    assert ONE not in repr(rows) and "张三" not in repr(rows)


def test_every_mistake_is_named_by_row_and_column_and_nothing_is_taken() -> None:
    text = (
        "姓名,身份证号,出勤天数,应出勤天数\n"
        "张三,370702198005011234,20,22\n"  # a wrong check digit
        f"李四,{TWO},二十,22\n"
        f"王五,{ONE},23,22\n"
        f"赵六,{ONE},10,22\n"
        f"钱七,{make_national_id('370702', dt.date(1970, 1, 1), 33)},nan,22\n"
        f"孙八,{make_national_id('370702', dt.date(1971, 1, 1), 44)},1e999,22\n"
    )
    with pytest.raises(AttendanceSheetError) as bad:
        read_sheet(text.encode(), "sheet.csv", SECRET)
    assert bad.value.errors == [
        "row 2, column 身份证号: not a valid citizen ID (18 characters with its check digit)",
        "row 3, column 出勤天数: '二十' is not a number of days; expected a whole number from 0 "
        "to 31",
        "row 4: 23 days present is more than the 22 required",
        "row 5: the same person is on row 4 already",
        "row 6, column 出勤天数: 'nan' is not a number of days; expected a whole number from 0 "
        "to 31",
        "row 7, column 出勤天数: '1e999' is not a number of days; expected a whole number from "
        "0 to 31",
    ]
    with pytest.raises(AttendanceSheetError, match="no column 出勤天数"):
        read_sheet("身份证号,天数\n".encode(), "sheet.csv", SECRET)


def test_an_excel_sheet_reads_the_same() -> None:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, row in enumerate([["身份证号", "出勤天数"], [ONE, 18]]):
        sheet.write_row(r, 0, row)
    book.close()
    [row] = read_sheet(out.getvalue(), "考勤.xlsx", SECRET)
    assert (row["person_id"], row["days_present"]) == (pseudonym(ONE, SECRET), 18)


def test_a_zip_bomb_for_a_sheet_is_refused_unread() -> None:
    with pytest.raises(AttendanceSheetError, match="unpacks to [0-9,]+ bytes") as bad:
        read_sheet(bomb(40), "考勤.xlsx", SECRET)
    assert "more than 33,554,432 is not read" in str(bad.value)
