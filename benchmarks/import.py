"""File import: rows/s through a mapping, against a plain ``csv.reader`` pass over the same file.

    .venv/bin/python benchmarks/import.py [--rows 200000] [--xlsx-rows 50000]

What it measures, in one run, on files it writes to a temporary folder (the real Texas WARN
file's shape: eight named columns and dates as ``YYYY-MM-DD HH:MM:SS``, county names,
head-counts, one row in 50 without one):

1. **baseline**: ``csv.reader`` over the CSV, every row touched (no conversion).
2. **read**: :func:`eams.imports.readers.open_table` over the same file (records with their
   lines and original text).
3. **convert**: read + the shipped ``deploy/mappings/warn_tx.yaml`` (dates, numbers, the
   county within Texas) + the catalogue's check of every event (what ``eams import`` does
   before anything is sent; ``--check`` does this too). Sending to Kafka is measured by
   ``benchmarks/pipeline.py``: the raw producer takes ~190,000 records/s.
4. **xlsx**: the same rows written with xlsxwriter, opened and converted the same way
   (baseline: python-calamine's plain row iteration of the sheet).

Each prints rows/s and its ratio to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import xlsxwriter
from python_calamine import CalamineWorkbook

from eams.imports.check import outcomes
from eams.imports.convert import Converter
from eams.imports.mapping import load_mapping
from eams.imports.readers import FormatSpec, open_table
from eams.settings import PROJECT_ROOT
from events.regions import load_reference

HEADER = ["NOTICE_DATE", "JOB_SITE_NAME", "COUNTY_NAME", "WDA_NAME", "TOTAL_LAYOFF_NUMBER",
          "LayOff_Date", "WFDD_RECEIVED_DATE", "CITY_NAME"]  # fmt: skip
COUNTIES = ["Harris", "Dallas", "Travis", "Bexar", "Tarrant", "El Paso", "Hidalgo", "Collin"]


def rows(n: int) -> list[list[str]]:
    out = []
    for i in range(n):
        day = f"20{10 + i % 12}-{1 + i % 12:02d}-{1 + i % 28:02d} 00:00:00"
        jobs = "" if i % 50 == 0 else f"{1 + i % 997:,}"
        out.append([day, f"Site {i}, Inc.", COUNTIES[i % 8], "Gulf Coast", jobs, day, "",
                    "Houston"])  # fmt: skip
    return out


def timed(label: str, n: int, fn: object, baseline: float | None = None) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    rate = n / best
    ratio = f"  ratio {rate / baseline:.2f}" if baseline else ""
    print(f"{label:<44}{rate:>12,.0f} rows/s  ({best:.2f} s){ratio}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--xlsx-rows", type=int, default=50_000)
    args = parser.parse_args()
    mapping = load_mapping(PROJECT_ROOT / "deploy" / "mappings" / "warn_tx.yaml")
    reference = load_reference("shandong,us")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tx_big.csv"
        data = rows(args.rows)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(data)
        print(f"CSV: {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB")

        def baseline() -> None:
            with path.open(encoding="utf-8", newline="") as fh:
                for row in csv.reader(fh):
                    len(row)

        def read() -> None:
            for record in open_table(path).records():
                len(record.values)

        def convert(file: Path = path) -> None:
            table = open_table(file, FormatSpec())
            converter = Converter(mapping, table.columns, reference, source="import:bench")
            accepted = sum(1 for o in outcomes(table, converter) if o.event is not None)
            assert accepted == args.rows - len(range(0, args.rows, 50)) if file is path else True

        base = timed("baseline: csv.reader", args.rows, baseline)
        timed("read: open_table().records()", args.rows, read, base)
        timed("convert: read + mapping + catalogue check", args.rows, convert, base)

        book = Path(tmp) / "tx_big.xlsx"
        workbook = xlsxwriter.Workbook(str(book), {"constant_memory": True})
        sheet = workbook.add_worksheet("notices")
        sheet.write_row(0, 0, HEADER)
        for i, row in enumerate(data[: args.xlsx_rows], start=1):
            sheet.write_row(i, 0, row)
        workbook.close()
        n = args.xlsx_rows
        print(f"xlsx: {n:,} rows, {book.stat().st_size / 1e6:.1f} MB")

        def calamine() -> None:
            for row in CalamineWorkbook.from_path(str(book)).get_sheet_by_index(0).iter_rows():
                len(row)

        xbase = timed("baseline: python-calamine iter_rows", n, calamine)
        timed("xlsx convert: open + mapping + check", n, lambda: convert(book), xbase)


if __name__ == "__main__":
    main()
