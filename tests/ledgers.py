"""Realistic office ledgers (台账) built for the tests: the Excel sheet a county office keeps
(a merged title row, two merged header rows, IDs as text except where a clerk let Excel
make them numbers, dates as dates, as text and as Excel serials, a blank row, a totals row),
and the same sheet exported by Excel as a GB18030 CSV."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import xlsxwriter

TITLE = "临沂市就业困难人员登记台账（2021年）"
UPPER = ["序号", "基本信息", "", "", "", "登记信息", "", ""]
LOWER = ["", "姓名", "公民身份号码", "性别", "所在区县", "人员类别", "就业状态", "登记日期"]

#: (number, name, id, gender, county, group, status, registered on) -- ids valid (checksums)
ROWS: list[tuple[Any, ...]] = [
    (1, "张伟", "371302197503081005", "男", "兰山区", "就业困难人员", "失业", dt.date(2021, 3, 8)),
    (2, "王　芳", "371311198811211079", "女", "罗庄区", "农村劳动力", "灵活就业", "2021年4月12日"),
    (3, "李强", "371312196906021144", "男", "临沂市河东区", "就业困难人员", "待业", 44350),
    (4, "刘洋", "371321199201301218", "女", "沂南县", "困难家庭毕业生", "失业", "2021/06/30"),
    (5, "陈静", "371302198009091288", "女", "兰山区", "临时援助", "受灾失业", dt.date(2021, 7, 21)),
    (6, "杨磊", "371329197112121356", "男", "苍山县", "就业困难人员", "失业", "2021.08.02"),
]
#: rows whose ID a clerk let Excel turn into a number: 18 digits no float can hold
MANGLED: list[tuple[Any, ...]] = [
    (7, "赵敏", 371302198503151234, "女", "兰山区", "就业困难人员", "失业", dt.date(2021, 9, 1)),
    (8, "黄勇", 371311197707071001, "男", "罗庄区", "就业困难人员", "失业", dt.date(2021, 9, 2)),
]
TOTALS = ("合计", "", "", "", "", "", "", "8人")


def build_xlsx(path: Path) -> Path:
    """The ledger as an .xlsx: title merged across A1:H1, 序号 merged down A2:A3,
    基本信息 over B2:E2, 登记信息 over F2:H2; data from row 4; a blank row; the totals row."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("台账")
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    text = book.add_format({"num_format": "@"})
    sheet.merge_range(0, 0, 0, 7, TITLE)
    sheet.merge_range(1, 0, 2, 0, "序号")
    sheet.merge_range(1, 1, 1, 4, "基本信息")
    sheet.merge_range(1, 5, 1, 7, "登记信息")
    for col, label in enumerate(LOWER[1:], start=1):
        sheet.write_string(2, col, label)
    row = 3
    for values in [*ROWS, *MANGLED]:
        for col, value in enumerate(values):
            if isinstance(value, dt.date):
                sheet.write_datetime(row, col, dt.datetime.combine(value, dt.time()), date_fmt)
            elif isinstance(value, int) and col == 2:
                sheet.write_number(row, col, float(value))  # what Excel does to a typed ID
            elif isinstance(value, int):
                sheet.write_number(row, col, value)
            else:
                sheet.write_string(row, col, value, text if col == 2 else None)
        row += 1
    row += 1  # a blank row
    for col, value in enumerate(TOTALS):
        sheet.write_string(row, col, value)
    book.close()
    return path


def build_gb18030_csv(path: Path) -> Path:
    """The same ledger as Excel saves it as CSV on a Chinese Windows (GB18030 / GBK): the
    merged cells keep their value in the first column only, dates as shown, the numbers
    Excel made of IDs in its scientific notation."""
    with path.open("w", encoding="gb18030", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([TITLE, *[""] * 7])
        out.writerow(UPPER)
        out.writerow(LOWER)
        for values in [*ROWS, *MANGLED]:
            cells = []
            for col, value in enumerate(values):
                if isinstance(value, dt.date):
                    cells.append(value.strftime("%Y/%m/%d"))
                elif isinstance(value, int) and col == 2:
                    cells.append(f"{float(value):.5E}".replace("E+", "E+"))  # 3.71302E+17
                else:
                    cells.append(str(value))
            out.writerow(cells)
        out.writerow([""] * 8)
        out.writerow(TOTALS)
    return path
