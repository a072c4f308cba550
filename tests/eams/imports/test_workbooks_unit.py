"""Excel sheets as typed cells: how calamine's values become cells (whole numbers, IDs typed
as numbers, times, durations, error cells), cells kept at their sheet column, the visible
sheet picked by default, and a row's CSV line for the dead-letter queue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import xlsxwriter
from xlsx_bombs import bomb, declaring, small_workbook

from eams.imports.errors import ReadError
from eams.imports.workbooks import csv_line, open_sheet


def test_cells_keep_their_types(tmp_path: Path) -> None:
    path = tmp_path / "types.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    time = book.add_format({"num_format": "hh:mm:ss"})
    hours = book.add_format({"num_format": "[h]:mm:ss"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, [3.0, 2.5, 2**53 - 1, float(2**53), True, "", " 文本 "])
    sheet.write_datetime(1, 0, dt.time(8, 30), time)
    sheet.write_number(1, 1, 1.5, hours)  # a duration of 36 hours
    sheet.write_datetime(1, 2, dt.datetime(2024, 3, 1, 9, 15), stamp)
    sheet.write_formula(1, 3, "=1/0", None, "#DIV/0!")
    sheet.write_formula(1, 4, "=NA()", None, "#N/A")
    sheet.write_formula(1, 5, "=1+1", None, 2)
    book.close()
    first, second = open_sheet(path, "xlsx", None).rows()
    assert first == [3, 2.5, 2**53 - 1, float(2**53), True, None, " 文本 "]
    assert [type(c) for c in first[:4]] == [int, float, int, float]
    assert second == [
        "08:30:00",
        "36:00:00",
        dt.datetime(2024, 3, 1, 9, 15),
        "#DIV/0!",
        "#N/A",
        2,
        None,
    ]


def test_cells_stay_at_their_sheet_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "offset.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write(3, 2, "姓名")  # C4: nothing above or to the left
    sheet.write(5, 4, "张三")
    book.close()
    sheet_ = open_sheet(path, "xlsx", None)
    assert sheet_.height == 6
    rows = list(sheet_.rows())
    assert rows[3] == [None, None, "姓名", None, None] and rows[5][4] == "张三"
    assert list(sheet_.rows(3, 4)) == [rows[3]]


def test_the_first_visible_worksheet_is_the_default(tmp_path: Path) -> None:
    path = tmp_path / "hidden.xlsx"
    book = xlsxwriter.Workbook(str(path))
    lists = book.add_worksheet("下拉选项")
    lists.write(0, 0, "就业困难人员")
    ledger = book.add_worksheet("台账")
    ledger.write(0, 0, "姓名")
    ledger.activate()
    lists.hide()
    book.close()
    assert open_sheet(path, "xlsx", None).name == "台账"
    assert open_sheet(path, "xlsx", 1).name == "下拉选项"
    assert open_sheet(path, "xlsx", " 台账").name == "台账"  # as normalised labels are


def test_an_empty_sheet_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("空")
    book.close()
    sheet = open_sheet(path, "xlsx", None)
    assert (sheet.height, list(sheet.rows())) == (0, [])


def test_a_workbook_that_is_not_one(tmp_path: Path) -> None:
    path = tmp_path / "x.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(ReadError, match=r"x\.xls: not a readable xls workbook .*save it again"):
        open_sheet(path, "xls", None)


def test_csv_line_quotes_only_what_needs_it() -> None:
    assert csv_line([1, "张三", 3.701021990010113e17, None, None]) == (
        "1,张三,3.701021990010113e+17".encode()
    )
    cells = [None, 'a"b', "x\ny", "a,b", True, dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 9, 5)]
    assert csv_line(cells) == b',"a""b","x\ny","a,b",TRUE,2024-03-01,2024-03-01 09:05:00'
    assert csv_line([None, None]) == b""


def test_a_zip_bomb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A 100 KiB workbook that unpacks to 80 MiB is refused unread (a real one unpacks to
    5-30 times its size); so is any workbook past the caller's limit."""
    path = tmp_path / "台账.xlsx"
    path.write_bytes(bomb(80))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ReadError, match=r"unpacks to 8[0-9,]+ bytes, [0-9,]+ times its") as bad:
        open_sheet(path, "xlsx", None)
    assert "save it again, or split it" in str(bad.value)
    small = tmp_path / "small.xlsx"
    small.write_bytes(small_workbook([["身份证号", "出勤天数"], ["x", 1]]))
    assert open_sheet(small, "xlsx", None).height == 2
    with pytest.raises(ReadError, match="more than 100 is not read"):
        open_sheet(small, "xlsx", None, max_unpacked=100)


def test_a_part_larger_than_it_declares_is_refused(tmp_path: Path) -> None:
    """The declared sizes bound the work: calamine refuses a part that unpacks to more than
    its header says (so a bomb cannot pass the check by declaring little)."""
    path = tmp_path / "lying.xlsx"
    path.write_bytes(declaring(bomb(2), 1000))
    with pytest.raises(ReadError, match="not a readable xlsx workbook"):
        open_sheet(path, "xlsx", None)
