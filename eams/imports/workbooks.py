"""Excel workbooks (``.xlsx``, ``.xls``) as rows of typed cells, through python-calamine.

:func:`open_sheet` reads one sheet into memory (calamine parses it whole, in Rust) and
gives a :class:`Sheet` whose :meth:`Sheet.rows` turns calamine's values into
:data:`Cell` s as they are wanted:

- a whole number is an ``int`` below 2**53; above, it stays the ``float`` Excel stored (an
  ID typed as a number has lost its last digits, and the converter says so);
- dates and datetimes stay so; a time becomes ``"08:30:00"``, a duration ``"36:00:00"``;
- an empty cell is ``None``;
- an error cell of an ``.xlsx`` is its text (``"#N/A"``, ``"#DIV/0!"``): calamine reads
  errors as empty, so they are looked up in the sheet's XML (only when it has any); an
  ``.xls`` error cell stays ``None``.

Cells stay at their sheet column and rows at their sheet row (0-based here; the
:mod:`~eams.imports.readers` records count from 1). Reading the headers and turning rows
into records is the reader's.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Literal, TypeAlias

import python_calamine as calamine

from eams.imports.cells import Cell
from eams.imports.errors import ReadError

__all__ = ["Cell", "Merge", "Sheet", "csv_line", "open_sheet"]

#: A merged range: ((first row, first column), (last row, last column)), 0-based, inclusive.
Merge: TypeAlias = tuple[tuple[int, int], tuple[int, int]]

_EXACT = 2.0**53  # floats below it hold whole numbers exactly
#: A real ``.xlsx`` unpacks to some 5-30 times its size, a zip bomb to thousands: a
#: workbook whose parts say they unpack to more than ``_RATIO`` times the file (and more
#: than ``_FLOOR``) is refused before it is read. The parts' declared sizes bound the work:
#: calamine refuses a part that unpacks to more than it declares.
_RATIO = 100
_FLOOR = 64 << 20
_ERROR_CELL = re.compile(rb'<c\b([^>]*?\bt="e"[^>]*?)(?<!/)>(.*?)</c>', re.S)
_CELL_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_CELL_VALUE = re.compile(rb"<v>([^<]*)</v>")


class Sheet:
    """One sheet: its ``name``, ``height`` (rows from the sheet's first row to its last
    used one), its ``merges`` and its rows."""

    def __init__(self, name: str, sheet: calamine.CalamineSheet, errors: dict[int, dict[int, str]]):
        self.name = name
        self._sheet = sheet
        self._errors = errors
        start, end = sheet.start, sheet.end
        # iter_rows gives rows from the sheet's first row but cells from its first used
        # column: ``_left`` empty cells put every cell back at its sheet column.
        self._left = start[1] if start is not None else 0
        self.height = end[0] + 1 if end is not None else 0
        self.merges: Sequence[Merge] = sheet.merged_cell_ranges or ()

    def rows(self, first: int = 0, stop: int | None = None) -> Iterator[list[Cell]]:
        """The typed cells of rows ``first`` to ``stop`` (0-based, ``stop`` excluded)."""
        if self.height == 0:
            return  # calamine's row iterator fails on an empty sheet
        pad: list[Cell] = [None] * self._left
        errors = self._errors
        for index, row in enumerate(islice(self._sheet.iter_rows(), first, stop), first):
            cells = _typed(row)
            if pad:
                cells[:0] = pad
            if errors and index in errors:
                for column, text in errors[index].items():
                    if column < len(cells):
                        cells[column] = text
            yield cells


def open_sheet(
    path: Path,
    kind: Literal["xlsx", "xls"],
    wanted: str | int | None,
    max_unpacked: int | None = None,
) -> Sheet:
    """The sheet ``wanted`` names (a name, a 1-based index, or None: the first visible
    worksheet) of the workbook at ``path``; the format is taken from the content. An
    ``.xlsx`` that would unpack to more than ``max_unpacked`` bytes (default: 100 times
    its size, at least 64 MiB) is refused unread."""
    if kind == "xlsx":
        _check_unpacked(path, max_unpacked)
    try:
        with path.open("rb") as f:
            book = calamine.CalamineWorkbook.from_filelike(f)
            name = _pick(path, book, wanted)
            sheet = book.get_sheet_by_name(name)
    except calamine.PasswordError as exc:
        raise ReadError(
            f"{path.name}: the workbook is password-protected; remove the password in "
            "Excel (File > Info > Protect Workbook) and save it again"
        ) from exc
    except calamine.CalamineError as exc:
        raise ReadError(
            f"{path.name}: not a readable {kind} workbook ({exc}); open it in Excel and save "
            "it again as .xlsx"
        ) from exc
    return Sheet(name, sheet, _error_cells(path, name) if kind == "xlsx" else {})


def _check_unpacked(path: Path, limit: int | None) -> None:
    """Refuse a zip bomb: a workbook whose parts declare more than the limit unpacked."""
    try:
        with zipfile.ZipFile(path) as z:
            declared = sum(info.file_size for info in z.infolist())
        size = path.stat().st_size
    except (OSError, zipfile.BadZipFile):
        return  # not a zip: calamine names what is wrong with it
    cap = max(_FLOOR, _RATIO * size)
    cap = cap if limit is None else min(cap, limit)
    if declared > cap:
        raise ReadError(
            f"{path.name}: the workbook unpacks to {declared:,} bytes, "
            f"{declared // max(size, 1):,} times its {size:,}; more than {cap:,} is not read "
            "(a workbook unpacks to some 5-30 times its size). Open it in Excel and save it "
            "again, or split it into smaller files"
        )


def _pick(path: Path, book: calamine.CalamineWorkbook, wanted: str | int | None) -> str:
    names = book.sheet_names
    if not names:
        raise ReadError(f"{path.name}: the workbook has no sheets")
    listing = ", ".join(names)
    if wanted is None:
        visible = [
            m.name
            for m in book.sheets_metadata
            if m.visible == calamine.SheetVisibleEnum.Visible
            and m.typ == calamine.SheetTypeEnum.WorkSheet
        ]
        return (visible or names)[0]
    if isinstance(wanted, int):
        if 1 <= wanted <= len(names):
            return names[wanted - 1]
        raise ReadError(
            f"{path.name}: no sheet {wanted} (sheets count from 1; the workbook has "
            f"{len(names)}: {listing})"
        )
    if wanted in names:
        return wanted
    for name in names:  # "台账 " or a fullwidth digit still finds the sheet
        if (
            unicodedata.normalize("NFKC", name).strip()
            == unicodedata.normalize("NFKC", wanted).strip()
        ):
            return name
    raise ReadError(f"{path.name}: no sheet '{wanted}'; sheets: {listing}")


def _typed(row: Sequence[object]) -> list[Cell]:
    """calamine's cells as :data:`Cell` s (see the module docstring)."""
    out: list[Cell] = []
    add = out.append
    for cell in row:
        kind = type(cell)
        if kind is str:
            add(cell or None)  # type: ignore[arg-type]
        elif kind is float:
            number: float = cell  # type: ignore[assignment]
            add(int(number) if number.is_integer() and -_EXACT < number < _EXACT else number)
        elif kind is int or kind is bool or kind is dt.date or kind is dt.datetime:
            add(cell)  # type: ignore[arg-type]
        elif kind is dt.time:
            add(cell.isoformat())  # type: ignore[attr-defined]
        elif kind is dt.timedelta:
            seconds = int(cell.total_seconds())  # type: ignore[attr-defined]
            add(f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}")
        else:
            add(str(cell))
    return out


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if cell is True or cell is False:
        return "TRUE" if cell else "FALSE"
    if type(cell) is dt.datetime:
        return cell.isoformat(" ")
    if type(cell) is dt.date:
        return cell.isoformat()
    return repr(cell)


def _quoted(text: str) -> str:
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(cells: Sequence[Cell]) -> bytes:
    """A row as one CSV line, UTF-8, its trailing empty cells left out (the dead-letter
    queue's copy of a sheet row). Floats are shown as stored (``3.701021990010113e+17``)."""
    n = len(cells)
    while n and cells[n - 1] is None:
        n -= 1
    texts = [c if type(c) is str else _text(c) for c in cells[:n]]
    line = ",".join(texts)
    if '"' in line or "\n" in line or "\r" in line or line.count(",") >= n:
        line = ",".join([_quoted(t) for t in texts])  # some cell needs quotes
    return line.encode()


def _error_cells(path: Path, sheet: str) -> dict[int, dict[int, str]]:
    """The error cells (``#N/A``, ``#DIV/0!`` …) of an ``.xlsx`` sheet by 0-based row and
    column, from the sheet's XML. Best effort: a workbook whose parts are not where the
    format puts them gives none (and its error cells read as empty, as calamine has them)."""
    try:
        with zipfile.ZipFile(path) as z:
            part = _sheet_part(z, sheet)
            data = z.read(part) if part is not None else b""
    except (OSError, KeyError, zipfile.BadZipFile, ET.ParseError):
        return {}
    found: dict[int, dict[int, str]] = {}
    if b't="e"' not in data:
        return found
    for match in _ERROR_CELL.finditer(data):
        ref, value = _CELL_REF.search(match[1]), _CELL_VALUE.search(match[2])
        if ref is None or value is None:
            continue
        column = 0
        for letter in ref[1]:
            column = column * 26 + letter - 64
        found.setdefault(int(ref[2]) - 1, {})[column - 1] = value[1].decode()
    return found


def _sheet_part(z: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding ``sheet``'s cells, from the workbook and its relationships."""
    rid = None
    for el in ET.fromstring(z.read("xl/workbook.xml")).iter():
        if el.tag.endswith("}sheet") and el.get("name") == sheet:
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
    if rid is None:
        return None
    for el in ET.fromstring(z.read("xl/_rels/workbook.xml.rels")).iter():
        if el.get("Id") == rid:
            target = el.get("Target", "")
            return target[1:] if target.startswith("/") else f"xl/{target}"
    return None
