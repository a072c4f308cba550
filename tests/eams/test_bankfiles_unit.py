"""The files a payment batch exchanges with the bank: the export carries no clear identity
and totals the batch; the bank's return is read from what banks send (GB18030 CSV, Excel,
the export itself with a result column added) and a tired clerk's mistakes are named by
row and column, all of them at once."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import xlsxwriter
from xlsx_bombs import bomb

from eams.bankfiles import EXPORT_COLUMNS, ReturnFileError, export_csv, read_return

BATCH = "pb-371302-2026-03-1"
LINES = [
    {
        "line": 1,
        "amount": "1500.00",
        "subsidy": "job_search_one_time",
        "month": "2026-03",
        "name_masked": "张*",
        "account_ref": "a_" + "0" * 32,
        "account_masked": "****8901",
    },
    {
        "line": 2,
        "amount": "600",
        "subsidy": "post",
        "month": "2026-02",
        "name_masked": "欧阳**",
        "account_ref": "",
        "account_masked": "",
    },
]


def test_the_export_names_lines_by_reference_and_masks_and_totals_the_batch() -> None:
    data = export_csv({"batch_id": BATCH, "month": "2026-03"}, LINES)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert rows[1][:8] == [
        BATCH,
        "1",
        f"{BATCH}:1",
        "张*",
        "a_" + "0" * 32,
        "****8901",
        "1500.00",
        "一次性求职创业补贴",
    ]
    assert rows[2][6] == "600.00"
    assert rows[3][1:3] == ["合计 total", "2"] and rows[3][6] == "2100.00"
    english = export_csv({"batch_id": BATCH, "month": "2026-03"}, LINES, "en").decode("utf-8-sig")
    assert "One-time job-search subsidy" in english


def test_a_gb18030_return_with_chinese_labels_and_amounts_with_separators() -> None:
    text = "序号,付款参考号,金额,处理结果,交易日期,失败原因\n"
    text += f'1,{BATCH}:1,"1,500.00",成功,2026年3月24日,\n'
    text += f"2,{BATCH}:2,600.00元,失败,,账户已销户\n"
    text += ",,,,,\n合计,,2100.00,,,\n"
    got = read_return(text.encode("gb18030"), "回盘.csv", BATCH, 2)
    assert got == [
        {"line": 1, "outcome": "paid", "amount": "1500.00", "paid_on": "2026-03-24"},
        {"line": 2, "outcome": "failed", "amount": "600.00", "reason": "账户已销户"},
    ]


def test_an_excel_return_and_the_export_read_back_with_a_result_column(tmp_path: Path) -> None:
    path = tmp_path / "return.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("回盘")
    for r, row in enumerate(
        [["Line", "Status", "Amount", "Date"], [1, "S", 1500, "20260324"], [2.0, "F", 600.0, None]]
    ):
        sheet.write_row(r, 0, row)
    book.close()
    got = read_return(path.read_bytes(), "return.xlsx", BATCH, 2)
    assert [(r["line"], r["outcome"]) for r in got] == [(1, "paid"), (2, "failed")]
    assert got[0]["paid_on"] == "2026-03-24" and got[1]["reason"] == "银行未说明 not given"

    exported = export_csv({"batch_id": BATCH, "month": "2026-03"}, LINES).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported)))
    rows[0].append("结果")
    rows[1].append("成功")
    rows[2].append("失败")
    back = io.StringIO()
    csv.writer(back).writerows(rows)
    got = read_return(back.getvalue().encode(), "x.csv", BATCH, 2)
    assert [(r["line"], r["outcome"]) for r in got] == [(1, "paid"), (2, "failed")]


def test_every_mistake_of_the_file_is_named_by_row_and_column() -> None:
    text = (
        "序号,付款参考号,结果,金额\n"
        f"1,{BATCH}:1,成功,abc\n"
        "2,pb-370102-2026-03-1:2,成功,600\n"
        f"3,{BATCH}:3,maybe,1\n"
        f"1,{BATCH}:1,成功,1500\n"
        f"4,{BATCH}:2,失败,600\n"
    )
    with pytest.raises(ReturnFileError) as bad:
        read_return(text.encode(), "r.csv", BATCH, 3)
    errors = bad.value.errors
    assert "row 2, 金额: 'abc'; expected an amount such as 1500.00" in errors
    assert any(
        e.startswith("row 3, 付款参考号: 'pb-370102-2026-03-1:2' is not a reference of")
        and "another batch" in e
        for e in errors
    )
    assert "row 4, 结果: 'maybe'; expected 成功 or 失败 (S/F)" in errors
    assert "row 5: line 1 is answered on row 2 already" not in errors  # row 2 was refused
    assert "row 6: 序号 4 and 付款参考号 'pb-371302-2026-03-1:2' name different lines" in errors


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"a,b\n1,2\n", "r.csv", "no column 序号 (line) or 付款参考号 (reference)"),
        (b"not a workbook", "r.xlsx", "r.xlsx:"),
        (b"line,outcome\n", "r.csv", "no result rows below the header"),
        (b"line,outcome\n1,paid\n", "r.pdf", "a return file is .csv, .txt, .xlsx or .xls"),
        (b"line,outcome\n1,paid\n1,paid\n", "r.csv", "row 3: line 1 is answered on row 2"),
    ],
)
def test_files_that_cannot_be_taken_say_why(data: bytes, name: str, expected: str) -> None:
    with pytest.raises(ReturnFileError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        read_return(data, name, BATCH, 2)


def test_a_cell_a_spreadsheet_would_run_is_defused() -> None:
    """A masked name that begins like a formula (a clerk typed "=HYPERLINK(…)" as a name)
    is written with a leading apostrophe: Excel shows it, never runs it."""
    evil = [dict(LINES[0], name_masked="=H*******", account_masked="+****8901")]
    rows = list(
        csv.reader(
            io.StringIO(
                export_csv({"batch_id": BATCH, "month": "2026-03"}, evil).decode("utf-8-sig")
            )
        )
    )
    assert rows[1][3] == "'=H*******" and rows[1][5] == "'+****8901"
    assert rows[1][6] == "1500.00"  # numbers as they are


def test_a_zip_bomb_for_a_return_is_refused_unread() -> None:
    with pytest.raises(ReturnFileError, match="unpacks to [0-9,]+ bytes") as bad:
        read_return(bomb(80), "回盘.xlsx", BATCH, 2)
    assert "more than 67,108,864 is not read" in str(bad.value)
