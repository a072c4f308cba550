"""An office's file as a table: header labels and records, whatever the format and encoding.

:func:`open_table` reads CSV/TSV (Python's :mod:`csv`: quoted fields spanning lines,
doubled quotes, embedded delimiters), Excel ``.xlsx``/``.xls`` (python-calamine) and NDJSON,
and gives a :class:`Table`: its ``columns`` and its :class:`Record` s, each with the line
(or sheet row) it starts on and its original text for the dead-letter queue.

Text files
    The encoding is detected (:func:`detect_encoding`) or given; the whole stream is
    decoded strictly, so a byte that does not fit raises :class:`ReadError` naming its offset
    and line, never a silent replacement. A UTF-8 BOM is stripped; ``gbk`` and ``gb2312``
    are read as ``gb18030``, their superset (names with rare characters need it). Lines
    without a quote are split directly (the common case of Excel's exports, at ``str.split``
    speed); a line with a quote goes to :mod:`csv`, which pulls the record's further lines.

The header
    ``header_row`` (1-based) is the first header row; rows above it are titles and skipped.
    Each label is NFKC-normalised (fullwidth to halfwidth), whitespace runs become one space
    (none between two CJK characters: ``姓　名`` is ``姓名``) and the ends are stripped.
    With ``header_rows`` > 1 the rows are joined top to bottom with ``/``, a part equal to the
    one above it not repeated: a merged cell's value sits in its first cell only, so an
    empty cell takes the value of its merge (a workbook's merge ranges) or, when no merge
    range reaches the header rows (CSV), an empty cell of an upper row takes the nearest
    non-empty cell to its left in that row. So ``基本信息`` over ``姓名`` gives
    ``基本信息/姓名``, and ``序号`` spanning both rows (the lower cell empty) gives ``序号``.
    Columns past the last labelled one are dropped; an empty label inside becomes
    ``column N`` (1-based); a repeated label gets `` (2)``, `` (3)``.

Records
    Every row below the header is a record, blank ones too (the converter counts what it
    skips). Values align with ``columns``: a short row is padded (``""`` for text files,
    ``None`` for sheets); cells past the header are dropped when empty and kept when not, so
    ``len(values) > len(columns)`` tells the caller a row is wider than its header.
    Sheet cells keep their type (:mod:`~eams.imports.workbooks` says how: whole numbers,
    IDs typed as numbers, dates, times, error cells); an empty one is ``None``.
    NDJSON has one column, ``(line)``: each non-blank line is one record.

Every :class:`Record` is built eagerly, ``raw`` included, so a record stays a plain value:
encoding a CSV record's text costs about 0.1 µs; a sheet row's CSV line is dearer (about a
third of reading an opened sheet) but stays under the sheets' speed target.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Literal, TypeAlias

import charset_normalizer

from eams.imports.cells import Cell
from eams.imports.errors import ReadError
from eams.imports.workbooks import Merge, csv_line, open_sheet
from events.errors import ConfigError

__all__ = [
    "Cell",
    "FormatSpec",
    "Kind",
    "Record",
    "Table",
    "detect_encoding",
    "header_labels",
    "open_table",
]

Kind: TypeAlias = Literal["csv", "tsv", "xlsx", "xls", "ndjson"]

_SUFFIXES: dict[str, Kind] = {
    ".csv": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls",
    ".ndjson": "ndjson", ".jsonl": "ndjson",
}  # fmt: skip
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# charset-normalizer's guesses for Chinese text; a Shandong office's file is GB18030 (or
# GBK/GB2312, which it contains) whenever the sample decodes so. Short GBK samples are
# sometimes named as Big5 or a Korean or Japanese code page.
_CJK = {"gb2312", "gbk", "gb18030", "cp936", "hz", "big5", "big5hkscs", "cp950", "euc_kr",
        "cp949", "johab", "shift_jis", "cp932", "euc_jp", "iso2022_jp"}  # fmt: skip
_GB = {"gb2312", "gbk", "cp936", "gb18030"}
_SPACES = re.compile(r"\s+")
_CJK_GAP = re.compile(r"(?<=[\u2e80-\u9fff\uf900-\ufaff]) (?=[\u2e80-\u9fff\uf900-\ufaff])")


@dataclass(frozen=True)
class FormatSpec:
    """How to read a file; every field has a default that works for most files.

    ``kind``: ``auto`` goes by the suffix (``.csv .tsv .txt .xlsx .xlsm .xls .ndjson
    .jsonl``), then by the content. ``encoding``: None or ``auto`` detects it. ``delimiter``:
    None is ``,`` for CSV and a tab for TSV; ``auto`` sniffs ``, ; tab |``. ``sheet``: a
    name or a 1-based index (None: the first visible sheet). ``header_row``: the 1-based row
    of the (first) header row; ``header_rows``: how many rows the header spans.
    """

    kind: Literal["auto", "csv", "tsv", "xlsx", "xls", "ndjson"] = "auto"
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | int | None = None
    header_row: int = 1
    header_rows: int = 1
    max_unpacked: int | None = None
    """At most this many bytes an ``.xlsx`` may unpack to (None: 100 times the file, at
    least 64 MiB): a zip bomb is refused before it is read."""


@dataclass(frozen=True, slots=True)
class Record:
    """One data row: ``number`` counts data records from 1 (resume counts these); ``line``
    is the physical line it starts on (a sheet's row number); ``values`` align with the
    table's columns (see the module docstring); ``raw`` is the record's original text,
    UTF-8, without its line break (a sheet row as one CSV line)."""

    number: int
    line: int
    values: tuple[Cell, ...]
    raw: bytes


def detect_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """The encoding of a text file from its first ``sample_bytes``: a BOM's, else UTF-8 when
    the sample is valid UTF-8, else charset-normalizer's best guess (a Chinese one read as
    GB18030). Raises :class:`ReadError` when nothing fits."""
    with path.open("rb") as f:
        sample = f.read(sample_bytes)
        whole = not f.read(1)
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if _decodes(sample, "utf-8", whole):
        return "utf-8"
    best = charset_normalizer.from_bytes(sample).best()
    guess = codecs.lookup(best.encoding).name.replace("-", "_") if best is not None else None
    if guess in _CJK and _decodes(sample, "gb18030", whole):
        return "gb18030"
    if guess is None:
        raise ReadError(
            f"{path.name}: not UTF-8, and no other encoding fits its first "
            f"{len(sample):,} bytes (tried utf-8 and charset-normalizer's candidates); pass "
            "--encoding (file.encoding in the mapping), or save the file as UTF-8"
        )
    return codecs.lookup(guess).name


def _decodes(data: bytes, encoding: str, whole: bool) -> bool:
    """Whether ``data`` decodes strictly; a multi-byte character cut at the end of a sample
    (``whole`` False) does not count against it."""
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(data, final=whole)
    except UnicodeDecodeError:
        return False
    return True


def open_table(path: Path, spec: FormatSpec = FormatSpec()) -> Table:
    """Open ``path`` as ``spec`` says and read its header (the records are read on demand).

    Raises :class:`ReadError` when the file cannot be read so (naming the file and where)
    and :class:`ConfigError` when ``spec`` itself is wrong.
    """
    if spec.header_row < 1 or spec.header_rows < 1:
        raise ConfigError(
            f"header_row ({spec.header_row}) and header_rows ({spec.header_rows}) count from 1"
        )
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise ReadError(f"{path}: cannot be read ({exc.strerror}); check the path") from exc
    kind = _kind(path, spec, head)
    if kind in ("xlsx", "xls"):
        return Table(path, kind, None, _SheetSource(path, kind, spec))
    encoding = _encoding(path, spec.encoding)
    if kind == "ndjson":
        detected = spec.encoding is None or spec.encoding.lower() == "auto"
        return Table(path, kind, encoding, _NdjsonSource(path, encoding, detected))
    delimiter = spec.delimiter or ("\t" if kind == "tsv" else ",")
    if delimiter == "auto":
        delimiter = _sniff_delimiter(_text_sample(path, encoding))
    if len(delimiter) != 1:
        raise ConfigError(f"delimiter {delimiter!r} must be one character (or auto)")
    return Table(path, kind, encoding, _TextSource(path, encoding, delimiter, spec))


def _kind(path: Path, spec: FormatSpec, head: bytes) -> Kind:
    """The file's kind: as given, else by suffix, else by content; an Excel suffix on a file
    whose content is the other Excel format goes by the content."""
    kind: Kind | None = None if spec.kind == "auto" else spec.kind
    kind = kind or _SUFFIXES.get(path.suffix.lower())
    if head.startswith(_ZIP) and kind in (None, "xls", "xlsx"):
        return "xlsx"
    if head.startswith(_OLE) and kind in (None, "xls", "xlsx"):
        return "xls"
    if kind in ("xls", "xlsx"):
        looks = "an HTML page" if head.lstrip()[:1] == b"<" else "text"
        raise ReadError(
            f"{path.name}: named as an Excel workbook but it is {looks} (web systems export "
            "such files); open it in Excel and save it as .xlsx, or read it as CSV "
            "(--format csv) if it is text"
        )
    if kind is not None:
        return kind
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    if first.startswith(b"{"):
        try:
            json.loads(first)
            return "ndjson"
        except ValueError:
            pass
    return "tsv" if first.count(b"\t") > first.count(b",") else "csv"


def _encoding(path: Path, given: str | None) -> str:
    """The encoding to read with: detected, or the given one (GBK and GB2312 as GB18030,
    UTF-8 as UTF-8 with an optional BOM)."""
    if given is None or given.lower() == "auto":
        return detect_encoding(path)
    try:
        name = codecs.lookup(given).name
    except LookupError:
        raise ConfigError(
            f"unknown encoding {given!r} (--encoding / file.encoding); use e.g. utf-8, "
            "gb18030 or auto"
        ) from None
    if name.replace("-", "_") in _GB:
        return "gb18030"
    return "utf-8-sig" if name == "utf-8" else name


def _text_sample(path: Path, encoding: str, size: int = 1 << 16) -> str:
    with path.open("rb") as f:
        data = f.read(size)
    return codecs.getincrementaldecoder(encoding)("replace").decode(data, final=False)


def _sniff_delimiter(sample: str) -> str:
    """The candidate (``, tab ; |``) that splits the sample's first rows into the most rows
    of one width above 1; ties go to the earlier candidate."""
    lines = sample.splitlines()[:50]
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may cut its last line
    best, best_score = ",", (0, 0)
    for candidate in (",", "\t", ";", "|"):
        widths = [len(row) for row in csv.reader(lines, delimiter=candidate)]
        if not widths:
            continue
        top = max(set(widths), key=widths.count)
        score = (widths.count(top) if top > 1 else 0, top)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _label_text(cell: Cell) -> str:
    """A header cell as a normalised label (see the module docstring)."""
    if cell is None or cell == "":
        return ""
    if isinstance(cell, float) and cell.is_integer():
        text = str(int(cell))
    elif isinstance(cell, dt.date):
        text = cell.isoformat()
    else:
        text = str(cell)
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    return _CJK_GAP.sub("", text)


def header_labels(
    rows: Sequence[Sequence[Cell]], merges: Sequence[Merge] = (), top: int = 0
) -> tuple[str, ...]:
    """The column labels of header ``rows`` (top to bottom); ``merges`` are a sheet's merge
    ranges (0-based, inclusive; ``top`` is the 0-based row of ``rows[0]``)."""
    grid = [[_label_text(c) for c in row] for row in rows]
    width = max((j + 1 for row in grid for j, part in enumerate(row) if part), default=0)
    grid = [(row + [""] * width)[:width] for row in grid]
    inside = [m for m in merges if top <= m[0][0] < top + len(grid) and m[0][1] < width]
    if inside:
        for (r0, c0), (r1, c1) in inside:
            value = grid[r0 - top][c0]
            for i in range(r0 - top, min(r1 - top, len(grid) - 1) + 1):
                for j in range(c0, min(c1, width - 1) + 1):
                    grid[i][j] = grid[i][j] or value
    else:
        for row in grid[:-1]:
            for j in range(1, width):
                row[j] = row[j] or row[j - 1]
    labels: list[str] = []
    seen: set[str] = set()
    for j in range(width):
        parts: list[str] = []
        for row in grid:
            if row[j] and (not parts or parts[-1] != row[j]):
                parts.append(row[j])
        label = base = "/".join(parts) or f"column {j + 1}"
        n = 1
        while label in seen:
            n += 1
            label = f"{base} ({n})"
        seen.add(label)
        labels.append(label)
    return tuple(labels)


class Table:
    """An opened file: ``path``, ``kind``, the ``encoding`` used (None for workbooks), the
    header's ``columns`` (unique) and its records, read again on each :meth:`records`."""

    def __init__(self, path: Path, kind: Kind, encoding: str | None, source: _Source) -> None:
        self.path = path
        self.kind: Kind = kind
        self.encoding = encoding
        self.columns: tuple[str, ...] = source.columns
        self._source = source
        self._index = {name: i for i, name in enumerate(self.columns)}
        self._count: int | None = None

    def records(self, start_after: int = 0) -> Iterator[Record]:
        """The data records in order, the first ``start_after`` skipped (a resumed import:
        they are parsed, not built)."""
        if start_after < 0:
            raise ConfigError(f"start_after is {start_after}; it counts records from 0")
        return self._source.records(len(self.columns), start_after)

    def count(self) -> int:
        """How many data records the file has (blank rows included); reads a text file
        through once, then remembers."""
        if self._count is None:
            self._count = self._source.count()
        return self._count

    def column_index(self, name: str) -> int:
        """The position of column ``name`` (as given, or normalised as labels are); raises
        ``KeyError`` when the header has no such column."""
        index = self._index.get(name)
        if index is None:
            index = self._index.get(_label_text(name))
        if index is None:
            raise KeyError(name)
        return index


class _Source:
    """What a format gives a :class:`Table` (one per kind below)."""

    columns: tuple[str, ...]

    def records(self, width: int, start_after: int) -> Iterator[Record]:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError


def _past_end(spec: FormatSpec, where: str, rows: int) -> ReadError:
    if rows == 0:
        return ReadError(f"{where}: empty, no header to read; check that this is the file meant")
    last = spec.header_row + spec.header_rows - 1
    which = f"header_row {spec.header_row}" if spec.header_rows == 1 else (
        f"the header rows {spec.header_row}-{last}")  # fmt: skip
    return ReadError(
        f"{where}: {which} {'is' if spec.header_rows == 1 else 'run'} past the end "
        f"({rows:,} rows); set header_row (--header-row) to the header's row"
    )


class _TextSource(_Source):
    """CSV and TSV: records as the :mod:`csv` module parses them, with their lines."""

    def __init__(self, path: Path, encoding: str, delimiter: str, spec: FormatSpec) -> None:
        self.path, self.encoding, self.delimiter = path, encoding, delimiter
        self.detected = spec.encoding is None or spec.encoding.lower() == "auto"
        self.skip = spec.header_row - 1 + spec.header_rows
        head = list(islice(self.rows(), self.skip))
        if len(head) < self.skip:
            raise _past_end(spec, f"{path.name}", len(head))
        self.columns = header_labels([row for _, row, _ in head[spec.header_row - 1 :]])

    def records(self, width: int, start_after: int) -> Iterator[Record]:
        pad = ("",) * width
        number = start_after
        for line, row, text in islice(self.rows(), self.skip + start_after, None):
            number += 1
            n = len(row)
            if n == width:
                values: tuple[Cell, ...] = tuple(row)
            elif n < width:
                values = (*row, *pad[n:])
            elif any(row[width:]):
                values = tuple(row[: max(j for j, c in enumerate(row) if c) + 1])
            else:
                values = tuple(row[:width])
            yield Record(number, line, values, text.encode())

    def count(self) -> int:
        return max(0, sum(1 for _ in self.rows()) - self.skip)

    def rows(self) -> Iterator[tuple[int, list[str], str]]:
        """(first line, cells, source text without the line break) of every row, the
        title and header rows too.

        A line without a quote is one record, split at the delimiter; a line with one is
        handed to the csv reader, which pulls the record's further lines through ``feed``
        (so ``taken`` holds exactly the record's lines when it returns).
        """
        delimiter = self.delimiter
        taken: list[str] = []
        state = [False, 0]  # [a record's first line waits in taken[0], its line number]

        def feed() -> Iterator[str]:
            while True:
                if state[0]:
                    state[0] = False
                    yield taken[0]
                    continue
                more = next(lines, None)
                if more is None:
                    raise ReadError(
                        f"{self.path.name}: line {state[1]:,}: a quoted field opened here is "
                        f"not closed by the end of the file (line {lineno + len(taken):,}); "
                        "close the quote (or double a quote inside the field)"
                    )
                taken.append(more)
                yield more

        with (
            self.path.open("rb") as binary,
            io.TextIOWrapper(binary, encoding=self.encoding, errors="strict", newline="") as text,
        ):
            lines = iter(text)
            reader = csv.reader(feed(), delimiter=delimiter)
            lineno = 0
            try:
                for line in lines:
                    if '"' not in line:
                        lineno += 1
                        body = line.rstrip("\r\n")
                        yield lineno, body.split(delimiter), body
                        continue
                    taken.clear()
                    taken.append(line)
                    state[0], state[1] = True, lineno + 1
                    row = next(reader)
                    lineno += len(taken)
                    body = "".join(taken) if len(taken) > 1 else line
                    yield state[1], row, body.rstrip("\r\n")
            except UnicodeDecodeError:
                raise _decode_error(self.path, self.encoding, self.detected) from None
            except csv.Error as exc:
                raise ReadError(
                    f"{self.path.name}: line {state[1]:,}: {exc}: a quote opened on this line "
                    "is probably never closed; close it (or double a quote inside the field)"
                ) from exc


class _NdjsonSource(_Source):
    """NDJSON: each non-blank line is a record of one column, its text."""

    columns = ("(line)",)

    def __init__(self, path: Path, encoding: str, detected: bool) -> None:
        self.path, self.encoding, self.detected = path, encoding, detected

    def records(self, width: int, start_after: int) -> Iterator[Record]:
        number = 0
        with (
            self.path.open("rb") as binary,
            io.TextIOWrapper(binary, encoding=self.encoding, errors="strict", newline="\n") as f,
        ):
            try:
                for lineno, line in enumerate(f, 1):
                    body = line.rstrip("\r\n")
                    if not body or body.isspace():
                        continue
                    number += 1
                    if number > start_after:
                        yield Record(number, lineno, (body,), body.encode())
            except UnicodeDecodeError:
                raise _decode_error(self.path, self.encoding, self.detected) from None

    def count(self) -> int:
        return sum(1 for _ in self.records(1, 0))


def _decode_error(path: Path, encoding: str, detected: bool) -> ReadError:
    """Where ``path`` stops decoding as ``encoding``: found again chunk by chunk (the fast
    reader's error does not say where in the file it was)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    done = newlines = 0
    where, bad = "", b""
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = done - pending + exc.start
                line = 1 + newlines + chunk[: max(0, at - done)].count(b"\n")
                where, bad = (
                    f"byte {at:,} (line {line:,}): ",
                    exc.object[exc.start : max(exc.end, exc.start + 4)],
                )
                break
            done += len(chunk)
            newlines += chunk.count(b"\n")
    label = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
    how = " (detected from the start of the file)" if detected else ""
    hint = " (gb18030 for a file Excel saved on Chinese Windows)" if label == "UTF-8" else ""
    return ReadError(
        f"{path.name}: {where}not valid {label}{how}"
        + (f": bytes {bad.hex(' ')}" if bad else "")
        + f"; pass --encoding (file.encoding in the mapping) with the file's encoding{hint},"
        " or save the file as UTF-8"
    )


class _SheetSource(_Source):
    """One sheet of an ``.xlsx`` or ``.xls`` workbook (held in memory once read)."""

    def __init__(self, path: Path, kind: Literal["xlsx", "xls"], spec: FormatSpec) -> None:
        self.sheet = open_sheet(path, kind, spec.sheet, spec.max_unpacked)
        self.skip = spec.header_row - 1 + spec.header_rows
        if self.sheet.height < self.skip:
            raise _past_end(spec, f"{path.name}: sheet '{self.sheet.name}'", self.sheet.height)
        head = list(self.sheet.rows(spec.header_row - 1, self.skip))
        self.columns = header_labels(head, self.sheet.merges, spec.header_row - 1)

    def records(self, width: int, start_after: int) -> Iterator[Record]:
        pad = (None,) * width
        first = self.skip + start_after  # 0-based: the sheet row numbers ``first + 1``
        for number, cells in enumerate(self.sheet.rows(first), start_after + 1):
            n = len(cells)
            if n == width:
                values: tuple[Cell, ...] = tuple(cells)
            elif n < width:
                values = (*cells, *pad[n:])
            else:
                extra = cells[width:]
                if extra.count(None) == len(extra):
                    values = tuple(cells[:width])
                else:
                    while cells[-1] is None:
                        cells.pop()
                    values = tuple(cells)
            yield Record(number, first + number - start_after, values, csv_line(cells))

    def count(self) -> int:
        return self.sheet.height - self.skip
