"""Dates from the cells of real office files: :func:`parse_date`.

A format list is planned once (``_plan``: a parser per format); the common cell is then
one regular expression (``7/22/2020`` with ``%m/%d/%Y``: 1.3 µs against strptime's 3.8)
or the C ISO parser (``2022-03-01 00:00:00``: 0.6 µs). strptime is the fallback for
patterns with names (``%b``) or 12-hour clocks. The slow paths (a range, a list, an
error) run only when no format reads the whole cell.

Kinds raised: ``empty``, ``not a date`` (also for a year before 1900 or after 2100),
``several dates`` (a range or list without ``pick``), ``Excel serial date`` (a serial
number where ``excel_serial`` is not among the formats). An unknown format is the
mapping's mistake: :class:`~eams.imports.errors.MappingError`; :func:`check_date_formats`
finds it first.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Callable, Sequence
from typing import TypeAlias

from eams.imports.cells import FULLWIDTH, Cell, cell_text, quote
from eams.imports.errors import CellError, MappingError

__all__ = ["DATE_KEYWORDS", "check_date_formats", "looks_like_excel_serial", "parse_date"]

#: The date format keywords besides strptime patterns.
DATE_KEYWORDS = ("iso", "excel_serial", "chinese", "compact")
_PICK_DATES = ("first", "last", "min", "max")
_EXAMPLE = dt.datetime(2021, 11, 3, 14, 30)
_EXAMPLES = {
    "iso": "2021-11-03",
    "excel_serial": "44503",
    "chinese": "2021年11月3日",
    "compact": "20211103",
}
_SERIAL_DAY0 = dt.date(1899, 12, 30).toordinal()
_SERIAL_MAX = 2958465  # 9999-12-31
_SERIAL_TEXT = re.compile(r"\d+(?:\.\d+)?")
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:\s*([AaPp])\.?[Mm]\.?)?"
_TIME_TAIL = re.compile(rf"(?:\s+|T){_TIME}$", re.IGNORECASE)
_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
_CHINESE = re.compile(
    r"(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?|([./])(\d{1,2})\4(\d{1,2}))"
    r"(?:\s*(\d{1,2})\s*[时点:]\s*(?:(\d{1,2})\s*分?\s*(?::?\s*(\d{1,2})\s*秒?)?)?)?"
)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?")
# Between the dates of a range or a list: words and marks first, then only range words
# (a pattern with a comma in it, "%b %d, %Y", still splits on "to").
_SEPARATORS = (
    re.compile(r"\s*(?:\b(?:to|thru|through|until|and)\b|[,;、~至到–—\n])\s*", re.IGNORECASE),
    re.compile(r"\s*(?:\b(?:to|thru|through|until)\b|[~至到–—])\s*", re.IGNORECASE),
)
_WORDS = re.compile(r"[A-Za-z]+")  # "Updated", "Revised": around dates only with pick
_EDGES = " \t\n,;:()[]-–—"
_FAST_FIELDS = {"Y": r"(\d{4})", "y": r"(\d{2})", "m": r"(\d{1,2})", "d": r"(\d{1,2})"}
_FAST_FIELDS |= {"H": r"(\d{1,2})", "M": r"(\d{2})", "S": r"(\d{2})"}
_ISO_LIKE = {  # pattern -> the lengths of text the C ISO parser reads as the pattern would
    "%Y-%m-%d": (10, 16, 19),
    "%Y-%m-%d %H:%M:%S": (19,),
    "%Y-%m-%dT%H:%M:%S": (19,),
    "%Y-%m-%d %H:%M": (16,),
}
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%X", "%c", "%T", "%R", "%f", "%z")

_Found: TypeAlias = dt.date | None  # a datetime when the text had a time of day
_Parser: TypeAlias = Callable[[str], _Found]


def _micro(frac: str | None) -> int:
    return int(frac[:6].ljust(6, "0")) if frac else 0


def _at(
    day: dt.date, hh: str, mi: str, ss: str | None, frac: str | None, ampm: str | None
) -> dt.datetime:
    hour = int(hh)
    if ampm is not None:
        if not 1 <= hour <= 12:
            raise ValueError("hour of a 12-hour clock")
        hour = hour % 12 + (12 if ampm in "Pp" else 0)
    return dt.datetime(day.year, day.month, day.day, hour, int(mi), int(ss or 0), _micro(frac))


def _offset(text: str) -> dt.tzinfo:
    if text in "Zz":
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return dt.timezone(sign * dt.timedelta(minutes=minutes))


def _iso(text: str) -> _Found:
    if len(text) >= 10 and text[4] == "-" == text[7]:  # the C parser first: 0.2 µs
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            if text[10] in "T ":
                return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    m = _ISO.fullmatch(text)
    if m is None:
        return None
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    try:
        if hh is None:
            return dt.date(int(y), int(mo), int(d))
        at = _at(dt.date(int(y), int(mo), int(d)), hh, mi, ss, frac, None)
        return at.replace(tzinfo=_offset(tz)) if tz else at
    except ValueError:
        return None


def _chinese(text: str) -> _Found:
    m = _CHINESE.fullmatch(text)
    if m is None:
        return None
    y, mo, d, _, mo2, d2, hh, mi, ss = m.groups()
    try:
        day = dt.date(int(y), int(mo or mo2), int(d or d2))
        return day if hh is None else _at(day, hh, mi or "0", ss, None, None)
    except ValueError:
        return None


def _compact(text: str) -> _Found:
    m = _COMPACT.fullmatch(text)
    if m is None:
        return None
    y, mo, d, hh, mi, ss = m.groups()
    try:
        day = dt.date(int(y), int(mo), int(d))
        return day if hh is None else _at(day, hh, mi, ss, None, None)
    except ValueError:
        return None


def _serial(number: float) -> _Found:
    """Excel's serial day number (1900 date system) as a date; None outside 1..2958465
    and for 60, Excel's 1900-02-29 (its leap-year bug: serials below 60 are a day early)."""
    if not 1 <= number < _SERIAL_MAX + 1:
        return None
    whole = int(number)
    if whole == 60:
        return None
    day = dt.date.fromordinal(_SERIAL_DAY0 + whole + (1 if whole < 60 else 0))
    seconds = round((number - whole) * 86400)
    if not seconds:
        return day
    try:
        return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
    except OverflowError:
        return None


def _serial_text(text: str) -> _Found:
    return _serial(float(text)) if _SERIAL_TEXT.fullmatch(text) else None


def _pattern(fmt: str) -> _Parser:
    """A strptime pattern as a parser: a regular expression when it has only numeric fields
    (%Y %y %m %d %H %M %S), else strptime. Without a time field it also takes a time after."""
    has_time = any(d in fmt for d in _TIME_DIRECTIVES)
    fast = _fast_pattern(fmt, has_time)
    if fast is not None:
        lengths = _ISO_LIKE.get(fmt)
        return fast if lengths is None else _iso_first(lengths, fast)

    def parse(text: str) -> _Found:
        try:
            found = dt.datetime.strptime(text, fmt)
            return found if has_time else found.date()
        except ValueError:
            pass
        tail = None if has_time else _TIME_TAIL.search(text)
        if tail is None:
            return None
        try:
            return _at(dt.datetime.strptime(text[: tail.start()], fmt), *tail.groups())
        except ValueError:
            return None

    return parse


def _iso_first(lengths: tuple[int, ...], fallback: _Parser) -> _Parser:
    """An ISO-shaped pattern (TX, IL: ``%Y-%m-%d %H:%M:%S``) tries the C parser first."""

    def parse(text: str) -> _Found:
        if len(text) in lengths and text[4] == "-" == text[7]:
            try:
                if len(text) == 10:
                    return dt.date.fromisoformat(text)
                return dt.datetime.fromisoformat(text)
            except ValueError:
                pass
        return fallback(text)

    return parse


def _fast_pattern(fmt: str, has_time: bool) -> _Parser | None:
    regex: list[str] = []
    order: list[str] = []
    for part in re.split(r"(%.)", fmt):
        if len(part) == 2 and part[0] == "%":
            if part == "%%":
                regex.append("%")
                continue
            if part[1] not in _FAST_FIELDS or part[1] in order:
                return None
            regex.append(_FAST_FIELDS[part[1]])
            order.append(part[1])
        else:
            regex.extend(r"\s+" if ch.isspace() else re.escape(ch) for ch in part)
    year = "Y" if "Y" in order else "y"
    if year not in order or "m" not in order or "d" not in order:
        return None
    if not has_time:
        regex.append(f"(?:(?:\\s+|T){_TIME})?")
    rx = re.compile("".join(regex), re.IGNORECASE)
    iy, im, id_ = order.index(year), order.index("m"), order.index("d")
    ih, imi, isec = (order.index(c) if c in order else -1 for c in "HMS")
    tail, century = len(order), year == "y"

    def parse(text: str) -> _Found:
        m = rx.fullmatch(text)
        if m is None:
            return None
        g = m.groups()
        y = int(g[iy])
        if century:
            y += 1900 if y >= 69 else 2000  # strptime's %y pivot
        try:
            if has_time:
                return dt.datetime(
                    y,
                    int(g[im]),
                    int(g[id_]),
                    int(g[ih]) if ih >= 0 else 0,
                    int(g[imi]) if imi >= 0 else 0,
                    int(g[isec]) if isec >= 0 else 0,
                )
            day = dt.date(y, int(g[im]), int(g[id_]))
            return day if g[tail] is None else _at(day, *g[tail:])
        except ValueError:
            return None

    return parse


_KEYWORD_PARSERS: dict[str, _Parser] = {
    "iso": _iso,
    "excel_serial": _serial_text,
    "chinese": _chinese,
    "compact": _compact,
}


def check_date_formats(formats: object) -> list[str]:
    """Problems with a list of date formats (for the mapping linter), with a did-you-mean."""
    if isinstance(formats, str) or not isinstance(formats, Sequence):
        return ['formats must be a list, e.g. ["%m/%d/%Y", iso]']
    out = []
    for i, fmt in enumerate(formats, start=1):
        if not isinstance(fmt, str):
            out.append(f"format {i}: must be text, got {type(fmt).__name__}")
        elif fmt not in _KEYWORD_PARSERS and "%" not in fmt:
            close = difflib.get_close_matches(fmt, DATE_KEYWORDS, n=1, cutoff=0.6)
            out.append(
                f"format {i}: {fmt!r} is neither a strptime pattern (%Y-%m-%d …) nor one of "
                + ", ".join(DATE_KEYWORDS)
                + (f"; did you mean {close[0]!r}?" if close else "")
            )
    return out


_PLANS: dict[tuple[str, ...], tuple[_Parser, ...]] = {}


def _plan(formats: tuple[str, ...]) -> tuple[_Parser, ...]:
    """The parsers of a format list, made once per list (a mapping has a handful)."""
    problems = check_date_formats(formats)
    if problems:
        raise MappingError("; ".join(problems))
    if len(_PLANS) >= 1024:
        _PLANS.clear()
    plan = _PLANS[formats] = tuple(_KEYWORD_PARSERS.get(f) or _pattern(f) for f in formats)
    return plan


def _one(text: str, parsers: tuple[_Parser, ...]) -> tuple[_Found, _Found]:
    """(the first date the formats give with a possible year, the first with any year)."""
    odd = None
    for parse in parsers:
        found = parse(text)
        if found is not None:
            if 1900 <= found.year <= 2100:
                return found, found
            odd = odd or found
    return None, odd


def _several(text: str, parsers: tuple[_Parser, ...], words: bool) -> list[dt.date] | None:
    """The dates of a cell holding a range or a list of them, None if it does not. With
    ``words``, also dates among words (``04/01/2020Updated07/22/2020``, ``Revised 5/1/2019``)."""
    for separator in _SEPARATORS:
        found = _dates_of(separator.split(text), parsers)
        if found is not None:
            return found
    found = _dates_of(text.split(), parsers)
    if found is None and words:
        found = _dates_of([p.strip(_EDGES) for p in _WORDS.split(text)], parsers)
    return found


def _dates_of(parts: list[str], parsers: tuple[_Parser, ...]) -> list[dt.date] | None:
    """Every part's date (a part may be ``a-b``), or None when a part is not a date."""
    found: list[dt.date] = []
    for part in parts:
        if not part:
            continue
        one, _ = _one(part, parsers)
        if one is not None:
            found.append(one)
            continue
        pair = _hyphen_pair(part, parsers)
        if pair is None:
            return None
        found.extend(pair)
    return found or None


def _hyphen_pair(text: str, parsers: tuple[_Parser, ...]) -> list[dt.date] | None:
    """``09/12/2023-11/12/2023``: the hyphen with a date either side (ISO dates have two)."""
    start = text.find("-")
    while start >= 0:
        left, _ = _one(text[:start].strip(), parsers)
        if left is not None:
            right, _ = _one(text[start + 1 :].strip(), parsers)
            if right is not None:
                return [left, right]
        start = text.find("-", start + 1)
    return None


def _sort_key(d: dt.date) -> tuple[int, dt.time]:
    return d.toordinal(), d.time().replace(tzinfo=None) if isinstance(d, dt.datetime) else dt.time()


def _result(found: dt.date, keep_time: bool) -> dt.date:
    if not keep_time and isinstance(found, dt.datetime):
        return found.date()
    return found


def parse_date(
    value: Cell,
    formats: Sequence[str] = ("iso",),
    *,
    pick: str | None = None,
    keep_time: bool = False,
) -> dt.date | dt.datetime:
    """A date (a datetime when ``keep_time`` and the cell had a time of day) from a cell.

    ``formats`` are tried in order, the first that parses wins: strptime patterns
    (``%m/%d/%Y``; without a time field they also take a time after the date) or the
    keywords ``iso``, ``excel_serial``, ``chinese``, ``compact``. An Excel date cell passes
    whatever the formats. A cell holding a range or list of dates (``a to b``, ``a-b``,
    ``a, b``, ``a至b``) needs ``pick``: first, last, min or max. Years outside 1900..2100
    are refused as typing errors.
    """
    key = formats if type(formats) is tuple else tuple(formats)
    parsers = _PLANS.get(key) or _plan(key)
    if type(value) is str:
        text = value.strip()
        if not text.isascii():
            text = text.translate(FULLWIDTH)
        for parse in parsers:  # the common cell: the first format parses it
            found = parse(text)
            if found is not None and 1900 <= found.year <= 2100:
                return _result(found, keep_time)
        return _date_of_text(value, text, key, parsers, pick, keep_time)
    if isinstance(value, dt.date):
        if 1900 <= value.year <= 2100:
            return _result(value, keep_time)
        raise CellError("not a date", f"{quote(value)} has the year {value.year}; {_YEARS}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _date_of_number(value, key, parsers, keep_time)
    if isinstance(value, str):
        return parse_date(str(value), key, pick=pick, keep_time=keep_time)
    if value is None:
        raise CellError("empty", "empty; expected a date")
    raise CellError("not a date", f"{quote(value)} is not a date")


def _date_of_text(
    value: str,
    text: str,
    formats: tuple[str, ...],
    parsers: tuple[_Parser, ...],
    pick: str | None,
    keep_time: bool,
) -> dt.date:
    """Text no format parses whole: a range or list of dates, or why it is not a date."""
    if not text:
        raise CellError("empty", "empty; expected a date")
    _, odd = _one(text, parsers)
    several = _several(text, parsers, words=pick is not None)
    if several is not None:
        return _result(_pick_date(value, several, pick), keep_time)
    raise _not_a_date(value, text, formats, parsers, odd)


_YEARS = "a year before 1900 or after 2100 is taken for a typing error; correct it in the file"


def _pick_date(value: Cell, dates: list[dt.date], pick: str | None) -> dt.date:
    if len(dates) == 1:
        return dates[0]
    if pick == "first":
        return dates[0]
    if pick == "last":
        return dates[-1]
    if pick == "min":
        return min(dates, key=_sort_key)
    if pick == "max":
        return max(dates, key=_sort_key)
    shown = ", ".join(d.isoformat() for d in dates[:4]) + (" …" if len(dates) > 4 else "")
    why = "" if pick is None else f"pick: {pick} does not apply to dates; "
    raise CellError(
        "several dates",
        f"{quote(value)} holds {len(dates)} dates ({shown}); {why}set pick: "
        + "|".join(_PICK_DATES),
    )


def _date_of_number(
    value: float, formats: tuple[str, ...], parsers: tuple[_Parser, ...], keep_time: bool
) -> dt.date:
    """A number cell: an Excel serial, or digits a text format reads (20211103, compact)."""
    serial = _serial(value) if math.isfinite(value) else None
    text = cell_text(value)
    odd = None
    for parse in parsers:
        found = serial if parse is _serial_text else parse(text)
        if found is not None:
            if 1900 <= found.year <= 2100:
                return _result(found, keep_time)
            odd = odd or found
    if odd is not None:
        raise CellError("not a date", f"{text} has the year {odd.year}; {_YEARS}")
    if "excel_serial" not in formats and serial is not None and serial.year <= 2100:
        raise CellError(
            "Excel serial date",
            f"{text} looks like a date Excel stored as a serial number (= {serial:%Y-%m-%d}); "
            "add excel_serial to the formats, or format the column as a date in the sheet "
            "(设置单元格格式 → 日期)",
        )
    if serial is None and math.isfinite(value) and int(value) == 60:
        why = "Excel's serial 60 is 1900-02-29, a day that never was (its leap-year bug)"
    else:
        why = f"expected a date in the formats {', '.join(formats)}"
        if "excel_serial" in formats:
            why += " (Excel serial dates run from 1 to 2958465)"
    raise CellError("not a date", f"{text} is a number, not a date: {why}")


def _not_a_date(
    value: Cell, text: str, formats: tuple[str, ...], parsers: tuple[_Parser, ...], odd: _Found
) -> CellError:
    if odd is not None:
        return CellError("not a date", f"{quote(value)} has the year {odd.year}; {_YEARS}")
    serial = looks_like_excel_serial(text) if "excel_serial" not in formats else None
    if serial is not None:
        return CellError(
            "Excel serial date",
            f"{quote(value)} looks like a date Excel stored as a serial number "
            f"(= {serial:%Y-%m-%d}); add excel_serial to the formats, or format the column "
            "as a date in the sheet before saving it (设置单元格格式 → 日期)",
        )
    examples = []
    for fmt in formats:
        example = _EXAMPLES.get(fmt) or _EXAMPLE.strftime(fmt)
        if example not in examples:
            examples.append(example)
    message = (
        f"{quote(value)} is not a date in the formats {', '.join(formats)} "
        f"(e.g. {', '.join(examples)})"
    )
    among = _several(text, parsers, words=True)
    if among is not None:
        message += (
            f"; it has words around the date{'s' if len(among) > 1 else ''}: correct the "
            "cell, or set pick: first|last|min|max to take the date out of the words"
        )
    return CellError("not a date", message)


def looks_like_excel_serial(value: Cell) -> dt.date | None:
    """The date a number 20000..80000 (1954..2119) would be as an Excel serial, else None.

    For ``--check`` on columns read as text or dates: a CSV saved from a sheet whose date
    column was formatted as a number holds ``44503`` for 2021-11-03.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _SERIAL_TEXT.fullmatch(text):
            return None
        number = float(text)
    else:
        return None
    if not 20000 <= number <= 80000:
        return None
    found = _serial(number)
    return found.date() if isinstance(found, dt.datetime) else found
