"""One cell of a real office file as a value: numbers, yes/no, resident IDs and codes, text
steps and value maps here; dates in :mod:`eams.imports.dates`, the cell itself in
:mod:`eams.imports.cells` (both exported from here too: the converter, ``--check`` and the
mapping linter import every parser from this module).

Each parser is pure and runs once per cell (tens of thousands of rows a second): regular
expressions are compiled once and the common shapes take a short path first (``"1529"``
is one ``int()``). A value that cannot be converted raises
:class:`~eams.imports.errors.CellError` with a short stable ``kind`` (``--check`` groups
by it) and a message that quotes the value (shortened to 60 characters), says what was
expected and, where a spreadsheet did it, how to fix the sheet. The kinds:

- ``empty``; ``not a date``, ``several dates``, ``Excel serial date`` (dates);
- ``not a number``, ``several numbers``, ``not a whole number``, ``negative``;
- ``not a boolean``; ``unmapped value``;
- ``ID mangled by Excel``, ``old 15-digit ID``, ``not an ID``, ``bad ID birth date``,
  ``bad ID checksum``; ``leading zeros lost``, ``not a code``.

Resident IDs are quoted masked (``370102********123X``): messages reach logs and reports.
A mistake of the mapping itself (an unknown normalise step, a conflicting value map)
raises :class:`~eams.imports.errors.MappingError`; :func:`check_steps` and
:func:`~eams.imports.dates.check_date_formats` find those before a file is read.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeAlias

from eams.imports.cells import FULLWIDTH, Cell, cell_text, is_blank, quote
from eams.imports.dates import (
    DATE_KEYWORDS,
    check_date_formats,
    looks_like_excel_serial,
    parse_date,
)
from eams.imports.errors import CellError, MappingError
from events.errors import EventRejectedError
from events.identity import (
    USCC_CHARSET,
    mask_national_id,
    national_id_check_char,
    validate_national_id,
)

__all__ = [
    "DATE_KEYWORDS",
    "STEPS",
    "Cell",
    "Step",
    "ValueMap",
    "cell_text",
    "check_date_formats",
    "check_steps",
    "is_blank",
    "looks_like_excel_serial",
    "normalise",
    "parse_bool",
    "parse_code",
    "parse_date",
    "parse_national_id",
    "parse_number",
]

#: One normalise step: a name, or ``{name: argument}``.
Step: TypeAlias = str | Mapping[str, Any]


# --- numbers -----------------------------------------------------------------------------

_PICK_NUMBERS = ("first", "last", "min", "max", "sum", "mean")
# One number: thousands grouped by a comma with exactly three digits after it and no space
# ("1,529"; "58, 94" is two numbers), by a typographic space, or by a plain space after a
# first group of one or two digits ("1 529", "12 345"; "100 200" and "58 94" stay two
# numbers: a wrong count is worse than a refused one); then a fraction and an exponent.
_NUMBER = re.compile(
    r"(?:([0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]{1,3}(?:[\u00a0\u202f\u2009][0-9]{3})+(?![0-9])"
    r"|[0-9]{1,2}(?: [0-9]{3})+(?![0-9])|[0-9]+)(\.[0-9]+)?|\.([0-9]+))(?:[eE]([-+]?[0-9]{1,3}))?"
)
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+")
_GROUPING = str.maketrans("", "", ", \u00a0\u202f\u2009")
_MULTIPLIERS = {"万": 10_000, "亿": 100_000_000, "千": 1_000}


def _numbers(text: str) -> list[tuple[int | float, bool]]:
    """Every number in ``text`` with whether a minus sign stands before it."""
    out: list[tuple[int | float, bool]] = []
    for m in _NUMBER.finditer(text):
        whole, frac, bare_frac, exp = m.groups()
        end = m.end()
        while end < len(text) and text[end] == " ":
            end += 1
        scale = _MULTIPLIERS.get(text[end], 1) if end < len(text) else 1
        value: int | float
        if frac is None and bare_frac is None and exp is None:
            value = int(whole.translate(_GROUPING)) * scale
        else:
            exact = Decimal(whole.translate(_GROUPING) + (frac or "") if whole else f".{bare_frac}")
            if exp is not None:
                exact = exact.scaleb(int(exp))
            exact *= scale
            value = int(exact) if exact == exact.to_integral_value() else float(exact)
        start = m.start()
        sign = start > 0 and text[start - 1] == "-"
        if sign:  # "100-200" is a range; "-5", "$-5", "to -5" are negative
            before = text[: start - 1].rstrip()
            sign = not before or not before[-1].isdigit()
        out.append((value, sign))
    return out


def _whole(value: int | float, integer: bool, cell: Cell) -> int | float:
    if integer and isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CellError(
            "not a whole number",
            f"{quote(cell)} is {value!r}, not a whole number; expected a count",
        )
    return value


def parse_number(
    value: Cell, *, integer: bool = False, pick: str | None = None, allow_negative: bool = False
) -> int | float:
    """A number from a cell: ``1529``, ``1,529``, ``１２３``, ``13 FT``, ``约200人``, ``1.5万``,
    ``$1,234.50``, ``12%`` (12). A cell with several (``100-200``, ``58 94 97 35``) needs
    ``pick``: first, last, min, max, sum or mean. ``integer``: a fraction is refused (x.0
    is not). Negative numbers only with ``allow_negative`` (a count never is)."""
    if isinstance(value, str):
        if value.isdigit() and value.isascii():  # the common cell, at the cost of one int()
            return int(value)
        return _number_of_text(value, integer, pick, allow_negative)
    if type(value) is int and (value >= 0 or allow_negative):
        return value
    if value is None:
        raise CellError("empty", "empty; expected a number")
    if isinstance(value, bool):
        raise CellError("not a number", f"{quote(value)} is a yes/no cell, not a number")
    if not isinstance(value, int | float):
        raise CellError("not a number", f"{quote(value)} is a date, not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise CellError("not a number", f"{value} is not a number")
    if value < 0 and not allow_negative:
        raise CellError("negative", f"{cell_text(value)} is negative; a count cannot be")
    return _whole(value, integer, value)


def _number_of_text(
    text: str, integer: bool, pick: str | None, allow_negative: bool
) -> int | float:
    clean = text.strip()
    if not clean.isascii():
        clean = clean.translate(FULLWIDTH)
    if _GROUPED.fullmatch(clean):  # "1,529": no need to look for a second number
        return int(clean.replace(",", ""))
    if not clean:
        raise CellError("empty", "empty; expected a number")
    found = _numbers(clean)
    if not found:
        raise CellError(
            "not a number",
            f"{quote(text)} has no number in it; expected e.g. 1529, 1,529, 200人 or 1.5万 "
            "(leave the cell blank, or set on_error: null, when the number is not known)",
        )
    numbers = [-n if negative else n for n, negative in found]
    if not allow_negative and any(n < 0 for n in numbers):
        raise CellError("negative", f"{quote(text)} is negative; a count cannot be")
    if len(numbers) == 1:
        return _whole(numbers[0], integer, text)
    result: int | float
    if pick == "first":
        result = numbers[0]
    elif pick == "last":
        result = numbers[-1]
    elif pick == "min":
        result = min(numbers)
    elif pick == "max":
        result = max(numbers)
    elif pick == "sum":
        result = sum(numbers)
    elif pick == "mean":
        result = sum(numbers) / len(numbers)
        if result.is_integer() and all(isinstance(n, int) for n in numbers):
            result = int(result)
    else:
        why = "" if pick is None else f"pick: {pick} is not one of them; "
        picks = "|".join(_PICK_NUMBERS)
        raise CellError(
            "several numbers",
            f"{quote(text)} holds {len(numbers)} numbers; {why}set pick: {picks}",
        )
    return _whole(result, integer, text)


# --- yes/no ------------------------------------------------------------------------------

_TRUE = ("是", "y", "yes", "true", "t", "1", "1.0", "√", "✓", "✔", "对", "有", "on")
_FALSE = ("否", "n", "no", "false", "f", "0", "0.0", "×", "✗", "✘", "错", "无", "off")
_BOOLS = dict.fromkeys(_TRUE, True) | dict.fromkeys(_FALSE, False)


def parse_bool(value: Cell) -> bool:
    """Yes or no from a cell: 是/否, Y/N, yes/no, true/false, 1/0, √/× (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        found = _BOOLS.get(value.strip().casefold())
        if found is not None:
            return found
        if not value.strip():
            raise CellError("empty", "empty; expected yes or no")
    raise CellError(
        "not a boolean",
        f"{quote(value)} is not yes or no; expected one of 是/否, Y/N, yes/no, true/false, "
        "1/0, √/× (or map the file's words with map: {word: 'true'})",
    )


# --- identity numbers and codes ----------------------------------------------------------

_SCIENTIFIC = re.compile(r"[0-9](?:\.[0-9]+)?E\+?[0-9]{1,3}", re.IGNORECASE)
_FLOAT_TEXT = re.compile(r"([0-9]+)\.0+")  # a code a float column wrote: "1001.0"
_SPACES = re.compile(r"\s+")
_AS_TEXT = (
    "Format the column as Text (设置单元格格式 → 文本) and re-enter the IDs from the source, "
    "or prefix each with '"
)


def _mangled(shown: str) -> CellError:
    return CellError(
        "ID mangled by Excel",
        f"{shown}: Excel stored the ID as a number and kept only 15 significant digits; the "
        f"last digits are lost and cannot be recovered from this file. {_AS_TEXT}",
    )


def parse_national_id(value: Cell) -> str:
    """An 18-character resident ID (公民身份号码), checked (GB 11643: birth date, check digit).

    A number cell is refused (Excel keeps 15 significant digits of a number: the ID's end is
    gone), and so are its traces in text: ``3.70102E+17``, or 18 digits ending in 000 whose
    check digit fails. A 15-digit first-generation ID is refused with its 18-digit form.
    """
    if isinstance(value, bool | dt.date):
        raise CellError("not an ID", f"{quote(value)} is not a resident ID (18 characters)")
    if isinstance(value, int | float):
        if isinstance(value, int) or value.is_integer():
            digits = str(int(value))
            if len(digits) == 15:
                return parse_national_id(digits)
        raise _mangled(f"{value:.6G}" if abs(value) >= 1e15 else cell_text(value))
    if value is not None and len(value) == 18 and value.isascii() and value[:17].isdigit():
        text = value.upper()
    elif value is None or not value.strip():
        raise CellError("empty", "empty; expected a resident ID")
    else:
        text = _SPACES.sub("", value.translate(FULLWIDTH) if not value.isascii() else value).upper()
    if _SCIENTIFIC.fullmatch(text):
        raise _mangled(quote(value))
    digits17 = len(text) == 18 and text[:17].isdigit() and text.isascii()
    if digits17 and text.endswith("000") and national_id_check_char(text[:17]) != "0":
        raise _mangled(f"'{mask_national_id(text)}' (ends in 000 and its check digit fails)")
    if len(text) == 15 and text.isdigit() and text.isascii():
        check = national_id_check_char(f"{text[:6]}19{text[6:]}")
        raise CellError(
            "old 15-digit ID",
            f"'{mask_national_id(text)}' is a first-generation 15-digit ID; convert it to 18 "
            f"characters in the source: 19 before the birth year, then the check digit ({check})",
        )
    if not digits17 or text[17] not in "0123456789X":
        raise CellError(
            "not an ID",
            f"{quote(mask_national_id(text)) if text.isdigit() else quote(value)} is not a "
            f"resident ID: expected 17 digits and a digit or X, got {len(text)} characters",
        )
    try:
        return validate_national_id(text)
    except EventRejectedError as exc:
        kind = "bad ID checksum" if "checksum" in exc.reason else "bad ID birth date"
        raise CellError(kind, f"'{mask_national_id(text)}': {exc.reason}") from None


def parse_code(value: Cell, width: int, *, pad: bool = False) -> str:
    """A code of ``width`` digits (division code 6, FIPS county 5 / state 2, postal code 6),
    or of 18 characters from the USCC alphabet (统一社会信用代码; its check is the payload's).

    A number cell, or digits fewer than ``width``, lost its leading zeros to Excel: with
    ``pad`` they are put back, else refused saying how to fix the sheet.
    """
    if isinstance(value, bool | dt.date):
        raise CellError("not a code", f"{quote(value)} is not a code of {width} digits")
    if isinstance(value, int | float):
        if value < 0 or (isinstance(value, float) and not value.is_integer()):
            raise CellError("not a code", f"{cell_text(value)} is not a code of {width} digits")
        text = str(int(value))
        if len(text) > 15 and width > 15:
            raise _mangled(f"{value:.6G}")
    elif value is None or not value.strip():
        raise CellError("empty", f"empty; expected a code of {width} digits")
    else:
        text = value.strip()
        if len(text) == width and text.isdigit() and text.isascii():
            return text
        if not text.isascii():
            text = text.translate(FULLWIDTH)
        whole = _FLOAT_TEXT.fullmatch(text)
        if whole is not None:
            text = whole.group(1)
        elif _SCIENTIFIC.fullmatch(text):
            raise _mangled(quote(value))
    if text.isdigit() and text.isascii():
        if len(text) == width:
            return text
        if len(text) < width:
            if pad:
                return text.zfill(width)
            raise CellError(
                "leading zeros lost",
                f"{quote(value)} has {len(text)} digits, {width} "
                "expected: Excel dropped the leading zero(s) because the column is numeric; "
                "format it as Text (设置单元格格式 → 文本), or set pad: true in the mapping",
            )
    elif width == 18 and len(text) == 18 and all(ch in USCC_CHARSET for ch in text.upper()):
        return text.upper()
    raise CellError(
        "not a code",
        f"{quote(value)} is not a code of {width} digits"
        + (f" (it has {len(text)})" if text.isdigit() else ""),
    )


# --- text steps --------------------------------------------------------------------------


def _affix(value: str, affixes: Any, suffix: bool) -> str:
    """``value`` trimmed, less the first of ``affixes`` it ends (starts) with, any case."""
    text = value.strip()
    for affix in [affixes] if isinstance(affixes, str) else affixes:
        a = affix.strip().casefold()
        n = len(a)
        if n and len(text) > n:
            if suffix and text[-n:].casefold() == a:
                return text[:-n].rstrip()
            if not suffix and text[:n].casefold() == a:
                return text[n:].lstrip()
    return text


def _first_line(value: str) -> str:
    """The first line with text in it (a cell of name, address and city on several lines)."""
    for line in value.splitlines():
        if line.strip():
            return line
    return ""


def _replace(value: str, pairs: Any) -> str:
    for old, new in pairs.items():
        value = value.replace(old, new)
    return value


def _remove(value: str, parts: Any) -> str:
    for part in [parts] if isinstance(parts, str) else parts:
        value = value.replace(part, "")
    return value


_PLAIN_STEPS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "casefold": str.casefold,
    "upper": str.upper,
    "lower": str.lower,
    "collapse_spaces": lambda s: _SPACES.sub(" ", s),
    "nfkc": lambda s: unicodedata.normalize("NFKC", s),
    "title": str.title,
    "first_line": _first_line,
}
_ARG_STEPS: dict[str, Callable[[str, Any], str]] = {
    "strip_suffix": lambda s, a: _affix(s, a, True),
    "strip_prefix": lambda s, a: _affix(s, a, False),
    "replace": _replace,
    "remove": _remove,
}
#: Every normalise step's name.
STEPS = (*_PLAIN_STEPS, *_ARG_STEPS)


def normalise(value: str, steps: Sequence[Step]) -> str:
    """``value`` through the text steps in order (names in :data:`STEPS`)::

    trim, casefold, upper, lower, collapse_spaces, nfkc, title, first_line,
    {strip_suffix: [County, Parish]}, {strip_prefix: [...]}   (after trim, any case, once)
    {replace: {from: to}}, {remove: ["*", "#"]}
    """
    for step in steps:
        if isinstance(step, str):
            plain = _PLAIN_STEPS.get(step)
            if plain is None:
                raise MappingError("; ".join(check_steps([step])))
            value = plain(value)
        else:
            if len(step) != 1:
                raise MappingError("; ".join(check_steps([step])))
            ((name, arg),) = step.items()
            with_arg = _ARG_STEPS.get(name)
            if with_arg is None:
                raise MappingError("; ".join(check_steps([step])))
            value = with_arg(value, arg)
    return value


def _texts(arg: object) -> bool:
    return isinstance(arg, str) or (
        isinstance(arg, Sequence) and all(isinstance(a, str) for a in arg)
    )


def check_steps(steps: object) -> list[str]:
    """What is wrong with a list of normalise steps (for the mapping linter): unknown names
    with a did-you-mean, arguments missing, unexpected or of the wrong type."""
    if steps is None:
        return []
    if isinstance(steps, str | Mapping) or not isinstance(steps, Sequence):
        return ["normalise is a list of steps, e.g. [trim, {strip_suffix: [County]}]"]
    out: list[str] = []
    for i, step in enumerate(steps, start=1):
        where = f"step {i}"
        if isinstance(step, str):
            if step in _ARG_STEPS:
                out.append(f"{where}: {step} needs its argument: {{{step}: [...]}}")
            elif step not in _PLAIN_STEPS:
                out.append(f"{where}: {_unknown_step(step)}")
            continue
        if not isinstance(step, Mapping) or len(step) != 1:
            out.append(f"{where}: a step is a name or {{name: argument}}, got {step!r:.60}")
            continue
        ((name, arg),) = step.items()
        if name in _PLAIN_STEPS:
            out.append(f"{where}: {name} takes no argument; write it as a plain name")
        elif name not in _ARG_STEPS:
            out.append(f"{where}: {_unknown_step(str(name))}")
        elif name == "replace":
            if not isinstance(arg, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in arg.items()
            ):
                out.append(f"{where}: replace takes a map of text to text, e.g. {{'（': '('}}")
        elif not _texts(arg):
            out.append(f"{where}: {name} takes a list of text, e.g. {{{name}: [County]}}")
    return out


def _unknown_step(name: str) -> str:
    close = difflib.get_close_matches(name, STEPS, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"the steps are {', '.join(STEPS)}"
    return f"unknown step {name!r}; {hint}"


# --- value maps --------------------------------------------------------------------------


class ValueMap:
    """The file's words to the event's values: ``map`` (失业 → unemployed) and ``synonyms``
    (unemployed: [失业人员, 待业], each alternative maps to the key, or to what the key maps
    to). Matching ignores case (unless ``case_sensitive``), width and runs of spaces; a
    value already in the map's targets passes. Unmapped: ``default``, or ``unmapped value``.
    """

    __slots__ = ("_case_sensitive", "_default", "_known", "_table")

    def __init__(
        self,
        values: Mapping[str, str] | None = None,
        synonyms: Mapping[str, Sequence[str]] | None = None,
        default: str | None = None,
        case_sensitive: bool = False,
    ) -> None:
        self._case_sensitive = case_sensitive
        self._default = default
        self._table: dict[str, str] = {}
        self._known: dict[str, str] = {}  # key -> the spelling the mapping gave
        values = values or {}
        for spelling, target in values.items():
            self._add(spelling, target)
        for key, alternatives in (synonyms or {}).items():
            target = values.get(key, key)
            self._add(key, target)
            for spelling in [alternatives] if isinstance(alternatives, str) else alternatives:
                self._add(spelling, target)
        for target in values.values():
            self._table.setdefault(self._key(target), target)

    def _key(self, text: str) -> str:
        if not text.isascii():
            text = text.translate(FULLWIDTH)
        text = " ".join(text.split())
        return text if self._case_sensitive else text.casefold()

    def _add(self, spelling: str, target: str) -> None:
        key = self._key(spelling)
        before = self._table.get(key)
        if before is not None and before != target:
            raise MappingError(
                f"{spelling!r} maps to both {before!r} and {target!r} (map and synonyms "
                "must give each spelling one value; case and spaces do not count)"
            )
        self._table[key] = target
        self._known.setdefault(key, spelling)

    def __call__(self, value: str) -> str:
        """The mapped value of ``value``; raises CellError ``unmapped value`` (or ``empty``)."""
        found = self._table.get(value)
        if found is not None:
            return found
        key = self._key(value)
        found = self._table.get(key)
        if found is not None:
            return found
        if self._default is not None:
            return self._default
        known = list(self._known.values())
        listing = ", ".join(known[:8]) + (f" … ({len(known) - 8} more)" if len(known) > 8 else "")
        if not key:
            raise CellError("empty", f"empty; expected one of {listing}")
        close = difflib.get_close_matches(key, list(self._known), n=1, cutoff=0.5)
        hint = f"; did you mean {self._known[close[0]]!r}?" if close else ""
        raise CellError(
            "unmapped value",
            f"{quote(value)} is not one of {listing}; add it to map or synonyms{hint}",
        )
