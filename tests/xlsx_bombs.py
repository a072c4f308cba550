"""Workbooks that unpack to far more than they weigh (zip bombs), for the readers' tests:
an honest one (its sheet really is that large) and one whose parts declare a size other
than their own."""

from __future__ import annotations

import io
import struct
import zipfile

import xlsxwriter

SHEET = "xl/worksheets/sheet1.xml"
_ROW = b'<row><c t="inlineStr"><is><t>0</t></is></c></row>'


def small_workbook(rows: list[list[object]]) -> bytes:
    """A real one-sheet workbook written by xlsxwriter."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    book.close()
    return out.getvalue()


def bomb(mebibytes: int) -> bytes:
    """A workbook whose sheet unpacks to ``mebibytes`` MiB of identical rows (it weighs
    some thousandth of that), written in chunks so the test holds no more than a chunk."""
    src = zipfile.ZipFile(io.BytesIO(small_workbook([["a"]])))
    out = io.BytesIO()
    chunk = _ROW * ((1 << 20) // len(_ROW))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename != SHEET:
                z.writestr(info.filename, src.read(info.filename))
                continue
            with z.open(SHEET, "w") as part:
                part.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxml'
                           b'formats.org/spreadsheetml/2006/main"><sheetData>')  # fmt: skip
                for _ in range(mebibytes):
                    part.write(chunk)
                part.write(b"</sheetData></worksheet>")
    return out.getvalue()


def declaring(data: bytes, size: int, member: str = SHEET) -> bytes:
    """``data`` with ``member``'s uncompressed size declared as ``size`` (in its local and
    its central header), its content unchanged."""
    raw = bytearray(data)
    name = member.encode()
    at = raw.find(name)
    while at >= 0:
        if raw[at - 30 : at - 26] == b"PK\x03\x04":  # local header: size at +22
            struct.pack_into("<I", raw, at - 30 + 22, size)
        if raw[at - 46 : at - 42] == b"PK\x01\x02":  # central header: size at +24
            struct.pack_into("<I", raw, at - 46 + 24, size)
        at = raw.find(name, at + 1)
    return bytes(raw)
