"""Realistic civil-affairs files built for the tests ("service finds the person").

- The 民政 social-assistance roster of 潍坊市 as its Excel workbook: a title row merged across
  the sheet, two header rows (序号 and 联系电话 merged down, 家庭成员信息 / 家庭信息 / 所在地
  merged over the columns they group), one row per household member with 救助类别 低保 / 特困
  / 低收入 (and their longer spellings), 认定日期 as a date cell, as 2021年5月10日, 2019/11/02,
  2022.08.15 and an Excel serial, graduates with their 毕业时间, a member whose ID a clerk let
  Excel turn into a number, a blank row and a 合计 row.
- The 残联 disability records as the system's CSV export on a Chinese Windows (GB18030): a
  title row above the header, 残疾类别, 残疾等级 一级..四级 (once as 4级), 残疾证号 (the ID
  and two digits: never mapped), an ID in Excel's scientific notation, a blank row and a
  合计 row.

陈桂兰 is in both files (a 低保 household member with a disability): two leads, one person.
Every ID is valid (checksums computed here) except the mangled ones.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import xlsxwriter

from events.identity import national_id_check_char

__all__ = [
    "DISABILITY",
    "DISABILITY_MANGLED",
    "DISABILITY_MANGLED_LINES",
    "ROSTER",
    "ROSTER_MANGLED",
    "ROSTER_MANGLED_LINES",
    "SHARED_ID",
    "build_disability_csv",
    "build_roster_xlsx",
    "nid",
]


def nid(body17: str) -> str:
    """A valid resident ID from its first 17 digits (the check character computed)."""
    return body17 + national_id_check_char(body17)


SHARED_ID = nid("37070219720210162")
"""陈桂兰: a member of a 低保 household and holder of a disability certificate."""

ROSTER_TITLE = "潍坊市城乡困难群众救助对象花名册（2024年3月）"
ROSTER_UPPER = ["序号", "家庭成员信息", "", "", "", "", "", "家庭信息", "", "", "",
                "所在地", "", "", "联系电话"]  # fmt: skip
ROSTER_LOWER = ["", "姓名", "性别", "身份证号码", "与户主关系", "人员类型", "毕业时间",
                "家庭编号", "户主身份证号", "救助类别", "认定日期", "区县", "乡镇(街道)",
                "村(社区)", ""]  # fmt: skip
_HEAD_1 = nid("37070519750612204")
_HEAD_5 = nid("37072519700405251")
#: (序号, 姓名, 性别, 身份证号码, 与户主关系, 人员类型, 毕业时间, 家庭编号, 户主身份证号, 救助类别,
#:  认定日期, 区县, 乡镇(街道), 村(社区), 联系电话)
ROSTER: list[tuple[Any, ...]] = [
    (1, "王秀英", "女", _HEAD_1, "户主", "劳动年龄人员", "", "WF-DB-2021-0031", _HEAD_1,
     "低保", dt.date(2021, 5, 10), "奎文区", "东关街道", "和平社区", "13805361234"),
    (2, "李明", "男", nid("37070520010918301"), "子女", "高校毕业生", "2023年6月30日",
     "WF-DB-2021-0031", _HEAD_1, "低保", "2021年5月10日", "奎文区", "东关街道", "和平社区", ""),
    (3, "张建国", "男", nid("37078319680304121"), "户主", "劳动年龄人员", "", "SG-TK-2019-0007",
     nid("37078319680304121"), "特困人员", "2019/11/02", "寿光市", "圣城街道", "东关村",
     "0536-5212345"),
    (4, "刘　芳", "女", nid("37078119900721242"), "户主", "劳动力", "", "QZ-DSR-2023-0112",
     nid("37078119900721242"), "低收入家庭", 45000, "青州市", "王府街道", "北关社区",
     "139 6361 2345"),
    (5, "赵磊", "男", nid("37072520020102253"), "子女", "应届高校毕业生", dt.date(2024, 7, 1),
     "CL-DB-2022-0045", _HEAD_5, "城市低保", "2022.08.15", "昌乐县", "宝城街道", "新城社区",
     "15866512345"),
    (6, "陈桂兰", "女", SHARED_ID, "户主", "劳动年龄人员", "", "WC-DB-2020-0102", SHARED_ID,
     "农村低保", dt.date(2020, 4, 1), "潍城区", "于河街道", "前阙庄村", "13705361111"),
]  # fmt: skip
#: a member whose ID a clerk typed into a numeric column: Excel kept 15 significant digits
ROSTER_MANGLED: list[tuple[Any, ...]] = [
    (7, "孙伟", "男", 370705198807071234, "户主", "劳动年龄人员", "", "WF-DB-2024-0007",
     "", "低保", dt.date(2024, 1, 15), "奎文区", "北苑街道", "樱园社区", "18653612345"),
]  # fmt: skip
ROSTER_TOTALS = ("合计", "", "", "", "", "", "", "", "", "", "", "", "", "", "共7人")
#: the lines (1-based, as --check and the dead letters name them) of the mangled rows
ROSTER_MANGLED_LINES = [3 + len(ROSTER) + i for i in range(1, len(ROSTER_MANGLED) + 1)]


def build_roster_xlsx(path: Path, rows: list[tuple[Any, ...]] | None = None) -> Path:
    """The 民政 roster as .xlsx: the title merged across A1:O1, 序号 and 联系电话 merged
    down rows 2-3, the groups merged over theirs, data from row 4 (``rows``, default
    :data:`ROSTER` and :data:`ROSTER_MANGLED`), a blank row, 合计."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("救助对象")
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    text = book.add_format({"num_format": "@"})
    last = len(ROSTER_LOWER) - 1
    sheet.merge_range(0, 0, 0, last, ROSTER_TITLE)
    sheet.merge_range(1, 0, 2, 0, "序号")
    sheet.merge_range(1, 1, 1, 6, "家庭成员信息")
    sheet.merge_range(1, 7, 1, 10, "家庭信息")
    sheet.merge_range(1, 11, 1, 13, "所在地")
    sheet.merge_range(1, last, 2, last, "联系电话")
    for col, label in enumerate(ROSTER_LOWER):
        if label:
            sheet.write_string(2, col, label)
    row = 3
    for values in [*ROSTER, *ROSTER_MANGLED] if rows is None else rows:
        for col, value in enumerate(values):
            if isinstance(value, dt.date):
                sheet.write_datetime(row, col, dt.datetime.combine(value, dt.time()), date_fmt)
            elif isinstance(value, int) and col == 3:
                sheet.write_number(row, col, float(value))  # what Excel does to a typed ID
            elif isinstance(value, int):
                sheet.write_number(row, col, value)
            elif value:
                sheet.write_string(row, col, value, text if col in (3, 8, 14) else None)
        row += 1
    row += 1  # a blank row
    for col, value in enumerate(ROSTER_TOTALS):
        if value:
            sheet.write_string(row, col, value)
    book.close()
    return path


DISABILITY_TITLE = "潍坊市持证残疾人基础信息（导出日期：2024-03-31）"
DISABILITY_HEADER = ["序号", "姓名", "性别", "出生日期", "身份证号", "残疾证号", "残疾类别",
                     "残疾等级", "所属区县", "所属街道(乡镇)", "所属社区(村)", "联系电话",
                     "发证日期"]  # fmt: skip


def _certificate(national_id: str, kind: int, grade: int) -> str:
    """A disability certificate number (残疾人证号): the ID, the kind and the grade."""
    return f"{national_id}{kind}{grade}"


_MA = nid("37070519850923111")
_ZHOU = nid("37078319930316242")
_WU = nid("37078120000101313")
_ZHENG = nid("37078219791130286")
#: (序号, 姓名, 性别, 出生日期, 身份证号, 残疾证号, 残疾类别, 残疾等级, 所属区县, 所属街道(乡镇),
#:  所属社区(村), 联系电话, 发证日期)
DISABILITY: list[tuple[str, ...]] = [
    ("1", "陈桂兰", "女", "1972-02-10", SHARED_ID, _certificate(SHARED_ID, 4, 3), "肢体残疾",
     "三级", "潍城区", "于河街道", "前阙庄村", "13705361111", "2018/06/20"),
    ("2", "马骏", "男", "1985/9/23", _MA, _certificate(_MA, 1, 2), "视力残疾", "二级", "奎文区",
     "广文街道", "文化路社区", "13562612345", "2020-09-01"),
    ("3", "周婷", "女", "1993年3月16日", _ZHOU, _certificate(_ZHOU, 2, 4), "听力", "4级",
     "寿光市", "古城街道", "南关村", "", "2021年3月8日"),
    ("4", "吴刚", "男", "2000-01-01", _WU, _certificate(_WU, 5, 1), "智力残疾", "一级",
     "青州市", "益都街道", "范公亭社区", "0536-3212345", "2019.10.11"),
    ("5", "郑红", "女", "1979-11-30", _ZHENG, _certificate(_ZHENG, 6, 3), "精神残疾", "三级",
     "诸城市", "密州街道", "府前社区", "15063612345", "2022/12/05"),
]  # fmt: skip
#: the CSV Excel wrote after someone opened the export and saved it: the ID in E notation
DISABILITY_MANGLED: list[tuple[str, ...]] = [
    ("6", "冯涛", "男", "1988-07-07", "3.70783E+17", "3.70783E+19", "肢体残疾", "二级", "寿光市",
     "圣城街道", "东关村", "18765612345", "2023-05-20"),
]  # fmt: skip
DISABILITY_TOTALS = ("合计", "", "", "", "", "", "", "", "", "", "", "", "6人")
#: title on line 1, header on line 2, data from line 3
DISABILITY_MANGLED_LINES = [2 + len(DISABILITY) + i for i in range(1, len(DISABILITY_MANGLED) + 1)]


def build_disability_csv(path: Path) -> Path:
    """The 残联 records as the GB18030 CSV export: a title row, the header, the records, a
    blank row and the 合计 row."""
    width = len(DISABILITY_HEADER)
    with path.open("w", encoding="gb18030", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([DISABILITY_TITLE, *[""] * (width - 1)])
        out.writerow(DISABILITY_HEADER)
        for values in [*DISABILITY, *DISABILITY_MANGLED]:
            out.writerow(values)
        out.writerow([""] * width)
        out.writerow(DISABILITY_TOTALS)
    return path
