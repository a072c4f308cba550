"""Reading files as offices send them: the five raw WARN files as the states publish them,
GB18030 and UTF-8-with-BOM CSV, TSV and sniffed delimiters, Excel ledgers with a title row
and merged header rows (.xlsx and .xls), NDJSON, and what each kind of broken file says.

The CSV reader splits lines without a quote itself and hands the others to :mod:`csv`; the
WARN files (quoted fields spanning lines, CRLF, thousands of empty trailing columns) are
held to :mod:`csv` cell by cell, and every record's ``line`` and ``raw`` to the file's bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
import xlsxwriter
import xlwt

from eams.imports.errors import ReadError
from eams.imports.readers import FormatSpec, detect_encoding, header_labels, open_table
from events.errors import ConfigError

WARN = Path(__file__).resolve().parents[2] / "data" / "warn_raw"  # copies of ../shared/data
PUBLISHED = {"il": 5088, "fl": 2220, "tx": 6582, "oh": 802, "ny": 252}
WIDTHS = {"il": 34, "fl": 5, "tx": 8, "oh": 9, "ny": 12}


# --- the raw WARN files ---------------------------------------------------------------------


@pytest.mark.parametrize("state", sorted(PUBLISHED))
def test_warn_files_have_their_published_record_counts(state: str) -> None:
    table = open_table(WARN / f"{state}.csv")
    records = list(table.records())
    assert (table.kind, table.encoding) == ("csv", "utf-8")
    assert len(records) == table.count() == PUBLISHED[state]
    assert len(table.columns) == WIDTHS[state]
    assert [r.number for r in records] == list(range(1, len(records) + 1))


@pytest.mark.parametrize("state", sorted(PUBLISHED))
def test_warn_values_are_what_the_csv_module_parses(state: str) -> None:
    path = WARN / f"{state}.csv"
    with path.open(newline="", encoding="utf-8") as f:
        expected = list(csv.reader(f))[1:]
    width = WIDTHS[state]
    got = [r.values for r in open_table(path).records()]
    # TX's thousands of trailing cells are empty under empty headers: they are dropped.
    assert got == [tuple((row + [""] * width)[:width]) for row in expected]
    assert all(len(v) == width for v in got)


@pytest.mark.parametrize("state", sorted(PUBLISHED))
def test_warn_records_start_on_their_line_and_raw_is_their_source_text(state: str) -> None:
    data = (WARN / f"{state}.csv").read_bytes()
    lines = data.split(b"\n")
    records = list(open_table(WARN / f"{state}.csv").records())
    for record, after in zip(records, [*records[1:], None], strict=True):
        spans = record.raw.count(b"\n") + 1
        source = b"\n".join(lines[record.line - 1 : record.line - 1 + spans]).rstrip(b"\r")
        assert record.raw == source, record.line
        if after is not None:
            assert after.line == record.line + spans
    assert records[0].line == 2


def test_fl_record_spanning_lines_keeps_its_first_line_and_its_newlines() -> None:
    first, second = list(open_table(WARN / "fl.csv").records())[:2]
    assert first.line == 2
    assert first.values[0] == "Target\nT3238 Store\n250 N.W. 13th Street\nGAINESVILLE, FL, 32601"
    assert first.raw.startswith(b'"Target\nT3238 Store\n') and b"\n thru\n" in first.raw
    assert first.raw.endswith(b",51,Retail Trade")
    assert second.line == 2 + first.raw.count(b"\n") + 1 == 8


def test_tx_columns_are_the_eight_real_ones() -> None:
    table = open_table(WARN / "tx.csv")
    assert table.columns == (
        "NOTICE_DATE", "JOB_SITE_NAME", "COUNTY_NAME", "WDA_NAME", "TOTAL_LAYOFF_NUMBER",
        "LayOff_Date", "WFDD_RECEIVED_DATE", "CITY_NAME",
    )  # fmt: skip
    record = next(table.records())
    assert not record.raw.endswith(b"\r") and record.raw.count(b",") > 8
    assert table.column_index("CITY_NAME") == 7


# --- encodings ------------------------------------------------------------------------------

LEDGER = [
    ["2024年就业困难人员台账", "", "", ""],
    ["序号", "姓名 ", "公民身份号码", "人员类别"],
    ["1", "张三", "3.70102E+17", "就业困难人员"],
    ["2", "李𠮷", "370102199001011234", "零就业家庭, 低保"],  # 𠮷 is in GB18030, not in GBK
]


def write_csv(path: Path, rows: list[list[str]], encoding: str, delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def test_gb18030_csv_is_detected_and_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "台账.csv", LEDGER, "gb18030")
    assert detect_encoding(path) == "gb18030"
    table = open_table(path, FormatSpec(header_row=2))
    assert (table.encoding, table.columns) == (
        "gb18030",
        ("序号", "姓名", "公民身份号码", "人员类别"),
    )
    first, second = table.records()
    assert first.values == ("1", "张三", "3.70102E+17", "就业困难人员")
    assert (first.number, first.line, second.line) == (1, 3, 4)
    assert (
        second.values[1] == "李𠮷"
        and second.raw == '2,李𠮷,370102199001011234,"零就业家庭, 低保"'.encode()
    )


def test_gbk_file_or_a_given_gbk_is_read_as_gb18030(tmp_path: Path) -> None:
    rows = [[c.replace("𠮷", "明") for c in row] for row in LEDGER]
    path = write_csv(tmp_path / "gbk.csv", rows, "gbk")
    assert detect_encoding(path) == "gb18030"
    table = open_table(path, FormatSpec(encoding="GBK", header_row=2))
    assert table.encoding == "gb18030" and table.count() == 2


def test_utf8_bom_is_stripped_from_the_first_label(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bom.csv", LEDGER[1:], "utf-8-sig")
    for spec in (FormatSpec(), FormatSpec(encoding="utf-8")):
        table = open_table(path, spec)
        assert table.encoding == "utf-8-sig"
        assert table.columns[0] == "序号" and table.column_index("序号") == 0


def test_excel_unicode_text_is_utf16_tab_separated(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "导出.txt", LEDGER[1:], "utf-16", delimiter="\t")
    table = open_table(path)
    assert (table.kind, table.encoding) == ("tsv", "utf-16")
    assert next(table.records()).values[2] == "3.70102E+17"


def test_a_file_valid_utf8_at_first_and_not_later_names_the_byte_and_line(tmp_path: Path) -> None:
    head = "序号,姓名\n" + "".join(f"{i},张三\n" for i in range(120_000))
    prefix = head.encode() + b"120000,"
    assert len(prefix) > 1 << 20  # past the detection sample
    path = tmp_path / "mixed.csv"
    path.write_bytes(prefix + "李四\n".encode("gbk"))
    table = open_table(path)
    assert table.encoding == "utf-8"
    with pytest.raises(ReadError) as caught:
        table.count()
    message = str(caught.value)
    assert f"mixed.csv: byte {len(prefix):,} (line 120,002): not valid UTF-8" in message
    assert "bytes c0 ee cb c4" in message and "--encoding" in message and "gb18030" in message


def test_a_gb18030_error_past_a_character_cut_by_a_chunk_is_placed_exactly(
    tmp_path: Path,
) -> None:
    # "张" (2 bytes) straddles the 1 MiB chunk the error search reads by; 0x81 0x20 is no
    # GB18030 character.
    prefix = b"a" * ((1 << 20) - 3) + "张三\n".encode("gb18030")
    path = tmp_path / "cut.csv"
    path.write_bytes(b"x\n" + prefix + b"\x81\x20\n")
    with pytest.raises(ReadError) as caught:
        list(open_table(path, FormatSpec(encoding="gb18030")).records())
    assert f"byte {2 + len(prefix):,} (line 3): not valid GB18030: bytes 81 20 0a" in str(
        caught.value
    )


def test_a_file_declared_utf8_that_is_not_says_where(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "gbk.csv", [["id", "名"], ["1", "张"]], "gbk")
    with pytest.raises(ReadError, match=r"gbk\.csv: byte 3 \(line 1\): not valid UTF-8"):
        open_table(path, FormatSpec(encoding="utf-8"))


def test_an_unknown_encoding_is_a_config_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [["a"]], "utf-8")
    with pytest.raises(ConfigError, match="unknown encoding 'gbk2'"):
        open_table(path, FormatSpec(encoding="gbk2"))


# --- CSV shapes -----------------------------------------------------------------------------


def test_short_rows_are_padded_and_only_nonempty_extra_cells_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "shapes.csv"
    path.write_text("a,b,c\n1\n1,2,3,,\n1,2,3,,x\n\n,,\n", encoding="utf-8")
    records = list(open_table(path).records())
    assert [r.values for r in records] == [
        ("1", "", ""),
        ("1", "2", "3"),
        ("1", "2", "3", "", "x"),  # wider than the header: the converter dead-letters it
        ("", "", ""),  # blank rows are records too
        ("", "", ""),
    ]
    assert [r.line for r in records] == [2, 3, 4, 5, 6]


def test_quotes_doubled_delimiters_embedded_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(b'a,b\r\n"x, ""y""",2\r\n"line\r\nbreak",3\r\nplain,4\r\n')
    records = list(open_table(path).records())
    assert [r.values for r in records] == [('x, "y"', "2"), ("line\r\nbreak", "3"), ("plain", "4")]
    assert [r.line for r in records] == [2, 3, 5]
    assert records[1].raw == b'"line\r\nbreak",3'


def test_an_unclosed_quote_names_the_line_it_opens_on(tmp_path: Path) -> None:
    path = tmp_path / "open.csv"
    path.write_text('a,b\n1,2\n"never closed,3\n4,5\n', encoding="utf-8")
    with pytest.raises(ReadError, match=r"open\.csv: line 3: a quoted field opened here is not"):
        list(open_table(path).records())


def test_tsv_and_sniffed_delimiters(tmp_path: Path) -> None:
    tsv = write_csv(tmp_path / "a.tsv", [["姓名", "备注"], ["张三", "有\t制表符"]], "utf-8", "\t")
    table = open_table(tsv)
    assert table.kind == "tsv" and next(table.records()).values == ("张三", "有\t制表符")
    for delimiter in (";", "|", "\t", ","):
        rows = [["序号", "姓名", "金额"], ["1", "张三", "1,5"], ["2", "李四", "3"]]
        path = write_csv(tmp_path / "sniff.csv", rows, "utf-8", delimiter)
        table = open_table(path, FormatSpec(delimiter="auto"))
        assert table.columns == ("序号", "姓名", "金额"), delimiter
        assert [r.values for r in table.records()] == [tuple(r) for r in rows[1:]]


def test_start_after_skips_records_and_count_counts_them(tmp_path: Path) -> None:
    table = open_table(WARN / "fl.csv")
    every = list(table.records())
    assert list(table.records(start_after=1000)) == every[1000:]
    assert list(table.records(start_after=len(every))) == []
    assert table.count() == len(every)
    with pytest.raises(ConfigError):
        table.records(start_after=-1)


def test_header_row_past_the_end(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "short.csv", LEDGER[:3], "utf-8")
    with pytest.raises(ReadError, match=r"short\.csv: header_row 5 is past the end \(3 rows\)"):
        open_table(path, FormatSpec(header_row=5))
    with pytest.raises(ReadError, match=r"the header rows 3-4 run past the end \(3 rows\)"):
        open_table(path, FormatSpec(header_row=3, header_rows=2))
    assert open_table(path, FormatSpec(header_row=3)).count() == 0
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(ReadError, match=r"empty\.csv: empty, no header to read"):
        open_table(tmp_path / "empty.csv")


def test_two_header_rows_in_a_csv_take_the_merge_from_the_left(tmp_path: Path) -> None:
    rows = [["序号", "基本信息", "", "备注", "", ""], ["", "姓名", "公民身份号码", "", "", ""]]
    path = write_csv(tmp_path / "h.csv", [*rows, ["1", "张三", "x", "", "", ""]], "gb18030")
    table = open_table(path, FormatSpec(header_rows=2))
    assert table.columns == ("序号", "基本信息/姓名", "基本信息/公民身份号码", "备注")
    assert next(table.records()).values == ("1", "张三", "x", "")


# --- header labels --------------------------------------------------------------------------


def test_labels_are_normalised_numbered_and_made_unique() -> None:
    row = [" 姓名 ", "ＩＤ　号", "姓　名", "", "公民身份\n号码", "姓名", "", None]
    assert header_labels([row]) == (
        "姓名", "ID 号", "姓名 (2)", "column 4", "公民身份号码", "姓名 (3)",
    )  # fmt: skip
    assert header_labels([["Company\nName", 2024, 1.0, dt.date(2024, 1, 31)]]) == (
        "Company Name", "2024", "1", "2024-01-31",
    )  # fmt: skip
    assert header_labels([["", ""]]) == ()


def test_merge_ranges_fill_their_cells_when_a_sheet_has_them() -> None:
    rows = [["序号", "基本信息", "", "联系电话"], ["", "姓名", "公民身份号码", ""]]
    merges = [((4, 0), (5, 0)), ((4, 1), (4, 2)), ((0, 0), (0, 3))]  # the title's is above
    assert header_labels(rows, merges, top=4) == (
        "序号", "基本信息/姓名", "基本信息/公民身份号码", "联系电话",
    )  # fmt: skip
    # Without merge ranges an upper row's empty cell takes its left neighbour's label.
    rows = [["序号", "基本信息", "", ""], ["", "姓名", "公民身份号码", "联系电话"]]
    assert header_labels(rows)[3] == "基本信息/联系电话"
    assert header_labels(rows, [((0, 1), (0, 2))], top=0)[3] == "联系电话"
    assert header_labels([["序号", "序号"], ["a", "a"]]) == ("序号/a", "序号/a (2)")


# --- Excel ----------------------------------------------------------------------------------


def write_ledger_xlsx(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("台账")
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.merge_range(0, 0, 0, 4, "2024年就业援助对象台账（合并单元格）")
    sheet.merge_range(1, 0, 2, 0, "序号")
    sheet.merge_range(1, 1, 1, 2, "基本信息")
    sheet.merge_range(1, 3, 2, 3, "登记日期")
    sheet.write(1, 4, "人数")
    sheet.write(2, 1, "姓名")
    sheet.write(2, 2, "公民身份号码")
    sheet.write(3, 0, 1)
    sheet.write(3, 1, "张三")
    sheet.write_number(3, 2, 370102199001011234)  # an ID typed as a number
    sheet.write_datetime(3, 3, dt.date(2024, 3, 1), date)
    sheet.write_number(3, 4, 12.5)
    sheet.write(4, 0, 2)
    sheet.write_string(4, 1, "李四")
    sheet.write_string(4, 2, "370102199001011234")
    sheet.write_formula(4, 4, "=NA()", None, "#N/A")
    sheet.write(6, 0, 4)  # row 6 is blank
    sheet.write(6, 6, "past the header")
    book.add_worksheet("说明").write(0, 0, "填表说明")
    book.close()
    return path


def test_xlsx_ledger_with_a_title_and_merged_header_rows(tmp_path: Path) -> None:
    path = write_ledger_xlsx(tmp_path / "台账.xlsx")
    table = open_table(path, FormatSpec(header_row=2, header_rows=2))
    assert (table.kind, table.encoding) == ("xlsx", None)
    assert table.columns == ("序号", "基本信息/姓名", "基本信息/公民身份号码", "登记日期", "人数")
    records = list(table.records())
    assert [r.line for r in records] == [4, 5, 6, 7]
    assert records[0].values == (1, "张三", 3.701021990010113e17, dt.date(2024, 3, 1), 12.5)
    assert type(records[0].values[0]) is int and type(records[0].values[2]) is float
    assert records[0].raw == "1,张三,3.701021990010113e+17,2024-03-01,12.5".encode()
    assert records[1].values == (2, "李四", "370102199001011234", None, "#N/A")
    assert records[2].values == (None,) * 5 and records[2].raw == b""
    assert records[3].values == (4, None, None, None, None, None, "past the header")
    assert table.count() == 4
    assert list(table.records(start_after=2)) == records[2:]


def test_xlsx_sheets_by_name_and_index(tmp_path: Path) -> None:
    path = write_ledger_xlsx(tmp_path / "ledger.xlsx")
    assert open_table(path, FormatSpec(sheet="说明")).columns == ("填表说明",)
    assert open_table(path, FormatSpec(sheet=2)).columns == ("填表说明",)
    with pytest.raises(ReadError, match="ledger.xlsx: no sheet '台账2'; sheets: 台账, 说明"):
        open_table(path, FormatSpec(sheet="台账2"))
    with pytest.raises(ReadError, match=r"no sheet 3 \(sheets count from 1; the workbook has 2"):
        open_table(path, FormatSpec(sheet=3))
    with pytest.raises(ReadError, match=r"sheet '台账': header_row 9 is past the end \(7 rows\)"):
        open_table(path, FormatSpec(header_row=9))


def test_xls_ledger(tmp_path: Path) -> None:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("台账")
    sheet.write_merge(0, 0, 0, 3, "标题")
    sheet.write_merge(1, 2, 0, 0, "序号")
    sheet.write_merge(1, 1, 1, 2, "基本信息")
    sheet.write(2, 1, "姓名")
    sheet.write(2, 2, "公民身份号码")
    sheet.write(1, 3, "登记日期")
    sheet.write(3, 0, 1)
    sheet.write(3, 1, "张三")
    sheet.write(3, 2, 370102199001011234)
    sheet.write(
        3, 3, dt.datetime(2024, 3, 1, 9, 15), xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM")
    )
    book.save(str(tmp_path / "台账.xls"))
    table = open_table(tmp_path / "台账.xls", FormatSpec(header_row=2, header_rows=2))
    assert table.kind == "xls"
    assert table.columns == ("序号", "基本信息/姓名", "基本信息/公民身份号码", "登记日期")
    (record,) = table.records()
    assert record.line == 4
    assert record.values == (1, "张三", 3.7010219900101126e17, dt.datetime(2024, 3, 1, 9, 15))


def test_workbooks_by_content_and_impostors(tmp_path: Path) -> None:
    xlsx = write_ledger_xlsx(tmp_path / "a.xlsx")
    renamed = tmp_path / "ledger.xls"  # an .xlsx saved under an .xls name
    renamed.write_bytes(xlsx.read_bytes())
    assert open_table(renamed, FormatSpec(header_row=2, header_rows=2)).kind == "xlsx"
    nameless = tmp_path / "download"
    nameless.write_bytes(xlsx.read_bytes())
    assert open_table(nameless).kind == "xlsx"
    page = tmp_path / "export.xls"
    page.write_text("<html><table><tr><td>姓名</td></tr></table></html>", encoding="utf-8")
    with pytest.raises(
        ReadError, match=r"export\.xls: named as an Excel workbook but it is an HTML"
    ):
        open_table(page)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ReadError, match=r"broken\.xlsx: not a readable xlsx workbook"):
        open_table(broken)


# --- NDJSON ---------------------------------------------------------------------------------


def test_ndjson_one_record_per_nonblank_line(tmp_path: Path) -> None:
    events = [{"event_type": "layoff.reported", "n": i, "名": "张三"} for i in range(3)]
    lines = [json.dumps(events[0], ensure_ascii=False), "", "  ", *map(json.dumps, events[1:])]
    path = tmp_path / "events.jsonl"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    table = open_table(path)
    assert (table.kind, table.columns) == ("ndjson", ("(line)",))
    records = list(table.records())
    assert [(r.number, r.line) for r in records] == [(1, 1), (2, 4), (3, 5)]
    assert [json.loads(r.raw) for r in records] == events
    assert records[0].values == (lines[0],)
    assert list(table.records(start_after=2)) == records[2:] and table.count() == 3
    sniffed = tmp_path / "events.log"
    sniffed.write_bytes(path.read_bytes())
    assert open_table(sniffed).kind == "ndjson"
